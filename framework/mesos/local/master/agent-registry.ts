/** The master's view of agents: registered, unreachable, gone. */
import type { mesos } from '../../generated/mesos';
import type { SimulatedAgentApi } from '../agent-link';
import type { Resource } from './resources';

export type AgentStatus = 'active' | 'unreachable' | 'gone';

export interface AgentRecord {
  id: string;
  api: SimulatedAgentApi;
  info: mesos.v1.IAgentInfo;
  /** Total resources including checkpointed reservations and volumes, without allocation_info. */
  total: Resource[];
  status: AgentStatus;
  registeredTime: number;
  reregisteredTime?: number;
  unreachableTime?: number;
}

export class AgentRegistry {
  private readonly agents = new Map<string, AgentRecord>();

  get(id: string): AgentRecord | undefined {
    return this.agents.get(id);
  }

  set(record: AgentRecord): void {
    this.agents.set(record.id, record);
  }

  all(): AgentRecord[] {
    return [...this.agents.values()];
  }

  active(): AgentRecord[] {
    return this.all().filter((a) => a.status === 'active');
  }
}
