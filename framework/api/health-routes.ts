/**
 * `/health`: liveness (the process serves HTTP). `/health/ready` (or `/health?ready`): readiness —
 * the store is open and Polly is subscribed to Mesos — 503 with the failing checks otherwise.
 */
import { Router } from 'express';

export interface Readiness {
  storeOpen: boolean;
  subscribed: boolean;
}

export function healthRoutes(readiness: () => Readiness): Router {
  const router = Router();
  const ready = (res: import('express').Response): void => {
    const checks = readiness();
    const ok = checks.storeOpen && checks.subscribed;
    res.status(ok ? 200 : 503).json({ status: ok ? 'ready' : 'not ready', checks });
  };
  router.get('/health', (req, res) => {
    if (Object.prototype.hasOwnProperty.call(req.query, 'ready')) return ready(res);
    res.json({ status: 'ok' });
  });
  router.get('/health/ready', (_req, res) => ready(res));
  return router;
}
