/**
 * Per-RPC metrics of the CSI listeners: one histogram gives the count, the latency and the outcome
 * (gRPC code name) of every call, by CSI service and method. Registered on the caller's registry
 * (Polly's /metrics inside `polly start`; the standalone commands' own).
 */
import { Histogram, Registry } from 'prom-client';

export type CsiRpcHistogram = Histogram<'service' | 'method' | 'code'>;

export function csiRpcHistogram(registry: Registry): CsiRpcHistogram {
  const existing = registry.getSingleMetric('polly_csi_rpc_duration_seconds');
  if (existing) return existing as CsiRpcHistogram;
  return new Histogram({
    name: 'polly_csi_rpc_duration_seconds',
    help: 'CSI calls served, by CSI service, method and gRPC code (count, latency)',
    labelNames: ['service', 'method', 'code'],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1, 5, 30],
    registers: [registry],
  });
}
