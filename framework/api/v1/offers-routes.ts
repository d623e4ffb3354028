/** `/v1/offers?scheduler=NAME[&agent=ID]`: the storage offers of one scheduler. */
import { Router } from 'express';
import { ValidationError } from '../../errors/validation-error';
import type { SchedulerApi } from '../../scheduler/scheduler-api';

function single(query: Record<string, unknown>, key: string): string | undefined {
  const value = query[key];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw ValidationError.field(key, `${key} must be given once, as text`);
  return value;
}

export function offersRoutes(scheduler: SchedulerApi): Router {
  const router = Router();
  router.get('/offers', (req, res) => {
    const query = req.query as Record<string, unknown>;
    const name = single(query, 'scheduler');
    if (name === undefined || name === '')
      throw ValidationError.field('scheduler', 'The scheduler query parameter is required (?scheduler=NAME)');
    const agentId = single(query, 'agent');
    res.json({ offers: scheduler.offers(agentId === undefined ? { scheduler: name } : { scheduler: name, agentId }) });
  });
  return router;
}
