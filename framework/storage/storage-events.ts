/**
 * The storage layer's typed events: every catalog change, every claim transition, every backend
 * attachment Polly's records do not explain, and every operator act on quarantined data or on such
 * an attachment is emitted here after it is done (the API's `/v1/events` and the scheduler listen).
 */
import type { QuarantinedEntry } from '../../drivers/storage-driver';
import { EventFeed } from '../shared/typed-emitter';
import type { ClaimRecord } from './claim-record';
import type { RecoveryReport } from './storage-recovery';
import type { ForeignAttachmentRecord, VolumeRecord } from './volume-record';

export interface ClaimEvent {
  claim: ClaimRecord;
}

/** An operator's (or fencing's) force-release: who, why, when. */
export interface ClaimAuditEvent {
  claim: ClaimRecord;
  action: 'force-release';
  reason: string;
  at: string;
  /** Who asked: an API token's name, or `polly` for fencing (absent when not known). */
  by?: string;
}

/** An operator deleted quarantined data (exactly this entry). */
export interface QuarantinePurgedEvent {
  entry: QuarantinedEntry & { service: string };
  action: 'purge';
  /** The API principal that asked ('' when unknown). */
  by: string;
  at: string;
}

/** An operator made quarantined data a managed volume again. */
export interface QuarantineRestoredEvent {
  quarantineId: string;
  service: string;
  volume: VolumeRecord;
  action: 'restore';
  by: string;
  at: string;
}

/** Recovery found a backend attachment no claim accounts for (published once, when first found). */
export interface UnexplainedAttachmentEvent {
  volume: VolumeRecord;
  attachment: ForeignAttachmentRecord;
}

/** An operator detached a volume from an instance no claim accounts for: who, why, when. */
export interface VolumeAuditEvent {
  volume: VolumeRecord;
  action: 'detach';
  instanceId: string;
  reason: string;
  /** The API principal that asked ('' when unknown). */
  by: string;
  at: string;
}

/** A volume grown (by an operator through the API, or by a scheduler through CSI): who, from what size to what, when. */
export interface VolumeExpandAuditEvent {
  volume: VolumeRecord;
  action: 'expand';
  /** GiB. */
  fromSize: number;
  /** GiB. */
  toSize: number;
  /** Who asked: an API token's name, or `csi:<scheduler>` ('' when unknown). */
  by: string;
  at: string;
}

export interface StorageEventMap {
  'volume.created': { volume: VolumeRecord };
  'volume.updated': { volume: VolumeRecord };
  'volume.removed': { volume: VolumeRecord };
  'volume.unexplained-attachment': UnexplainedAttachmentEvent;
  'volume.audit': VolumeAuditEvent | VolumeExpandAuditEvent;
  'claim.pending': ClaimEvent;
  'claim.attaching': ClaimEvent;
  'claim.attached': ClaimEvent;
  'claim.releasing': ClaimEvent;
  'claim.released': ClaimEvent;
  'claim.failed': ClaimEvent;
  'claim.audit': ClaimAuditEvent;
  'storage.recovered': { report: RecoveryReport };
  'quarantine.purged': QuarantinePurgedEvent;
  'quarantine.restored': QuarantineRestoredEvent;
}

export type StorageEventName = keyof StorageEventMap;

/** Published after the change is persisted (or applied); a throwing listener never undoes or blocks it. */
export class StorageEvents extends EventFeed<StorageEventMap> {}
