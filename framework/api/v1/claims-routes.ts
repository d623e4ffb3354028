/**
 * `/v1/claims`: list/get (schedulers see their own), create (admins for anyone, schedulers for
 * themselves — the volume's ACL applies to them), release, and force-release with a mandatory
 * reason (admins only; audited by the ledger).
 */
import { Router } from 'express';
import { ConflictError } from '../../errors/conflict-error';
import { ForbiddenError } from '../../errors/forbidden-error';
import { NotFoundError } from '../../errors/not-found-error';
import { ValidationError } from '../../errors/validation-error';
import type { ClaimFilter, ClaimLedger } from '../../storage/claim-ledger';
import { checkReason, ClaimRecord, ClaimRequest, ClaimState, LIVE_CLAIM_STATES } from '../../storage/claim-record';
import type { StorageService } from '../../storage/storage-service';
import { Principal, principalOf } from '../auth/principal';
import { validateBody } from '../validation';
import { queryBoolean, queryString } from './query';
import { ClaimCreate, ClaimCreateSchema, ClaimRelease, ClaimReleaseSchema } from './v1-schemas';

const STATES: readonly ClaimState[] = [...LIVE_CLAIM_STATES, 'released', 'failed'];

function ownedBy(principal: Principal, claim: ClaimRecord): boolean {
  return principal.scope !== 'scheduler' || claim.scheduler === principal.scheduler;
}

/**
 * A scheduler token learns that a volume is held, not by whom: another scheduler's claim ID, task
 * and agent are left out of the 409 (admins, and the holder's own scheduler, still see them).
 */
function withoutOthersHolder(principal: Principal, ledger: ClaimLedger, err: unknown, mode: string): unknown {
  if (principal.scope !== 'scheduler' || !(err instanceof ConflictError)) return err;
  const holderId = err.details?.claimId;
  if (typeof holderId !== 'string') return err;
  const holder = ledger.find(holderId);
  if (holder && ownedBy(principal, holder)) return err;
  const volumeId = String(err.details?.volumeId ?? '');
  const held = typeof err.details?.mode === 'string' ? ` ${err.details.mode}` : '';
  return new ConflictError(`Volume ${volumeId} is held${held} by another scheduler's claim; a ${mode} claim cannot share it`, {
    volumeId,
    ...(held ? { mode: err.details!.mode } : {}),
  });
}

export function claimsRoutes(storage: StorageService): Router {
  const router = Router();
  const { ledger } = storage;

  const visible = (principal: Principal, id: string): ClaimRecord => {
    const claim = ledger.get(id);
    if (!ownedBy(principal, claim)) throw new NotFoundError(`Claim ${JSON.stringify(id)} not found`, { claimId: id });
    return claim;
  };

  router.get('/claims', (req, res) => {
    const query = req.query as Record<string, unknown>;
    const principal = principalOf(res);
    const filter: ClaimFilter = {};
    for (const key of ['volumeId', 'scheduler', 'taskId', 'agentId'] as const) {
      const value = queryString(query, key);
      if (value !== undefined) filter[key] = value;
    }
    const state = queryString(query, 'state');
    if (state !== undefined) {
      if (!STATES.includes(state as ClaimState)) throw ValidationError.field('state', `state must be one of ${STATES.join(', ')}`);
      filter.state = state as ClaimState;
    }
    if (queryBoolean(query, 'live')) filter.live = true;
    if (principal.scope === 'scheduler') filter.scheduler = principal.scheduler;
    res.json({ claims: ledger.list(filter) });
  });

  router.get('/claims/:id', (req, res) => {
    res.json(visible(principalOf(res), String(req.params.id)));
  });

  router.post('/claims', validateBody(ClaimCreateSchema), async (req, res) => {
    const body = req.body as ClaimCreate;
    const principal = principalOf(res);
    if (principal.scope === 'scheduler' && body.scheduler !== undefined && body.scheduler !== principal.scheduler) {
      throw new ForbiddenError(`Token "${principal.name}" may only claim for scheduler ${principal.scheduler}`);
    }
    const request: ClaimRequest = {
      volumeId: body.volumeId,
      agentId: body.agentId,
      instanceId: body.instanceId ?? body.agentId,
      mode: body.mode ?? 'RW',
    };
    if (principal.scope === 'scheduler') request.scheduler = principal.scheduler;
    else if (body.scheduler !== undefined) request.scheduler = body.scheduler;
    if (body.frameworkId !== undefined) request.frameworkId = body.frameworkId;
    if (body.taskId !== undefined) request.taskId = body.taskId;
    // A scheduler token must not learn about volumes outside its ACL: not offered reads as absent.
    const volume = storage.catalog.find(body.volumeId);
    if (principal.scope === 'scheduler' && (!volume || !volume.schedulers.includes(principal.scheduler!))) {
      throw new NotFoundError(`Volume ${JSON.stringify(body.volumeId)} not found`, { volumeId: body.volumeId });
    }
    let claim: ClaimRecord;
    try {
      claim = await ledger.claim(request);
    } catch (err) {
      throw withoutOthersHolder(principal, ledger, err, request.mode ?? 'RW');
    }
    res
      .status(201)
      .location(`/v1/claims/${encodeURIComponent(claim.id)}`)
      .json(claim);
  });

  router.post('/claims/:id/release', validateBody(ClaimReleaseSchema), async (req, res) => {
    const body = req.body as ClaimRelease;
    const principal = principalOf(res);
    const claim = visible(principal, String(req.params.id));
    if (body.force) {
      if (principal.scope !== 'admin') throw new ForbiddenError('Only admin tokens may force-release a claim');
      const reason = checkReason(body.reason, true)!;
      res.json(await ledger.forceRelease(claim.id, reason, principal.name));
      return;
    }
    const reason = checkReason(body.reason, false);
    res.json(await ledger.release(claim.id, reason === undefined ? {} : { reason }));
  });

  return router;
}
