/**
 * The CSI node ID of an agent for each CSI service: what the plugin's node service on that agent
 * reports in NodeGetInfo, so ControllerPublishVolume names the right node. Operators set it as an
 * agent attribute (`csi.<plugin>.node_id` by default, or the service's `csi.nodeIdAttribute`);
 * an agent without it is known by its host name (what most node plugins report).
 */
import type { StorageService } from '../storage/service-registry';
import type { AgentRecord } from './agent-registry';

/** The name the agents know a CSI service's plugin by: configured, else what the plugin says, else its expected name. */
export function agentPluginName(service: StorageService): string {
  const csi = service.definition.csi;
  return csi?.agentPluginName || service.driver.describe?.().plugin?.name || csi?.pluginName || service.name;
}

/** The agent attribute holding an agent's node ID for the service's plugin. */
export function nodeIdAttribute(service: StorageService): string {
  return service.definition.csi?.nodeIdAttribute || `csi.${agentPluginName(service)}.node_id`;
}

/** The agent's CSI node ID for a csi service. */
export function csiNodeId(agent: Pick<AgentRecord, 'attributes' | 'hostname'>, service: StorageService): string {
  return agent.attributes[nodeIdAttribute(service)] || agent.hostname;
}

/**
 * How each service's driver knows an agent (the claim's instance ID): the CSI node ID for csi
 * services, the host name for the others.
 */
export function instanceIdResolver(services: { has(name: string): boolean; get(name: string): StorageService }) {
  return (agent: AgentRecord, service: string): string => {
    if (!services.has(service)) return agent.hostname;
    const s = services.get(service);
    return s.definition.driver === 'csi' ? csiNodeId(agent, s) : agent.hostname;
  };
}

/** An agent's node ID per CSI plugin (for `/v1/agents`), or undefined when no service is csi. */
export function csiNodeIdsOf(agent: AgentRecord, services: readonly StorageService[]): Record<string, string> | undefined {
  const csi = services.filter((s) => s.definition.driver === 'csi');
  if (csi.length === 0) return undefined;
  return Object.fromEntries(csi.map((s) => [agentPluginName(s), csiNodeId(agent, s)]));
}
