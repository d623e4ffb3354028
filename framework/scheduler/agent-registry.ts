/**
 * Polly's view of the Mesos agents, learnt from offers, task updates, FAILURE events and (optionally)
 * the operator API's AGENT_ADDED / AGENT_REMOVED. Each agent has a zone and region (fault domain,
 * else the configured attribute), its attributes, a liveness state and, per storage service, the
 * instance ID the driver knows it by (vfs: the hostname).
 *
 * Liveness is deliberately conservative: FAILURE and AGENT_REMOVED are also sent for agents that are
 * merely unreachable, so they only make an agent `unreachable`. An agent becomes `gone` only when
 * Mesos says so unambiguously: a TASK_GONE_BY_OPERATOR, or a TASK_GONE / TASK_LOST for a removed agent.
 */
import { mesos } from '../mesos/generated/mesos';
import { Logger, silentLogger } from '../shared/logger';
import type { OperatorClient, OperatorSubscription } from '../mesos/operator/operator-client';
import { TypedEmitter } from '../shared/typed-emitter';

export type AgentState = 'active' | 'unreachable' | 'gone';

export interface AgentRecord {
  agentId: string;
  hostname: string;
  zone?: string;
  region?: string;
  attributes: Record<string, string>;
  state: AgentState;
  /** Why the agent is in its state (for unreachable / gone). */
  reason?: string;
  firstSeenAt: string;
  updatedAt: string;
}

/** What /v1/agents shows: the record plus the instance ID of each storage service. */
export interface AgentView extends AgentRecord {
  instanceIds: Record<string, string>;
  /** The agent's node ID per CSI plugin (present when a service uses a CSI plugin). */
  csiNodeIds?: Record<string, string>;
}

export interface AgentRegistryEvents {
  /** A new agent, or a known agent whose facts (hostname, zone, attributes, state) changed. */
  'agent.changed': { agent: AgentRecord; previous?: AgentRecord };
}

/** How a storage service's driver knows an agent (libStorage instance ID). */
export type InstanceIdResolver = (agent: AgentRecord, service: string) => string;

export interface AgentRegistryOptions {
  /** The attribute that names the zone when the offer has no fault domain; default `zone`. */
  zoneAttribute?: string;
  /** Per-service instance IDs; default: the hostname (what vfs uses). */
  instanceId?: InstanceIdResolver;
  /** Service names, for views. */
  services?: () => string[];
  /** The agent's node ID per CSI plugin, for views (csi-node-ids.ts). */
  csiNodeIds?: (agent: AgentRecord) => Record<string, string> | undefined;
  logger?: Logger;
}

const TaskState = mesos.v1.TaskState;
const Reason = mesos.v1.TaskStatus.Reason;
const AGENT_REMOVED_REASONS = new Set<number>([Reason.REASON_AGENT_REMOVED, Reason.REASON_AGENT_REMOVED_BY_OPERATOR]);

function attributeValue(attribute: mesos.v1.IAttribute): string | undefined {
  if (attribute.text?.value !== undefined && attribute.text.value !== null) return attribute.text.value;
  if (attribute.scalar?.value !== undefined && attribute.scalar.value !== null) return String(attribute.scalar.value);
  if (attribute.ranges?.range?.length) return attribute.ranges.range.map((r) => `[${String(r.begin)}-${String(r.end)}]`).join(',');
  if (attribute.set?.item?.length) return `{${attribute.set.item.join(',')}}`;
  return undefined;
}

export function attributesOf(attributes: readonly mesos.v1.IAttribute[] | null | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const a of attributes ?? []) {
    const value = attributeValue(a);
    if (value !== undefined && a.name !== '__proto__') out[a.name] = value;
  }
  return out;
}

/**
 * Whether `attributesOf(attributes)` would have exactly the entries of `known`, checked without
 * building it. False also when unsure (a name given twice): the caller then takes the long way.
 */
function sameAttributes(known: Record<string, string>, attributes: readonly mesos.v1.IAttribute[] | null | undefined): boolean {
  const list = attributes ?? [];
  let count = 0;
  for (let i = 0; i < list.length; i++) {
    const a = list[i];
    const value = attributeValue(a);
    if (value === undefined || a.name === '__proto__') continue;
    if (!Object.prototype.hasOwnProperty.call(known, a.name) || known[a.name] !== value) return false;
    for (let j = 0; j < i; j++) if (list[j].name === a.name) return false;
    count++;
  }
  let knownCount = 0;
  for (const key in known) if (Object.prototype.hasOwnProperty.call(known, key)) knownCount++;
  return count === knownCount;
}

function sameFacts(a: AgentRecord, b: AgentRecord): boolean {
  if (a.hostname !== b.hostname || a.zone !== b.zone || a.region !== b.region || a.state !== b.state) return false;
  const ka = Object.keys(a.attributes);
  if (ka.length !== Object.keys(b.attributes).length) return false;
  return ka.every((k) => a.attributes[k] === b.attributes[k]);
}

export class AgentRegistry extends TypedEmitter<AgentRegistryEvents> {
  private readonly agents = new Map<string, AgentRecord>();
  private readonly byZone = new Map<string, Set<string>>();
  private readonly byHostname = new Map<string, string>();
  private readonly zoneAttribute: string;
  private readonly resolveInstanceId: InstanceIdResolver;
  private readonly services: () => string[];
  private readonly csiNodeIds: (agent: AgentRecord) => Record<string, string> | undefined;
  private readonly logger: Logger;
  private operatorSubscription: OperatorSubscription | undefined;

  constructor(options: AgentRegistryOptions = {}) {
    super();
    this.zoneAttribute = options.zoneAttribute ?? 'zone';
    this.resolveInstanceId = options.instanceId ?? ((agent) => agent.hostname);
    this.services = options.services ?? (() => []);
    this.csiNodeIds = options.csiNodeIds ?? (() => undefined);
    this.logger = options.logger ?? silentLogger;
  }

  get size(): number {
    return this.agents.size;
  }

  get(agentId: string): AgentRecord | undefined {
    return this.agents.get(agentId);
  }

  byHost(hostname: string): AgentRecord | undefined {
    const id = this.byHostname.get(hostname);
    return id === undefined ? undefined : this.agents.get(id);
  }

  list(filter: { zone?: string; state?: AgentState } = {}): AgentRecord[] {
    const ids = filter.zone !== undefined ? (this.byZone.get(filter.zone) ?? new Set<string>()) : this.agents.keys();
    const out: AgentRecord[] = [];
    for (const id of ids) {
      const a = this.agents.get(id);
      if (a && (filter.state === undefined || a.state === filter.state)) out.push(a);
    }
    return out;
  }

  zones(): string[] {
    return [...this.byZone.keys()];
  }

  instanceId(agent: AgentRecord, service: string): string {
    return this.resolveInstanceId(agent, service);
  }

  view(agent: AgentRecord): AgentView {
    const instanceIds: Record<string, string> = {};
    for (const service of this.services()) instanceIds[service] = this.instanceId(agent, service);
    const csiNodeIds = this.csiNodeIds(agent);
    return { ...agent, attributes: { ...agent.attributes }, instanceIds, ...(csiNodeIds ? { csiNodeIds } : {}) };
  }

  /** An offer proves the agent is registered and reachable; it also carries its facts. */
  observeOffer(offer: mesos.v1.IOffer): AgentRecord {
    const known = this.agents.get(offer.agent_id.value);
    if (known !== undefined && this.offerRepeats(known, offer)) return known;
    const attributes = attributesOf(offer.attributes);
    const domain = offer.domain?.fault_domain;
    const zone = domain?.zone?.name || attributes[this.zoneAttribute] || undefined;
    const region = domain?.region?.name || attributes.region || undefined;
    return this.upsert(offer.agent_id.value, { hostname: offer.hostname, zone, region, attributes, state: 'active', reason: undefined });
  }

  /**
   * Whether the offer says nothing new about a known active agent: what `upsert` would find by
   * `sameFacts`, decided without building a record (offers of known agents are the common case, and
   * come a hundred at a time).
   */
  private offerRepeats(known: AgentRecord, offer: mesos.v1.IOffer): boolean {
    if (known.state !== 'active' || known.hostname !== offer.hostname || !sameAttributes(known.attributes, offer.attributes)) return false;
    // The attributes equal `known.attributes`, so the zone and region come out as observeOffer makes them.
    const domain = offer.domain?.fault_domain;
    const zone = domain?.zone?.name || known.attributes[this.zoneAttribute] || undefined;
    const region = domain?.region?.name || known.attributes.region || undefined;
    return zone === known.zone && region === known.region;
  }

  /** An agent from the operator API (AGENT_ADDED or the SUBSCRIBED snapshot). */
  observeAgentInfo(info: mesos.v1.IAgentInfo): AgentRecord | undefined {
    const agentId = info.id?.value;
    if (!agentId) return undefined;
    const attributes = attributesOf(info.attributes);
    const domain = info.domain?.fault_domain;
    return this.upsert(agentId, {
      hostname: info.hostname,
      zone: domain?.zone?.name || attributes[this.zoneAttribute] || undefined,
      region: domain?.region?.name || attributes.region || undefined,
      attributes,
      state: 'active',
      reason: undefined,
    });
  }

  /** FAILURE for an agent, or operator AGENT_REMOVED: lost, but maybe only unreachable. Never `gone` by itself. */
  markLost(agentId: string, reason: string): void {
    const agent = this.agents.get(agentId);
    if (!agent || agent.state === 'gone') return;
    this.upsert(agentId, { ...agent, state: 'unreachable', reason });
  }

  /** Mesos confirmed the agent was removed: its tasks will never come back. */
  markGone(agentId: string, reason: string): void {
    const agent = this.agents.get(agentId);
    if (agent?.state === 'gone') return;
    this.upsert(agentId, { hostname: agent?.hostname ?? agentId, zone: agent?.zone, region: agent?.region, attributes: agent?.attributes ?? {}, state: 'gone', reason });
  }

  /** Task updates say a lot about the agent: REASON_AGENT_* tells unreachable from removed. */
  observeStatus(status: mesos.v1.ITaskStatus): void {
    const agentId = status.agent_id?.value;
    if (!agentId) return;
    const reason = status.reason ?? undefined;
    const state = status.state;
    if (state === TaskState.TASK_GONE_BY_OPERATOR) {
      this.markGone(agentId, status.message || 'agent marked gone by the operator');
    } else if ((state === TaskState.TASK_GONE || state === TaskState.TASK_LOST) && reason !== undefined && AGENT_REMOVED_REASONS.has(reason)) {
      this.markGone(agentId, status.message || 'agent removed');
    } else if (state === TaskState.TASK_UNREACHABLE) {
      this.markLost(agentId, status.message || 'agent unreachable');
    }
  }

  /** Follows the operator event stream (AGENT_ADDED / AGENT_REMOVED); returns a function that stops. */
  followOperator(client: OperatorClient): () => void {
    const subscription = client.subscribe();
    this.operatorSubscription = subscription;
    subscription.on('subscribed', (state) => {
      for (const agent of state.get_agents?.agents ?? []) if (agent.agent_info) this.observeAgentInfo(agent.agent_info);
    });
    subscription.on('event', (event) => {
      const Type = mesos.v1.master.Event.Type;
      if (event.type === Type.AGENT_ADDED && event.agent_added?.agent?.agent_info) this.observeAgentInfo(event.agent_added.agent.agent_info);
      if (event.type === Type.AGENT_REMOVED && event.agent_removed?.agent_id) {
        this.markLost(event.agent_removed.agent_id.value, 'AGENT_REMOVED from the operator API');
      }
    });
    subscription.on('closed', ({ reason }) => this.logger.warn('operator event stream closed', { reason }));
    return () => subscription.close();
  }

  stop(): void {
    this.operatorSubscription?.close();
  }

  private upsert(agentId: string, facts: Omit<AgentRecord, 'agentId' | 'firstSeenAt' | 'updatedAt'>): AgentRecord {
    const previous = this.agents.get(agentId);
    const now = new Date().toISOString();
    const next: AgentRecord = {
      agentId,
      hostname: facts.hostname,
      attributes: facts.attributes,
      state: facts.state,
      firstSeenAt: previous?.firstSeenAt ?? now,
      updatedAt: now,
    };
    if (facts.zone !== undefined) next.zone = facts.zone;
    if (facts.region !== undefined) next.region = facts.region;
    if (facts.reason !== undefined) next.reason = facts.reason;
    if (previous && sameFacts(previous, next)) return previous;
    if (previous) this.unindex(previous);
    this.agents.set(agentId, next);
    this.index(next);
    if (previous?.state !== next.state) {
      const log = next.state === 'active' ? this.logger.info : this.logger.warn;
      log.call(this.logger, `agent ${next.state}`, { agentId, hostname: next.hostname, zone: next.zone, reason: next.reason });
    }
    this.emit('agent.changed', previous ? { agent: next, previous } : { agent: next });
    return next;
  }

  private index(agent: AgentRecord): void {
    this.byHostname.set(agent.hostname, agent.agentId);
    if (agent.zone === undefined) return;
    let set = this.byZone.get(agent.zone);
    if (!set) this.byZone.set(agent.zone, (set = new Set()));
    set.add(agent.agentId);
  }

  private unindex(agent: AgentRecord): void {
    if (this.byHostname.get(agent.hostname) === agent.agentId) this.byHostname.delete(agent.hostname);
    if (agent.zone === undefined) return;
    const set = this.byZone.get(agent.zone);
    set?.delete(agent.agentId);
    if (set?.size === 0) this.byZone.delete(agent.zone);
  }
}
