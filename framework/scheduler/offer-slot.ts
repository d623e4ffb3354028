/**
 * One offer as the matcher sees it during a round: the pieces of scalar resources an instance may
 * take (unreserved, reserved for Polly's role, or an instance's own labelled reservation) with what
 * is left of them, its `ports`, the volumes planned on its agent, and the helpers that check and take
 * resources — honouring an app's `role` and `acceptedResourceRoles`. Polly's labelled reservations
 * (residency) are named `<app>#<instance>` by their labels.
 */
import { mesos } from '../mesos/generated/mesos';
import type { AgentRecord } from './agent-registry';
import type { AppSpec } from './app-spec';
import { needsHostPorts, portPieceOf, portRequests, portsFit, type PortPiece } from './port-assignment';

export const RESERVATION_LABEL_APP = 'polly_app';
export const RESERVATION_LABEL_INSTANCE = 'polly_instance';
export const EPSILON = 1e-9;

/** A piece of an offered scalar resource we may use. */
export interface Piece {
  name: Scalar;
  resource: mesos.v1.IResource;
  left: number;
  /** `<app>#<instance>` for Polly's labelled reservations; undefined for resources anyone may use. */
  owner?: string;
}

export const SCALARS = ['cpus', 'mem', 'disk'] as const;
export type Scalar = (typeof SCALARS)[number];

export interface Slot {
  offer: mesos.v1.IOffer;
  agent: AgentRecord;
  /** All scalars' pieces, in offer order (a handful; one array rather than one per scalar). */
  pieces: Piece[];
  /** Launches planned on this offer in this round. */
  launched: number;
  /**
   * Volumes planned on this agent in this round, per service: the first service inline (agents
   * mostly see one), any others in `plannedMore`.
   */
  plannedService: string | undefined;
  plannedCount: number;
  plannedMore: Map<string, number> | undefined;
  exhausted: boolean;
  /** What anyone may use, per scalar (kept with the pieces: the common case reads only this). */
  free: Record<Scalar, number>;
  /** Some pieces are Polly's labelled reservations. */
  hasOwned: boolean;
  /** The place() call that last rejected this slot: a slot is tried at most once per instance. */
  rejectedBy: number;
  /** The offer's `ports` resources (most offers have one). */
  portResources: mesos.v1.IResource[] | undefined;
  /** What is left of them in this round, built when an instance first needs ports here. */
  portPieces: PortPiece[] | undefined;
}

/** Which offered resources an app takes (acceptedResourceRoles): all, only unreserved, or only reserved for the role. */
export type RoleFilter = 'any' | 'unreserved' | 'reserved';

export function roleFilterOf(spec: AppSpec, role: string): RoleFilter {
  const accepted = spec.acceptedResourceRoles;
  if (!accepted || accepted.length === 0) return 'any';
  const unreserved = accepted.includes('*');
  const reserved = accepted.includes(role);
  return unreserved && reserved ? 'any' : unreserved ? 'unreserved' : 'reserved';
}

function allowed(resource: mesos.v1.IResource, owner: string | undefined, filter: RoleFilter): boolean {
  if (filter === 'any' || owner !== undefined) return true;
  const reserved = (resource.reservations?.length ?? 0) > 0;
  return filter === 'reserved' ? reserved : !reserved;
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
  if (resource.type === mesos.v1.Value.Type.RANGES && resource.name === 'ports') return usableReservation(resource, role);
  if (resource.type !== mesos.v1.Value.Type.SCALAR || !resource.scalar) return false;
  if (resource.disk && (resource.disk.persistence || resource.disk.source || resource.disk.volume)) return false;
  return usableReservation(resource, role);
}

function usableReservation(resource: mesos.v1.IResource, role: string): boolean {
  if (resource.revocable || resource.shared) return false;
  const reservations = resource.reservations ?? [];
  if (reservations.length === 0) return resource.role === undefined || resource.role === null || resource.role === '*' || resource.role === role;
  return reservations[reservations.length - 1].role === role;
}

function isScalar(name: string): name is Scalar {
  return name === 'cpus' || name === 'mem' || name === 'disk';
}

export function slotOf(offer: mesos.v1.IOffer, agent: AgentRecord): Slot {
  const pieces: Piece[] = [];
  const free: Record<Scalar, number> = { cpus: 0, mem: 0, disk: 0 };
  let hasOwned = false;
  const role = offer.allocation_info?.role ?? '*';
  let portResources: mesos.v1.IResource[] | undefined;
  for (const r of offer.resources ?? []) {
    const name = r.name;
    if (name === 'ports') {
      if (usable(r, role)) (portResources ??= []).push(r);
      continue;
    }
    if (!isScalar(name) || !usable(r, role)) continue;
    const owner = reservationOwner(r);
    const value = r.scalar!.value;
    pieces.push({ name, resource: r, left: value, owner });
    if (owner === undefined) free[name] += value;
    else hasOwned = true;
  }
  return {
    offer,
    agent,
    pieces,
    launched: 0,
    plannedService: undefined,
    plannedCount: 0,
    plannedMore: undefined,
    exhausted: false,
    free,
    hasOwned,
    rejectedBy: 0,
    portResources,
    portPieces: undefined,
  };
}

function portPiecesOf(slot: Slot): PortPiece[] {
  if (!slot.portPieces) slot.portPieces = (slot.portResources ?? []).map((r) => portPieceOf(r, reservationOwner(r)));
  return slot.portPieces;
}

/** The port pieces an instance may take from: its filter's, and only unreserved ones when it reserves afresh. */
export function portPiecesFor(slot: Slot, owner: string | undefined, filter: RoleFilter, unreservedOnly: boolean): PortPiece[] {
  const all = portPiecesOf(slot);
  if (filter === 'any' && !unreservedOnly) return all;
  return all.filter((p) => (p.owner !== undefined && p.owner === owner) || (allowed(p.resource, undefined, filter) && (!unreservedOnly || (p.resource.reservations?.length ?? 0) === 0)));
}

export function plannedOn(slot: Slot, service: string): number {
  if (slot.plannedService === service) return slot.plannedCount;
  return slot.plannedMore?.get(service) ?? 0;
}

export function plan(slot: Slot, service: string, count: number): void {
  if (slot.plannedService === undefined) slot.plannedService = service;
  if (slot.plannedService === service) slot.plannedCount += count;
  else (slot.plannedMore ??= new Map()).set(service, (slot.plannedMore.get(service) ?? 0) + count);
}

/**
 * How much of `name` the instance `owner` may use on the slot. `owner` only matters on slots with
 * labelled reservations; elsewhere it may be left undefined.
 */
export function available(slot: Slot, name: Scalar, owner: string | undefined, filter: RoleFilter = 'any'): number {
  if (filter === 'any' && (!slot.hasOwned || owner === undefined)) return slot.free[name];
  let sum = 0;
  for (const p of slot.pieces) {
    if (p.name !== name || !(p.owner === undefined || p.owner === owner)) continue;
    if (p.owner === undefined && !allowed(p.resource, undefined, filter)) continue;
    sum += p.left;
  }
  return sum;
}

/** Whether the instance's resources fit what is left of the slot (its role, scalars and host ports). */
export function fitsResources(slot: Slot, spec: AppSpec, owner: string | undefined): boolean {
  if (spec.role !== undefined && (slot.offer.allocation_info?.role ?? '*') !== spec.role) return false;
  const filter = spec.acceptedResourceRoles ? roleFilterOf(spec, slot.offer.allocation_info?.role ?? '*') : 'any';
  if (
    !(
      available(slot, 'cpus', owner, filter) + EPSILON >= spec.cpus &&
      available(slot, 'mem', owner, filter) + EPSILON >= spec.mem &&
      available(slot, 'disk', owner, filter) + EPSILON >= spec.disk
    )
  ) {
    return false;
  }
  if (!needsHostPorts(spec)) return true;
  const reservingAfresh = spec.residency !== undefined && !hasOwnLeft(slot, owner);
  return portsFit(portPiecesFor(slot, owner, filter, reservingAfresh), portRequests(spec), owner);
}

/** Takes what it can of `need` from one piece into `out`; returns what is still needed. */
function takeFrom(slot: Slot, p: Piece, name: Scalar, need: number, owner: string | undefined, unreservedOnly: boolean, out: mesos.v1.IResource[], filter: RoleFilter = 'any'): number {
  if (need <= EPSILON || p.name !== name) return need;
  if (p.owner !== undefined && p.owner !== owner) return need;
  if (p.owner === undefined && !allowed(p.resource, undefined, filter)) return need;
  if (unreservedOnly && (p.resource.reservations?.length ?? 0) > 0) return need;
  const used = Math.min(p.left, need);
  if (used <= EPSILON) return need;
  p.left -= used;
  if (p.owner === undefined) slot.free[name] -= used;
  const piece: mesos.v1.IResource = { name, type: mesos.v1.Value.Type.SCALAR, scalar: { value: Math.round(used * 1000) / 1000 } };
  if (p.resource.reservations?.length) piece.reservations = p.resource.reservations.map((r) => ({ ...r }));
  if (p.resource.allocation_info) piece.allocation_info = { ...p.resource.allocation_info };
  out.push(piece);
  return need - used;
}

/**
 * Takes `amount` of `name` from the slot into `out`, own reservation first, then what anyone may use
 * (each group in offer order). `owner` only matters on slots with labelled reservations.
 */
export function take(slot: Slot, name: Scalar, amount: number, owner: string | undefined, unreservedOnly: boolean, out: mesos.v1.IResource[], filter: RoleFilter = 'any'): void {
  const { pieces } = slot;
  let need = amount;
  if (slot.hasOwned) {
    for (const p of pieces) if (p.owner === owner) need = takeFrom(slot, p, name, need, owner, unreservedOnly, out, filter);
    for (const p of pieces) if (p.owner !== owner) need = takeFrom(slot, p, name, need, owner, unreservedOnly, out, filter);
  } else {
    for (const p of pieces) need = takeFrom(slot, p, name, need, owner, unreservedOnly, out, filter);
  }
}

/** Whether the slot still has some of `owner`'s own reservation. */
export function hasOwnLeft(slot: Slot, owner: string | undefined): boolean {
  if (!slot.hasOwned || owner === undefined) return false;
  for (const p of slot.pieces) if (p.owner === owner && p.left > EPSILON) return true;
  return false;
}
