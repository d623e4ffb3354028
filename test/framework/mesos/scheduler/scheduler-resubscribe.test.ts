/**
 * Re-subscription against a master that is recovering: the real local master sits behind a small
 * HTTP front that forwards every request, records when each SUBSCRIBE arrives, and answers
 * `503 Master has not finished recovery` (as a real master does until its registry is recovered)
 * while the test says the master is recovering.
 */
import * as fs from 'node:fs/promises';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { formatOfMediaType, MessageCodec, WireFormat } from '../../../../framework/mesos/codec';
import { mesos } from '../../../../framework/mesos/generated/mesos';
import { ServiceUnavailableError } from '../../../../framework/mesos/http/mesos-http-error';
import { LocalCluster } from '../../../../framework/mesos/local/local-cluster';
import { StaticMasterDetector } from '../../../../framework/mesos/master-detector';
import { SchedulerClient, SubscribedInfo } from '../../../../framework/mesos/scheduler/scheduler-client';

jest.setTimeout(60_000);

const CallType = mesos.v1.scheduler.Call.Type;
const codecs: Record<WireFormat, MessageCodec<mesos.v1.scheduler.Call, mesos.v1.scheduler.ICall>> = {
  json: new MessageCodec(mesos.v1.scheduler.Call, 'json'),
  protobuf: new MessageCodec(mesos.v1.scheduler.Call, 'protobuf'),
};

/** The re-subscribe loop's backoff in these tests. */
const BACKOFF = { minMs: 1000, maxMs: 2000 };
/**
 * The shortest wait that backoff hands out: its jitter is 'equal' (a delay is drawn from
 * [ceiling/2, ceiling]) and the first ceiling is minMs.
 */
const BACKOFF_LOWER_BOUND_MS = BACKOFF.minMs / 2;
/** Node's timers run off the event loop's cached clock, which may lag a little behind performance.now(). */
const TIMER_SLACK_MS = 5;

interface SeenCall {
  type: string;
  at: number;
  frameworkId?: string;
  frameworkInfoId?: string;
  answered?: number;
}

/** Forwards to the master; while `recovering`, answers 503 to every call instead. */
class RecoveringFront {
  recovering = false;
  readonly calls: SeenCall[] = [];
  private readonly server: http.Server;
  private readonly upstream = new Set<http.ClientRequest>();

  private constructor(private readonly master: URL) {
    this.server = http.createServer((req, res) => this.handle(req, res));
  }

  static async start(masterUrl: string): Promise<RecoveringFront> {
    const front = new RecoveringFront(new URL(masterUrl));
    await new Promise<void>((resolve) => front.server.listen(0, '127.0.0.1', resolve));
    return front;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  subscribes(): SeenCall[] {
    return this.calls.filter((c) => c.type === 'SUBSCRIBE');
  }

  async close(): Promise<void> {
    for (const req of this.upstream) req.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const at = performance.now();
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const seen = this.record(req, body, at);
      if (this.recovering) {
        seen.answered = 503;
        res.writeHead(503, { 'Content-Type': 'text/plain; charset=utf-8' });
        res.end('Master has not finished recovery');
        return;
      }
      this.forward(req, body, res, seen);
    });
  }

  private record(req: http.IncomingMessage, body: Buffer, at: number): SeenCall {
    const format = formatOfMediaType(req.headers['content-type']);
    const call = format ? codecs[format].decode(body) : undefined;
    const seen: SeenCall = {
      type: call ? (CallType[call.type] ?? String(call.type)) : 'unknown',
      at,
      frameworkId: call?.framework_id?.value || undefined,
      frameworkInfoId: call?.subscribe?.framework_info?.id?.value || undefined,
    };
    this.calls.push(seen);
    return seen;
  }

  private forward(req: http.IncomingMessage, body: Buffer, res: http.ServerResponse, seen: SeenCall): void {
    const headers = { ...req.headers, host: this.master.host };
    const up = http.request(
      { method: req.method, host: this.master.hostname, port: this.master.port, path: req.url, headers },
      (answer) => {
        seen.answered = answer.statusCode;
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
        // The master cutting a stream (or dying) must reach the client as a cut stream.
        answer.on('close', () => {
          if (!answer.complete) res.destroy();
        });
      },
    );
    this.upstream.add(up);
    up.on('close', () => this.upstream.delete(up));
    up.on('error', () => res.destroy());
    // The client closing its stream closes the master's side too.
    res.on('close', () => up.destroy());
    up.end(body);
  }
}

const cleanups: Array<() => Promise<void>> = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface Setup {
  cluster: LocalCluster;
  front: RecoveringFront;
  client: SchedulerClient;
  subscribed: SubscribedInfo[];
}

async function setUp(format: WireFormat): Promise<Setup> {
  const workDir = await fs.mkdtemp(path.join(os.tmpdir(), 'polly-resub-'));
  cleanups.push(() => fs.rm(workDir, { recursive: true, force: true }));
  const cluster = await LocalCluster.start({ port: 0, workDir, heartbeatIntervalSeconds: 0.5, allocationIntervalMs: 50 });
  cleanups.push(() => cluster.stop());
  const front = await RecoveringFront.start(cluster.url);
  cleanups.push(() => front.close());
  const client = new SchedulerClient({
    detector: new StaticMasterDetector([front.url]),
    frameworkInfo: { user: os.userInfo().username, name: 'polly-resubscribe-test', failover_timeout: 3600 },
    format,
    backoff: BACKOFF,
  });
  cleanups.push(() => client.stop());
  const subscribed: SubscribedInfo[] = [];
  client.on('subscribed', (info) => subscribed.push(info));
  return { cluster, front, client, subscribed };
}

async function waitFor(condition: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe.each(['protobuf', 'json'] as const)('SchedulerClient re-subscribing to a recovering master (%s)', (format) => {
  it('sends one SUBSCRIBE per backoff step while the master answers 503, then resumes the same framework', async () => {
    const { cluster, front, client, subscribed } = await setUp(format);
    client.start();
    await waitFor(() => subscribed.length === 1, 'SUBSCRIBED');
    const frameworkId = client.frameworkId!;

    // The master fails over: the stream is cut, and the master that answers next is still recovering.
    front.recovering = true;
    const before = front.subscribes().length;
    cluster.dropStream(frameworkId);
    await waitFor(() => front.subscribes().filter((c) => c.answered === 503).length >= 3, 'three SUBSCRIBEs refused with 503');
    front.recovering = false;
    await waitFor(() => subscribed.length === 2, 're-SUBSCRIBED once the master recovered');

    const again = front.subscribes().slice(before);
    const gaps = again.slice(1).map((c, i) => Math.round(c.at - again[i]!.at));
    for (const gap of gaps) expect(gap).toBeGreaterThanOrEqual(BACKOFF_LOWER_BOUND_MS - TIMER_SLACK_MS);
    expect(again.filter((c) => c.answered === 503).length).toBeGreaterThanOrEqual(3);
    expect(again[again.length - 1]!.answered).toBe(200);
    // Every re-SUBSCRIBE names the framework (Call.framework_id and framework_info.id), and the master resumed it.
    for (const c of again) expect({ frameworkId: c.frameworkId, frameworkInfoId: c.frameworkInfoId }).toEqual({ frameworkId, frameworkInfoId: frameworkId });
    expect(subscribed[1]).toMatchObject({ frameworkId, resubscribed: true });
    expect(client.frameworkId).toBe(frameworkId);
    await client.reconcile([]);
  });
});

describe('SchedulerClient calls while the master answers 503', () => {
  it('sends the call once and gives the caller a temporary ServiceUnavailableError', async () => {
    const { front, client, subscribed } = await setUp('protobuf');
    client.start();
    await waitFor(() => subscribed.length === 1, 'SUBSCRIBED');
    front.recovering = true;
    const mark = front.calls.length;
    const err = await client.reconcile([]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ServiceUnavailableError);
    expect((err as ServiceUnavailableError).temporary).toBe(true);
    expect((err as ServiceUnavailableError).body).toBe('Master has not finished recovery');
    expect(front.calls.slice(mark).map((c) => c.type)).toEqual(['RECONCILE']);
    front.recovering = false;
    await client.reconcile([]);
  });
});
