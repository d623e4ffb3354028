/**
 * `/health`: liveness (the process serves HTTP). `/health/ready` (or `/health?ready`): readiness —
 * the store is open and can write, and Polly is subscribed to Mesos — 503 otherwise, with the
 * failing checks and a `reasons` line for each (e.g. "the state store cannot write: no space left
 * on device (/var/lib/polly/state/000012.log)").
 */
import { Response, Router } from 'express';

export interface Readiness {
  storeOpen: boolean;
  subscribed: boolean;
  /** False while state store writes fail or hang (see StoreWriteMonitor); absent: not checked. */
  storeWritable?: boolean;
  /** Why a check fails, beyond what its name says (e.g. the store's write error). */
  reasons?: string[];
}

/** One line per failing check: the detailed reasons given, else what the check's name means. */
function reasonsOf(checks: Readiness): string[] {
  const reasons = [...(checks.reasons ?? [])];
  if (!checks.storeOpen) reasons.push('the state store is not open');
  if (checks.storeWritable === false && (checks.reasons ?? []).length === 0) reasons.push('the state store cannot write');
  if (!checks.subscribed) reasons.push('not subscribed to a Mesos master');
  return reasons;
}

export function healthRoutes(readiness: () => Readiness): Router {
  const router = Router();
  const ready = (res: Response): void => {
    const current = readiness();
    const checks = {
      storeOpen: current.storeOpen,
      subscribed: current.subscribed,
      ...(current.storeWritable !== undefined ? { storeWritable: current.storeWritable } : {}),
    };
    const reasons = reasonsOf(current);
    const ok = checks.storeOpen && checks.subscribed && checks.storeWritable !== false;
    res.status(ok ? 200 : 503).json(ok ? { status: 'ready', checks } : { status: 'not ready', checks, reasons });
  };
  router.get('/health', (req, res) => {
    if (Object.prototype.hasOwnProperty.call(req.query, 'ready')) return ready(res);
    res.json({ status: 'ok' });
  });
  router.get('/health/ready', (_req, res) => ready(res));
  return router;
}
