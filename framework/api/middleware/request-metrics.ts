/** Records each request's latency by method, matched route pattern (not raw path: bounded labels) and status. */
import type { RequestHandler } from 'express';
import type { PollyMetrics } from '../metrics/polly-metrics';

export function requestMetrics(metrics: PollyMetrics): RequestHandler {
  return (req, res, next) => {
    const end = metrics.httpRequestDuration.startTimer();
    res.on('finish', () => {
      const routePath = (req.route as { path?: unknown } | undefined)?.path;
      const route = typeof routePath === 'string' ? `${req.baseUrl}${routePath}` : res.statusCode === 404 ? 'unmatched' : 'other';
      end({ method: req.method, route, status: String(res.statusCode) });
    });
    next();
  };
}
