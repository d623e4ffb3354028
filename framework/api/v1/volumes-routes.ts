/**
 * `/v1/volumes`: list (filters: service, scheduler, zone, status, name, label=k=v, all=true for
 * unmanaged too; `limit=N` and `after=<next>` page through it in volume ID order, and without them
 * the whole list is streamed), get, create (201 + Location), delete (204), PATCH labels and
 * schedulers, and `POST /v1/volumes/:id/detach {instanceId, reason}` (admin only): detach the
 * volume from an instance no claim accounts for (a `foreignAttachments` entry), audited as a
 * `volume.audit` event; `POST /v1/volumes/:id/expand {size}` (admin only): grow the volume to
 * `size` GiB (the same size again changes nothing; shrinking is a 400, a backend that cannot
 * grow volumes a 501), audited as a `volume.audit` event. Scheduler tokens see only volumes
 * offered to them.
 */
import { Router } from 'express';
import { ForbiddenError } from '../../errors/forbidden-error';
import { NotFoundError } from '../../errors/not-found-error';
import { ValidationError } from '../../errors/validation-error';
import { checkDetachRequest } from '../../storage/foreign-attachments';
import type { StorageService } from '../../storage/storage-service';
import { MAX_PAGE_SIZE, PageRequest, VolumeFilter } from '../../storage/volume-catalog';
import type { VolumeRecord, VolumeStatus } from '../../storage/volume-record';
import { canSeeVolume, principalOf } from '../auth/principal';
import { sendJsonList } from '../json-list';
import { validateBody, validateBodyAll } from '../validation';
import { volumeView } from '../volume-views';
import { queryBoolean, queryLabels, queryString } from './query';
import { VolumeCreate, VolumeCreateSchema, VolumeExpand, VolumeExpandSchema, VolumePatch, VolumePatchSchema } from './v1-schemas';

const STATUSES: readonly VolumeStatus[] = ['available', 'attached', 'removing', 'missing'];

/** The page size when `after` is given without `limit`. */
export const DEFAULT_PAGE_SIZE = 1000;

interface ListQuery {
  filter: VolumeFilter;
  all: boolean;
  /** Set when the caller pages (`limit` or `after` given). */
  page?: PageRequest;
}

/** The list's query parameters, every problem named at once (one 400). */
function listQueryOf(query: Record<string, unknown>): ListQuery {
  const problems: Array<{ field: string; message: string }> = [];
  const read = <T>(field: string, parse: () => T): T | undefined => {
    try {
      return parse();
    } catch (err) {
      problems.push({ field, message: (err as Error).message });
      return undefined;
    }
  };
  const filter: VolumeFilter = {};
  for (const key of ['service', 'scheduler', 'zone', 'name'] as const) {
    const value = read(key, () => queryString(query, key));
    if (value !== undefined) filter[key] = value;
  }
  const status = read('status', () => queryString(query, 'status'));
  if (status !== undefined) {
    if (STATUSES.includes(status as VolumeStatus)) filter.status = status as VolumeStatus;
    else problems.push({ field: 'status', message: `status must be one of ${STATUSES.join(', ')}` });
  }
  const labels = read('label', () => queryLabels(query));
  if (labels !== undefined && Object.keys(labels).length > 0) filter.labels = labels;
  const all = read('all', () => queryBoolean(query, 'all')) ?? false;
  const limitText = read('limit', () => queryString(query, 'limit'));
  const after = read('after', () => queryString(query, 'after'));
  const limit = limitText === undefined ? DEFAULT_PAGE_SIZE : Number(limitText);
  if (limitText !== undefined && (!/^[0-9]{1,6}$/.test(limitText) || limit < 1 || limit > MAX_PAGE_SIZE)) {
    problems.push({ field: 'limit', message: `limit must be a whole number from 1 to ${MAX_PAGE_SIZE}` });
  }
  if (after === '') problems.push({ field: 'after', message: 'after must be the next value of the previous page (a volume ID)' });
  if (problems.length > 0) throw new ValidationError(problems.map((p) => p.message).join('; '), { field: problems[0].field, problems });
  const out: ListQuery = { filter, all };
  if (limitText !== undefined || after !== undefined) out.page = after === undefined ? { limit } : { limit, after };
  return out;
}

export function volumesRoutes(storage: StorageService): Router {
  const router = Router();
  const { catalog } = storage;

  /** The volume, or 404 if the caller may not see it (a scheduler never learns what exists beyond its ACL). */
  const visible = (res: Parameters<typeof principalOf>[0], id: string): VolumeRecord => {
    const volume = catalog.get(id);
    if (!canSeeVolume(principalOf(res), volume)) throw new NotFoundError(`Volume ${JSON.stringify(id)} not found`, { volumeId: id });
    return volume;
  };

  router.get('/volumes', async (req, res) => {
    const { filter, all, page } = listQueryOf(req.query as Record<string, unknown>);
    const principal = principalOf(res);
    if (principal.scope === 'scheduler') filter.scheduler = principal.scheduler;
    if (filter.service !== undefined) storage.registry.get(filter.service); // unknown service → 404, not an empty list
    const withUnmanaged = all && principal.scope !== 'scheduler';
    if (page) {
      const { volumes, next } = withUnmanaged ? await catalog.pageAll(filter, page) : catalog.page(filter, page);
      res.json(next === undefined ? { volumes: volumes.map(volumeView) } : { volumes: volumes.map(volumeView), next });
      return;
    }
    await sendJsonList(res, 'volumes', withUnmanaged ? await catalog.listAll(filter) : catalog.list(filter), volumeView);
  });

  router.get('/volumes/:id', (req, res) => {
    res.json(volumeView(visible(res, String(req.params.id))));
  });

  router.post('/volumes', validateBody(VolumeCreateSchema), async (req, res) => {
    const body = req.body as VolumeCreate;
    const volume = await catalog.create(body);
    res
      .status(201)
      .location(`/v1/volumes/${encodeURIComponent(volume.id)}`)
      .json(volumeView(volume));
  });

  router.delete('/volumes/:id', async (req, res) => {
    await catalog.remove(String(req.params.id));
    res.status(204).end();
  });

  router.patch('/volumes/:id', validateBody(VolumePatchSchema), async (req, res) => {
    const id = String(req.params.id);
    const body = req.body as VolumePatch;
    const before = catalog.get(id);
    // Each part is one catalog update; all inputs were validated above, so a failure here is a
    // conflict with concurrent changes or a missing volume, reported as such.
    if (body.labels) {
      const set: Record<string, string> = {};
      const remove: string[] = [];
      for (const [k, v] of Object.entries(body.labels)) {
        if (v === null) remove.push(k);
        else set[k] = v;
      }
      if (Object.keys(set).length > 0) await catalog.setLabels(id, set);
      if (remove.length > 0) await catalog.removeLabels(id, remove);
    }
    if (body.schedulers) {
      const wanted = new Set(body.schedulers);
      const drop = before.schedulers.filter((s) => !wanted.has(s));
      if (drop.length > 0) await catalog.revoke(id, drop);
      if (body.schedulers.length > 0) await catalog.offer(id, body.schedulers);
    }
    if (body.revoke && body.revoke.length > 0) await catalog.revoke(id, body.revoke);
    if (body.offer && body.offer.length > 0) await catalog.offer(id, body.offer);
    res.json(volumeView(catalog.get(id)));
  });

  router.post('/volumes/:id/detach', async (req, res) => {
    const principal = principalOf(res);
    if (principal.scope !== 'admin') throw new ForbiddenError('Only admin tokens may detach a volume outside its claims');
    const { instanceId, reason } = checkDetachRequest(req.body ?? {});
    const result = await storage.foreignAttachments.detach(String(req.params.id), { instanceId, reason, by: principal.name });
    res.json({ volume: volumeView(result.volume), detached: result.detached });
  });

  router.post('/volumes/:id/expand', validateBodyAll(VolumeExpandSchema), async (req, res) => {
    const principal = principalOf(res);
    const { size } = req.body as VolumeExpand;
    const result = await storage.expander.expand(String(req.params.id), size, { by: principal.name });
    res.json({ volume: volumeView(result.volume), expanded: result.expanded });
  });

  return router;
}
