/**
 * Decoding the scheduler event stream: OFFERS events of 100 offers each, recorded from the local
 * cluster (100 agents) in protobuf and JSON, replayed over loopback HTTP.
 *
 * - framing: our RecordIoDecoder vs @dcos/recordio on the same bytes (in memory, 64 KiB chunks);
 * - events: our SchedulerClient (HTTP + framing + decoding into typed events) vs mesos-framework
 *   (its subscription handling, JSON only) fed the same bytes by the same replay server;
 * - ceiling: protobufjs decoding the bare Event messages (no framing, no HTTP).
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

// eslint-disable-next-line @typescript-eslint/no-require-imports
const dcosRecordio = require('@dcos/recordio') as { read(input: string): [string[], string] };
// eslint-disable-next-line @typescript-eslint/no-require-imports
const MesosFramework = require('mesos-framework') as { Scheduler: new (options: Record<string, unknown>) => { subscribe(): void; httpRequest?: http.ClientRequest; on(e: string, f: (...a: unknown[]) => void): void } };

const OFFERS_PER_EVENT = 100;
const EVENTS = Number(process.env.BENCH_DECODE_EVENTS ?? 400);
const REPEATS = Number(process.env.BENCH_REPEATS ?? 3);

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

async function mesosFrameworkClient(url: string): Promise<void> {
  const expected = EVENTS * OFFERS_PER_EVENT;
  const { port } = new URL(url);
  let seen = 0;
  let scheduler: InstanceType<typeof MesosFramework.Scheduler> | undefined;
  await new Promise<void>((resolve) => {
    scheduler = new MesosFramework.Scheduler({
      masterUrl: '127.0.0.1',
      port,
      frameworkName: 'bench',
      logging: { level: 'error' },
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
    scheduler.on('error', () => undefined);
    scheduler.subscribe();
  });
  scheduler?.httpRequest?.destroy();
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
  writeStreams(streamsDir, streams);
  const server = await startReplayServer(streamsDir);
  try {
    const theirs = await bestOf(REPEATS, () => mesosFrameworkClient(server.url));
    const theirRate = offersTotal / (theirs / 1000);
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
        note: `${round(mb(format) / (ours / 1000), 1)} MB/s through HTTP + framing + typed events (${format})`,
      });
      if (format === 'protobuf') {
        results.push({ name: 'OFFERS events decoded (protobuf) vs bare decode', value: Math.round(rate), unit: 'offers/s', peer: 'protobufjs Event.decode, no framing/HTTP', peerValue: Math.round(bareRate), ratio: round(rate / bareRate) });
      }
    }
  } finally {
    await server.close();
    await fs.promises.rm(streamsDir, { recursive: true, force: true });
  }
  report(results);
}

if (process.argv[2] === '--replay-server') {
  serveReplay(readStreams(process.argv[3]));
} else {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
