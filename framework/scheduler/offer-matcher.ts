/**
 * Decides which Mesos offers run which wanted app instances (DESIGN §4 Placement): the constraints
 * hold, the resources fit (unreserved plus reserved-for-our-role, and an instance's own labelled
 * reservation), every volume's zone matches the agent's (new volumes are created in the agent's zone),
 * the driver's attach limit is not reached, and no other live RW claim holds a volume. Among the
 * candidates it prefers the agent where a volume is already attached, then spreads (fewest instances
 * of the app on the agent, then in the zone).
 *
 * Work per OFFERS event is bounded: every lookup is an index (volume by name, live claims by volume,
 * claims by agent), pending instances are tried in rotating order with a budget per event, and an
 * instance only looks at the offers from its zone. Nothing here grows with the number of volumes.
 */
import { mesos } from '../mesos/generated/mesos';
import type { ClaimRecord } from '../storage/claim-record';
import type { VolumeRecord } from '../storage/volume-record';
import type { AgentRecord } from './agent-registry';
import type { AppSpec } from './app-spec';
import { Placement, satisfiesAll } from './constraints';

export const RESERVATION_LABEL_APP = 'polly_app';
export const RESERVATION_LABEL_INSTANCE = 'polly_instance';

/** A volume an instance needs, its name rendered for the instance. */
export interface WantedVolume {
  name: string;
  service: string;
  containerPath: string;
  mode: 'RW' | 'RO';
}

export interface PendingInstance {
  /** `<appId>#<instance>`. */
  key: string;
  appId: string;
  instance: number;
  spec: AppSpec;
  volumes: WantedVolume[];
  /** Residency: the agent holding this instance's reservation. */
  reservedAgentId?: string;
  /** The task this instance ran last (its own old claims do not block it while they are released). */
  previousTaskId?: string;
}

/** What the matcher asks of the rest of Polly; every call must be O(1)-ish. */
export interface MatchEnvironment {
  scheduler: string;
  agent(agentId: string): AgentRecord | undefined;
  findVolume(service: string, name: string): VolumeRecord | undefined;
  liveClaims(volumeId: string): readonly ClaimRecord[];
  /** Live claims of a service on an agent (for attach limits). */
  claimsOnAgent(agentId: string, service: string): number;
  attachLimit(service: string, agent: AgentRecord): number | undefined;
  /** Where the app's instances run (or are launching) now. */
  placements(appId: string): readonly (Placement & { agentId: string })[];
}

/** A piece of an offered scalar resource we may use. */
interface Piece {
  resource: mesos.v1.IResource;
  left: number;
  /** `<app>#<instance>` for Polly's labelled reservations; undefined for resources anyone may use. */
  owner?: string;
}

interface Slot {
  offer: mesos.v1.IOffer;
  agent: AgentRecord;
  pieces: Map<string, Piece[]>;
  launches: Launch[];
  /** Volumes planned on this agent in this round, per service. */
  planned: Map<string, number>;
  exhausted: boolean;
  /** What anyone may use, per scalar (kept with the pieces: the common case reads only this). */
  free: Record<string, number>;
  /** Some pieces are Polly's labelled reservations. */
  hasOwned: boolean;
}

export interface Launch {
  offer: mesos.v1.IOffer;
  agent: AgentRecord;
  instance: PendingInstance;
  /** The task's resources, with reservations as the offer had them (or as RESERVE makes them). */
  resources: mesos.v1.IResource[];
  /** Residency on a fresh agent: reserve these (unreserved) resources first. */
  reserve?: mesos.v1.IResource[];
}

export interface MatchResult {
  launches: Launch[];
  /** Why instances that were tried could not be placed (key → reason). */
  waiting: Map<string, string>;
  /** Offers that run nothing. */
  unused: mesos.v1.IOffer[];
  /** Instances looked at in this round. */
  tried: number;
}

const SCALARS = ['cpus', 'mem', 'disk'] as const;
const DYNAMIC = mesos.v1.Resource.ReservationInfo.Type.DYNAMIC;
const EPSILON = 1e-9;
/** Slots an instance tries (best first) before it waits for the next event. */
const MAX_ATTEMPTS_PER_INSTANCE = 4;
/** Fitting slots an instance compares per attempt (a rotating sample when there are more). */
const SCAN_LIMIT = 16;

interface AppRound {
  placed: Placement[];
  onAgent: Map<string, number>;
  inZone: Map<string, number>;
}

function labelValue(labels: mesos.v1.ILabels | null | undefined, key: string): string | undefined {
  return labels?.labels?.find((l) => l.key === key)?.value ?? undefined;
}

/** The reservation owner of a resource, if it is one of Polly's labelled reservations. */
export function reservationOwner(resource: mesos.v1.IResource): string | undefined {
  const reservations = resource.reservations ?? [];
  const last = reservations[reservations.length - 1];
  const app = labelValue(last?.labels, RESERVATION_LABEL_APP);
  const instance = labelValue(last?.labels, RESERVATION_LABEL_INSTANCE);
  return app !== undefined && instance !== undefined ? `${app}#${instance}` : undefined;
}

function usable(resource: mesos.v1.IResource, role: string): boolean {
  if (resource.type !== mesos.v1.Value.Type.SCALAR || !resource.scalar) return false;
  if (resource.disk && (resource.disk.persistence || resource.disk.source || resource.disk.volume)) return false;
  if (resource.revocable || resource.shared) return false;
  const reservations = resource.reservations ?? [];
  if (reservations.length === 0) return resource.role === undefined || resource.role === null || resource.role === '*' || resource.role === role;
  return reservations[reservations.length - 1].role === role;
}

function slotOf(offer: mesos.v1.IOffer, agent: AgentRecord): Slot {
  const pieces = new Map<string, Piece[]>();
  const free: Record<string, number> = { cpus: 0, mem: 0, disk: 0 };
  let hasOwned = false;
  const role = offer.allocation_info?.role ?? '*';
  for (const r of offer.resources ?? []) {
    if (!(SCALARS as readonly string[]).includes(r.name) || !usable(r, role)) continue;
    const list = pieces.get(r.name) ?? [];
    const owner = reservationOwner(r);
    list.push(owner === undefined ? { resource: r, left: r.scalar!.value } : { resource: r, left: r.scalar!.value, owner });
    if (owner === undefined) free[r.name] += r.scalar!.value;
    else hasOwned = true;
    pieces.set(r.name, list);
  }
  return { offer, agent, pieces, launches: [], planned: new Map(), exhausted: false, free, hasOwned };
}

function available(slot: Slot, name: string, owner: string | undefined): number {
  if (!slot.hasOwned || owner === undefined) return slot.free[name];
  let sum = 0;
  for (const p of slot.pieces.get(name) ?? []) if (p.owner === undefined || p.owner === owner) sum += p.left;
  return sum;
}

/** Takes `amount` of `name` from the slot, own reservation first, then what anyone may use. */
function take(slot: Slot, name: string, amount: number, owner: string | undefined, unreservedOnly: boolean): mesos.v1.IResource[] {
  const out: mesos.v1.IResource[] = [];
  let need = amount;
  const pieces = [...(slot.pieces.get(name) ?? [])].sort((a, b) => (a.owner === owner ? -1 : 0) - (b.owner === owner ? -1 : 0));
  for (const p of pieces) {
    if (need <= EPSILON) break;
    if (p.owner !== undefined && p.owner !== owner) continue;
    if (unreservedOnly && (p.resource.reservations ?? []).length > 0) continue;
    const used = Math.min(p.left, need);
    if (used <= EPSILON) continue;
    p.left -= used;
    need -= used;
    if (p.owner === undefined) slot.free[name] -= used;
    const piece: mesos.v1.IResource = { name, type: mesos.v1.Value.Type.SCALAR, scalar: { value: Math.round(used * 1000) / 1000 } };
    if (p.resource.reservations?.length) piece.reservations = p.resource.reservations.map((r) => ({ ...r }));
    if (p.resource.allocation_info) piece.allocation_info = { ...p.resource.allocation_info };
    out.push(piece);
  }
  return out;
}

function needs(spec: AppSpec): Record<(typeof SCALARS)[number], number> {
  return { cpus: spec.cpus, mem: spec.mem, disk: spec.disk };
}

export interface OfferMatcherOptions {
  /** Instances looked at per OFFERS event, at least; default 64. */
  minBudget?: number;
  /** Instances looked at per offer in an event; default 2. */
  budgetPerOffer?: number;
}

export class OfferMatcher {
  /** Rotates where the pending list is entered, so every instance gets its turn. */
  private cursor = 0;
  /** Rotates the sample of candidate offers an instance compares. */
  private sampleCursor = 0;
  private readonly minBudget: number;
  private readonly budgetPerOffer: number;

  constructor(
    private readonly env: MatchEnvironment,
    options: OfferMatcherOptions = {},
  ) {
    this.minBudget = options.minBudget ?? 64;
    this.budgetPerOffer = options.budgetPerOffer ?? 2;
  }

  match(offers: readonly mesos.v1.IOffer[], pending: readonly PendingInstance[]): MatchResult {
    const slots: Slot[] = [];
    const byZone = new Map<string, Slot[]>();
    const byAgent = new Map<string, Slot>();
    for (const offer of offers) {
      const agent = this.env.agent(offer.agent_id.value);
      if (!agent || agent.state !== 'active' || byAgent.has(agent.agentId)) continue;
      const slot = slotOf(offer, agent);
      slots.push(slot);
      byAgent.set(agent.agentId, slot);
      const zone = agent.zone ?? '';
      const list = byZone.get(zone) ?? [];
      list.push(slot);
      byZone.set(zone, list);
    }
    const waiting = new Map<string, string>();
    const launches: Launch[] = [];
    const budget = Math.max(this.minBudget, this.budgetPerOffer * slots.length);
    let tried = 0;
    const n = pending.length;
    if (n > 0 && slots.length > 0) {
      const start = this.cursor % n;
      const round = new Map<string, AppRound>();
      let open = slots.length;
      for (let k = 0; k < n && tried < budget && open > 0; k++) {
        const instance = pending[(start + k) % n];
        tried++;
        const outcome = this.place(instance, slots, byZone, byAgent, round);
        if (typeof outcome === 'string') {
          waiting.set(instance.key, outcome);
          continue;
        }
        launches.push(outcome.launch);
        outcome.slot.launches.push(outcome.launch);
        if (this.isExhausted(outcome.slot)) {
          outcome.slot.exhausted = true;
          open--;
        }
      }
      this.cursor = (start + tried) % Math.max(1, n);
    }
    const unused = slots.filter((s) => s.launches.length === 0).map((s) => s.offer);
    // Offers from agents we could not use at all (unknown, duplicates) are unused too.
    const used = new Set(slots.map((s) => s.offer));
    for (const offer of offers) if (!used.has(offer)) unused.push(offer);
    return { launches, waiting, unused, tried };
  }

  private isExhausted(slot: Slot): boolean {
    return available(slot, 'cpus', undefined) < 0.01 || available(slot, 'mem', undefined) < 1;
  }

  /** A launch, or why the instance cannot run on any of these offers. */
  /** Where an app runs, plus what this round placed, built once per app per round. */
  private appState(appId: string, round: Map<string, AppRound>): AppRound {
    let state = round.get(appId);
    if (!state) {
      const placed: Placement[] = [];
      const onAgent = new Map<string, number>();
      const inZone = new Map<string, number>();
      for (const p of this.env.placements(appId)) {
        placed.push(p);
        onAgent.set(p.agentId, (onAgent.get(p.agentId) ?? 0) + 1);
        inZone.set(p.zone ?? '', (inZone.get(p.zone ?? '') ?? 0) + 1);
      }
      state = { placed, onAgent, inZone };
      round.set(appId, state);
    }
    return state;
  }

  private place(
    instance: PendingInstance,
    slots: Slot[],
    byZone: Map<string, Slot[]>,
    byAgent: Map<string, Slot>,
    round: Map<string, AppRound>,
  ): { launch: Launch; slot: Slot } | string {
    const { env } = this;
    // What the volumes require: one zone, not held by anyone else.
    let zone: string | undefined;
    let preferredAgent: string | undefined;
    const existing: Array<VolumeRecord | undefined> = [];
    for (const v of instance.volumes) {
      const volume = env.findVolume(v.service, v.name);
      existing.push(volume);
      if (!volume) continue;
      if (!volume.schedulers.includes(env.scheduler)) return `waiting: volume ${v.name} is not offered to scheduler ${env.scheduler}`;
      if (volume.status === 'removing' || volume.status === 'missing') return `waiting: volume ${v.name} is ${volume.status}`;
      for (const holder of env.liveClaims(volume.id)) {
        if (holder.taskId !== undefined && holder.taskId === instance.previousTaskId) {
          return `waiting: volume ${v.name} is being released from the previous task ${holder.taskId}`;
        }
        if (v.mode === 'RW' || holder.mode === 'RW') {
          return `waiting: volume ${v.name} is held by task ${holder.taskId ?? '(operator claim ' + holder.id + ')'} on agent ${env.agent(holder.agentId)?.hostname ?? holder.agentId}`;
        }
      }
      if (volume.availabilityZone) {
        if (zone !== undefined && zone !== volume.availabilityZone) return `waiting: volumes ${instance.volumes.map((x) => x.name).join(', ')} are in different zones`;
        zone = volume.availabilityZone;
      }
      const attachedAt = volume.attachments[0]?.agentId;
      if (attachedAt !== undefined) preferredAgent = attachedAt;
    }
    let candidates: Slot[];
    if (instance.reservedAgentId !== undefined) {
      const own = byAgent.get(instance.reservedAgentId);
      if (!own) return `waiting: for an offer from agent ${env.agent(instance.reservedAgentId)?.hostname ?? instance.reservedAgentId}, where the instance is reserved`;
      candidates = [own];
    } else if (zone !== undefined) {
      candidates = byZone.get(zone) ?? [];
      if (candidates.length === 0) return `waiting: for an offer from an agent in zone ${zone}, where its volumes are`;
    } else {
      candidates = slots;
    }
    const app = this.appState(instance.appId, round);
    const want = needs(instance.spec);
    const owner = `${instance.appId}#${instance.instance}`;
    let reason = 'waiting: no offer has the resources';
    const rejected: Slot[] = [];
    // The best fitting slot by preference and spread (among a bounded, rotating sample of the
    // candidates); the next best only when it fails a check.
    const preferred = preferredAgent === undefined ? undefined : byAgent.get(preferredAgent);
    const total = candidates.length;
    const offset = total > SCAN_LIMIT ? this.sampleCursor++ % total : 0;
    for (let attempt = 0; attempt < MAX_ATTEMPTS_PER_INSTANCE; attempt++) {
      let best: Slot | undefined;
      let bestScore = Infinity;
      const fits = (slot: Slot): boolean =>
        !slot.exhausted &&
        !rejected.includes(slot) &&
        available(slot, 'cpus', owner) + EPSILON >= want.cpus &&
        available(slot, 'mem', owner) + EPSILON >= want.mem &&
        available(slot, 'disk', owner) + EPSILON >= want.disk;
      if (preferred && candidates.includes(preferred) && fits(preferred)) {
        best = preferred;
      } else {
        let scanned = 0;
        for (let k = 0; k < total && scanned < SCAN_LIMIT; k++) {
          const slot = candidates[(offset + k) % total];
          if (!fits(slot)) continue;
          scanned++;
          const s = (app.onAgent.get(slot.agent.agentId) ?? 0) * 1_000_000 + (app.inZone.get(slot.agent.zone ?? '') ?? 0);
          if (s < bestScore) {
            best = slot;
            bestScore = s;
          }
        }
      }
      if (!best) return reason;
      rejected.push(best);
      if (!satisfiesAll(instance.spec.constraints, best.agent, app.placed)) {
        reason = 'waiting: no offer satisfies the constraints';
        continue;
      }
      const limitProblem = this.attachLimitProblem(instance, existing, best);
      if (limitProblem) {
        reason = limitProblem;
        continue;
      }
      const launch = this.build(instance, best, owner, want);
      app.placed.push(best.agent);
      app.onAgent.set(best.agent.agentId, (app.onAgent.get(best.agent.agentId) ?? 0) + 1);
      app.inZone.set(best.agent.zone ?? '', (app.inZone.get(best.agent.zone ?? '') ?? 0) + 1);
      return { launch, slot: best };
    }
    return reason;
  }

  private attachLimitProblem(instance: PendingInstance, existing: Array<VolumeRecord | undefined>, slot: Slot): string | undefined {
    const perService = new Map<string, number>();
    instance.volumes.forEach((v, i) => {
      if (existing[i]?.attachments.some((a) => a.agentId === slot.agent.agentId)) return;
      perService.set(v.service, (perService.get(v.service) ?? 0) + 1);
    });
    for (const [service, count] of perService) {
      const limit = this.env.attachLimit(service, slot.agent);
      if (limit === undefined) continue;
      const used = this.env.claimsOnAgent(slot.agent.agentId, service) + (slot.planned.get(service) ?? 0);
      if (used + count > limit) return `waiting: attach limit ${limit} of service ${service} reached on ${slot.agent.hostname}`;
    }
    for (const [service, count] of perService) slot.planned.set(service, (slot.planned.get(service) ?? 0) + count);
    return undefined;
  }

  private build(instance: PendingInstance, slot: Slot, owner: string, want: Record<(typeof SCALARS)[number], number>): Launch {
    const residency = instance.spec.residency !== undefined;
    const hasOwn = SCALARS.some((r) => (slot.pieces.get(r) ?? []).some((p) => p.owner === owner && p.left > EPSILON));
    const resources: mesos.v1.IResource[] = [];
    const reserve: mesos.v1.IResource[] = [];
    for (const name of SCALARS) {
      if (want[name] <= 0) continue;
      if (residency && !hasOwn) {
        // Reserve unreserved resources for this instance, then launch on the reservation.
        for (const r of take(slot, name, want[name], owner, true)) {
          const reservation: mesos.v1.Resource.IReservationInfo = {
            type: DYNAMIC,
            role: slot.offer.allocation_info?.role ?? '*',
            labels: {
              labels: [
                { key: RESERVATION_LABEL_APP, value: instance.appId },
                { key: RESERVATION_LABEL_INSTANCE, value: String(instance.instance) },
              ],
            },
          };
          const reserved = { ...r, reservations: [...(r.reservations ?? []), reservation] };
          reserve.push(reserved);
          resources.push(reserved);
        }
      } else {
        resources.push(...take(slot, name, want[name], owner, false));
      }
    }
    const launch: Launch = { offer: slot.offer, agent: slot.agent, instance, resources };
    if (reserve.length > 0) launch.reserve = reserve;
    return launch;
  }
}
