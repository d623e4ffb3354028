/**
 * Which Polly agent a CSI node ID names. A node ID is a host name by default, so a node that is a
 * Mesos agent Polly knows (from offers) is that agent: CSI claims and Mesos claims are the same
 * claims on the same agent, and fencing (agent gone → claims force-released) applies to both.
 * Other nodes must be listed in `csi.nodes` (or `csi.acceptUnknownNodes` set); their claims carry
 * the stable synthetic agent ID `csi-node:<node ID>`, which no Mesos event ever fences: an operator
 * force-releases them (`polly claim release --force`).
 */
import type { CsiConfig } from '../../../config/config-schema';
import type { AgentRecord, AgentRegistry } from '../../../scheduler/agent-registry';

export interface CsiNode {
  nodeId: string;
  agentId: string;
  /** How the storage service's driver knows the node (the claim's instance ID). */
  instanceId: string;
  zone?: string;
  from: 'mesos' | 'config' | 'any';
}

export interface CsiNodeOptions {
  nodes: CsiConfig['nodes'];
  acceptUnknownNodes: boolean;
  /** The scheduler's agents, once there are some (absent in `polly csi controller`). */
  agents?: () => AgentRegistry | undefined;
}

export const SYNTHETIC_AGENT_PREFIX = 'csi-node:';

export type NodeLookup = { node: CsiNode } | { node: undefined; why: string };

export class CsiNodes {
  private readonly configured: Map<string, { id: string; zone?: string }>;

  constructor(private readonly options: CsiNodeOptions) {
    this.configured = new Map(options.nodes.map((n) => [n.id, n]));
  }

  lookup(nodeId: string, service: string): NodeLookup {
    const agents = this.options.agents?.();
    const agent: AgentRecord | undefined = agents?.byHost(nodeId);
    if (agent && agents) {
      if (agent.state === 'gone') {
        return { node: undefined, why: `Node ${nodeId} is a Mesos agent (${agent.agentId}) that Mesos removed: ${agent.reason ?? 'gone'}` };
      }
      const node: CsiNode = { nodeId, agentId: agent.agentId, instanceId: agents.instanceId(agent, service), from: 'mesos' };
      if (agent.zone !== undefined) node.zone = agent.zone;
      return { node };
    }
    const listed = this.configured.get(nodeId);
    if (listed) {
      const node: CsiNode = { nodeId, agentId: `${SYNTHETIC_AGENT_PREFIX}${nodeId}`, instanceId: nodeId, from: 'config' };
      if (listed.zone !== undefined) node.zone = listed.zone;
      return { node };
    }
    if (this.options.acceptUnknownNodes) {
      return { node: { nodeId, agentId: `${SYNTHETIC_AGENT_PREFIX}${nodeId}`, instanceId: nodeId, from: 'any' } };
    }
    return {
      node: undefined,
      why:
        `Node ${JSON.stringify(nodeId)} is not known to Polly: it is no Mesos agent Polly has seen and not listed in csi.nodes; ` +
        'add it to csi.nodes (or set csi.acceptUnknownNodes) and retry',
    };
  }
}
