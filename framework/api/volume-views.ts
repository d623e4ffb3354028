/**
 * How volumes look on the wire. v1 shows Polly's record; the admin API keeps the original Polly
 * shape (a libStorage volume — `id` is the backend's ID — plus `volumeid`, `serviceName`,
 * `schedulers` and `labels`), so clients of the original Polly keep working.
 */
import type { VolumeRecord } from '../storage/volume-record';

export interface AdminVolumeAttachment {
  volumeID: string;
  instanceID: { id: string };
  status: 'attached';
  claimId: string;
  agentId: string;
  mode: 'RW' | 'RO';
}

export interface AdminVolume {
  /** The backend's volume ID (libStorage `id`). */
  id: string;
  name: string;
  size: number;
  iops: number;
  type: string;
  availabilityZone: string;
  status: string;
  encrypted: boolean;
  networkName: string;
  fields: Record<string, string>;
  attachments: AdminVolumeAttachment[];
  /** The Polly volume ID. */
  volumeid: string;
  serviceName: string;
  schedulers: string[];
  labels: Record<string, string>;
  managed: boolean;
}

export function adminVolumeView(v: VolumeRecord): AdminVolume {
  return {
    id: v.driverVolumeId,
    name: v.name,
    size: v.size,
    iops: v.iops ?? 0,
    type: v.type ?? '',
    availabilityZone: v.availabilityZone ?? '',
    status: v.status,
    encrypted: v.encrypted,
    networkName: '',
    fields: { ...v.fields },
    attachments: v.attachments.map((a) => ({
      volumeID: v.driverVolumeId,
      instanceID: { id: a.instanceId },
      status: 'attached',
      claimId: a.claimId,
      agentId: a.agentId,
      mode: a.mode,
    })),
    volumeid: v.id,
    serviceName: v.service,
    schedulers: [...v.schedulers],
    labels: { ...v.labels },
    managed: v.managed,
  };
}

/** The v1 view is the record itself (copied, so the catalog's frozen record never leaves). */
export function volumeView(v: VolumeRecord): VolumeRecord {
  return structuredClone(v) as VolumeRecord;
}

/**
 * The original Polly list filters: `serviceName`, `availabilityZone`, `size`, `iops` match those
 * properties; any other key matches a driver field of that name.
 */
export function matchesAdminFilter(v: VolumeRecord, query: Record<string, unknown>): boolean {
  for (const [key, raw] of Object.entries(query)) {
    const value = Array.isArray(raw) ? String(raw[0]) : String(raw);
    switch (key) {
      case 'serviceName':
        if (v.service !== value) return false;
        break;
      case 'availabilityZone':
        if ((v.availabilityZone ?? '') !== value) return false;
        break;
      case 'size':
        if (!/^\d+$/.test(value) || v.size !== Number(value)) return false;
        break;
      case 'iops':
        if (!/^\d+$/.test(value) || (v.iops ?? 0) !== Number(value)) return false;
        break;
      default:
        if (!Object.prototype.hasOwnProperty.call(v.fields, key) || v.fields[key] !== value) return false;
    }
  }
  return true;
}
