/**
 * A claim is a lease: volume ↔ task ↔ agent (DESIGN §3). States:
 *
 *   pending → attaching → attached → releasing → released
 *        ↘          ↘                     ↘
 *         failed     failed                (stays releasing until the detach succeeds)
 *
 * A claim is live while pending, attaching, attached or releasing: at most one live RW claim per
 * volume, and RO claims share only with RO claims.
 */
import { hasControlChars } from '../../drivers/name-rules';
import { ValidationError } from '../errors/validation-error';
import type { ClaimMode } from './volume-record';
import { checkSchedulerName } from './volume-record';

export type { ClaimMode } from './volume-record';

export type ClaimState = 'pending' | 'attaching' | 'attached' | 'releasing' | 'released' | 'failed';

export const LIVE_CLAIM_STATES: readonly ClaimState[] = ['pending', 'attaching', 'attached', 'releasing'];

export interface ClaimTransition {
  state: ClaimState;
  at: string;
  reason?: string;
}

export interface ClaimRecord {
  id: string;
  volumeId: string;
  /** Undefined for claims made by an operator (admin). */
  scheduler?: string;
  frameworkId?: string;
  taskId?: string;
  agentId: string;
  /** The agent as the driver knows it (libStorage instance ID). */
  instanceId: string;
  mode: ClaimMode;
  state: ClaimState;
  reason?: string;
  forced?: boolean;
  createdAt: string;
  updatedAt: string;
  history: ClaimTransition[];
}

export interface ClaimRequest {
  volumeId: string;
  /** The claiming scheduler; must be in the volume's ACL unless `admin`. Undefined = an admin claim. */
  scheduler?: string;
  /** An operator claim: bypasses the scheduler ACL (never the single-writer rule). */
  admin?: boolean;
  frameworkId?: string;
  taskId?: string;
  agentId: string;
  instanceId: string;
  mode?: ClaimMode;
}

export function isLive(claim: Pick<ClaimRecord, 'state'>): boolean {
  return LIVE_CLAIM_STATES.includes(claim.state);
}

/** RW excludes every other live claim; RO shares only with RO. */
export function compatible(mode: ClaimMode, holder: Pick<ClaimRecord, 'mode'>): boolean {
  return mode === 'RO' && holder.mode === 'RO';
}

export const MAX_REASON_LENGTH = 1024;

export function checkIdText(value: unknown, field: string): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > 255 || hasControlChars(value)) {
    throw ValidationError.field(field, `${field} must be 1-255 printable characters`);
  }
  return value;
}

export function checkReason(reason: unknown, required: boolean): string | undefined {
  if (reason === undefined || reason === null || (typeof reason === 'string' && reason.trim() === '')) {
    if (required) throw ValidationError.field('reason', 'A reason is required');
    return undefined;
  }
  if (typeof reason !== 'string' || reason.length > MAX_REASON_LENGTH || hasControlChars(reason.replace(/[\n\t]/g, ' '))) {
    throw ValidationError.field('reason', `reason must be at most ${MAX_REASON_LENGTH} printable characters`);
  }
  return reason.trim();
}

/** Validates a claim request; returns it normalised (mode defaults to RW). */
export function checkClaimRequest(
  request: ClaimRequest,
): Required<Pick<ClaimRequest, 'volumeId' | 'agentId' | 'instanceId' | 'mode'>> &
  Pick<ClaimRequest, 'scheduler' | 'frameworkId' | 'taskId' | 'admin'> {
  if (typeof request !== 'object' || request === null) throw new ValidationError('A claim request must be an object');
  const mode = request.mode ?? 'RW';
  if (mode !== 'RW' && mode !== 'RO') throw ValidationError.field('mode', 'mode must be RW or RO');
  const out: ReturnType<typeof checkClaimRequest> = {
    volumeId: checkIdText(request.volumeId, 'volumeId'),
    agentId: checkIdText(request.agentId, 'agentId'),
    instanceId: checkIdText(request.instanceId, 'instanceId'),
    mode,
  };
  if (request.scheduler !== undefined) out.scheduler = checkSchedulerName(request.scheduler);
  if (request.frameworkId !== undefined) out.frameworkId = checkIdText(request.frameworkId, 'frameworkId');
  if (request.taskId !== undefined) out.taskId = checkIdText(request.taskId, 'taskId');
  if (request.admin === true) out.admin = true;
  // No scheduler = an operator's claim (the API layer decides who may make one).
  if (out.scheduler === undefined) out.admin = true;
  return out;
}
