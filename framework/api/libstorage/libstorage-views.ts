/**
 * Polly records as libStorage JSON (reference §1.6). Volume IDs on this API are the driver's volume
 * IDs within the service, as libStorage clients expect; Polly's own ID travels in `fields["polly.id"]`
 * with the labels as `polly.labels.*` (what the original Polly stamped on every volume).
 */
import type { DriverSnapshot } from '../../../drivers/storage-driver';
import type {
  LsAttachmentState,
  LsDriverInfo,
  LsInstanceId,
  LsSnapshot,
  LsVolume,
  LsVolumeAttachment,
} from '../../../drivers/libstorage/libstorage-wire';
import type { VolumeRecord } from '../../storage/volume-record';
import { attachmentStateOf, MASK, omittedByMask, showsAttachment } from './attachment-mask';

export interface VolumeViewContext {
  service: string;
  driver: LsDriverInfo;
  mask: number;
  /** The caller's instance ID for this service, when it sent one. */
  instanceId?: string;
  /** The caller's local devices for this service (mask bit 4 fills mount points from them). */
  localDevices?: Record<string, string>;
  /** The device name an attach asked for, by claim ID. */
  deviceNameOf(claimId: string): string | undefined;
  /** Fallback device name (e.g. the vfs host path) when the attach named none. */
  defaultDeviceName(record: VolumeRecord): string;
}

export function instanceIdView(id: string, ctx: Pick<VolumeViewContext, 'service' | 'driver'>): LsInstanceId {
  return { id, driver: ctx.driver.name, service: ctx.service };
}

export function volumeFields(record: VolumeRecord): Record<string, string> {
  const fields: Record<string, string> = { ...record.fields, 'polly.id': record.id };
  if (record.profile !== undefined) fields['polly.profile'] = record.profile;
  for (const [k, v] of Object.entries(record.labels)) fields[`polly.labels.${k}`] = v;
  return fields;
}

/**
 * The volume under the caller's mask, or undefined when the mask omits it. With mask 0 no
 * attachment information is sent; otherwise the state is computed from every attachment, then
 * the attachments are filtered.
 */
export function volumeView(record: VolumeRecord, ctx: VolumeViewContext, defaultState?: LsAttachmentState): LsVolume | undefined {
  const view: LsVolume = {
    name: record.name,
    id: record.driverVolumeId,
    type: record.type ?? '',
    size: record.size,
    status: record.status,
  };
  if (record.availabilityZone !== undefined) view.availabilityZone = record.availabilityZone;
  if (record.encrypted) view.encrypted = true;
  if (record.iops !== undefined) view.iops = record.iops;
  view.fields = volumeFields(record);
  if (ctx.mask === 0) {
    if (defaultState !== undefined) view.attachmentState = defaultState;
    return view;
  }
  const state = attachmentStateOf(
    record.attachments.map((a) => a.instanceId),
    ctx.instanceId,
  );
  if (omittedByMask(state, ctx.mask)) return undefined;
  view.attachmentState = state;
  const attachments: LsVolumeAttachment[] = [];
  for (const a of record.attachments) {
    if (!showsAttachment(ctx.mask, a.instanceId, ctx.instanceId)) continue;
    const deviceName = ctx.deviceNameOf(a.claimId) ?? ctx.defaultDeviceName(record);
    const attachment: LsVolumeAttachment = {
      deviceName,
      instanceID: instanceIdView(a.instanceId, ctx),
      status: 'attached',
      volumeID: record.driverVolumeId,
      fields: { 'polly.claimId': a.claimId, 'polly.agentId': a.agentId, 'polly.mode': a.mode },
    };
    const mine = ctx.instanceId !== undefined && a.instanceId.toLowerCase() === ctx.instanceId.toLowerCase();
    if ((ctx.mask & MASK.devices) !== 0 && mine && ctx.localDevices?.[deviceName]) attachment.mountPoint = ctx.localDevices[deviceName];
    attachments.push(attachment);
  }
  if (attachments.length > 0) view.attachments = attachments;
  return view;
}

export function snapshotView(s: DriverSnapshot): LsSnapshot {
  const view: LsSnapshot = { id: s.id, name: s.name, volumeID: s.volumeId, volumeSize: s.volumeSize, status: s.status };
  const t = Date.parse(s.startTime);
  if (Number.isFinite(t)) view.startTime = Math.floor(t / 1000);
  if (s.encrypted) view.encrypted = true;
  if (Object.keys(s.fields).length > 0) view.fields = { ...s.fields };
  return view;
}
