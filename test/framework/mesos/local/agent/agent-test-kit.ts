/** Shared helpers for the simulated agent tests: a recording MasterLink, polling, specs, tasks. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { mesos } from '../../../../../framework/mesos/generated/mesos';
import type { MasterLink, SimulatedAgentApi } from '../../../../../framework/mesos/local/agent-link';
import type { AgentSpec } from '../../../../../framework/mesos/local/agent-spec';

export interface RecordedUpdate {
  agentId: string;
  frameworkId: string;
  status: mesos.v1.ITaskStatus;
}

/** A MasterLink that records everything and can acknowledge updates itself. */
export class RecordingMaster implements MasterLink {
  readonly updates: RecordedUpdate[] = [];
  readonly registrations: { agentId: string; reregistered: boolean }[] = [];
  readonly unregistered: string[] = [];
  /** When set, every update is acknowledged (asynchronously, like a scheduler would). */
  autoAck = false;
  private agent?: SimulatedAgentApi;

  statusUpdate(agentId: string, frameworkId: string, status: mesos.v1.ITaskStatus): void {
    this.updates.push({ agentId, frameworkId, status });
    if (this.autoAck && status.uuid) {
      const uuid = status.uuid;
      setImmediate(() => this.agent?.acknowledge(frameworkId, status.task_id.value, uuid));
    }
  }

  agentRegistered(agent: SimulatedAgentApi, reregistered: boolean): void {
    this.agent = agent;
    this.registrations.push({ agentId: agent.agentId, reregistered });
  }

  agentUnregistered(agentId: string): void {
    this.unregistered.push(agentId);
  }

  /** Updates of one task, each uuid once (retries collapsed), in first-sent order. */
  distinctUpdates(taskId: string): mesos.v1.ITaskStatus[] {
    const seen = new Set<string>();
    const out: mesos.v1.ITaskStatus[] = [];
    for (const u of this.updates) {
      if (u.status.task_id.value !== taskId) continue;
      const key = Buffer.from(u.status.uuid ?? new Uint8Array()).toString('hex');
      if (seen.has(key)) continue;
      seen.add(key);
      out.push(u.status);
    }
    return out;
  }

  states(taskId: string): string[] {
    return this.distinctUpdates(taskId).map((s) => mesos.v1.TaskState[s.state]);
  }

  last(taskId: string): mesos.v1.ITaskStatus | undefined {
    const all = this.distinctUpdates(taskId);
    return all[all.length - 1];
  }
}

/** Polls until `condition` holds; fails with `what` after a generous bound. */
export async function waitFor(what: string, condition: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export function makeTempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export function makeSpec(workDir: string, agentId = 'master-1-S0'): AgentSpec {
  return {
    agentId,
    hostname: 'node0',
    port: 5051,
    resources: [
      { name: 'cpus', type: mesos.v1.Value.Type.SCALAR, scalar: { value: 4 } },
      { name: 'disk', type: mesos.v1.Value.Type.SCALAR, scalar: { value: 1000 } },
    ],
    attributes: [{ name: 'zone', type: mesos.v1.Value.Type.TEXT, text: { value: 'zone-a' } }],
    domain: { fault_domain: { region: { name: 'region-1' }, zone: { name: 'zone-a' } } },
    workDir,
  };
}

export function framework(id: string, capabilities: mesos.v1.FrameworkInfo.Capability.Type[] = []): mesos.v1.IFrameworkInfo {
  return { id: { value: id }, user: 'root', name: 'test', capabilities: capabilities.map((type) => ({ type })) };
}

export function shellTask(taskId: string, command: string, extra: Partial<mesos.v1.ITaskInfo> = {}): mesos.v1.ITaskInfo {
  return {
    name: taskId,
    task_id: { value: taskId },
    agent_id: { value: 'master-1-S0' },
    command: { value: command },
    ...extra,
  };
}

export function stateName(state: mesos.v1.TaskState | null | undefined): string {
  return state === null || state === undefined ? 'none' : mesos.v1.TaskState[state];
}
