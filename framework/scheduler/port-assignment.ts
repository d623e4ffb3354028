/**
 * Host ports from offers, as Marathon's PortsMatcher takes them: an app asks for a host port per
 * port definition (host networking) or per port mapping with a host port (bridge / container
 * networks); each request is a fixed port (requirePorts, or a mapping's non-zero hostPort) or any
 * port. Fixed ports must lie in the offer's `ports` ranges; any-port requests take the lowest free
 * ports. The task's resources name exactly the ports it got, with the reservation they came from.
 */
import { mesos } from '../mesos/generated/mesos';
import type { AppSpec } from './app-spec';

/** One port request: NO_HOST_PORT (a container port only), ANY_PORT, or a fixed port number. */
export const NO_HOST_PORT = -1;
export const ANY_PORT = 0;

type Interval = [number, number];

/** The `ports` of an offer that the instance may use, with what is left of them in this round. */
export interface PortPiece {
  resource: mesos.v1.IResource;
  free: Interval[];
  /** `<app>#<instance>` for Polly's labelled reservations. */
  owner?: string;
}

const requestsCache = new WeakMap<AppSpec, number[]>();

/** The host port requests of an app's task, in port index order (PORT0, PORT1, ...). */
export function portRequests(spec: AppSpec): number[] {
  let cached = requestsCache.get(spec);
  if (cached) return cached;
  const nonHost = (spec.networks ?? []).some((n) => n.mode !== 'host');
  if (nonHost) cached = (spec.container?.portMappings ?? []).map((m) => (m.hostPort === undefined ? NO_HOST_PORT : m.hostPort));
  else cached = (spec.portDefinitions ?? []).map((p) => (spec.requirePorts ? p.port : ANY_PORT));
  requestsCache.set(spec, cached);
  return cached;
}

/** Whether the app needs any host port at all (most do; the matcher skips all of this otherwise). */
export function needsHostPorts(spec: AppSpec): boolean {
  return portRequests(spec).some((r) => r !== NO_HOST_PORT);
}

export function portPieceOf(resource: mesos.v1.IResource, owner: string | undefined): PortPiece {
  const free: Interval[] = (resource.ranges?.range ?? [])
    .map((r) => [Number(r.begin), Number(r.end)] as Interval)
    .filter(([b, e]) => b <= e)
    .sort((a, b) => a[0] - b[0]);
  return { resource, free, owner };
}

function contains(free: readonly Interval[], port: number): boolean {
  for (const [b, e] of free) if (port >= b && port <= e) return true;
  return false;
}

function remove(free: Interval[], port: number): void {
  for (let i = 0; i < free.length; i++) {
    const [b, e] = free[i];
    if (port < b || port > e) continue;
    const parts: Interval[] = [];
    if (b < port) parts.push([b, port - 1]);
    if (port < e) parts.push([port + 1, e]);
    free.splice(i, 1, ...parts);
    return;
  }
}

function count(free: readonly Interval[]): number {
  let n = 0;
  for (const [b, e] of free) n += e - b + 1;
  return n;
}

/** The pieces `owner` may use, its own reservation first. */
function usableFor(pieces: readonly PortPiece[], owner: string | undefined): PortPiece[] {
  return [...pieces.filter((p) => p.owner !== undefined && p.owner === owner), ...pieces.filter((p) => p.owner === undefined)];
}

/** Whether the requests fit the pieces (without taking anything). */
export function portsFit(pieces: readonly PortPiece[], requests: readonly number[], owner: string | undefined): boolean {
  const usable = usableFor(pieces, owner);
  const fixed = requests.filter((r) => r > 0);
  if (new Set(fixed).size !== fixed.length) return false;
  for (const port of fixed) if (!usable.some((p) => contains(p.free, port))) return false;
  const any = requests.filter((r) => r === ANY_PORT).length;
  if (any === 0) return true;
  let left = -fixed.length;
  for (const p of usable) left += count(p.free);
  return left >= any;
}

/**
 * Takes the ports from the pieces: the host port per request (undefined for NO_HOST_PORT) and the
 * `ports` resources to launch with. Call only after portsFit said yes.
 */
export function takePorts(pieces: readonly PortPiece[], requests: readonly number[], owner: string | undefined): { hostPorts: Array<number | undefined>; resources: mesos.v1.IResource[] } {
  const usable = usableFor(pieces, owner);
  const taken = new Map<PortPiece, number[]>();
  const grab = (piece: PortPiece, port: number): void => {
    remove(piece.free, port);
    const list = taken.get(piece) ?? [];
    list.push(port);
    taken.set(piece, list);
  };
  const hostPorts: Array<number | undefined> = requests.map(() => undefined);
  requests.forEach((r, i) => {
    if (r <= 0) return;
    const piece = usable.find((p) => contains(p.free, r))!;
    grab(piece, r);
    hostPorts[i] = r;
  });
  requests.forEach((r, i) => {
    if (r !== ANY_PORT) return;
    const piece = usable.find((p) => p.free.length > 0)!;
    const port = piece.free[0][0];
    grab(piece, port);
    hostPorts[i] = port;
  });
  const resources: mesos.v1.IResource[] = [];
  for (const [piece, ports] of taken) {
    const out: mesos.v1.IResource = { name: 'ports', type: mesos.v1.Value.Type.RANGES, ranges: { range: rangesOf(ports) } };
    if (piece.resource.reservations?.length) out.reservations = piece.resource.reservations.map((r) => ({ ...r }));
    if (piece.resource.allocation_info) out.allocation_info = { ...piece.resource.allocation_info };
    resources.push(out);
  }
  return { hostPorts, resources };
}

function rangesOf(ports: number[]): mesos.v1.Value.IRange[] {
  const sorted = [...ports].sort((a, b) => a - b);
  const out: mesos.v1.Value.IRange[] = [];
  for (const p of sorted) {
    const last = out[out.length - 1];
    if (last && Number(last.end) + 1 === p) last.end = p;
    else out.push({ begin: p, end: p });
  }
  return out;
}
