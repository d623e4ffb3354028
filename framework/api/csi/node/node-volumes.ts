/**
 * Where a volume's data is on this host, from the CSI volume ID (`<service>.<driver volume ID>`) and
 * Polly's configuration: a service whose driver exposes volumes as host paths (vfs, on a shared root
 * mounted at the same path on every host) names the directory; other services (libstorage backends,
 * mapped as Docker volumes) cannot be node-published by `polly csi node`.
 */
import path from 'node:path';
import { createDriver } from '../../../../drivers';
import type { StorageDriver } from '../../../../drivers/storage-driver';
import type { ServiceConfig } from '../../../config/config-schema';
import { isVolumeId, parseVolumeId } from '../../../storage/volume-id';

export type VolumeLocation =
  { kind: 'dir'; service: string; dir: string } | { kind: 'unknown'; why: string } | { kind: 'not-node-publishable'; why: string };

interface NodeService {
  name: string;
  driver: string;
  hostPath?: (driverVolumeId: string) => string;
}

export class NodeVolumes {
  private readonly services = new Map<string, NodeService>();

  /** `home` resolves relative and default vfs roots exactly as the Polly server does (service-registry.ts). */
  constructor(services: readonly ServiceConfig[], home: string) {
    for (const s of services) {
      const entry: NodeService = { name: s.name, driver: s.driver };
      if (s.driver === 'vfs' && (s.mapping ?? 'hostPath') === 'hostPath') {
        const root = s.vfs?.root ? path.resolve(home, s.vfs.root) : path.join(home, 'vfs', s.name);
        const driver: StorageDriver = createDriver('vfs', { root });
        entry.hostPath = (id) => driver.hostPath!({ id, name: '', size: 0, fields: {}, attachments: [] });
      }
      this.services.set(s.name, entry);
    }
  }

  /** Where the data of the volume `volumeId` names lives here, or why it cannot be found or published. */
  locate(volumeId: string): VolumeLocation {
    if (!isVolumeId(volumeId))
      return { kind: 'unknown', why: `${JSON.stringify(String(volumeId).slice(0, 200))} is not a Polly volume ID` };
    const { service, driverVolumeId } = parseVolumeId(volumeId);
    const entry = this.services.get(service);
    if (!entry)
      return { kind: 'unknown', why: `Volume ${volumeId} is on service "${service}", which this node's configuration does not have` };
    if (!entry.hostPath) {
      return {
        kind: 'not-node-publishable',
        why:
          `Volume ${volumeId} is on service "${service}" (driver ${entry.driver}), whose volumes are not host directories: ` +
          "polly csi node cannot publish it (use the backend's own node plugin or Docker volume driver)",
      };
    }
    try {
      return { kind: 'dir', service, dir: entry.hostPath(driverVolumeId) };
    } catch {
      return { kind: 'unknown', why: `Volume ${volumeId} is not a volume of service "${service}"` };
    }
  }
}
