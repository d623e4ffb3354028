/**
 * The `?attachments` bitmask (reference §1.5, §2.1): which attachments a volume shows, its
 * attachment state, and whether the volume is listed at all. The state is computed from ALL the
 * volume's attachments first and only then are the attachments filtered (upstream vfs filters
 * first, so a volume attached elsewhere looks available — that is the bug not to copy).
 */
import type { LsAttachmentState } from '../../../drivers/libstorage/libstorage-wire';

export const MASK = {
  requested: 1,
  mine: 2,
  devices: 4,
  attached: 8,
  unattached: 16,
} as const;

/** Absent → 0; bare or `true` → 15; `false` → 1; an integer → itself (low 5 bits); anything else → 0. */
export function parseAttachmentMask(value: unknown): number {
  if (value === undefined) return 0;
  const v = Array.isArray(value) ? value[value.length - 1] : value;
  if (typeof v !== 'string') return 0;
  const s = v.trim().toLowerCase();
  if (s === '' || s === 'true') return 15;
  if (s === 'false') return 1;
  if (/^\d{1,10}$/.test(s)) return Number(s) & 31;
  return 0;
}

/** Masks 2 (Mine) and 4 (Devices) are answered per caller: they need its instance ID. */
export function maskNeedsInstanceId(mask: number): boolean {
  return (mask & (MASK.mine | MASK.devices)) !== 0;
}

/** From all attachments: none → 3, one of the caller's → 2, otherwise (or no caller known) → 4. */
export function attachmentStateOf(attachedInstanceIds: readonly string[], callerInstanceId: string | undefined): LsAttachmentState {
  if (attachedInstanceIds.length === 0) return 3;
  if (callerInstanceId !== undefined) {
    const me = callerInstanceId.toLowerCase();
    if (attachedInstanceIds.some((id) => id.toLowerCase() === me)) return 2;
  }
  return 4;
}

/** Whether a volume in `state` is omitted under `mask` (upstream `handleVolAttachments`). */
export function omittedByMask(state: LsAttachmentState, mask: number): boolean {
  const attached = (mask & MASK.attached) !== 0;
  const unattached = (mask & MASK.unattached) !== 0;
  const mine = (mask & MASK.mine) !== 0;
  if (state === 1) return false;
  if (state === 3 && attached && !unattached) return true;
  if ((state === 2 || state === 4) && !attached && unattached) return true;
  if (mine && attached && ((state === 3 && !unattached) || state === 4)) return true;
  return false;
}

/** Which attachments are shown: none under mask 0, only the caller's under Mine, else all. */
export function showsAttachment(mask: number, attachmentInstanceId: string, callerInstanceId: string | undefined): boolean {
  if (mask === 0) return false;
  if ((mask & MASK.mine) !== 0)
    return callerInstanceId !== undefined && attachmentInstanceId.toLowerCase() === callerInstanceId.toLowerCase();
  return true;
}
