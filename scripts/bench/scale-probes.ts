/**
 * What the start-up child measures on a started storage core, to show that the work per request
 * and per update does not grow with the number of volumes:
 *
 * - `/v1/volumes` pages over real HTTP (a real API server on a loopback port): pages of 100 from
 *   random cursors, unfiltered and filtered by zone (the median of PAGE_REQUESTS each);
 * - the storage-offer book with 10,000 agents in 20 zones: indexing every volume at its start, one
 *   agent's offer read in each zone (issuing it), then updates: a volume turning unattachable and
 *   attachable again (as a claim and its release do), each rescinding and re-issuing its zone's
 *   offer (p50 and p99 over OFFER_UPDATES).
 */
import { createApiAuth } from '../../framework/api/auth/api-auth';
import { createApiServer } from '../../framework/api/api-server';
import { EventJournal } from '../../framework/api/event-journal';
import { PollyMetrics } from '../../framework/api/metrics/polly-metrics';
import { mesos } from '../../framework/mesos/generated/mesos';
import { AgentRegistry } from '../../framework/scheduler/agent-registry';
import { StorageOfferBook } from '../../framework/scheduler/storage-offers';
import type { StorageService } from '../../framework/storage/storage-service';
import { StandInBackend } from './stand-in-backend';

const PAGE_REQUESTS = 40;
const PAGE_SIZE = 100;
const AGENTS = 10_000;
const ZONES = 20;
const OFFER_UPDATES = 400;

export interface ProbeFigures {
  pageMs: number;
  zonePageMs: number;
  offerBookStartMs: number;
  /** Reading (issuing) one agent's offer: the median over one agent per zone, and its volumes. */
  offerReadMs: number;
  offerVolumes: number;
  offerUpdateP50Ms: number;
  offerUpdateP99Ms: number;
}

/** Deterministic PRNG so runs compare. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))];
}

async function pages(storage: StorageService, volumes: number): Promise<Pick<ProbeFigures, 'pageMs' | 'zonePageMs'>> {
  const server = createApiServer({
    storage,
    auth: createApiAuth({ host: '127.0.0.1', auth: 'off', tokens: [] }),
    readiness: () => ({ storeOpen: true, subscribed: true }),
    metrics: new PollyMetrics({ defaultMetrics: false }),
    events: new EventJournal(100),
    ui: false,
  });
  const { url } = await server.listen({ host: '127.0.0.1', port: 0 });
  const random = rng(7);
  const time = async (query: string): Promise<number> => {
    const after = `ebs.${StandInBackend.idOf(Math.floor(random() * volumes))}`;
    const started = performance.now();
    const res = await fetch(`${url}/v1/volumes?${query}limit=${PAGE_SIZE}&after=${encodeURIComponent(after)}`);
    const body = (await res.json()) as { volumes: unknown[] };
    const ms = performance.now() - started;
    if (res.status !== 200 || body.volumes.length === 0) throw new Error(`page request answered ${res.status}`);
    return ms;
  };
  try {
    for (let i = 0; i < 5; i++) await time(''); // warm-up: connection, JIT
    const plain: number[] = [];
    const zoned: number[] = [];
    for (let i = 0; i < PAGE_REQUESTS; i++) {
      plain.push(await time(''));
      zoned.push(await time(`zone=zone-${1 + 2 * (i % 10)}&`));
    }
    return { pageMs: quantile(plain, 0.5), zonePageMs: quantile(zoned, 0.5) };
  } finally {
    await server.close(1000);
  }
}

function agentOffer(agent: number): mesos.v1.Offer {
  return mesos.v1.Offer.create({
    id: { value: `O-${agent}` },
    framework_id: { value: 'F' },
    agent_id: { value: `A${agent}` },
    hostname: `node${agent}`,
    domain: { fault_domain: { region: { name: 'region-1' }, zone: { name: `zone-${agent % ZONES}` } } },
    resources: [],
  });
}

function offerBook(storage: StorageService): Omit<ProbeFigures, 'pageMs' | 'zonePageMs'> {
  const agents = new AgentRegistry();
  for (let a = 0; a < AGENTS; a++) agents.observeOffer(agentOffer(a));
  const book = new StorageOfferBook({ storage, agents });
  let started = performance.now();
  book.start();
  const offerBookStartMs = performance.now() - started;
  try {
    // One offer issued in each zone. The seeded volumes are spread over the 20 zones and every
    // even-numbered one is claimed, so the odd zones hold the attachable ones: their reads are timed.
    const reads: number[] = [];
    let offerVolumes = 0;
    for (let zone = 0; zone < ZONES; zone++) {
      started = performance.now();
      const [offer] = book.list({ scheduler: 'marathon', agentId: `A${zone}` });
      if (zone % 2 === 1) reads.push(performance.now() - started);
      offerVolumes = Math.max(offerVolumes, offer.volumes.length);
    }
    // Volumes with an odd index are unclaimed (attachable) and in odd zones, where offers were issued.
    const { catalog } = storage;
    const random = rng(11);
    const updates: number[] = [];
    let rescinded = 0;
    book.on('offer.rescinded', () => rescinded++);
    for (let u = 0; u < OFFER_UPDATES; u++) {
      const i = 1 + 2 * Math.floor((random() * (catalog.size - 1)) / 2);
      const volume = catalog.get(`ebs.${StandInBackend.idOf(i)}`);
      const gone = Object.freeze({ ...volume, status: 'missing' as const });
      for (const record of [gone, volume]) {
        started = performance.now();
        storage.events.publish('volume.updated', { volume: record });
        updates.push(performance.now() - started);
      }
    }
    if (rescinded !== 2 * OFFER_UPDATES) throw new Error(`expected ${2 * OFFER_UPDATES} rescinded offers, saw ${rescinded}`);
    return {
      offerBookStartMs,
      offerReadMs: quantile(reads, 0.5),
      offerVolumes,
      offerUpdateP50Ms: quantile(updates, 0.5),
      offerUpdateP99Ms: quantile(updates, 0.99),
    };
  } finally {
    book.stop();
  }
}

export async function runProbes(storage: StorageService, volumes: number): Promise<ProbeFigures> {
  return { ...(await pages(storage, volumes)), ...(await offerBook(storage)) };
}
