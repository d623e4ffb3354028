/**
 * Quarantined data: what a backend holds that its own records do not explain, moved aside by the
 * driver and never deleted by Polly (see the storage core's QuarantineBook).
 *
 *   GET    /v1/quarantine                               every service's entries (admin, read)
 *   GET    /v1/services/:name/quarantine                one service's entries (admin, read)
 *   DELETE /v1/services/:name/quarantine/:id            purge exactly this entry, data and all (admin);
 *                                                       answers with what was deleted; audited as an event
 *   POST   /v1/services/:name/quarantine/:id/restore    {"name"}: make it a managed volume again (admin)
 *
 * Scheduler tokens see none of it: quarantined data belongs to no scheduler.
 */
import { Type, type Static } from '@sinclair/typebox';
import { Router, type Response } from 'express';
import { ForbiddenError } from '../../errors/forbidden-error';
import type { StorageService } from '../../storage/storage-service';
import { principalOf } from '../auth/principal';
import { validateBody } from '../validation';
import { volumeView } from '../volume-views';

const RestoreSchema = Type.Object({ name: Type.String({ minLength: 1, maxLength: 255 }) }, { additionalProperties: false });
type Restore = Static<typeof RestoreSchema>;

function readerOf(res: Response): void {
  const principal = principalOf(res);
  if (principal.scope === 'scheduler') throw new ForbiddenError(`Token "${principal.name}" may not see quarantined data`);
}

function adminOf(res: Response): string {
  const principal = principalOf(res);
  if (principal.scope !== 'admin') throw new ForbiddenError(`Only admin tokens may purge or restore quarantined data`);
  return principal.name;
}

export function quarantineRoutes(storage: StorageService): Router {
  const router = Router();
  const { quarantine } = storage;

  router.get('/quarantine', async (_req, res) => {
    readerOf(res);
    res.json({ quarantine: await quarantine.list() });
  });

  router.get('/services/:name/quarantine', async (req, res) => {
    readerOf(res);
    const service = String(req.params.name);
    res.json({ service, quarantine: await quarantine.list(service) });
  });

  router.delete('/services/:name/quarantine/:id', async (req, res) => {
    const by = adminOf(res);
    const purged = await quarantine.purge(String(req.params.name), String(req.params.id), { by });
    res.json({ purged });
  });

  router.post('/services/:name/quarantine/:id/restore', validateBody(RestoreSchema), async (req, res) => {
    const by = adminOf(res);
    const body = req.body as Restore;
    const volume = await quarantine.restore(String(req.params.name), String(req.params.id), body.name, { by });
    res
      .status(201)
      .location(`/v1/volumes/${encodeURIComponent(volume.id)}`)
      .json(volumeView(volume));
  });

  return router;
}
