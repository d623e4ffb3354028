/**
 * Allocation decisions, after the hierarchical allocator: each cycle, every active agent's
 * unallocated resources go to the (framework, role) pairs that may use them, least-allocated
 * framework first; suppressed roles get nothing; refuse filters hold per (framework, role, agent).
 */
import type { Framework } from './framework-registry';
import type { AgentRecord } from './agent-registry';
import {
  type Resource,
  contains,
  isAllocatableTo,
  isRefined,
  isEmpty,
  scalar,
  has,
} from './resources';

/** Filters.refuse_seconds defaults, caps (HierarchicalAllocatorProcess::recoverResources). */
export const DEFAULT_REFUSE_SECONDS = 5;
const MAX_REFUSE_SECONDS = 365 * 24 * 60 * 60;

export function refuseSecondsOf(filters: { refuse_seconds?: number | null } | null | undefined): number {
  if (!filters || !has(filters, 'refuse_seconds')) return DEFAULT_REFUSE_SECONDS;
  const value = Number(filters.refuse_seconds);
  if (!Number.isFinite(value) && value > 0) return MAX_REFUSE_SECONDS;
  if (Number.isNaN(value) || value < 0) return DEFAULT_REFUSE_SECONDS;
  return Math.min(value, MAX_REFUSE_SECONDS);
}

interface RefusalFilter {
  resources: Resource[];
  expiresAt: number;
}

export interface Allocation {
  framework: Framework;
  agent: AgentRecord;
  role: string;
  resources: Resource[];
}

export class Allocator {
  private readonly filters = new Map<string, RefusalFilter>();

  constructor(private readonly now: () => number = Date.now) {}

  private key(frameworkId: string, role: string, agentId: string): string {
    return `${frameworkId}\u0000${role}\u0000${agentId}`;
  }

  /** Declined or left-over resources: not offered to this framework/role on this agent again for a while. */
  refuse(frameworkId: string, role: string, agentId: string, resources: Resource[], refuseSeconds: number): void {
    if (refuseSeconds <= 0 || isEmpty(resources)) return;
    this.filters.set(this.key(frameworkId, role, agentId), {
      resources,
      expiresAt: this.now() + refuseSeconds * 1000,
    });
  }

  /** REVIVE: drop the framework's filters for the roles (all when empty). */
  clearFilters(frameworkId: string, roles?: readonly string[]): void {
    for (const key of [...this.filters.keys()]) {
      const [fw, role] = key.split('\u0000');
      if (fw === frameworkId && (!roles || roles.length === 0 || roles.includes(role))) this.filters.delete(key);
    }
  }

  removeFramework(frameworkId: string): void {
    this.clearFilters(frameworkId);
  }

  private isFiltered(frameworkId: string, role: string, agentId: string, resources: Resource[]): boolean {
    const key = this.key(frameworkId, role, agentId);
    const filter = this.filters.get(key);
    if (!filter) return false;
    if (filter.expiresAt <= this.now()) {
      this.filters.delete(key);
      return false;
    }
    // RefusedOfferFilter: filtered while the new resources are within the refused ones.
    return contains(filter.resources, resources);
  }

  /**
   * One cycle. `available` gives an agent's unallocated resources (no allocation_info).
   * Returns what to offer; the caller turns it into offers.
   */
  allocate(frameworks: Framework[], agents: AgentRecord[], available: (agent: AgentRecord) => Resource[], allocatedCpus: (f: Framework) => number): Allocation[] {
    const out: Allocation[] = [];
    const candidates = frameworks.filter((f) => f.active && f.connected);
    if (candidates.length === 0) return out;
    const given = new Map<string, number>();
    for (const agent of agents) {
      let remaining = available(agent);
      const order = [...candidates].sort(
        (a, b) => allocatedCpus(a) + (given.get(a.id) ?? 0) - (allocatedCpus(b) + (given.get(b.id) ?? 0)),
      );
      for (const framework of order) {
        for (const role of framework.roles) {
          if (framework.suppressedRoles.has(role)) continue;
          const usable = remaining.filter(
            (r) =>
              isAllocatableTo(r, role) &&
              (framework.reservationRefinement || !isRefined(r)) &&
              (framework.sharedResources || !has(r, 'shared')),
          );
          if (!isAllocatable(usable)) continue;
          if (this.isFiltered(framework.id, role, agent.id, usable)) continue;
          out.push({ framework, agent, role, resources: usable });
          given.set(framework.id, (given.get(framework.id) ?? 0) + scalar(usable, 'cpus'));
          const usedSet = new Set(usable);
          remaining = remaining.filter((r) => !usedSet.has(r));
        }
      }
    }
    return out;
  }
}

/** Default --min_allocatable_resources: cpus:0.01|mem:32. */
function isAllocatable(resources: Resource[]): boolean {
  return scalar(resources, 'cpus') >= 0.01 || scalar(resources, 'mem') >= 32;
}
