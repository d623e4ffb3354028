/**
 * `/v1/snapshots`: snapshots straight from the drivers (the storage core does not catalog them).
 * A snapshot ID is `<service>.<encoded driver snapshot ID>`, the same scheme as volume IDs.
 * Creating and removing go through the storage core's SnapshotBook (an intent around the driver
 * call, in the source volume's queue slot).
 */
import { Router } from 'express';
import type { DriverSnapshot } from '../../../drivers/storage-driver';
import type { StorageService } from '../../storage/storage-service';
import { toPollyError } from '../../storage/storage-errors';
import { formatVolumeId, parseVolumeId } from '../../storage/volume-id';
import { checkVolumeName } from '../../storage/volume-record';
import { validateBody } from '../validation';
import { queryString } from './query';
import { SnapshotCreate, SnapshotCreateSchema } from './v1-schemas';

export interface SnapshotView extends Omit<DriverSnapshot, 'id' | 'volumeId'> {
  id: string;
  service: string;
  driverSnapshotId: string;
  /** The Polly volume ID of the source volume. */
  volumeId: string;
}

function view(service: string, s: DriverSnapshot): SnapshotView {
  return { ...s, id: formatVolumeId(service, s.id), service, driverSnapshotId: s.id, volumeId: formatVolumeId(service, s.volumeId) };
}

async function driverCall<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw toPollyError(err);
  }
}

export function snapshotsRoutes(storage: StorageService): Router {
  const router = Router();
  const { registry } = storage;

  router.get('/snapshots', async (req, res) => {
    const query = req.query as Record<string, unknown>;
    const serviceName = queryString(query, 'service');
    const volumeId = queryString(query, 'volumeId');
    const services = serviceName !== undefined ? [registry.get(serviceName)] : registry.list();
    const out: SnapshotView[] = [];
    for (const s of services) {
      for (const snap of await driverCall(() => s.driver.snapshots())) out.push(view(s.name, snap));
    }
    res.json({ snapshots: volumeId === undefined ? out : out.filter((s) => s.volumeId === volumeId) });
  });

  router.get('/snapshots/:id', async (req, res) => {
    const { service, driverVolumeId: snapshotId } = parseVolumeId(String(req.params.id));
    const s = registry.get(service);
    res.json(view(service, await driverCall(() => s.driver.snapshotInspect(snapshotId))));
  });

  router.delete('/snapshots/:id', async (req, res) => {
    const { service, driverVolumeId: snapshotId } = parseVolumeId(String(req.params.id));
    await storage.snapshots.remove(service, snapshotId);
    res.status(204).end();
  });

  router.post('/volumes/:id/snapshots', validateBody(SnapshotCreateSchema), async (req, res) => {
    const body = req.body as SnapshotCreate;
    const name = checkVolumeName(body.name);
    const volume = storage.catalog.get(String(req.params.id));
    const v = view(volume.service, await storage.snapshots.create(volume, name));
    res
      .status(201)
      .location(`/v1/snapshots/${encodeURIComponent(v.id)}`)
      .json(v);
  });

  return router;
}
