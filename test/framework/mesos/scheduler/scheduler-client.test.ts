/**
 * SchedulerClient against the real local cluster (the protocol-faithful master over HTTP).
 */
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { LocalCluster, LocalClusterOptions } from '../../../../framework/mesos/local/local-cluster';
import { mesos } from '../../../../framework/mesos/generated/mesos';
import { StaticMasterDetector } from '../../../../framework/mesos/master-detector';
import { NotSubscribedError } from '../../../../framework/mesos/http/mesos-http-error';
import {
  SchedulerClient,
  SchedulerClientEvents,
  SchedulerClientOptions,
} from '../../../../framework/mesos/scheduler/scheduler-client';

jest.setTimeout(60_000);


const clusters: LocalCluster[] = [];
const clients: SchedulerClient[] = [];
const dirs: string[] = [];

async function startCluster(extra: Partial<LocalClusterOptions> = {}): Promise<LocalCluster> {
  const workDir = await fs.mkdtemp(path.join(os.tmpdir(), 'polly-sched-'));
  dirs.push(workDir);
  const cluster = await LocalCluster.start({ port: 0, workDir, heartbeatIntervalSeconds: 0.2, allocationIntervalMs: 50, statusUpdateRetry: { minMs: 100, maxMs: 200 }, ...extra });
  clusters.push(cluster);
  return cluster;
}

/** Records every event a client emits, in order. */
class Recorder {
  readonly events: { name: keyof SchedulerClientEvents; payload: unknown }[] = [];
  constructor(client: SchedulerClient) {
    const names: (keyof SchedulerClientEvents)[] = [
      'subscribed', 'offers', 'inverseOffers', 'rescind', 'rescindInverseOffer', 'update', 'updateOperationStatus',
      'message', 'failure', 'mesosError', 'connected', 'disconnected', 'stopped', 'heartbeat',
    ];
    for (const name of names) {
      (client.on as (n: string, l: (p: unknown) => void) => SchedulerClient)(name, (payload) => this.events.push({ name, payload }));
    }
  }
  all<K extends keyof SchedulerClientEvents>(name: K): SchedulerClientEvents[K][] {
    return this.events.filter((e) => e.name === name).map((e) => e.payload as SchedulerClientEvents[K]);
  }
  count(name: keyof SchedulerClientEvents): number {
    return this.all(name).length;
  }
}

function newClient(
  url: string | string[],
  options: Partial<SchedulerClientOptions> = {},
): { client: SchedulerClient; recorder: Recorder; detector: StaticMasterDetector } {
  const detector = new StaticMasterDetector(Array.isArray(url) ? url : [url]);
  const client = new SchedulerClient({
    detector,
    frameworkInfo: { user: os.userInfo().username, name: 'polly-test', failover_timeout: 3600 },
    backoff: { minMs: 20, maxMs: 200 },
    ...options,
  });
  clients.push(client);
  return { client, recorder: new Recorder(client), detector };
}

async function waitFor(condition: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await sleep(20);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Resolves with the next offers event that has an offer (optionally matching). */
function nextOffer(client: SchedulerClient, match: (o: mesos.v1.Offer) => boolean = () => true, timeoutMs = 20_000): Promise<mesos.v1.Offer> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      client.off('offers', listener);
      reject(new Error('Timed out waiting for an offer'));
    }, timeoutMs);
    const listener = (offers: mesos.v1.Offer[]): void => {
      const offer = offers.find(match);
      if (offer) {
        clearTimeout(timer);
        client.off('offers', listener);
        resolve(offer);
      }
    };
    client.on('offers', listener);
  });
}

function scalar(offer: mesos.v1.IOffer, name: string, value: number): mesos.v1.IResource {
  const resource = offer.resources?.find((r) => r.name === name && !r.reservations?.length);
  if (!resource) throw new Error(`offer has no ${name}`);
  return { ...resource, scalar: { value } };
}

function commandTask(offer: mesos.v1.IOffer, taskId: string, command: string): mesos.v1.Offer.IOperation {
  return {
    type: mesos.v1.Offer.Operation.Type.LAUNCH,
    launch: {
      task_infos: [
        {
          name: taskId,
          task_id: { value: taskId },
          agent_id: offer.agent_id,
          resources: [scalar(offer, 'cpus', 0.1), scalar(offer, 'mem', 32)],
          command: { value: command, shell: true },
        },
      ],
    },
  };
}

afterEach(async () => {
  for (const client of clients.splice(0)) await client.stop();
  for (const cluster of clusters.splice(0)) await cluster.stop();
  for (const dir of dirs.splice(0)) await fs.rm(dir, { recursive: true, force: true });
});

describe.each(['protobuf', 'json'] as const)('SchedulerClient (%s)', (format) => {
  it('subscribes, gets heartbeats and offers, and declines with refuse 0 for a re-offer next cycle', async () => {
    const cluster = await startCluster();
    const { client, recorder } = newClient(cluster.url, { format });
    expect(client.state).toBe('disconnected');
    await expect(client.reconcile([])).rejects.toBeInstanceOf(NotSubscribedError);
    client.start();
    await waitFor(() => recorder.count('subscribed') === 1, 'SUBSCRIBED');
    const [subscribed] = recorder.all('subscribed');
    expect(subscribed.resubscribed).toBe(false);
    expect(subscribed.frameworkId).toMatch(/-0000$/);
    expect(subscribed.heartbeatIntervalSeconds).toBeCloseTo(0.2);
    expect(subscribed.masterInfo?.id).toBeTruthy();
    expect(client.frameworkId).toBe(subscribed.frameworkId);
    expect(client.state).toBe('subscribed');
    expect(client.streamId).toBeTruthy();
    expect(client.masterUrl?.href).toBe(new URL(cluster.url).href.replace(/\/?$/, '/'));
    await waitFor(() => recorder.count('heartbeat') >= 2, 'heartbeats');

    await waitFor(() => recorder.count('offers') > 0, 'offers');
    const offer = recorder.all('offers')[0][0];
    const agentId = offer.agent_id.value;
    await client.decline([offer.id.value], { refuse_seconds: 0 });
    const again = await nextOffer(client, (o) => o.agent_id.value === agentId && o.id.value !== offer.id.value);
    expect(again.hostname).toBe(offer.hostname);
    expect(recorder.count('disconnected')).toBe(0);
  });

  it('re-subscribes with the same framework ID when the stream is dropped', async () => {
    const cluster = await startCluster();
    const { client, recorder } = newClient(cluster.url, { format });
    client.start();
    await waitFor(() => recorder.count('subscribed') === 1, 'SUBSCRIBED');
    const id = client.frameworkId!;
    const firstStream = client.streamId;
    cluster.dropStream(id);
    await waitFor(() => recorder.count('subscribed') === 2, 're-SUBSCRIBED');
    const [, second] = recorder.all('subscribed');
    expect(second.frameworkId).toBe(id);
    expect(second.resubscribed).toBe(true);
    expect(client.streamId).not.toBe(firstStream);
    expect(recorder.all('disconnected')[0].willRetry).toBe(true);
    await client.reconcile([]);
  });
});

describe('SchedulerClient', () => {
  it('follows a 307 from a non-leading master to the leader and remembers it', async () => {
    const leader = await startCluster();
    const follower = await startCluster();
    follower.setLeading(false, leader.url);
    const { client, recorder, detector } = newClient(follower.url);
    client.start();
    await waitFor(() => recorder.count('subscribed') === 1, 'SUBSCRIBED via redirect');
    const leaderBase = new URL(leader.url).href.replace(/\/?$/, '/');
    expect(client.masterUrl?.href).toBe(leaderBase);
    expect((await detector.current()).href).toBe(leaderBase);
    expect(recorder.all('connected')[0].href).toBe(leaderBase);
    await client.reconcile([]); // calls go to the leader with the stream ID
  });

  it('retries while no master leads (503) and subscribes once one does', async () => {
    const cluster = await startCluster();
    cluster.setLeading(false);
    const { client, recorder } = newClient(cluster.url);
    client.start();
    await waitFor(() => recorder.count('disconnected') >= 2, 'retries on 503');
    expect(recorder.all('disconnected').every((d) => d.willRetry)).toBe(true);
    expect(client.state).not.toBe('stopped');
    cluster.setLeading(true);
    await waitFor(() => recorder.count('subscribed') === 1, 'SUBSCRIBED after leadership');
  });

  it('drops a silent stream (heartbeats missed) and re-subscribes with the same ID', async () => {
    const cluster = await startCluster({ heartbeatIntervalSeconds: 3600 });
    const { client, recorder } = newClient(cluster.url, { heartbeatTimeoutMs: 300, suppressedRoles: ['*'] });
    client.start();
    await waitFor(() => recorder.count('subscribed') >= 2, 're-SUBSCRIBED after watchdog');
    const [first, second] = recorder.all('subscribed');
    expect(second.frameworkId).toBe(first.frameworkId);
    expect(second.resubscribed).toBe(true);
    expect(recorder.all('disconnected')[0].reason).toMatch(/heartbeat/i);
  });

  it('stops for good on "Framework failed over" when another instance subscribes with its ID', async () => {
    const cluster = await startCluster();
    const first = newClient(cluster.url);
    first.client.start();
    await waitFor(() => first.recorder.count('subscribed') === 1, 'first SUBSCRIBED');
    const id = first.client.frameworkId!;

    const second = newClient(cluster.url, {
      frameworkInfo: { id: { value: id }, user: os.userInfo().username, name: 'polly-test', failover_timeout: 3600 },
    });
    second.client.start();
    await waitFor(() => second.recorder.count('subscribed') === 1, 'second SUBSCRIBED');
    expect(second.recorder.all('subscribed')[0]).toMatchObject({ frameworkId: id, resubscribed: true });

    await waitFor(() => first.recorder.count('stopped') === 1, 'first stopped');
    expect(first.recorder.all('mesosError')).toEqual(['Framework failed over']);
    expect(first.recorder.all('stopped')[0].reason).toBe('Framework failed over');
    expect(first.client.state).toBe('stopped');
    await sleep(500); // many backoff periods: the first must not come back
    expect(first.recorder.count('connected')).toBe(1);
    expect(second.client.state).toBe('subscribed');
    expect(second.recorder.count('mesosError')).toBe(0);
  });

  it('stops (no retry loop) when the master refuses the subscription with an ERROR event', async () => {
    const cluster = await startCluster();
    const { client, recorder } = newClient(cluster.url, {
      frameworkInfo: { user: os.userInfo().username, name: 'bad-role', role: '/test/test1' },
    });
    client.start();
    await waitFor(() => recorder.count('stopped') === 1, 'stopped');
    expect(recorder.count('subscribed')).toBe(0);
    expect(recorder.all('mesosError')).toHaveLength(1);
    expect(recorder.all('stopped')[0].reason).toBe(recorder.all('mesosError')[0]);
    await sleep(300);
    expect(recorder.count('connected')).toBe(1);
    await expect(client.decline(['x'])).rejects.toBeInstanceOf(NotSubscribedError);
  });

  it('acknowledges exactly the updates that carry a uuid', async () => {
    const cluster = await startCluster();
    const { client, recorder } = newClient(cluster.url);
    const acks: string[] = [];
    const realAck = client.acknowledge.bind(client);
    client.acknowledge = (agentId: string, taskId: string, uuid: Uint8Array) => {
      acks.push(Buffer.from(uuid).toString('hex'));
      return realAck(agentId, taskId, uuid);
    };
    client.start();
    const offer = await nextOffer(client);
    await client.accept([offer.id.value], [commandTask(offer, 'exit-0', 'exit 0')], { refuse_seconds: 0 });
    const updates = (): mesos.v1.TaskStatus[] => recorder.all('update').filter((s) => s.task_id.value === 'exit-0');
    await waitFor(() => updates().some((s) => s.state === mesos.v1.TaskState.TASK_FINISHED), 'TASK_FINISHED');
    await waitFor(() => acks.length === updates().filter((s) => s.uuid?.length).length, 'ACKs sent');

    await sleep(500); // several status-update retry intervals (100..200 ms)
    const withUuid = updates().filter((s) => s.uuid && s.uuid.length > 0);
    expect(withUuid.length).toBeGreaterThanOrEqual(2);
    expect(new Set(acks)).toEqual(new Set(withUuid.map((s) => Buffer.from(s.uuid!).toString('hex'))));
    // One ACK per update delivered with a uuid: a resend that crossed our ACK (a loaded machine) is acknowledged too.
    expect(acks.length).toBe(withUuid.length);

    // A reconciliation answer comes from the master, without uuid, and is not acknowledged.
    const before = acks.length;
    await client.reconcile([{ taskId: 'exit-0', agentId: offer.agent_id.value }]);
    await waitFor(
      () => recorder.all('update').some((s) => s.task_id.value === 'exit-0' && s.reason === mesos.v1.TaskStatus.Reason.REASON_RECONCILIATION),
      'reconciliation answer',
    );
    const answer = recorder.all('update').find((s) => s.reason === mesos.v1.TaskStatus.Reason.REASON_RECONCILIATION)!;
    expect(answer.uuid == null || answer.uuid.length === 0).toBe(true);
    await sleep(200);
    expect(acks.length).toBe(before);
  });

  it('without acknowledgements the agent keeps resending the same update', async () => {
    const cluster = await startCluster();
    const { client, recorder } = newClient(cluster.url, { autoAcknowledge: false });
    client.start();
    const offer = await nextOffer(client);
    await client.accept([offer.id.value], [commandTask(offer, 'unacked', 'exit 0')]);
    const copies = (): string[] =>
      recorder
        .all('update')
        .filter((s) => s.task_id.value === 'unacked' && s.uuid?.length)
        .map((s) => Buffer.from(s.uuid!).toString('hex'));
    await waitFor(() => copies().length > new Set(copies()).size, 'a resent update');
    const first = recorder.all('update').find((s) => s.task_id.value === 'unacked' && s.uuid?.length)!;
    await client.acknowledge(first.agent_id!.value, 'unacked', first.uuid!);
    await waitFor(() => new Set(copies()).size >= 2, 'the next update after the ACK');
  });

  it('does not re-offer a declined agent within the filter, and REVIVE clears it', async () => {
    const cluster = await startCluster();
    const { client, recorder } = newClient(cluster.url);
    client.start();
    const offer = await nextOffer(client);
    const agentId = offer.agent_id.value;
    await client.decline([offer.id.value], { refuse_seconds: 3600 });
    const mark = recorder.count('offers');
    await sleep(600); // > 10 allocation cycles
    const later = recorder.all('offers').slice(mark).flat();
    expect(later.some((o) => o.agent_id.value === agentId)).toBe(false);
    // Listen before reviving: the master may allocate (and send) before the 202 arrives.
    const revived = nextOffer(client, (o) => o.agent_id.value === agentId);
    await client.revive();
    await revived;
  });

  it('SUPPRESS stops offers and REVIVE brings them back', async () => {
    const cluster = await startCluster();
    const { client, recorder } = newClient(cluster.url);
    client.start();
    const offer = await nextOffer(client);
    await client.suppress();
    await client.decline([offer.id.value], { refuse_seconds: 0 });
    // Drop every outstanding offer so none is pending when we start counting.
    for (const o of recorder.all('offers').flat()) await client.decline([o.id.value], { refuse_seconds: 0 }).catch(() => undefined);
    await sleep(200);
    const mark = recorder.count('offers');
    await sleep(600);
    expect(recorder.count('offers')).toBe(mark);
    const revived = nextOffer(client);
    await client.revive();
    await revived;
  });

  it('subscribes with basic auth, and stops with a clear reason on 401', async () => {
    const cluster = await startCluster({ credentials: [{ principal: 'polly', secret: 'good' }] });
    const good = newClient(cluster.url, {
      credentials: { principal: 'polly', secret: 'good' },
      frameworkInfo: { user: os.userInfo().username, name: 'polly-test', principal: 'polly' },
    });
    good.client.start();
    await waitFor(() => good.recorder.count('subscribed') === 1, 'authenticated SUBSCRIBED');

    const bad = newClient(cluster.url, { credentials: { principal: 'polly', secret: 'wrong' } });
    bad.client.start();
    await waitFor(() => bad.recorder.count('stopped') === 1, 'stopped on 401');
    expect(bad.recorder.all('stopped')[0].reason).toMatch(/401/);
    expect(bad.client.state).toBe('stopped');
    await sleep(300);
    expect(bad.recorder.count('connected')).toBe(0);
    expect(bad.recorder.count('stopped')).toBe(1);
  });

  it('a framework with failover_timeout survives a client restart with its task still running', async () => {
    const cluster = await startCluster();
    const first = newClient(cluster.url);
    first.client.start();
    const offer = await nextOffer(first.client);
    await first.client.accept([offer.id.value], [commandTask(offer, 'sleeper', 'sleep 60')]);
    await waitFor(
      () => first.recorder.all('update').some((s) => s.task_id.value === 'sleeper' && s.state === mesos.v1.TaskState.TASK_RUNNING),
      'TASK_RUNNING',
    );
    const id = first.client.frameworkId!;
    await first.client.stop();
    expect(first.client.state).toBe('stopped');
    expect(first.recorder.all('stopped')[0].reason).toBe('stopped by client');

    const second = newClient(cluster.url, {
      frameworkInfo: { id: { value: id }, user: os.userInfo().username, name: 'polly-test', failover_timeout: 3600 },
    });
    second.client.start();
    await waitFor(() => second.recorder.count('subscribed') === 1, 'resumed SUBSCRIBED');
    expect(second.client.frameworkId).toBe(id);
    await second.client.reconcile([]);
    await waitFor(
      () => second.recorder.all('update').some((s) => s.task_id.value === 'sleeper' && s.state === mesos.v1.TaskState.TASK_RUNNING),
      'reconciled TASK_RUNNING',
    );
    await second.client.teardown(); // kills the task
    expect(second.client.state).toBe('stopped');
  });
});
