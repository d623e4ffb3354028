/**
 * Polly's Prometheus metrics, on a registry of its own (several Pollys in one test process never
 * collide). The counters are public so the scheduler can count what it does with offers; the gauges
 * read current state when scraped (`attachSources`), so nothing has to remember to update them.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { ClaimState } from '../../storage/claim-record';

export interface MetricSources {
  /** Live counts of claims per state. */
  claimsByState?: () => Partial<Record<ClaimState, number>>;
  /** Open intents (mutating driver calls whose outcome is not yet recorded). */
  pendingIntents?: () => Promise<number> | number;
}

const CLAIM_STATES: readonly ClaimState[] = ['pending', 'attaching', 'attached', 'releasing', 'released', 'failed'];

export interface PollyMetricsOptions {
  /** Node process metrics (CPU, memory, event loop) too. Default true. */
  defaultMetrics?: boolean;
}

export class PollyMetrics {
  readonly registry = new Registry();
  readonly offersReceived: Counter<string>;
  readonly offersDeclined: Counter<string>;
  readonly offersAccepted: Counter<string>;
  readonly reconciliations: Counter<'kind'>;
  readonly claims: Gauge<'state'>;
  readonly pendingIntents: Gauge<string>;
  readonly driverCallDuration: Histogram<'service' | 'driver' | 'operation' | 'outcome'>;
  readonly httpRequestDuration: Histogram<'method' | 'route' | 'status'>;
  readonly storeWriteFailures: Counter<'backend' | 'cause'>;
  private sources: MetricSources = {};

  constructor(options: PollyMetricsOptions = {}) {
    const registers = [this.registry];
    if (options.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry, prefix: 'polly_' });
    this.offersReceived = new Counter({ name: 'polly_offers_received_total', help: 'Mesos offers received', registers });
    this.offersDeclined = new Counter({ name: 'polly_offers_declined_total', help: 'Mesos offers declined', registers });
    this.offersAccepted = new Counter({ name: 'polly_offers_accepted_total', help: 'Mesos offers accepted', registers });
    this.reconciliations = new Counter({
      name: 'polly_reconciliations_total',
      help: 'Reconciliation passes run (kind: storage, tasks-explicit, tasks-implicit, ...)',
      labelNames: ['kind'],
      registers,
    });
    this.claims = new Gauge({
      name: 'polly_claims',
      help: 'Claims by state',
      labelNames: ['state'],
      registers,
      collect: () => {
        const counts = this.sources.claimsByState?.();
        if (!counts) return;
        for (const state of CLAIM_STATES) this.claims.set({ state }, counts[state] ?? 0);
      },
    });
    this.pendingIntents = new Gauge({
      name: 'polly_pending_intents',
      help: 'Intents whose driver call has not been settled yet',
      registers,
      collect: async () => {
        if (!this.sources.pendingIntents) return;
        try {
          this.pendingIntents.set(await this.sources.pendingIntents());
        } catch {
          // The store cannot be read right now (e.g. reopening after a failed write): the gauge keeps
          // its last value, and the scrape — which must show the failure counters then — goes on.
        }
      },
    });
    this.driverCallDuration = new Histogram({
      name: 'polly_driver_call_duration_seconds',
      help: 'Storage driver call latency by service, driver and operation',
      labelNames: ['service', 'driver', 'operation', 'outcome'],
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60],
      registers,
    });
    this.httpRequestDuration = new Histogram({
      name: 'polly_http_request_duration_seconds',
      help: 'API request latency by method, route pattern and status',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5],
      registers,
    });
    this.storeWriteFailures = new Counter({
      name: 'polly_store_write_failures_total',
      help: 'State store writes that failed (backend: leveldb, zookeeper; cause: no_space, quota, read_only, io, unavailable, ...)',
      labelNames: ['backend', 'cause'],
      registers,
    });
  }

  /** Where the scrape-time gauges read from (the storage service, once started). */
  attachSources(sources: MetricSources): void {
    this.sources = { ...this.sources, ...sources };
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  async render(): Promise<string> {
    return this.registry.metrics();
  }
}
