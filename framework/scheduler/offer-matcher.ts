/**
 * Decides which Mesos offers run which wanted app instances (DESIGN §4 Placement): the constraints
 * hold, the resources fit (unreserved plus reserved-for-our-role, and an instance's own labelled
 * reservation), every volume's zone matches the agent's (new volumes are created in the agent's zone),
 * the driver's attach limit is not reached, and no other live RW claim holds a volume. Among the
 * candidates it prefers the agent where a volume is already attached, then spreads (fewest instances
 * of the app on the agent, then in the zone).
 *
 * Work per call is bounded: every lookup is an index (volume by name, live claims by volume,
 * claims by agent), pending instances are tried in rotating order with a budget per call, and an
 * instance only looks at the offers from its zone. Nothing here grows with the number of volumes.
 * `match` is one call per OFFERS event; a caller with many instances waiting (an agent's worth
 * after it died) continues the event's round (`startRound`/`continueRound`), yielding between calls,
 * until every instance was looked at once or the offers are full.
 * The per-event path allocates little besides what it returns (no per-instance closures, maps or
 * copies), so young-generation collections stay rare and the tail per event short.
 */
import { mesos } from '../mesos/generated/mesos';
import type { ClaimRecord } from '../storage/claim-record';
import type { VolumeRecord } from '../storage/volume-record';
import type { AgentRecord } from './agent-registry';
import type { AppSpec, VolumeCreateSpec } from './app-spec';
import { Placement, satisfiesAll } from './constraints';
import { needsHostPorts, portRequests, takePorts } from './port-assignment';
import {
  available,
  fitsResources,
  hasOwnLeft,
  plan,
  plannedOn,
  portPiecesFor,
  RESERVATION_LABEL_APP,
  RESERVATION_LABEL_INSTANCE,
  roleFilterOf,
  SCALARS,
  slotOf,
  take,
  type Slot,
} from './offer-slot';
import { accessibleFrom } from './volume-zones';

export { RESERVATION_LABEL_APP, RESERVATION_LABEL_INSTANCE, reservationOwner } from './offer-slot';

/** A volume an instance needs, its name rendered for the instance. */
export interface WantedVolume {
  name: string;
  service: string;
  containerPath: string;
  mode: 'RW' | 'RO';
  /** How to create it when it does not exist yet. */
  create?: VolumeCreateSpec;
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
  /** The app definition's version the task is launched from. */
  version?: string;
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

export interface Launch {
  offer: mesos.v1.IOffer;
  agent: AgentRecord;
  instance: PendingInstance;
  /** The host port of each of the app's port requests (undefined where it asked for none). */
  hostPorts: Array<number | undefined>;
  /** The task's resources, with reservations as the offer had them (or as RESERVE makes them). */
  resources: mesos.v1.IResource[];
  /** Residency on a fresh agent: reserve these (unreserved) resources first. */
  reserve?: mesos.v1.IResource[];
}

/** One OFFERS event being matched: its slots and what has been placed on them so far. */
export interface MatchRound {
  readonly slots: Slot[];
  readonly byZone: Map<string, Slot[]>;
  readonly byAgent: Map<string, Slot>;
  /** Offers from agents we cannot use at all (unknown, inactive, a second offer of an agent). */
  readonly skipped: mesos.v1.IOffer[];
  /** Some offer has labelled reservations (only then does an instance's reservation key matter). */
  readonly anyOwned: boolean;
  /** Where each app runs, plus what this round placed. */
  readonly apps: Map<string, AppRound>;
  /** Slots not exhausted. */
  open: number;
  /** Instances looked at in this round. */
  readonly tried: Set<string>;
}

/** What one `continueRound` call placed. */
export interface MatchStep {
  launches: Launch[];
  waiting: Map<string, string>;
  /** Instances looked at in this call. */
  tried: number;
  /** The budget ran out with room left in the offers: another call may place more. */
  more: boolean;
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

const DYNAMIC = mesos.v1.Resource.ReservationInfo.Type.DYNAMIC;
/** Slots an instance tries (best first) before it waits for the next event. */
const MAX_ATTEMPTS_PER_INSTANCE = 4;
/** Fitting slots an instance compares per attempt (a rotating sample when there are more). */
const SCAN_LIMIT = 16;

interface AppRound {
  placed: Placement[];
  onAgent: Map<string, number>;
  inZone: Map<string, number>;
}

/** Where the app already runs counts against a slot: first per agent, then per zone. */
function spreadScore(app: AppRound, agent: AgentRecord): number {
  const onAgent = app.onAgent.size === 0 ? 0 : (app.onAgent.get(agent.agentId) ?? 0);
  const inZone = app.inZone.size === 0 ? 0 : (app.inZone.get(agent.zone ?? '') ?? 0);
  return onAgent * 1_000_000 + inZone;
}

/** Whether volume `i` of the instance is not attached to the agent yet (so it counts against the limit). */
function needsAttach(existing: ReadonlyArray<VolumeRecord | undefined>, i: number, agentId: string): boolean {
  const attachments = existing[i]?.attachments;
  if (attachments) for (const a of attachments) if (a.agentId === agentId) return false;
  return true;
}

/**
 * How many volumes to attach for the service of volume `i`, counted at the first such volume (0 at
 * the others, and for volumes already attached): a handful per instance, so no map.
 */
function attachCountAt(volumes: readonly WantedVolume[], existing: ReadonlyArray<VolumeRecord | undefined>, i: number, agentId: string): number {
  if (!needsAttach(existing, i, agentId)) return 0;
  const { service } = volumes[i];
  for (let j = 0; j < i; j++) if (volumes[j].service === service && needsAttach(existing, j, agentId)) return 0;
  let count = 0;
  for (let j = i; j < volumes.length; j++) if (volumes[j].service === service && needsAttach(existing, j, agentId)) count++;
  return count;
}

/** Whether an offer left out of the round is some slot's offer after all (the same object given twice). */
function isSlotOffer(offer: mesos.v1.IOffer, slots: readonly Slot[]): boolean {
  for (const s of slots) if (s.offer === offer) return true;
  return false;
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
  /** Numbers place() calls, to mark the slots rejected for the current instance. */
  private placeSeq = 0;
  /**
   * Scratch for place(), reused so an instance allocates nothing to compare candidates: the fitting
   * candidates found so far and their spread scores (entries past the current count are stale).
   */
  private readonly found: Slot[] = [];
  private readonly foundScore: number[] = [];
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
    const round = this.startRound(offers);
    const { launches, waiting, tried } = this.continueRound(round, pending);
    return { launches, waiting, unused: this.unusedOf(round), tried };
  }

  /** The slots of one OFFERS event, to place instances on (`continueRound`, as often as needed). */
  startRound(offers: readonly mesos.v1.IOffer[]): MatchRound {
    const slots: Slot[] = [];
    const byZone = new Map<string, Slot[]>();
    const byAgent = new Map<string, Slot>();
    const skipped: mesos.v1.IOffer[] = [];
    let anyOwned = false;
    for (const offer of offers) {
      const agent = this.env.agent(offer.agent_id.value);
      if (!agent || agent.state !== 'active' || byAgent.has(agent.agentId)) {
        skipped.push(offer);
        continue;
      }
      const slot = slotOf(offer, agent);
      if (slot.hasOwned) anyOwned = true;
      slots.push(slot);
      byAgent.set(agent.agentId, slot);
      const zone = agent.zone ?? '';
      const list = byZone.get(zone) ?? [];
      list.push(slot);
      byZone.set(zone, list);
    }
    return { slots, byZone, byAgent, skipped, anyOwned, apps: new Map(), open: slots.length, tried: new Set() };
  }

  /**
   * Places pending instances on what the round's offers have left, looking at most at the per-event
   * budget of instances not looked at in this round yet. `more`: the budget ran out while offers
   * still had room — a caller with more instances waiting may call again (after yielding: each call
   * is bounded work), until every instance was looked at once or the offers are full.
   */
  continueRound(round: MatchRound, pending: readonly PendingInstance[]): MatchStep {
    const { slots, byZone, byAgent, apps, anyOwned } = round;
    const waiting = new Map<string, string>();
    const launches: Launch[] = [];
    const budget = Math.max(this.minBudget, this.budgetPerOffer * slots.length);
    let tried = 0;
    const n = pending.length;
    if (n > 0 && round.open > 0) {
      const start = this.cursor % n;
      let k = 0;
      for (; k < n && tried < budget && round.open > 0; k++) {
        const instance = pending[(start + k) % n];
        if (round.tried.has(instance.key)) continue;
        round.tried.add(instance.key);
        tried++;
        const outcome = this.place(instance, slots, byZone, byAgent, apps, anyOwned);
        if (typeof outcome === 'string') {
          waiting.set(instance.key, outcome);
          continue;
        }
        launches.push(outcome);
        const slot = byAgent.get(outcome.agent.agentId)!;
        slot.launched++;
        if (this.isExhausted(slot)) {
          slot.exhausted = true;
          round.open--;
        }
      }
      this.cursor = (start + k) % Math.max(1, n);
    }
    return { launches, waiting, tried, more: tried >= budget && round.open > 0 };
  }

  /** The round's offers that run nothing. */
  unusedOf(round: MatchRound): mesos.v1.IOffer[] {
    const unused: mesos.v1.IOffer[] = [];
    for (const s of round.slots) if (s.launched === 0) unused.push(s.offer);
    // Offers from agents we could not use at all (unknown, duplicates) are unused too.
    for (const offer of round.skipped) if (!isSlotOffer(offer, round.slots)) unused.push(offer);
    return unused;
  }

  private isExhausted(slot: Slot): boolean {
    return available(slot, 'cpus', undefined) < 0.01 || available(slot, 'mem', undefined) < 1;
  }

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

  /**
   * A launch, or why the instance cannot run on any of these offers. `anyOwned`: some offer has
   * labelled reservations (only then does the instance's reservation key matter).
   */
  private place(
    instance: PendingInstance,
    slots: Slot[],
    byZone: Map<string, Slot[]>,
    byAgent: Map<string, Slot>,
    round: Map<string, AppRound>,
    anyOwned: boolean,
  ): Launch | string {
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
    const { spec } = instance;
    const owner = anyOwned ? `${instance.appId}#${instance.instance}` : undefined;
    let reason = 'waiting: no offer has the resources';
    // Slots rejected for this instance carry this mark.
    const mark = ++this.placeSeq;
    // The best fitting slot by preference and spread (among a bounded, rotating sample of the
    // candidates); the next best only when it fails a check. Until the instance is placed nothing
    // changes what fits or the scores, so the fitting candidates are found (in sample order) and
    // scored once, as far as the attempts need them; an attempt looks at the first SCAN_LIMIT of
    // them not rejected yet.
    const attached = preferredAgent === undefined ? undefined : byAgent.get(preferredAgent);
    const preferred = attached !== undefined && candidates.includes(attached) ? attached : undefined;
    const total = candidates.length;
    const offset = total > SCAN_LIMIT ? this.sampleCursor++ % total : 0;
    const { found, foundScore } = this;
    let foundCount = 0;
    let next = 0;
    for (let attempt = 0; attempt < MAX_ATTEMPTS_PER_INSTANCE; attempt++) {
      let best: Slot | undefined;
      let bestScore = Infinity;
      if (preferred && !preferred.exhausted && preferred.rejectedBy !== mark && fitsResources(preferred, spec, owner)) {
        best = preferred;
      } else {
        let scanned = 0;
        for (let i = 0; scanned < SCAN_LIMIT; i++) {
          if (i === foundCount) {
            let fitting: Slot | undefined;
            while (next < total && fitting === undefined) {
              const slot = candidates[(offset + next++) % total];
              if (!slot.exhausted && fitsResources(slot, spec, owner)) fitting = slot;
            }
            if (fitting === undefined) break;
            found[foundCount] = fitting;
            foundScore[foundCount++] = spreadScore(app, fitting.agent);
          }
          if (found[i].rejectedBy === mark) continue;
          scanned++;
          if (foundScore[i] < bestScore) {
            best = found[i];
            bestScore = foundScore[i];
            // Nothing scores below 0, and on a tie the first wins: the rest cannot change the pick.
            if (bestScore === 0) break;
          }
        }
      }
      if (!best) return reason;
      best.rejectedBy = mark;
      if (!satisfiesAll(spec.constraints, best.agent, app.placed)) {
        reason = 'waiting: no offer satisfies the constraints';
        continue;
      }
      const inaccessible = accessibleFrom(existing, best.agent.zone);
      if (inaccessible) {
        reason = inaccessible;
        continue;
      }
      const limitProblem = this.attachLimitProblem(instance, existing, best);
      if (limitProblem) {
        reason = limitProblem;
        continue;
      }
      const launch = this.build(instance, best, owner);
      app.placed.push(best.agent);
      app.onAgent.set(best.agent.agentId, (app.onAgent.get(best.agent.agentId) ?? 0) + 1);
      app.inZone.set(best.agent.zone ?? '', (app.inZone.get(best.agent.zone ?? '') ?? 0) + 1);
      return launch;
    }
    return reason;
  }

  /**
   * Whether attaching the instance's volumes (those not attached to the agent already) stays within
   * each service's attach limit there; if so, plans them on the slot. Services are checked in the
   * order their first volume comes in.
   */
  private attachLimitProblem(instance: PendingInstance, existing: Array<VolumeRecord | undefined>, slot: Slot): string | undefined {
    const { volumes } = instance;
    const { agent } = slot;
    for (let i = 0; i < volumes.length; i++) {
      const count = attachCountAt(volumes, existing, i, agent.agentId);
      if (count === 0) continue;
      const { service } = volumes[i];
      const limit = this.env.attachLimit(service, agent);
      if (limit === undefined) continue;
      const used = this.env.claimsOnAgent(agent.agentId, service) + plannedOn(slot, service);
      if (used + count > limit) return `waiting: attach limit ${limit} of service ${service} reached on ${agent.hostname}`;
    }
    for (let i = 0; i < volumes.length; i++) {
      const count = attachCountAt(volumes, existing, i, agent.agentId);
      if (count > 0) plan(slot, volumes[i].service, count);
    }
    return undefined;
  }

  private build(instance: PendingInstance, slot: Slot, owner: string | undefined): Launch {
    const { spec } = instance;
    const residency = spec.residency !== undefined;
    const hasOwn = hasOwnLeft(slot, owner);
    const filter = spec.acceptedResourceRoles ? roleFilterOf(spec, slot.offer.allocation_info?.role ?? '*') : 'any';
    const resources: mesos.v1.IResource[] = [];
    const reserve: mesos.v1.IResource[] = [];
    const reserveAll = (taken: mesos.v1.IResource[]): void => {
      // Reserve unreserved resources for this instance, then launch on the reservation.
      for (const r of taken) {
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
    };
    for (const name of SCALARS) {
      const want = spec[name];
      if (want <= 0) continue;
      if (residency && !hasOwn) {
        const taken: mesos.v1.IResource[] = [];
        take(slot, name, want, owner, true, taken, filter);
        reserveAll(taken);
      } else {
        take(slot, name, want, owner, false, resources, filter);
      }
    }
    let hostPorts: Array<number | undefined> = [];
    const requests = portRequests(spec);
    if (needsHostPorts(spec)) {
      const fresh = residency && !hasOwn;
      const ports = takePorts(portPiecesFor(slot, owner, filter, fresh), requests, owner);
      hostPorts = ports.hostPorts;
      if (fresh) reserveAll(ports.resources);
      else resources.push(...ports.resources);
    } else hostPorts = requests.map(() => undefined);
    const launch: Launch = { offer: slot.offer, agent: slot.agent, instance, resources, hostPorts };
    if (reserve.length > 0) launch.reserve = reserve;
    return launch;
  }
}
