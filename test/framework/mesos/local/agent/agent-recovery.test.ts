/**
 * A new agent object over the work dir of an earlier one recovers like a Mesos agent: same ID,
 * re-registration, unacknowledged updates resent in order, tasks whose processes are gone ended with
 * the agent's own update; the checkpoint records survive a torn last line and refuse a damaged one.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { mesos } from '../../../../../framework/mesos/generated/mesos';
import { AgentCheckpoint } from '../../../../../framework/mesos/local/agent/agent-checkpoint';
import { AgentCheckpointError } from '../../../../../framework/mesos/local/agent/errors';
import { SimulatedAgent } from '../../../../../framework/mesos/local/agent/simulated-agent';
import { framework, makeSpec, makeTempDir, RecordingMaster, shellTask, stateName, waitFor } from './agent-test-kit';

const TaskState = mesos.v1.TaskState;
const Reason = mesos.v1.TaskStatus.Reason;
const Source = mesos.v1.TaskStatus.Source;
const FW = 'fw-1';
const AGENT = 'master-1-S0';

let workDir: string;
const agents: SimulatedAgent[] = [];

beforeEach(() => {
  workDir = makeTempDir('polly-agent-recovery-');
});

afterEach(async () => {
  for (const a of agents.splice(0)) await a.destroy();
  fs.rmSync(workDir, { recursive: true, force: true });
});

function newAgent(master: RecordingMaster): SimulatedAgent {
  const agent = new SimulatedAgent(makeSpec(workDir), master, { statusUpdateRetry: { minMs: 50, maxMs: 200 }, killGracePeriodMs: 2000 });
  agents.push(agent);
  return agent;
}

const checkpointing = (): mesos.v1.IFrameworkInfo => ({ ...framework(FW), checkpoint: true });

const uuidOf = (s: mesos.v1.ITaskStatus): string => Buffer.from(s.uuid!).toString('hex');

test('re-registers under its ID and fails the tasks whose processes died with the earlier agent', async () => {
  const first = new RecordingMaster();
  first.autoAck = true;
  const before = newAgent(first);
  before.start();
  before.launch(checkpointing(), [shellTask('c', 'sleep 30')]);
  await waitFor('running and acknowledged', () => first.states('c').includes('TASK_RUNNING') && before.pendingStatusUpdates === 0);
  before.crash(); // the process dies with the agent, nothing is reported
  await before.destroy();

  const second = new RecordingMaster();
  second.autoAck = true;
  const after = newAgent(second);
  await after.recover();
  after.start();
  expect(second.registrations).toEqual([{ agentId: AGENT, reregistered: true }]);
  await waitFor('terminal update', () => second.states('c').length > 0);
  const failed = second.last('c')!;
  expect(stateName(failed.state)).toBe('TASK_FAILED');
  expect(failed.source).toBe(Source.SOURCE_AGENT);
  expect(failed.reason).toBe(Reason.REASON_EXECUTOR_TERMINATED);
  expect(failed.message).toBe('Abnormal executor termination: unknown container');
  // Acknowledged: forgotten, and so is its checkpoint.
  await waitFor('forgotten', () => after.tasks().length === 0);
  expect(new AgentCheckpoint(workDir).recoverTasks(AGENT)).toEqual([]);
});

test('resends the unacknowledged updates of the earlier run first, with their uuids, in order', async () => {
  const first = new RecordingMaster();
  const before = newAgent(first);
  before.start();
  before.launch(checkpointing(), [shellTask('u', 'sleep 30')]);
  await waitFor('starting sent', () => first.states('u').includes('TASK_STARTING'));
  await waitFor('running locally', () => before.tasks()[0]?.task.state === TaskState.TASK_RUNNING);
  await before.stop(); // kills the task: KILLED queues behind STARTING and RUNNING, none acknowledged
  const sentBefore = first.distinctUpdates('u');

  const second = new RecordingMaster();
  second.autoAck = true;
  const after = newAgent(second);
  await after.recover();
  after.start();
  await waitFor('all delivered', () => second.states('u').includes('TASK_KILLED') && after.tasks().length === 0);
  expect(second.states('u')).toEqual(['TASK_STARTING', 'TASK_RUNNING', 'TASK_KILLED']);
  expect(uuidOf(second.distinctUpdates('u')[0])).toBe(uuidOf(sentBefore[0]));
});

test('tasks of frameworks that do not checkpoint get a pid file but are not recovered', async () => {
  const first = new RecordingMaster();
  first.autoAck = true;
  const before = newAgent(first);
  before.start();
  before.launch(framework(FW), [shellTask('n', 'sleep 30')]);
  await waitFor('running', () => first.states('n').includes('TASK_RUNNING'));
  expect(new AgentCheckpoint(workDir).pidFiles()).toHaveLength(1);
  await before.stop();
  expect(new AgentCheckpoint(workDir).pidFiles()).toHaveLength(0);

  const after = newAgent(new RecordingMaster());
  await after.recover();
  expect(after.tasks()).toEqual([]);
});

test('a torn last record is dropped; a damaged one in the middle stops recovery naming the file', async () => {
  const first = new RecordingMaster();
  const before = newAgent(first);
  before.start();
  before.launch(checkpointing(), [shellTask('t', 'exit 0')]);
  await waitFor('finished locally', () => before.tasks()[0]?.task.state === TaskState.TASK_FINISHED);
  await before.destroy();
  const checkpoint = new AgentCheckpoint(workDir);
  const [recovered] = checkpoint.recoverTasks(AGENT);
  const file = path.join(
    workDir,
    'meta/slaves',
    AGENT,
    'frameworks',
    FW,
    'executors/t/runs',
    recovered.placement.containerId,
    'tasks/t/task.updates',
  );
  expect(recovered.pending.map((s) => stateName(s.state))).toEqual(['TASK_STARTING', 'TASK_RUNNING', 'TASK_FINISHED']);

  fs.appendFileSync(file, '{"update":{"task_id":');
  expect(checkpoint.recoverTasks(AGENT)[0].pending).toHaveLength(3);

  const lines = fs.readFileSync(file, 'utf8').split('\n');
  lines.splice(1, 0, 'garbage');
  fs.writeFileSync(file, lines.join('\n'));
  expect(() => checkpoint.recoverTasks(AGENT)).toThrow(AgentCheckpointError);
  expect(() => checkpoint.recoverTasks(AGENT)).toThrow(`${file}: line 2 is not a record`);
  await expect(newAgent(new RecordingMaster()).recover()).rejects.toThrow(/move its checkpoint .* aside/);
});
