/** `/v1/agents`: the agents Polly knows from Mesos, with zone, liveness and driver instance IDs. */
import { Router } from 'express';
import type { SchedulerApi } from '../../scheduler/scheduler-api';

export function agentsRoutes(scheduler: SchedulerApi): Router {
  const router = Router();
  router.get('/agents', (_req, res) => {
    res.json({ agents: scheduler.agents() });
  });
  router.get('/agents/:id', (req, res) => {
    res.json(scheduler.agent(String(req.params.id)));
  });
  return router;
}
