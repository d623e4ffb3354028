/**
 * The local cluster across restarts, over the real scheduler and operator HTTP APIs: agents keep
 * their IDs, the master recovers its registry, task processes of a killed run are stopped and their
 * tasks reported as a recovering Mesos agent reports them, agents no longer configured are retired,
 * reconciliation waits for agents that have not re-registered, and an unreadable checkpoint stops
 * the start with the way out.
 */
import { ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { mesos } from '../../../../framework/mesos/generated/mesos';
import { LocalCluster, type LocalClusterOptions } from '../../../../framework/mesos/local/local-cluster';
import type { AgentSpecInput } from '../../../../framework/mesos/local/agent-spec';
import { readPidFile } from '../../../../framework/mesos/local/agent/leftover-processes';
import { readStat } from '../../../../framework/mesos/local/agent/process-identity';
import { call, post, subscribe, waitFor, type EventStream } from '../../../support/mesos-http';
import { Cap, CallType, EventType, Reason, TaskState, frameworkInfo } from './local-cluster-fixture';

const REPO = path.resolve(__dirname, '../../../..');
const WORKER = path.join(REPO, 'test/support/local-cluster-worker.ts');
const REGISTER = path.join(REPO, 'test/support/register-ts.js');
const Source = mesos.v1.TaskStatus.Source;

const AGENTS: AgentSpecInput[] = [
  { hostname: 'node0', zone: 'zone-a', resources: 'cpus:2;mem:1024;disk:1000' },
  { hostname: 'node1', zone: 'zone-a', resources: 'cpus:2;mem:1024;disk:1000' },
];

let dir: string;
let cluster: LocalCluster | undefined;
const streams: EventStream[] = [];
const children: ChildProcess[] = [];
const strayPids: number[] = [];

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'polly-restart-'));
});

afterEach(async () => {
  for (const s of streams.splice(0)) s.close();
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await cluster?.stop().catch(() => undefined);
  cluster = undefined;
  for (const pid of strayPids.splice(0)) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  fs.rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 50 });
});

function options(agents: AgentSpecInput[] = AGENTS, extra: Partial<LocalClusterOptions> = {}): LocalClusterOptions {
  return {
    port: 0,
    workDir: dir,
    heartbeatIntervalSeconds: 0.2,
    allocationIntervalMs: 50,
    statusUpdateRetry: { minMs: 100, maxMs: 400 },
    agents,
    ...extra,
  };
}

/** A running process (a zombie nobody reaps has finished running). */
function running(pid: number): boolean {
  const stat = readStat(pid);
  return stat !== undefined && stat.state !== 'Z';
}

function agentIds(c: LocalCluster): Record<string, string> {
  return Object.fromEntries(c.agents().map((a) => [a.info().hostname, a.agentId]));
}

interface Subscribed {
  stream: EventStream;
  frameworkId: string;
  send(message: mesos.v1.scheduler.ICall): Promise<unknown>;
}

async function subscribeTo(url: string, info: mesos.v1.IFrameworkInfo): Promise<Subscribed> {
  const stream = await subscribe(url, info);
  streams.push(stream);
  const first = await stream.next(() => true);
  if (first.type !== EventType.SUBSCRIBED) throw new Error(`Expected SUBSCRIBED, got ${EventType[first.type]}: ${first.error?.message}`);
  const frameworkId = first.subscribed!.framework_id!.value;
  const send = (message: mesos.v1.scheduler.ICall) => call(url, { framework_id: { value: frameworkId }, ...message }, { streamId: stream.streamId });
  return { stream, frameworkId, send };
}

/** Launches `sleep 60` on the first offer (from `hostname`, if given); acknowledges updates until it runs. */
async function launchOn(fw: Subscribed, taskId: string, hostname?: string): Promise<string> {
  for (;;) {
    const offers = (await fw.stream.nextOfType(EventType.OFFERS, 10_000)).offers?.offers ?? [];
    const offer = offers.find((o) => hostname === undefined || o.hostname === hostname);
    const others = offers.filter((o) => o !== offer).map((o) => o.id!);
    if (others.length > 0) await fw.send({ type: CallType.DECLINE, decline: { offer_ids: others, filters: { refuse_seconds: 0 } } });
    if (!offer) continue;
    const agentId = offer.agent_id!.value;
    await fw.send({
      type: CallType.ACCEPT,
      accept: {
        offer_ids: [offer.id!],
        operations: [
          {
            type: mesos.v1.Offer.Operation.Type.LAUNCH,
            launch: {
              task_infos: [
                {
                  name: taskId,
                  task_id: { value: taskId },
                  agent_id: { value: agentId },
                  command: { value: 'sleep 60' },
                  resources: [
                    { name: 'cpus', type: 0, scalar: { value: 0.1 } },
                    { name: 'mem', type: 0, scalar: { value: 32 } },
                  ],
                },
              ],
            },
          },
        ],
        filters: { refuse_seconds: 0 },
      },
    });
    for (;;) {
      const status = await nextUpdate(fw, taskId);
      await acknowledge(fw, status);
      if (status.state === TaskState.TASK_RUNNING) return agentId;
    }
  }
}

async function nextUpdate(fw: Subscribed, taskId: string, timeoutMs = 10_000): Promise<mesos.v1.ITaskStatus> {
  const e = await fw.stream.next((ev) => ev.type === EventType.UPDATE && ev.update?.status?.task_id?.value === taskId, timeoutMs);
  return e.update!.status!;
}

async function acknowledge(fw: Subscribed, status: mesos.v1.ITaskStatus): Promise<void> {
  if (!status.uuid || status.uuid.length === 0) return;
  await fw.send({ type: CallType.ACKNOWLEDGE, acknowledge: { agent_id: status.agent_id!, task_id: status.task_id, uuid: status.uuid } });
}

/** Every pid file under the work dir, with the task it records. */
function pidFiles(): Array<{ file: string; taskId: string; pid: number }> {
  const out: Array<{ file: string; taskId: string; pid: number }> = [];
  const walk = (d: string): void => {
    for (const entry of fs.readdirSync(d, { withFileTypes: true })) {
      const full = path.join(d, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.name === 'forked.pid') {
        const record = readPidFile(full);
        if (record) out.push({ file: full, taskId: record.taskId, pid: record.pid });
      }
    }
  };
  walk(dir);
  return out;
}

const checkpointing = (name: string, partitionAware: boolean): mesos.v1.IFrameworkInfo =>
  frameworkInfo({
    name,
    checkpoint: true,
    failover_timeout: 3600,
    capabilities: [{ type: Cap.MULTI_ROLE }, ...(partitionAware ? [{ type: Cap.PARTITION_AWARE }] : [])],
  });

test('agents keep their IDs; a task killed when the cluster stopped is reported to its framework when it re-subscribes', async () => {
  cluster = await LocalCluster.start(options());
  const ids = agentIds(cluster);
  const firstMaster = cluster.masterId;
  const info = checkpointing('restarts', true);
  const fw = await subscribeTo(cluster.url, info);
  const agentId = await launchOn(fw, 'kept', 'node0');
  const pid = cluster.agent(agentId)!.taskPid(fw.frameworkId, 'kept')!;
  expect(running(pid)).toBe(true);
  fw.stream.close();

  await cluster.stop();
  expect(running(pid)).toBe(false);
  expect(pidFiles()).toEqual([]);

  cluster = await LocalCluster.start(options());
  expect(cluster.masterId).not.toBe(firstMaster);
  expect(agentIds(cluster)).toEqual(ids);
  const agents = JSON.parse((await post(cluster.url, '/api/v1', JSON.stringify({ type: 'GET_AGENTS' }), { 'Content-Type': 'application/json' })).text) as {
    get_agents: { agents: Array<{ agent_info: { id: { value: string } } }> };
  };
  expect(agents.get_agents.agents.map((a) => a.agent_info.id.value).sort()).toEqual(Object.values(ids).sort());

  const again = await subscribeTo(cluster.url, { ...info, id: { value: fw.frameworkId } });
  expect(again.frameworkId).toBe(fw.frameworkId);
  // The last update of the run before: checkpointed, unacknowledged, resent once the framework is back.
  const killed = await nextUpdate(again, 'kept');
  expect(killed.state).toBe(TaskState.TASK_KILLED);
  expect(killed.agent_id?.value).toBe(agentId);
  expect(killed.uuid).toHaveLength(16);
  await acknowledge(again, killed);
  // Acknowledged: the agent forgets the task and its checkpoint (deleted in the background, as an agent's GC does).
  await waitFor(() => cluster!.agent(agentId)!.tasks().length === 0, 10_000);
  const frameworkDir = path.join(dir, 'agents', 'node0', 'meta', 'slaves', agentId, 'frameworks', fw.frameworkId);
  await waitFor(() => !fs.readdirSync(frameworkDir).includes('executors'), 10_000);
  expect(fs.readdirSync(frameworkDir)).toEqual(['framework.info']);
});

test('task processes of a killed cluster are stopped before its agents re-register; their tasks are TASK_GONE (TASK_LOST when not partition-aware)', async () => {
  const child = spawn(process.execPath, ['-r', REGISTER, WORKER, dir, JSON.stringify(AGENTS)], { cwd: REPO, stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (line) resolve((JSON.parse(line) as { url: string }).url);
    });
    child.once('exit', (code) => reject(new Error(`worker exited with ${code}`)));
  });
  const aware = await subscribeTo(url, checkpointing('aware', true));
  const legacy = await subscribeTo(url, checkpointing('legacy', false));
  const awareAgent = await launchOn(aware, 'aware-task');
  const legacyAgent = await launchOn(legacy, 'legacy-task');
  const recorded = pidFiles();
  expect(recorded.map((r) => r.taskId).sort()).toEqual(['aware-task', 'legacy-task']);
  strayPids.push(...recorded.map((r) => r.pid));

  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));
  aware.stream.close();
  legacy.stream.close();
  // Detached: the task processes outlive the cluster that started them.
  for (const r of recorded) expect(running(r.pid)).toBe(true);

  const before = await workerAgentIds();
  cluster = await LocalCluster.start(options());
  expect(agentIds(cluster)).toEqual(before);
  expect(Object.values(before)).toEqual(expect.arrayContaining([awareAgent, legacyAgent]));
  for (const r of recorded) expect(running(r.pid)).toBe(false);
  expect(pidFiles()).toEqual([]);

  const aware2 = await subscribeTo(cluster.url, { ...checkpointing('aware', true), id: { value: aware.frameworkId } });
  const gone = await nextUpdate(aware2, 'aware-task');
  expect(gone).toMatchObject({ state: TaskState.TASK_GONE, source: Source.SOURCE_AGENT, reason: Reason.REASON_EXECUTOR_REREGISTRATION_TIMEOUT });
  expect(gone.agent_id?.value).toBe(awareAgent);
  await acknowledge(aware2, gone);

  const legacy2 = await subscribeTo(cluster.url, { ...checkpointing('legacy', false), id: { value: legacy.frameworkId } });
  const lost = await nextUpdate(legacy2, 'legacy-task');
  expect(lost).toMatchObject({ state: TaskState.TASK_LOST, source: Source.SOURCE_AGENT, reason: Reason.REASON_EXECUTOR_REREGISTRATION_TIMEOUT });
  await acknowledge(legacy2, lost);
});

test('an agent of an earlier run that is no longer configured is marked gone', async () => {
  cluster = await LocalCluster.start(options());
  const info = checkpointing('retire', true);
  const fw = await subscribeTo(cluster.url, info);
  const node1 = await launchOn(fw, 'on-node1', 'node1');
  fw.stream.close();
  await cluster.stop();

  cluster = await LocalCluster.start(options([AGENTS[0]]));
  expect(Object.keys(agentIds(cluster))).toEqual(['node0']);
  const again = await subscribeTo(cluster.url, { ...info, id: { value: fw.frameworkId } });
  await again.send({ type: CallType.RECONCILE, reconcile: { tasks: [{ task_id: { value: 'on-node1' }, agent_id: { value: node1 } }] } });
  const answer = await nextUpdate(again, 'on-node1');
  expect(answer).toMatchObject({ state: TaskState.TASK_GONE_BY_OPERATOR, reason: Reason.REASON_RECONCILIATION });
});

test('reconciliation is not answered for an agent that has not re-registered after a master restart, then says unreachable', async () => {
  cluster = await LocalCluster.start(options([AGENTS[0]], { agentReregisterTimeoutMs: 4000 }));
  const info = checkpointing('recovering', true);
  const fw = await subscribeTo(cluster.url, info);
  const agentId = await launchOn(fw, 'waiting', 'node0');
  cluster.crashAgent(agentId);
  await cluster.restartMaster();
  const again = await subscribeTo(cluster.url, { ...info, id: { value: fw.frameworkId } });
  const query = { type: CallType.RECONCILE, reconcile: { tasks: [{ task_id: { value: 'waiting' }, agent_id: { value: agentId } }] } };
  await again.send(query);
  await expect(nextUpdate(again, 'waiting', 300)).rejects.toThrow('Timed out');
  expect(cluster.localMaster.isRecovering(agentId)).toBe(true);

  await waitFor(() => !cluster!.localMaster.isRecovering(agentId), 20_000);
  await again.send(query);
  const answer = await nextUpdate(again, 'waiting');
  expect(answer.state).toBe(TaskState.TASK_UNREACHABLE);
  expect(Number(answer.unreachable_time?.nanoseconds)).toBeGreaterThan(0);
});

test('an unreadable task checkpoint stops the start with the file and the way out', async () => {
  cluster = await LocalCluster.start(options([AGENTS[0]]));
  const fw = await subscribeTo(cluster.url, checkpointing('corrupt', true));
  const agentId = await launchOn(fw, 'damaged', 'node0');
  fw.stream.close();
  await cluster.stop();
  cluster = undefined;
  const updates = findFile(path.join(dir, 'agents', 'node0', 'meta'), 'task.updates')!;
  const lines = fs.readFileSync(updates, 'utf8').split('\n');
  lines.splice(1, 0, '{"update": not json');
  fs.writeFileSync(updates, lines.join('\n'));

  const started = LocalCluster.start(options([AGENTS[0]]));
  await expect(started).rejects.toThrow(updates);
  await expect(started).rejects.toThrow(/move its checkpoint .*meta\) aside/);
  // Nothing was deleted: the record is still there for the operator to look at.
  expect(fs.readFileSync(updates, 'utf8')).toContain('not json');
  expect(agentId).toMatch(/-S0$/);
});

/** The agent IDs the killed run recorded (meta/slaves/latest of each agent's work dir). */
async function workerAgentIds(): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const a of AGENTS) out[a.hostname] = path.basename(await fs.promises.readlink(path.join(dir, 'agents', a.hostname, 'meta', 'slaves', 'latest')));
  return out;
}

function findFile(root: string, name: string): string | undefined {
  for (const entry of fs.readdirSync(root, { withFileTypes: true })) {
    const full = path.join(root, entry.name);
    if (entry.isDirectory()) {
      const found = findFile(full, name);
      if (found) return found;
    } else if (entry.name === name) return full;
  }
  return undefined;
}
