/**
 * OperatorClient against the real local cluster's /api/v1.
 */
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { LocalCluster, LocalClusterOptions } from '../../../../framework/mesos/local/local-cluster';
import { mesos } from '../../../../framework/mesos/generated/mesos';
import { StaticMasterDetector } from '../../../../framework/mesos/master-detector';
import { OperatorClient } from '../../../../framework/mesos/operator/operator-client';
import { SchedulerClient } from '../../../../framework/mesos/scheduler/scheduler-client';

jest.setTimeout(60_000);

const EventType = mesos.v1.master.Event.Type;

const clusters: LocalCluster[] = [];
const closers: (() => unknown)[] = [];
const dirs: string[] = [];

async function startCluster(extra: Partial<LocalClusterOptions> = {}): Promise<LocalCluster> {
  const workDir = await fs.mkdtemp(path.join(os.tmpdir(), 'polly-operator-'));
  dirs.push(workDir);
  const cluster = await LocalCluster.start({ port: 0, workDir, heartbeatIntervalSeconds: 0.2, allocationIntervalMs: 50, ...extra });
  clusters.push(cluster);
  return cluster;
}

function operator(options: ConstructorParameters<typeof OperatorClient>[0]): OperatorClient {
  const client = new OperatorClient(options);
  closers.push(() => client.close());
  return client;
}

async function waitFor(condition: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
  for (const cluster of clusters.splice(0)) await cluster.stop();
  for (const dir of dirs.splice(0)) await fs.rm(dir, { recursive: true, force: true });
});

describe.each(['protobuf', 'json'] as const)('OperatorClient (%s)', (format) => {
  it('answers the synchronous queries with decoded sub-messages', async () => {
    const cluster = await startCluster();
    const client = operator({ url: cluster.url, format });

    expect((await client.getHealth()).healthy).toBe(true);
    expect((await client.getVersion()).version_info.version).toMatch(/^\d+\.\d+\.\d+/);

    const agents = await client.getAgents();
    expect(agents.agents).toHaveLength(3);
    expect(agents.agents.map((a) => a.agent_info.hostname).sort()).toEqual(['node0', 'node1', 'node2']);

    const scheduler = new SchedulerClient({
      detector: new StaticMasterDetector([cluster.url]),
      frameworkInfo: { user: os.userInfo().username, name: 'op-test', webui_url: 'http://127.0.0.1:7978/ui' },
      format,
      backoff: { minMs: 20, maxMs: 200 },
    });
    closers.push(() => scheduler.stop());
    const subscribed = new Promise<string>((resolve) => scheduler.once('subscribed', (s) => resolve(s.frameworkId)));
    scheduler.start();
    const frameworkId = await subscribed;

    const frameworks = await client.getFrameworks();
    const mine = frameworks.frameworks.find((f) => f.framework_info.id?.value === frameworkId);
    expect(mine?.framework_info.name).toBe('op-test');
    expect(mine?.framework_info.webui_url).toBe('http://127.0.0.1:7978/ui');
    expect(mine?.active).toBe(true);

    const state = await client.getState();
    expect(state.get_agents?.agents).toHaveLength(3);
    expect((state.get_frameworks?.frameworks ?? []).some((f) => f.framework_info.id?.value === frameworkId)).toBe(true);
    expect((await client.getTasks()).tasks ?? []).toEqual([]);
  });

  it('streams events: SUBSCRIBED with the state, then FRAMEWORK_ADDED and heartbeats', async () => {
    const cluster = await startCluster();
    const client = operator({ url: cluster.url, format });
    const subscription = client.subscribe();
    const events: mesos.v1.master.Event[] = [];
    subscription.on('event', (e) => events.push(e));
    let snapshot: mesos.v1.master.Response.GetState | undefined;
    subscription.on('subscribed', (s) => (snapshot = s));
    await waitFor(() => snapshot !== undefined, 'operator SUBSCRIBED');
    expect(events[0].type).toBe(EventType.SUBSCRIBED);
    expect(snapshot?.get_agents?.agents).toHaveLength(3);

    const scheduler = new SchedulerClient({
      detector: new StaticMasterDetector([cluster.url]),
      frameworkInfo: { user: os.userInfo().username, name: 'watched' },
      format,
    });
    closers.push(() => scheduler.stop());
    scheduler.start();
    await waitFor(() => events.some((e) => e.type === EventType.FRAMEWORK_ADDED), 'FRAMEWORK_ADDED');
    const added = events.find((e) => e.type === EventType.FRAMEWORK_ADDED)!;
    expect(added.framework_added?.framework?.framework_info.name).toBe('watched');
    await waitFor(() => events.filter((e) => e.type === EventType.HEARTBEAT).length >= 2, 'operator heartbeats');
    subscription.close();
    expect(subscription.closed).toBe(true);
  });
});

describe('OperatorClient', () => {
  it('is an async iterator that ends on close()', async () => {
    const cluster = await startCluster();
    const client = operator({ url: cluster.url });
    const subscription = client.subscribe();
    const seen: number[] = [];
    for await (const event of subscription) {
      seen.push(event.type);
      if (seen.length === 3) subscription.close();
    }
    expect(seen[0]).toBe(EventType.SUBSCRIBED);
    expect(seen.slice(1)).toEqual([EventType.HEARTBEAT, EventType.HEARTBEAT]);
  });

  it('closes a silent subscription with an error (heartbeat watchdog)', async () => {
    const cluster = await startCluster({ heartbeatIntervalSeconds: 3600 });
    const client = operator({ url: cluster.url, heartbeatTimeoutMs: 200 });
    const subscription = client.subscribe();
    const closed = new Promise<{ reason: string; error?: Error }>((resolve) => subscription.once('closed', resolve));
    const result = await closed;
    expect(result.error).toBeDefined();
    expect(result.reason).toMatch(/heartbeat/i);
  });
});

describe('OperatorClient against a protected, non-leading master', () => {
  it('follows a 307 from a non-leading master to the leader', async () => {
    const leader = await startCluster();
    const standby = await startCluster();
    standby.setLeading(false, leader.url);
    const client = operator({ detector: new StaticMasterDetector([standby.url]), format: 'json' });
    const state = await client.getAgents();
    // The leader's agents, reached through the redirect.
    const leaderAgents = (await operator({ url: leader.url, format: 'json' }).getAgents()).agents.map((a) => a.agent_info.id?.value);
    expect(state.agents.map((a) => a.agent_info.id?.value).sort()).toEqual([...leaderAgents].sort());
  });

  it('authenticates with HTTP basic auth, and reports a 401 clearly', async () => {
    const cluster = await startCluster({ operatorCredentials: [{ principal: 'ops', secret: 'good' }] });
    const raw = await fetch(`${cluster.url}/api/v1`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"type":"GET_HEALTH"}' });
    expect(raw.status).toBe(401);
    expect(raw.headers.get('www-authenticate')).toBe('Basic realm="mesos-master-readwrite"');
    const good = operator({ url: cluster.url, format: 'json', credentials: { principal: 'ops', secret: 'good' } });
    expect((await good.getHealth()).healthy).toBe(true);
    const bad = operator({ url: cluster.url, format: 'json', credentials: { principal: 'ops', secret: 'wrong' } });
    await expect(bad.getHealth()).rejects.toMatchObject({ status: 401 });
  });
});
