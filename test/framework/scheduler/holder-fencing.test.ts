/** Whether a claim's holder is known to be gone, from the agent registry and the task records. */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { mesos } from '../../../framework/mesos/generated/mesos';
import { LevelStore } from '../../../framework/state/level-store';
import { AgentRegistry } from '../../../framework/scheduler/agent-registry';
import { HolderFencing } from '../../../framework/scheduler/holder-fencing';
import { InstanceTracker } from '../../../framework/scheduler/instance-tracker';
import type { ClaimRecord } from '../../../framework/storage/claim-record';
import { offer } from './offer-fixtures';

const S = mesos.v1.TaskState;
const R = mesos.v1.TaskStatus.Reason;

function claim(fields: Partial<ClaimRecord>): ClaimRecord {
  const now = new Date().toISOString();
  return {
    id: 'c1',
    volumeId: 'local.vfs-000001',
    agentId: 'node0',
    instanceId: 'node0',
    mode: 'RW',
    state: 'attached',
    createdAt: now,
    updatedAt: now,
    history: [],
    ...fields,
  };
}

describe('HolderFencing', () => {
  let dir: string;
  let store: LevelStore;
  let agents: AgentRegistry;
  let tracker: InstanceTracker;
  let fencing: HolderFencing;

  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'polly-fencing-'));
    store = new LevelStore(path.join(dir, 'state'));
    await store.open();
    agents = new AgentRegistry({ instanceId: (a, service) => (service === 'ebs' ? `i-${a.hostname}` : a.hostname) });
    tracker = new InstanceTracker(store);
    await tracker.load();
    fencing = new HolderFencing(agents, tracker);
    agents.observeOffer(offer('A0', 'node0', 'zone-a'));
    agents.observeOffer(offer('A1', 'node1', 'zone-a'));
  });
  afterEach(async () => {
    await store.close();
    await fs.rm(dir, { recursive: true, force: true });
  });

  const goneByOperator = (agentId: string): void =>
    agents.observeStatus({
      task_id: { value: 'x' },
      agent_id: { value: agentId },
      state: S.TASK_GONE_BY_OPERATOR,
      reason: R.REASON_AGENT_REMOVED_BY_OPERATOR,
    });

  it('a libStorage holder (instance ID) is gone once every agent known by that instance ID is gone, not when unreachable', () => {
    const held = claim({});
    expect(fencing.fencedBecause(held)).toBeUndefined();
    agents.markLost('A0', 'FAILURE event: agent lost');
    expect(fencing.fencedBecause(held)).toBeUndefined();
    goneByOperator('A0');
    expect(fencing.fencedBecause(held)).toMatch(/^agent node0 \(A0\) is gone: /);
    // The host came back as a new agent: its holder may be writing again.
    agents.observeOffer(offer('A9', 'node0', 'zone-a'));
    expect(fencing.fencedBecause(held)).toBeUndefined();
  });

  it("uses the claim's service's instance IDs; an instance no agent has is not known to be gone", () => {
    goneByOperator('A1');
    expect(fencing.fencedBecause(claim({ volumeId: 'ebs.vol-1', agentId: 'i-node1', instanceId: 'i-node1' }))).toMatch(/node1 \(A1\)/);
    expect(fencing.fencedBecause(claim({ volumeId: 'local.vfs-000001', agentId: 'i-node1', instanceId: 'i-node1' }))).toBeUndefined();
    expect(fencing.fencedBecause(claim({ agentId: 'node7', instanceId: 'node7' }))).toBeUndefined();
  });

  it("a Polly task's claim (Mesos agent ID) is fenced when the agent is gone or the task is terminal", async () => {
    const taskClaim = claim({ agentId: 'A1', instanceId: 'node1', taskId: 'web.0.abc', scheduler: 'polly' });
    expect(fencing.fencedBecause(taskClaim)).toBeUndefined();
    const now = new Date().toISOString();
    await tracker.saveTask({
      id: 'web.0.abc',
      appId: 'web',
      instance: 0,
      state: 'TASK_RUNNING',
      agentId: 'A1',
      hostname: 'node1',
      volumes: [],
      terminal: false,
      createdAt: now,
      updatedAt: now,
    });
    expect(fencing.fencedBecause(taskClaim)).toBeUndefined();
    await tracker.saveTask({ ...tracker.task('web.0.abc')!, state: 'TASK_KILLED', terminal: true });
    expect(fencing.fencedBecause(taskClaim)).toBe('task web.0.abc is TASK_KILLED');
    expect(fencing.fencedBecause({ ...taskClaim, taskId: 'other.0.x' })).toBeUndefined();
    goneByOperator('A1');
    expect(fencing.fencedBecause({ ...taskClaim, taskId: 'other.0.x' })).toMatch(/^agent node1 \(A1\) is gone/);
  });
});
