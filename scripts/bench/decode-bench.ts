/**
 * Decoding the scheduler event stream: OFFERS events of 100 offers each, recorded from the local
 * cluster (100 agents) in protobuf and JSON, replayed over loopback HTTP.
 *
 * Wall clock (what an operator sees; on a shared machine it swings twofold between runs):
 * - framing: our RecordIoDecoder vs @dcos/recordio on the same bytes (in memory, 64 KiB chunks);
 * - events: our SchedulerClient (HTTP + framing + decoding into typed events) vs mesos-framework
 *   (its subscription handling, JSON only) fed the same bytes by the same replay server;
 * - ceiling: protobufjs decoding the bare Event messages (no framing, no HTTP).
 *
 * Instructions (callgrind, repeatable; decode-callgrind.ts, decode-work.ts): the same contenders
 * without HTTP, each in its own process over the same recorded body, counted only while it
 * decodes, warmed up first. Values are per 10^9 instructions, so that, as on the wall-clock rows,
 * higher is better and ratio = ours / peer. Skipped, with a row that says why, without valgrind;
 * BENCH_CALLGRIND=0 skips them on purpose, BENCH_CALLGRIND_CACHE=1 adds callgrind's cycle
 * estimates (cache and branch simulation), BENCH_CALLGRIND_RUNS=2 shows that the counts repeat.
 */
import fs from 'node:fs';
import { spawn } from 'node:child_process';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { MEDIA_TYPES, WireFormat } from '../../framework/mesos/codec';
import { mesos } from '../../framework/mesos/generated/mesos';
import { LocalCluster } from '../../framework/mesos/local/local-cluster';
import { StaticMasterDetector } from '../../framework/mesos/master-detector';
import { encodeRecord, RecordIoDecoder } from '../../framework/mesos/recordio';
import { SchedulerClient } from '../../framework/mesos/scheduler/scheduler-client';
import { BenchResult, bestOf, report, round } from './bench-result';
import { countAll, RegionCost, valgrindMissing } from './decode-callgrind';
import { CONTENDERS, Contender } from './decode-work';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const dcosRecordio = require('@dcos/recordio') as { read(input: string): [string[], string] };
// eslint-disable-next-line @typescript-eslint/no-require-imports
const MesosFramework = require('mesos-framework') as { Scheduler: new (options: Record<string, unknown>) => { subscribe(): void; httpRequest?: http.ClientRequest; on(e: string, f: (...a: unknown[]) => void): void } };

const OFFERS_PER_EVENT = 100;
const EVENTS = Number(process.env.BENCH_DECODE_EVENTS ?? 400);
const REPEATS = Number(process.env.BENCH_REPEATS ?? 5);
const CALLGRIND = process.env.BENCH_CALLGRIND !== '0';
/** Events counted per callgrind run, after the warm-up ones (about 30 s per run on this machine). */
const CALLGRIND_EVENTS = Number(process.env.BENCH_CALLGRIND_EVENTS ?? 20);
const CALLGRIND_WARMUP = Number(process.env.BENCH_CALLGRIND_WARMUP ?? 30);
/** Runs per contender; 2 shows that the counts repeat. */
const CALLGRIND_RUNS = Number(process.env.BENCH_CALLGRIND_RUNS ?? 1);
/** Adds cycle estimates from callgrind's cache and branch simulation (twice the time). */
const CALLGRIND_CACHE = process.env.BENCH_CALLGRIND_CACHE === '1';

const Event = mesos.v1.scheduler.Event;

interface Recording {
  format: WireFormat;
  subscribed: Buffer;
  heartbeat: Buffer;
  offers: Buffer; // one OFFERS event with OFFERS_PER_EVENT offers (record payload, unframed)
}

/** Subscribes to the local cluster with a raw HTTP request and keeps the first records verbatim. */
async function record(clusterUrl: string, format: WireFormat): Promise<Recording> {
  const call = { type: mesos.v1.scheduler.Call.Type.SUBSCRIBE, subscribe: { framework_info: { user: 'bench', name: `bench-${format}`, roles: ['bench'], capabilities: [{ type: 6 }, { type: 7 }] } } };
  const body =
    format === 'json'
      ? Buffer.from(JSON.stringify(mesos.v1.scheduler.Call.toObject(mesos.v1.scheduler.Call.fromObject(call), { enums: String, json: true })))
      : Buffer.from(mesos.v1.scheduler.Call.encode(mesos.v1.scheduler.Call.fromObject(call)).finish());
  return new Promise((resolve, reject) => {
    const decoder = new RecordIoDecoder();
    const found: Partial<Recording> = { format };
    const req = http.request(`${clusterUrl}/api/v1/scheduler`, {
      method: 'POST',
      headers: { 'Content-Type': MEDIA_TYPES[format], Accept: MEDIA_TYPES[format] },
    });
    req.on('response', (res) => {
      res.on('data', (chunk: Buffer) => {
        for (const rec of decoder.push(chunk)) {
          const event = format === 'json' ? Event.fromObject(JSON.parse(rec.toString('utf8'))) : Event.decode(rec);
          if (event.type === Event.Type.SUBSCRIBED) found.subscribed = Buffer.from(rec);
          if (event.type === Event.Type.HEARTBEAT) found.heartbeat = Buffer.from(rec);
          if (event.type === Event.Type.OFFERS && (event.offers?.offers?.length ?? 0) === OFFERS_PER_EVENT) found.offers = Buffer.from(rec);
          if (found.subscribed && found.heartbeat && found.offers) {
            req.destroy();
            resolve(found as Recording);
          }
        }
      });
    });
    req.on('error', (err) => (found.offers ? undefined : reject(err)));
    req.end(body);
  });
}

/** The records of one replayed subscription: SUBSCRIBED, HEARTBEAT, then EVENTS × OFFERS. */
function framedRecords(rec: Recording): Buffer[] {
  const offers = encodeRecord(rec.offers);
  return [encodeRecord(rec.subscribed), encodeRecord(rec.heartbeat), ...Array.from({ length: EVENTS }, () => offers)];
}

/**
 * Not a master: answers any POST with 200 and the recorded stream, one HTTP chunk per record,
 * honouring backpressure, then holds the connection open until the client goes away. It runs in a
 * child process (`--replay-server DIR`), so the clients measured here do not share their thread
 * with the sender.
 */
function serveReplay(streams: Record<WireFormat, Buffer[]>): void {
  const server = http.createServer((req, res) => {
    req.resume();
    const format: WireFormat = req.headers.accept === MEDIA_TYPES.protobuf ? 'protobuf' : 'json';
    res.writeHead(200, { 'Content-Type': MEDIA_TYPES[format], 'Mesos-Stream-Id': 'replay-0000' });
    const records = streams[format];
    let i = 0;
    const pump = (): void => {
      while (i < records.length) {
        if (!res.write(records[i++])) {
          res.once('drain', pump);
          return;
        }
      }
    };
    pump();
  });
  server.listen(0, '127.0.0.1', () => {
    process.stdout.write(`http://127.0.0.1:${(server.address() as AddressInfo).port}\n`);
  });
  // The parent ends us by closing our stdin (or killing us).
  process.stdin.on('end', () => process.exit(0));
  process.stdin.resume();
}

function writeStreams(dir: string, streams: Record<WireFormat, Buffer[]>): void {
  for (const format of ['json', 'protobuf'] as const) {
    fs.writeFileSync(path.join(dir, `${format}.bin`), Buffer.concat(streams[format]));
    fs.writeFileSync(path.join(dir, `${format}.lengths.json`), JSON.stringify(streams[format].map((r) => r.length)));
  }
}

function readStreams(dir: string): Record<WireFormat, Buffer[]> {
  const read = (format: WireFormat): Buffer[] => {
    const bytes = fs.readFileSync(path.join(dir, `${format}.bin`));
    const lengths = JSON.parse(fs.readFileSync(path.join(dir, `${format}.lengths.json`), 'utf8')) as number[];
    let at = 0;
    return lengths.map((n) => bytes.subarray(at, (at += n)));
  };
  return { json: read('json'), protobuf: read('protobuf') };
}

async function startReplayServer(dir: string): Promise<{ url: string; close(): Promise<void> }> {
  const child = spawn(process.execPath, [...process.execArgv, __filename, '--replay-server', dir], { stdio: ['pipe', 'pipe', 'inherit'] });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString('utf8');
      if (out.includes('\n')) resolve(out.split('\n')[0]);
    });
    child.once('exit', (code) => reject(new Error(`replay server exited with ${code}`)));
  });
  return {
    url,
    close: () =>
      new Promise((resolve) => {
        child.once('exit', () => resolve());
        child.stdin.end();
        setTimeout(() => child.kill('SIGKILL'), 5000).unref();
      }),
  };
}

async function ourClient(url: string, format: WireFormat): Promise<void> {
  const expected = EVENTS * OFFERS_PER_EVENT;
  const client = new SchedulerClient({
    detector: new StaticMasterDetector([url]),
    frameworkInfo: { user: 'bench', name: 'bench', roles: ['bench'] },
    format,
    heartbeatTimeoutMs: 60_000,
  });
  let seen = 0;
  await new Promise<void>((resolve) => {
    client.on('offers', (offers) => {
      seen += offers.length;
      if (seen >= expected) resolve();
    });
    client.start();
  });
  await client.stop();
}

/**
 * mesos-framework reported an error during a run: in practice a record it could not parse,
 * because its framing assumes every read of the response starts at a record, and a TCP read that
 * ends inside a length prefix breaks that. It then never sees the rest of that event.
 */
class PeerRunFailed extends Error {}

async function mesosFrameworkClient(url: string, logDir: string): Promise<void> {
  const expected = EVENTS * OFFERS_PER_EVENT;
  const { port } = new URL(url);
  let seen = 0;
  let scheduler: InstanceType<typeof MesosFramework.Scheduler> | undefined;
  try {
    await new Promise<void>((resolve, reject) => {
      scheduler = new MesosFramework.Scheduler({
        masterUrl: '127.0.0.1',
        port,
        frameworkName: 'bench',
        // Its file log goes somewhere that exists (it crashes the process otherwise).
        logging: { level: 'error', path: logDir, fileName: 'mesos-framework.log' },
        // Seconds. Runs end their connection themselves; an idle timeout would re-subscribe.
        masterConnectionTimeout: 3600,
        handlers: {
          // Handlers must take exactly one argument to be accepted.
          OFFERS: function (offers: { offers: unknown[] }) {
            seen += offers.offers.length;
            if (seen >= expected) resolve();
          },
          HEARTBEAT: function (_beat: unknown) {
            return undefined;
          },
        },
      });
      // Its messages quote the whole record; the first words say what went wrong.
      scheduler.on('error', (err: unknown) => reject(new PeerRunFailed(String((err as { message?: unknown }).message ?? err).split(':')[0].slice(0, 80))));
      scheduler.subscribe();
    });
  } finally {
    scheduler?.httpRequest?.destroy();
  }
}

/**
 * Best of REPEATS timed runs of mesos-framework (after one untimed), counting only runs in which
 * it saw every offer; the failed ones are retried, a bounded number of times, and reported.
 */
async function bestPeerRun(url: string, logDir: string): Promise<{ ms: number; failed: number; reason?: string }> {
  let best = Infinity;
  let ok = 0;
  let failed = 0;
  let reason: string | undefined;
  for (let attempt = 0; ok < REPEATS + 1 && attempt < 3 * (REPEATS + 1); attempt++) {
    const started = process.hrtime.bigint();
    try {
      await mesosFrameworkClient(url, logDir);
    } catch (err) {
      if (!(err instanceof PeerRunFailed)) throw err;
      failed++;
      reason = err.message;
      continue;
    }
    if (ok > 0) best = Math.min(best, Number(process.hrtime.bigint() - started) / 1e6);
    ok++;
  }
  if (ok < 2) throw new Error(`mesos-framework failed ${failed} runs (${reason})`);
  return { ms: best, failed, reason };
}

function framingOurs(bytes: Buffer): number {
  const decoder = new RecordIoDecoder();
  let n = 0;
  for (let at = 0; at < bytes.length; at += 65536) n += decoder.push(bytes.subarray(at, at + 65536)).length;
  return n;
}

function framingDcos(text: string): number {
  let rest = '';
  let n = 0;
  for (let at = 0; at < text.length; at += 65536) {
    const [records, remaining] = dcosRecordio.read(rest + text.slice(at, at + 65536));
    n += records.length;
    rest = remaining;
  }
  return n;
}

async function main(): Promise<void> {
  const dir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'polly-bench-decode-'));
  const cluster = await LocalCluster.start({
    port: 0,
    workDir: dir,
    allocationIntervalMs: 50,
    agents: Array.from({ length: OFFERS_PER_EVENT }, (_, i) => ({
      hostname: `agent-${String(i).padStart(3, '0')}.bench`,
      zone: `zone-${i % 4}`,
      region: 'region-1',
      attributes: { rack: `r${i % 10}`, os: 'debian' },
    })),
  });
  const recordings = { protobuf: await record(cluster.url, 'protobuf'), json: await record(cluster.url, 'json') };
  await cluster.stop();
  await fs.promises.rm(dir, { recursive: true, force: true, maxRetries: 5 });

  const streams = { protobuf: framedRecords(recordings.protobuf), json: framedRecords(recordings.json) };
  const bytes = { protobuf: Buffer.concat(streams.protobuf), json: Buffer.concat(streams.json) };
  const offersTotal = EVENTS * OFFERS_PER_EVENT;
  const mb = (format: WireFormat): number => bytes[format].length / 1e6;
  const results: BenchResult[] = [];

  // Framing only, in memory. @dcos/recordio frames text (it counts UTF-8 bytes of a JS string),
  // so it is compared on the JSON stream; on protobuf bytes only our decoder is measured.
  for (const format of ['json', 'protobuf'] as const) {
    const expectedRecords = EVENTS + 2;
    const ours = await bestOf(REPEATS, () => {
      if (framingOurs(bytes[format]) !== expectedRecords) throw new Error('framing miscount (ours)');
    });
    const row: BenchResult = { name: `recordio framing (${format} stream)`, value: round(mb(format) / (ours / 1000), 1), unit: 'MB/s' };
    if (format === 'json') {
      const text = bytes.json.toString('utf8');
      const theirs = await bestOf(REPEATS, () => {
        if (framingDcos(text) !== expectedRecords) throw new Error('framing miscount (@dcos/recordio)');
      });
      Object.assign(row, { peer: '@dcos/recordio', peerValue: round(mb(format) / (theirs / 1000), 1), ratio: round(theirs / ours) });
    }
    results.push(row);
  }

  // The physical limit: protobufjs decoding bare Event messages.
  const bare = await bestOf(REPEATS, () => {
    let n = 0;
    for (let i = 0; i < EVENTS; i++) n += (Event.decode(recordings.protobuf.offers).offers?.offers?.length ?? 0);
    if (n !== offersTotal) throw new Error('bare decode miscount');
  });
  const bareRate = offersTotal / (bare / 1000);

  // Whole client path over loopback HTTP, from a replay server in another process.
  const streamsDir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'polly-bench-replay-'));
  try {
    writeStreams(streamsDir, streams);
    const server = await startReplayServer(streamsDir);
    try {
      const peer = await bestPeerRun(server.url, streamsDir);
      const theirRate = offersTotal / (peer.ms / 1000);
      const peerFailures = peer.failed > 0 ? `; mesos-framework lost an event in ${peer.failed} run(s), not counted (${peer.reason})` : '';
      for (const format of ['json', 'protobuf'] as const) {
        const ours = await bestOf(REPEATS, () => ourClient(server.url, format));
        const rate = offersTotal / (ours / 1000);
        results.push({
          name: `OFFERS events decoded (${format})`,
          value: Math.round(rate),
          unit: 'offers/s',
          peer: 'mesos-framework (JSON)',
          peerValue: Math.round(theirRate),
          ratio: round(rate / theirRate),
          note: `${round(mb(format) / (ours / 1000), 1)} MB/s through HTTP + framing + typed events (${format})${peerFailures}`,
        });
        if (format === 'protobuf') {
          results.push({
            name: 'OFFERS events decoded (protobuf) vs bare decode',
            value: Math.round(rate),
            unit: 'offers/s',
            peer: 'protobufjs Event.decode, no framing/HTTP',
            peerValue: Math.round(bareRate),
            ratio: round(rate / bareRate),
            note: 'ours includes the HTTP client; the instruction rows compare framing + decoding alone',
          });
        }
      }
    } finally {
      await server.close();
    }
    results.push(...(await instructionRows(streamsDir, recordings)));
  } finally {
    await fs.promises.rm(streamsDir, { recursive: true, force: true });
  }
  report(results);
}

/** The callgrind rows (see the header), or one row saying why there are none. */
async function instructionRows(streamsDir: string, recordings: Record<WireFormat, Recording>): Promise<BenchResult[]> {
  const skipped = (why: string): BenchResult[] => {
    process.stderr.write(`decode bench: no instruction counts: ${why}\n`);
    return [{ name: 'instruction counts (callgrind)', value: 0, unit: 'skipped', note: why }];
  };
  if (!CALLGRIND) return skipped('BENCH_CALLGRIND=0');
  const missing = valgrindMissing();
  if (missing) return skipped(missing);
  process.stderr.write(
    `decode bench: counting instructions${CALLGRIND_CACHE ? ' and estimating cycles' : ''} (${CONTENDERS.length} contenders × ${CALLGRIND_RUNS} run(s), ${CALLGRIND_WARMUP} warm-up + ${CALLGRIND_EVENTS} counted events each)\n`,
  );
  const counts = await countAll({
    streamsDir,
    contenders: CONTENDERS,
    warmupEvents: CALLGRIND_WARMUP,
    events: CALLGRIND_EVENTS,
    runs: CALLGRIND_RUNS,
    parallel: Math.min(2, os.cpus().length),
    cacheSim: CALLGRIND_CACHE,
  });
  const rows: BenchResult[] = [];
  const metrics = [{ key: 'instructions', label: 'instructions', unit: 'G instr' }] as const;
  const withCycles = CALLGRIND_CACHE ? [...metrics, { key: 'estimatedCycles', label: 'est. cycles', unit: 'G est. cycles' } as const] : metrics;
  for (const metric of withCycles) {
    const runs = (c: Contender): number[] => (counts.get(c) as RegionCost[]).map((cost) => cost[metric.key] ?? NaN);
    /** Per OFFERS event (record), the first run's; later runs are shown in the notes. */
    const perEvent = (c: Contender): number => runs(c)[0] / CALLGRIND_EVENTS;
    const perOffer = (c: Contender): number => perEvent(c) / OFFERS_PER_EVENT;
    const offersPerG = (c: Contender): number => 1e9 / perOffer(c);
    const mbPerG = (c: Contender, format: WireFormat): number => (encodeRecord(recordings[format].offers).length / 1e6) * (1e9 / perEvent(c));
    const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');
    const spread = (c: Contender): string => (runs(c).length > 1 ? `; runs: ${runs(c).map(fmt).join(' / ')}` : '');
    const perOfferNote = (ours: Contender, peer?: Contender): string =>
      `${fmt(perOffer(ours))} ${metric.label}/offer${peer ? ` (peer ${fmt(perOffer(peer))})` : ''}${spread(ours)}${peer ? spread(peer) : ''}`;
    const framing = (format: WireFormat, ours: Contender, peer?: Contender): void => {
      const row: BenchResult = { name: `recordio framing (${format} stream), ${metric.label}`, value: Math.round(mbPerG(ours, format)), unit: `MB/${metric.unit}`, note: perOfferNote(ours, peer) };
      if (peer) Object.assign(row, { peer: '@dcos/recordio', peerValue: Math.round(mbPerG(peer, format)), ratio: round(offersPerG(ours) / offersPerG(peer)) });
      rows.push(row);
    };
    const events = (name: string, ours: Contender, peerName: string, peer: Contender): void => {
      rows.push({
        name: `${name}, ${metric.label}`,
        value: Math.round(offersPerG(ours)),
        unit: `offers/${metric.unit}`,
        peer: peerName,
        peerValue: Math.round(offersPerG(peer)),
        ratio: round(offersPerG(ours) / offersPerG(peer)),
        note: perOfferNote(ours, peer),
      });
    };
    if (metric.key === 'instructions') {
      framing('json', 'framing-ours-json', 'framing-dcos-json');
      framing('protobuf', 'framing-ours-protobuf');
    }
    events('OFFERS events decoded (json)', 'events-ours-json', 'mesos-framework (JSON)', 'events-mesos-framework');
    events('OFFERS events decoded (protobuf)', 'events-ours-protobuf', 'mesos-framework (JSON)', 'events-mesos-framework');
    events('OFFERS events decoded (protobuf) vs bare decode', 'events-ours-protobuf', 'protobufjs Event.decode, no framing', 'bare-decode');
    // What no JSON client can beat: turning the bytes into a string and JSON.parse, nothing else.
    events('JSON.parse alone (floor of any JSON client)', 'json-parse', 'mesos-framework (JSON)', 'events-mesos-framework');
  }
  return rows;
}

if (process.argv[2] === '--replay-server') {
  serveReplay(readStreams(process.argv[3]));
} else {
  // Exits when done: a peer's leftover timer must not keep the bench waiting.
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
