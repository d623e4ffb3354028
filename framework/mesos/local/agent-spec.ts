/**
 * What a simulated agent is: its identity, resources, attributes and fault domain.
 * The resource string uses the agent's `--resources` flag syntax, so a spec reads like a real
 * agent's command line.
 */
import type { mesos } from '../generated/mesos';

export interface AgentSpec {
  agentId: string;
  hostname: string;
  port: number;
  /** Total resources, unreserved (role "*" is implied: no `reservations`). */
  resources: mesos.v1.IResource[];
  attributes: mesos.v1.IAttribute[];
  domain?: mesos.v1.IDomainInfo;
  /** The agent's own directory: sandboxes, persistent volumes and checkpoints live under it. */
  workDir: string;
}

/** How tests and config describe an agent; the cluster fills in ID, port and work dir. */
export interface AgentSpecInput {
  hostname: string;
  /** Mesos `--resources` syntax, e.g. 'cpus:4;mem:8192;disk:100000;ports:[31000-32000]'. */
  resources?: string;
  attributes?: Record<string, string>;
  zone?: string;
  region?: string;
}

export const DEFAULT_AGENT_RESOURCES = 'cpus:4;mem:8192;disk:100000;ports:[31000-32000]';
export const DEFAULT_AGENT_PORT = 5051;

/** The default local cluster: three agents over two zones of one region. */
export const DEFAULT_AGENTS: readonly AgentSpecInput[] = [
  { hostname: 'node0', zone: 'zone-a', region: 'region-1' },
  { hostname: 'node1', zone: 'zone-a', region: 'region-1' },
  { hostname: 'node2', zone: 'zone-b', region: 'region-1' },
];

export class AgentSpecError extends Error {
  override name = 'AgentSpecError';
}

// Numeric enum values of mesos.v1.Value.Type, kept here so this module needs no runtime import.
const SCALAR = 0;
const RANGES = 1;
const SET = 2;
const TEXT = 3;

/**
 * Parses the `--resources` syntax: `name(role):value` separated by `;`, where value is a scalar
 * (`4`, `0.5`), ranges (`[31000-32000, 33000-33001]`) or a set (`{a,b}`). A role other than `*`
 * becomes a static reservation in post-refinement form.
 */
export function parseResources(text: string): mesos.v1.IResource[] {
  const out: mesos.v1.IResource[] = [];
  for (const raw of text.split(';')) {
    const part = raw.trim();
    if (part === '') continue;
    const colon = part.indexOf(':');
    if (colon <= 0) throw new AgentSpecError(`Invalid resource '${part}': expected name:value`);
    let name = part.slice(0, colon).trim();
    const value = part.slice(colon + 1).trim();
    let role = '*';
    const roleMatch = /^([^()]+)\(([^()]*)\)$/.exec(name);
    if (roleMatch) {
      name = roleMatch[1].trim();
      role = roleMatch[2].trim() || '*';
    }
    if (!/^[a-zA-Z0-9_.\-/]+$/.test(name)) throw new AgentSpecError(`Invalid resource name '${name}'`);
    const resource: mesos.v1.IResource = { name, ...parseValue(name, value) };
    if (role !== '*') resource.reservations = [{ type: 1 /* STATIC */, role }];
    out.push(resource);
  }
  return out;
}

function parseValue(name: string, value: string): Pick<mesos.v1.IResource, 'type' | 'scalar' | 'ranges' | 'set'> {
  if (value.startsWith('[')) {
    if (!value.endsWith(']')) throw new AgentSpecError(`Invalid ranges for '${name}': ${value}`);
    const range = value
      .slice(1, -1)
      .split(',')
      .map((r) => r.trim())
      .filter((r) => r !== '')
      .map((r) => {
        const m = /^(\d+)\s*-\s*(\d+)$/.exec(r);
        if (!m || Number(m[1]) > Number(m[2])) throw new AgentSpecError(`Invalid range '${r}' for '${name}'`);
        return { begin: Number(m[1]), end: Number(m[2]) };
      });
    return { type: RANGES, ranges: { range } };
  }
  if (value.startsWith('{')) {
    if (!value.endsWith('}')) throw new AgentSpecError(`Invalid set for '${name}': ${value}`);
    const item = value
      .slice(1, -1)
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '');
    return { type: SET, set: { item } };
  }
  const n = Number(value);
  if (value === '' || !Number.isFinite(n) || n < 0) throw new AgentSpecError(`Invalid scalar for '${name}': ${value}`);
  return { type: SCALAR, scalar: { value: n } };
}

/** Attributes as the agent's `--attributes` flag makes them: numbers become scalars, the rest text. */
export function parseAttributes(attributes: Record<string, string>): mesos.v1.IAttribute[] {
  return Object.entries(attributes).map(([name, value]) => {
    const n = Number(value);
    if (value.trim() !== '' && Number.isFinite(n)) return { name, type: SCALAR, scalar: { value: n } };
    return { name, type: TEXT, text: { value } };
  });
}

/**
 * A full spec from an input. `agentId` and `workDir` are left for the cluster to assign
 * (the master names agents `<masterId>-S<n>` when they register).
 */
export function parseAgentSpec(
  input: AgentSpecInput,
  assigned: { agentId?: string; port?: number; workDir?: string } = {},
): AgentSpec {
  if (!input.hostname || typeof input.hostname !== 'string') throw new AgentSpecError('Agent hostname is required');
  const attributes: Record<string, string> = { ...(input.attributes ?? {}) };
  if (input.zone !== undefined && attributes.zone === undefined) attributes.zone = input.zone;
  const spec: AgentSpec = {
    agentId: assigned.agentId ?? '',
    hostname: input.hostname,
    port: assigned.port ?? DEFAULT_AGENT_PORT,
    resources: parseResources(input.resources ?? DEFAULT_AGENT_RESOURCES),
    attributes: parseAttributes(attributes),
    workDir: assigned.workDir ?? '',
  };
  if (input.zone !== undefined || input.region !== undefined) {
    spec.domain = {
      fault_domain: {
        region: { name: input.region ?? 'region-1' },
        zone: { name: input.zone ?? 'zone-a' },
      },
    };
  }
  return spec;
}
