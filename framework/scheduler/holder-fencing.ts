/**
 * Whether a claim's holder is known to be gone, from what the scheduler has learnt from Mesos
 * (DESIGN §4 fencing): the holder's task is terminal, or Mesos removed the holder's agent. A holder
 * that is merely unreachable, or that Polly knows nothing about, is not gone.
 *
 * Claims made through the libStorage API name the agent by its instance ID (vfs: the hostname),
 * not by its Mesos agent ID, so the agent is also found through the service's instance IDs; the
 * holder is gone only when every agent known under that instance ID is gone (a host that came back
 * as a new agent is not).
 */
import type { ClaimRecord } from '../storage/claim-record';
import { parseVolumeId } from '../storage/volume-id';
import type { AgentRecord, AgentRegistry } from './agent-registry';
import type { InstanceTracker } from './instance-tracker';

export class HolderFencing {
  constructor(
    private readonly agents: AgentRegistry,
    private readonly tracker: InstanceTracker,
  ) {}

  /** Why the claim's holder is gone, or undefined while it may still be writing. */
  fencedBecause(claim: ClaimRecord): string | undefined {
    if (claim.taskId !== undefined) {
      const task = this.tracker.task(claim.taskId);
      if (task?.terminal) return `task ${task.id} is ${task.state}`;
    }
    const agent = this.agents.get(claim.agentId);
    if (agent) return agent.state === 'gone' ? gone(agent) : undefined;
    const byInstance = this.agentsByInstance(claim);
    if (byInstance.length > 0 && byInstance.every((a) => a.state === 'gone')) return gone(byInstance[0]!);
    return undefined;
  }

  /** The agents the claim's service knows by the claim's instance ID. */
  private agentsByInstance(claim: ClaimRecord): AgentRecord[] {
    let service: string;
    try {
      service = parseVolumeId(claim.volumeId).service;
    } catch {
      return [];
    }
    const instance = claim.instanceId.toLowerCase();
    return this.agents.list().filter((a) => this.agents.instanceId(a, service).toLowerCase() === instance);
  }
}

function gone(agent: AgentRecord): string {
  return `agent ${agent.hostname} (${agent.agentId}) is gone: ${agent.reason ?? 'removed by Mesos'}`;
}
