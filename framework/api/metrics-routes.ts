/** `GET /metrics`: the Prometheus text exposition of PollyMetrics. */
import { Router } from 'express';
import type { PollyMetrics } from './metrics/polly-metrics';

export function metricsRoutes(metrics: PollyMetrics): Router {
  const router = Router();
  router.get('/metrics', async (_req, res) => {
    const text = await metrics.render();
    res.setHeader('Content-Type', metrics.contentType);
    res.send(text);
  });
  return router;
}
