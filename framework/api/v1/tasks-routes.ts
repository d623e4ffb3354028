/**
 * `POST /v1/tasks/{id}/resolve` `{reason}`: an operator says a task Mesos cannot account for
 * (TASK_UNKNOWN, TASK_UNREACHABLE, or stranded without an answer) is not running. Polly records it
 * RESOLVED, force-releases its claims and relaunches its instance; audited (`task.audit`, with the
 * caller's token name). Admin tokens only (the access policy lets no other scope write here).
 */
import { Router } from 'express';
import { ValidationError } from '../../errors/validation-error';
import type { TaskOperatorApi } from '../../scheduler/scheduler-api';
import type { Principal } from '../auth/principal';

export function tasksRoutes(scheduler: TaskOperatorApi): Router {
  const router = Router();

  router.post('/tasks/:id/resolve', async (req, res) => {
    const body = req.body as unknown;
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new ValidationError('The body must be a JSON object with a reason');
    const extra = Object.keys(body).filter((k) => k !== 'reason');
    if (extra.length > 0) throw ValidationError.field(extra[0], `Unknown field ${extra[0]} (only reason)`);
    const by = (res.locals.principal as Principal | undefined)?.name ?? 'anonymous';
    res.json(await scheduler.resolveTask(String(req.params.id), { reason: (body as { reason?: unknown }).reason, by }));
  });

  return router;
}
