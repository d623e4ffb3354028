/**
 * Resource arithmetic the way Mesos' `Resources` class does it: resources with the same identity
 * (name, type, reservations, disk info, allocation, shared, revocable, provider) merge; scalars add
 * with 3-digit fixed-point precision, ranges and sets combine as intervals and sets.
 * Internally the master keeps the post-refinement format (`reservations` stack).
 */
import type { mesos } from '../../generated/mesos';

export type Resource = mesos.v1.IResource;

const SCALAR = 0;
const RANGES = 1;
const SET = 2;
const RESERVATION_STATIC = 1;
const RESERVATION_DYNAMIC = 2;

export function has(obj: object | null | undefined, field: string): boolean {
  return obj != null && Object.prototype.hasOwnProperty.call(obj, field) && (obj as Record<string, unknown>)[field] != null;
}

function round(v: number): number {
  return Math.round(v * 1000) / 1000;
}

/** A plain deep copy (drops protobufjs prototypes, so unset fields are really unset). */
export function clone<T>(value: T): T {
  if (value === null || typeof value !== 'object') return value;
  if (value instanceof Uint8Array) return new Uint8Array(value) as unknown as T;
  if (Array.isArray(value)) return value.map((v) => clone(v)) as unknown as T;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value as object)) {
    const v = (value as Record<string, unknown>)[key];
    if (v !== undefined && v !== null) out[key] = clone(v);
  }
  return out as T;
}

function canonical(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (typeof value !== 'object') return JSON.stringify(value);
  if (value instanceof Uint8Array) return JSON.stringify(Buffer.from(value).toString('base64'));
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  const keys = Object.keys(value as object)
    .filter((k) => (value as Record<string, unknown>)[k] != null)
    .sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`).join(',')}}`;
}

/** Everything but the quantity. */
export function identityOf(r: Resource): string {
  return canonical([
    r.name,
    r.type ?? SCALAR,
    has(r, 'provider_id') ? r.provider_id?.value : null,
    has(r, 'allocation_info') ? r.allocation_info?.role ?? null : null,
    (r.reservations ?? []).map((x) => [x.type ?? 0, x.role ?? null, x.principal ?? null, x.labels ?? null]),
    has(r, 'disk') ? r.disk : null,
    has(r, 'revocable'),
    has(r, 'shared'),
  ]);
}

type Interval = [number, number];

function intervalsOf(r: Resource): Interval[] {
  return (r.ranges?.range ?? []).map((x) => [Number(x.begin), Number(x.end)] as Interval);
}

function normalizeIntervals(list: Interval[]): Interval[] {
  const sorted = list.filter(([b, e]) => b <= e).sort((a, b) => a[0] - b[0]);
  const out: Interval[] = [];
  for (const [b, e] of sorted) {
    const last = out[out.length - 1];
    if (last && b <= last[1] + 1) last[1] = Math.max(last[1], e);
    else out.push([b, e]);
  }
  return out;
}

function subtractIntervals(a: Interval[], b: Interval[]): Interval[] {
  let result = normalizeIntervals(a);
  for (const [sb, se] of b) {
    const next: Interval[] = [];
    for (const [b1, e1] of result) {
      if (se < b1 || sb > e1) next.push([b1, e1]);
      else {
        if (b1 < sb) next.push([b1, sb - 1]);
        if (e1 > se) next.push([se + 1, e1]);
      }
    }
    result = next;
  }
  return result;
}

function intervalsContain(a: Interval[], b: Interval[]): boolean {
  const na = normalizeIntervals(a);
  return normalizeIntervals(b).every(([b1, e1]) => na.some(([b2, e2]) => b2 <= b1 && e1 <= e2));
}

/** A persistent volume (or any disk with a persistence ID) is indivisible. */
function isAtomic(r: Resource): boolean {
  return has(r, 'disk') && has(r.disk, 'persistence');
}

function isEmptyResource(r: Resource): boolean {
  const type = r.type ?? SCALAR;
  if (type === SCALAR) return round(r.scalar?.value ?? 0) <= 0;
  if (type === RANGES) return (r.ranges?.range ?? []).length === 0;
  if (type === SET) return (r.set?.item ?? []).length === 0;
  return false;
}

function withQuantity(template: Resource, q: { scalar?: number; intervals?: Interval[]; items?: string[] }): Resource {
  const r = clone(template);
  delete r.scalar;
  delete r.ranges;
  delete r.set;
  if (q.scalar !== undefined) r.scalar = { value: round(q.scalar) };
  if (q.intervals !== undefined) r.ranges = { range: q.intervals.map(([begin, end]) => ({ begin, end })) };
  if (q.items !== undefined) r.set = { item: q.items };
  return r;
}

/** Merges equal identities; drops empty entries. */
export function normalize(resources: readonly Resource[]): Resource[] {
  const byKey = new Map<string, Resource>();
  const out: Resource[] = [];
  for (const r of resources) {
    if (isEmptyResource(r)) continue;
    if (isAtomic(r)) {
      out.push(clone(r));
      continue;
    }
    const key = identityOf(r);
    const prev = byKey.get(key);
    if (!prev) {
      const copy = clone(r);
      byKey.set(key, copy);
      out.push(copy);
      continue;
    }
    const type = r.type ?? SCALAR;
    if (type === SCALAR) prev.scalar = { value: round((prev.scalar?.value ?? 0) + (r.scalar?.value ?? 0)) };
    else if (type === RANGES) {
      prev.ranges = {
        range: normalizeIntervals([...intervalsOf(prev), ...intervalsOf(r)]).map(([begin, end]) => ({ begin, end })),
      };
    } else if (type === SET) prev.set = { item: [...new Set([...(prev.set?.item ?? []), ...(r.set?.item ?? [])])] };
  }
  return out;
}

export function add(a: readonly Resource[], b: readonly Resource[]): Resource[] {
  return normalize([...a, ...b]);
}

/** True when every resource of `b` is within `a`. */
export function contains(a: readonly Resource[], b: readonly Resource[]): boolean {
  const na = normalize(a);
  const used = new Set<Resource>();
  for (const r of normalize(b)) {
    const key = identityOf(r);
    if (isAtomic(r)) {
      const match = na.find((x) => !used.has(x) && isAtomic(x) && identityOf(x) === key && round(x.scalar?.value ?? 0) >= round(r.scalar?.value ?? 0));
      if (!match) return false;
      used.add(match);
      continue;
    }
    const match = na.find((x) => !isAtomic(x) && identityOf(x) === key);
    if (!match) return false;
    const type = r.type ?? SCALAR;
    if (type === SCALAR && round(match.scalar?.value ?? 0) < round(r.scalar?.value ?? 0)) return false;
    if (type === RANGES && !intervalsContain(intervalsOf(match), intervalsOf(r))) return false;
    if (type === SET && !(r.set?.item ?? []).every((i) => (match.set?.item ?? []).includes(i))) return false;
  }
  return true;
}

/** `a - b`; what of `b` is not in `a` is ignored (callers check `contains` first). */
export function subtract(a: readonly Resource[], b: readonly Resource[]): Resource[] {
  let result = normalize(a);
  for (const r of normalize(b)) {
    const key = identityOf(r);
    if (isAtomic(r)) {
      const index = result.findIndex((x) => isAtomic(x) && identityOf(x) === key);
      if (index >= 0) result.splice(index, 1);
      continue;
    }
    const index = result.findIndex((x) => !isAtomic(x) && identityOf(x) === key);
    if (index < 0) continue;
    const match = result[index];
    const type = r.type ?? SCALAR;
    let next: Resource = match;
    if (type === SCALAR) next = withQuantity(match, { scalar: (match.scalar?.value ?? 0) - (r.scalar?.value ?? 0) });
    else if (type === RANGES) next = withQuantity(match, { intervals: subtractIntervals(intervalsOf(match), intervalsOf(r)) });
    else if (type === SET) next = withQuantity(match, { items: (match.set?.item ?? []).filter((i) => !(r.set?.item ?? []).includes(i)) });
    result = [...result.slice(0, index), next, ...result.slice(index + 1)];
  }
  return result.filter((x) => !isEmptyResource(x));
}

export function isEmpty(resources: readonly Resource[]): boolean {
  return normalize(resources).length === 0;
}

export function equals(a: readonly Resource[], b: readonly Resource[]): boolean {
  return contains(a, b) && contains(b, a);
}

export function scalar(resources: readonly Resource[], name: string): number {
  return round(resources.filter((r) => r.name === name && (r.type ?? SCALAR) === SCALAR).reduce((s, r) => s + (r.scalar?.value ?? 0), 0));
}

// ---- reservations ----

export function isReserved(r: Resource): boolean {
  return (r.reservations ?? []).length > 0;
}

export function isDynamicallyReserved(r: Resource): boolean {
  const stack = r.reservations ?? [];
  return stack.length > 0 && stack[stack.length - 1].type === RESERVATION_DYNAMIC;
}

export function reservationRole(r: Resource): string {
  const stack = r.reservations ?? [];
  return stack.length > 0 ? stack[stack.length - 1].role ?? '*' : '*';
}

export function isRefined(r: Resource): boolean {
  return (r.reservations ?? []).length > 1;
}

export function isPersistentVolume(r: Resource): boolean {
  return has(r, 'disk') && has(r.disk, 'persistence');
}

export function isStrictSubrole(role: string, parent: string): boolean {
  return role.startsWith(`${parent}/`);
}

/** Resources::isAllocatableTo: unreserved, reserved to the role, or to an ancestor of it. */
export function isAllocatableTo(r: Resource, role: string): boolean {
  if (!isReserved(r)) return true;
  const reserved = reservationRole(r);
  return reserved === role || isStrictSubrole(role, reserved);
}

/** Pops the innermost reservation (UNRESERVE). */
export function popReservation(r: Resource): Resource {
  const copy = clone(r);
  copy.reservations = (copy.reservations ?? []).slice(0, -1);
  if (copy.reservations.length === 0) delete copy.reservations;
  return copy;
}

export function withoutAllocation(resources: readonly Resource[]): Resource[] {
  return resources.map((r) => {
    const copy = clone(r);
    delete copy.allocation_info;
    return copy;
  });
}

export function allocatedTo(resources: readonly Resource[], role: string): Resource[] {
  return resources.map((r) => ({ ...clone(r), allocation_info: { role } }));
}

/**
 * Pre-refinement (`role` + `reservation`) → post-refinement (`reservations`), as
 * `validateAndUpgradeResources` does for frameworks' input. Returns an error message for a
 * resource that mixes both formats.
 */
export function upgradeResource(r: Resource): Resource | string {
  const copy = clone(r);
  const hasRole = has(r, 'role');
  const hasReservation = has(r, 'reservation');
  const hasStack = (r.reservations ?? []).length > 0;
  if (hasStack && (hasReservation || (hasRole && r.role !== '*'))) {
    return 'Resource with `reservations` must not have `role` or `reservation` set';
  }
  if (!hasStack && ((hasRole && r.role !== '*') || hasReservation)) {
    const role = hasRole ? (r.role as string) : '*';
    if (hasReservation && (has(r.reservation, 'type') || has(r.reservation, 'role'))) {
      return "'Resource.reservation' must not have 'type' or 'role' set in the pre-reservation-refinement format";
    }
    const entry: mesos.v1.Resource.IReservationInfo = {
      type: hasReservation ? RESERVATION_DYNAMIC : RESERVATION_STATIC,
      role,
    };
    if (hasReservation && has(r.reservation, 'principal')) entry.principal = r.reservation?.principal;
    if (hasReservation && has(r.reservation, 'labels')) entry.labels = clone(r.reservation?.labels);
    copy.reservations = [entry];
  }
  delete copy.role;
  delete copy.reservation;
  return copy;
}

/** Post-refinement → pre-refinement, for frameworks without RESERVATION_REFINEMENT. */
export function downgradeResource(r: Resource): Resource {
  const copy = clone(r);
  const stack = copy.reservations ?? [];
  delete copy.reservations;
  if (stack.length === 0) {
    copy.role = '*';
    return copy;
  }
  const last = stack[stack.length - 1];
  copy.role = last.role ?? '*';
  if (last.type === RESERVATION_DYNAMIC) {
    const info: mesos.v1.Resource.IReservationInfo = {};
    if (last.principal != null) info.principal = last.principal;
    if (last.labels != null) info.labels = last.labels;
    copy.reservation = info;
  }
  return copy;
}

/** Mesos' `stringify(Resources)` style, for messages. */
export function describe(resources: readonly Resource[]): string {
  return normalize(resources)
    .map((r) => {
      const role = isReserved(r) ? reservationRole(r) : '*';
      const alloc = has(r, 'allocation_info') ? `{ALLOC: ${r.allocation_info?.role}}` : '';
      const disk = isPersistentVolume(r) ? `[${r.disk?.persistence?.id}:${r.disk?.volume?.container_path ?? ''}]` : '';
      const type = r.type ?? SCALAR;
      const value =
        type === SCALAR
          ? String(round(r.scalar?.value ?? 0))
          : type === RANGES
            ? `[${intervalsOf(r).map(([b, e]) => `${b}-${e}`).join(', ')}]`
            : `{${(r.set?.item ?? []).join(', ')}}`;
      return `${r.name}${alloc}(${role})${disk}:${value}`;
    })
    .join('; ');
}
