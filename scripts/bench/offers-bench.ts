/**
 * Offer handling at scale, in process (no HTTP): the OfferMatcher and the AgentRegistry deciding
 * OFFERS events of 100 synthetic mesos.v1.Offer objects, with 100,000 volumes (80% in one of 20
 * zones, the rest zoneless, a fifth of them held by live claims) and 10,000 pending instances, at
 * 1,000, 5,000 and 10,000 agents. Reports offers decided per second and the p99 time per event;
 * both should stay flat as agents grow (nothing scans volumes or agents per offer).
 *
 * With BENCH_SCALE=1 (`npm run bench -- scale`) the 10,000-agent row is measured with 1,000,000
 * volumes as well, beside the 100,000-volume row: the two alternate over SCALE_ROUNDS rounds (so
 * both see the same machine) and each reports its medians. Both figures should stay flat as the
 * volumes grow tenfold; a bigger heap must not show up as slower decisions or longer pauses.
 *
 * The volume and claim lookups are in-memory maps with the same shapes and costs as the catalog's
 * name index and the ledger's indexes: live claims by volume, and live claims per agent (asked for
 * every attach-limit check).
 *
 * Measurement: the set-up's garbage is collected first, then untimed warm-up events (through the
 * same timing loop) let the JIT and the heap settle, then BENCH_OFFER_EVENTS events are timed,
 * cycling through a pool of pre-built OFFERS events (so memory does not grow with the count). p99
 * over 3,000 events is the 30th slowest, not the 4th of 400: it no longer hangs on a few outliers.
 */
import os from 'node:os';
import { mesos } from '../../framework/mesos/generated/mesos';
import type { ClaimRecord } from '../../framework/storage/claim-record';
import type { VolumeRecord } from '../../framework/storage/volume-record';
import { AgentRegistry } from '../../framework/scheduler/agent-registry';
import { parseAppSpec } from '../../framework/scheduler/app-spec';
import { MatchEnvironment, OfferMatcher, PendingInstance } from '../../framework/scheduler/offer-matcher';
import { BenchResult, report, round } from './bench-result';

const ZONES = 20;
const VOLUMES = Number(process.env.BENCH_OFFER_VOLUMES ?? 100_000);
const PENDING = Number(process.env.BENCH_OFFER_PENDING ?? 10_000);
const EVENTS = Number(process.env.BENCH_OFFER_EVENTS ?? 3000);
/** Distinct pre-built OFFERS events; the warm-up and the timed loop cycle through them. */
const POOL = Math.min(EVENTS, 400);
const WARM_UP_EVENTS = 200;
const OFFERS_PER_EVENT = 100;
const AGENT_COUNTS = [1000, 5000, 10000];
const SCALE = process.env.BENCH_SCALE === '1';
const SCALE_VOLUMES = 1_000_000;
const SCALE_AGENTS = 10_000;
const SCALE_ROUNDS = Number(process.env.BENCH_SCALE_ROUNDS ?? 3);

/** Deterministic PRNG so runs compare. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const scalar = (name: string, value: number): mesos.v1.IResource => ({
  name,
  type: mesos.v1.Value.Type.SCALAR,
  scalar: { value },
  allocation_info: { role: 'polly' },
});

function makeOffer(i: number, agent: number): mesos.v1.Offer {
  return mesos.v1.Offer.create({
    id: { value: `O${i}` },
    framework_id: { value: 'F' },
    agent_id: { value: `A${agent}` },
    hostname: `node${agent}`,
    allocation_info: { role: 'polly' },
    domain: { fault_domain: { region: { name: 'region-1' }, zone: { name: `zone-${agent % ZONES}` } } },
    attributes: [{ name: 'rack', type: mesos.v1.Value.Type.TEXT, text: { value: `rack-${agent % 50}` } }],
    resources: [
      scalar('cpus', 8),
      scalar('mem', 32768),
      scalar('disk', 100000),
      { name: 'ports', type: mesos.v1.Value.Type.RANGES, ranges: { range: [{ begin: 31000, end: 32000 }] }, allocation_info: { role: 'polly' } },
    ],
  });
}

/**
 * Handles `count` events from the pool, starting at `from`; the time of each (ms) and of all. The
 * warm-up runs through here too, so the timing code itself is warm when it counts.
 */
function timeEvents(
  handle: (offers: mesos.v1.Offer[]) => void,
  events: mesos.v1.Offer[][],
  from: number,
  count: number,
): { times: number[]; totalMs: number } {
  const times: number[] = [];
  const started = process.hrtime.bigint();
  for (let e = 0; e < count; e++) {
    const offers = events[(from + e) % events.length];
    const t0 = process.hrtime.bigint();
    handle(offers);
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return { times, totalMs: Number(process.hrtime.bigint() - started) / 1e6 };
}

interface RunResult {
  perSecond: number;
  p99: number;
  p50: number;
}

function run(agentCount: number, volumeCount: number): RunResult {
  const random = rng(42 + agentCount);
  const agents = new AgentRegistry();
  for (let a = 0; a < agentCount; a++) agents.observeOffer(makeOffer(-1, a));

  const volumes = new Map<string, VolumeRecord>();
  const claims = new Map<string, ClaimRecord[]>();
  const claimsOnAgent = new Map<string, number>();
  for (let v = 0; v < volumeCount; v++) {
    const name = `vol-${v}`;
    const zone = v % 5 === 4 ? undefined : `zone-${v % ZONES}`;
    const record = {
      id: `local.${v}`,
      service: 'local',
      driverVolumeId: String(v),
      name,
      size: 1,
      status: 'available',
      encrypted: false,
      labels: {},
      fields: {},
      schedulers: ['polly'],
      managed: true,
      attachments: [],
      createdAt: '',
      updatedAt: '',
      ...(zone ? { availabilityZone: zone } : {}),
    } as VolumeRecord;
    volumes.set(name, record);
    if (v % 5 === 1) {
      const agentId = `A${v % agentCount}`;
      claims.set(record.id, [{ id: `c${v}`, volumeId: record.id, taskId: `t${v}`, agentId, mode: 'RW', state: 'attached' } as ClaimRecord]);
      claimsOnAgent.set(agentId, (claimsOnAgent.get(agentId) ?? 0) + 1);
    }
  }
  const env: MatchEnvironment = {
    scheduler: 'polly',
    agent: (id) => agents.get(id),
    findVolume: (_service, name) => volumes.get(name),
    liveClaims: (id) => claims.get(id) ?? [],
    claimsOnAgent: (agentId) => claimsOnAgent.get(agentId) ?? 0,
    attachLimit: () => 40,
    placements: () => [],
  };
  const matcher = new OfferMatcher(env);
  // 1,000 apps × 10 instances; each instance has one volume (existing, held, or new) and some constraints.
  const pending: PendingInstance[] = [];
  for (let i = 0; i < PENDING; i++) {
    const app = Math.floor(i / 10);
    const instance = i % 10;
    const volumeName = i % 4 === 3 ? `new-${i}` : `vol-${Math.floor(random() * volumeCount)}`;
    const spec = parseAppSpec({
      id: `app-${app}`,
      cmd: 'sleep 1000',
      cpus: 1,
      mem: 1024,
      instances: 10,
      constraints: app % 3 === 0 ? [['hostname', 'UNIQUE']] : app % 3 === 1 ? [['rack', 'LIKE', 'rack-[0-3].*']] : [],
      container: { volumes: [{ containerPath: 'data', mode: 'RW', external: { name: `data-{{instance}}`, provider: 'polly' } }] },
    });
    pending.push({
      key: `app-${app}#${instance}`,
      appId: `app-${app}`,
      instance,
      spec,
      volumes: [{ name: volumeName, service: 'local', containerPath: 'data', mode: 'RW' }],
    });
  }
  const events: mesos.v1.Offer[][] = [];
  let offerSeq = 0;
  for (let e = 0; e < POOL; e++) {
    events.push(Array.from({ length: OFFERS_PER_EVENT }, () => makeOffer(offerSeq++, Math.floor(random() * agentCount))));
  }
  const handle = (offers: mesos.v1.Offer[]): void => {
    for (const o of offers) agents.observeOffer(o);
    matcher.match(offers, pending);
  };
  // Collect the set-up's garbage (100,000 volumes, 10,000 instances, the synthetic offers) now, so
  // the timed loop measures the steady state: its own allocations and their collection included.
  // The warm-up comes after it: the first events after a forced full collection run several ms
  // slow (its aftermath, and code still being optimized), which no event sees in steady state.
  (globalThis as { gc?: () => void }).gc?.();
  timeEvents(handle, events, 0, WARM_UP_EVENTS);
  const { times, totalMs } = timeEvents(handle, events, WARM_UP_EVENTS, EVENTS);
  times.sort((a, b) => a - b);
  return {
    perSecond: (EVENTS * OFFERS_PER_EVENT) / (totalMs / 1000),
    p99: times[Math.min(times.length - 1, Math.floor(times.length * 0.99))],
    p50: times[Math.floor(times.length / 2)],
  };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

const label = (volumes: number): string => (volumes >= 1_000_000 ? `${volumes / 1_000_000}M` : `${volumes / 1000}k`);

function measure(agentCount: number, volumeCount: number): RunResult {
  (globalThis as { gc?: () => void }).gc?.();
  const r = run(agentCount, volumeCount);
  process.stderr.write(
    `offers: ${agentCount} agents, ${volumeCount} volumes: ${Math.round(r.perSecond)} offers/s, p50 ${round(r.p50, 3)} ms, p99 ${round(r.p99, 3)} ms per event\n`,
  );
  return r;
}

/** The rows of one configuration: medians over its runs (one run outside scale mode). */
function rows(
  agentCount: number,
  volumeCount: number,
  runs: RunResult[],
  beside?: { volumes: number; perSecond: number; p99: number },
): BenchResult[] {
  const perSecond = median(runs.map((r) => r.perSecond));
  const p99 = median(runs.map((r) => r.p99));
  const listed =
    runs.length > 1
      ? `; median of ${runs.length} runs: ${runs.map((r) => Math.round(r.perSecond)).join(', ')} offers/s, p99 ${runs.map((r) => round(r.p99, 3)).join(', ')} ms`
      : '';
  const load = `load average ${os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')}`;
  const suffix = volumeCount === VOLUMES ? '' : `, ${label(volumeCount)} volumes`;
  const decided: BenchResult = {
    name: `offers: decided/s, ${agentCount} agents${suffix}`,
    value: Math.round(perSecond),
    unit: 'offers/s',
    note: `${volumeCount} volumes, ${PENDING} pending instances, ${ZONES} zones${listed}; ${load}`,
  };
  const tail: BenchResult = {
    name: `offers: p99 per OFFERS event (100), ${agentCount} agents${suffix}`,
    value: round(p99, 3),
    unit: 'ms',
    peer: 'target',
    peerValue: 5,
    ratio: round(p99 / 5, 3),
    note: `target < 5 ms${listed}; ${load}`,
  };
  if (beside) {
    Object.assign(decided, {
      peer: `${label(beside.volumes)} volumes row`,
      peerValue: Math.round(beside.perSecond),
      ratio: round(perSecond / beside.perSecond),
    });
    Object.assign(tail, { peer: `${label(beside.volumes)} volumes row`, peerValue: round(beside.p99, 3), ratio: round(p99 / beside.p99) });
  }
  return [decided, tail];
}

const results: BenchResult[] = [];
for (const count of AGENT_COUNTS) {
  if (SCALE && count === SCALE_AGENTS) continue; // measured below, alternating with the 1M-volume runs
  results.push(...rows(count, VOLUMES, [measure(count, VOLUMES)]));
}
if (SCALE) {
  const base: RunResult[] = [];
  const large: RunResult[] = [];
  for (let r = 0; r < SCALE_ROUNDS; r++) {
    base.push(measure(SCALE_AGENTS, VOLUMES));
    large.push(measure(SCALE_AGENTS, SCALE_VOLUMES));
  }
  results.push(...rows(SCALE_AGENTS, VOLUMES, base));
  const reference = { volumes: VOLUMES, perSecond: median(base.map((r) => r.perSecond)), p99: median(base.map((r) => r.p99)) };
  results.push(...rows(SCALE_AGENTS, SCALE_VOLUMES, large, reference));
}
report(results);
