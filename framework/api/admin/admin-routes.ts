/**
 * The original Polly admin API (`/admin/...`), kept working with its request and response shapes.
 * Differences, all towards safety: errors are `{message, status, details?}` with a precise 4xx,
 * `POST /admin/volumes` answers 201 with a Location, `volumeoffer` adds schedulers to the
 * volume's list instead of replacing it (use `volumeofferrevoke` to remove), and a volume ID that
 * names no volume is a 404 on every route, whatever it looks like (the original answered 500 to
 * GET and DELETE and 422 to the POST routes for a volume it could not find).
 */
import { Router } from 'express';
import { POLLY_VERSION } from '../../version';
import { DriverNotFoundError } from '../../../drivers/errors';
import { NotFoundError } from '../../errors/not-found-error';
import type { StorageService } from '../../storage/storage-service';
import { toPollyError } from '../../storage/storage-errors';
import { isVolumeId, parseVolumeId } from '../../storage/volume-id';
import type { VolumeRecord } from '../../storage/volume-record';
import { volumeFromDriver } from '../../storage/volume-record';
import { validateBody } from '../validation';
import { adminVolumeView, matchesAdminFilter } from '../volume-views';
import {
  AdminVolumeCreate,
  AdminVolumeCreateSchema,
  VolumeLabel,
  VolumeLabelSchema,
  VolumeLabelsRemove,
  VolumeLabelsRemoveSchema,
  VolumeOffer,
  VolumeOfferSchema,
} from './admin-schemas';

/** The admin and scheduler API versions this server speaks (the original Polly's were 0.1.0). */
export const ADMIN_API_VERSION = '1.0.0';
export const SCHEDULER_API_VERSION = '1.0.0';

const blankToUndefined = (s: string | undefined): string | undefined => (s === undefined || s === '' ? undefined : s);

/** Longest ID quoted back in an error (the caller sent it; it need not be short). */
const QUOTED_ID_LENGTH = 100;

function volumeNotFound(id: string): NotFoundError {
  const quoted = id.length > QUOTED_ID_LENGTH ? `${id.slice(0, QUOTED_ID_LENGTH)}…` : id;
  return new NotFoundError(`Volume ${JSON.stringify(quoted)} not found`, { volumeId: quoted });
}

/** `id` when it could name a volume; otherwise no volume has it, and that is a 404 (not a 400). */
function candidateVolumeId(id: string): string {
  if (!isVolumeId(id)) throw volumeNotFound(id);
  return id;
}

/** A managed volume, or (read-only) an unmanaged one found on its backend. */
async function inspect(storage: StorageService, id: string): Promise<VolumeRecord> {
  const managed = storage.catalog.find(candidateVolumeId(id));
  if (managed) return managed;
  const { service, driverVolumeId } = parseVolumeId(id);
  if (!storage.registry.has(service)) throw volumeNotFound(id);
  try {
    const dv = await storage.registry.get(service).driver.volumeInspect(driverVolumeId);
    const record = volumeFromDriver(id, service, dv, { managed: false });
    record.status = dv.attachments.length > 0 ? 'attached' : 'available';
    return record;
  } catch (err) {
    if (err instanceof DriverNotFoundError) throw volumeNotFound(id);
    throw toPollyError(err);
  }
}

export function adminRoutes(storage: StorageService): Router {
  const router = Router();

  router.get('/version', (_req, res) => {
    res.json({
      versionPollyAdminAPI: ADMIN_API_VERSION,
      versionPollySchedulerAPI: SCHEDULER_API_VERSION,
      versionPollyBuild: POLLY_VERSION,
    });
  });

  router.get('/volumes', (req, res) => {
    const query = req.query as Record<string, unknown>;
    res.json(
      storage.catalog
        .list()
        .filter((v) => matchesAdminFilter(v, query))
        .map(adminVolumeView),
    );
  });

  router.get('/volumesall', async (req, res) => {
    const query = req.query as Record<string, unknown>;
    const service = typeof query.serviceName === 'string' && storage.registry.has(query.serviceName) ? query.serviceName : undefined;
    const all = typeof query.serviceName === 'string' && !service ? [] : await storage.catalog.listAll(service ? { service } : {});
    res.json(all.filter((v) => matchesAdminFilter(v, query)).map(adminVolumeView));
  });

  router.get('/volumes/:volumeID', async (req, res) => {
    res.json(adminVolumeView(await inspect(storage, req.params.volumeID)));
  });

  router.delete('/volumes/:volumeID', async (req, res) => {
    await storage.catalog.remove(candidateVolumeId(req.params.volumeID));
    res.status(204).end();
  });

  router.post('/volumes', validateBody(AdminVolumeCreateSchema), async (req, res) => {
    const body = req.body as AdminVolumeCreate;
    const volume = await storage.catalog.create({
      service: body.service,
      name: body.name,
      type: blankToUndefined(body.volumeType),
      size: body.size,
      iops: body.iops === 0 ? undefined : body.iops,
      availabilityZone: blankToUndefined(body.availabilityZone),
      schedulers: body.schedulers,
      labels: body.labels,
      fields: body.fields,
    });
    res
      .status(201)
      .location(`/admin/volumes/${encodeURIComponent(volume.id)}`)
      .json(adminVolumeView(volume));
  });

  router.post('/volumeoffer', validateBody(VolumeOfferSchema), async (req, res) => {
    const body = req.body as VolumeOffer;
    res.json(adminVolumeView(await storage.catalog.offer(candidateVolumeId(body.volumeID), body.schedulers)));
  });

  router.post('/volumeofferrevoke', validateBody(VolumeOfferSchema), async (req, res) => {
    const body = req.body as VolumeOffer;
    res.json(adminVolumeView(await storage.catalog.revoke(candidateVolumeId(body.volumeID), body.schedulers)));
  });

  router.post('/volumelabel', validateBody(VolumeLabelSchema), async (req, res) => {
    const body = req.body as VolumeLabel;
    res.json(adminVolumeView(await storage.catalog.setLabels(candidateVolumeId(body.volumeID), body.labels)));
  });

  router.post('/volumelabelsremove', validateBody(VolumeLabelsRemoveSchema), async (req, res) => {
    const body = req.body as VolumeLabelsRemove;
    res.json(adminVolumeView(await storage.catalog.removeLabels(candidateVolumeId(body.volumeID), body.labels)));
  });

  return router;
}
