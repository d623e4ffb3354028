/**
 * What the local master keeps across restarts, as a real master's registry does
 * (src/master/registry.proto): the admitted agents (their AgentInfo), the unreachable ones and the
 * gone ones, each with the time it happened. Frameworks are not in it: a real master learns them
 * again when they re-subscribe with their framework ID after a failover.
 *
 * One JSON file (`<workDir>/master/registry.json`), replaced with a temp file + rename on every
 * change; without a file the registry lives in memory.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { mesos } from '../../generated/mesos';
import { fromMesosJson, toMesosJson } from '../../codec';

interface RegistryFile {
  agents: unknown[];
  unreachable: Array<{ id: string; timestamp: number }>;
  gone: Array<{ id: string; timestamp: number }>;
}

/** The registry file cannot be read: the master does not start over an unknown state. */
export class MasterRegistryError extends Error {
  override name = 'MasterRegistryError';
}

export class MasterRegistry {
  private readonly admittedAgents = new Map<string, mesos.v1.IAgentInfo>();
  /** Agent ID → when it was marked unreachable (seconds since the epoch). */
  private readonly unreachableAgents = new Map<string, number>();
  /** Agent ID → when it was marked gone. */
  private readonly goneAgents = new Map<string, number>();

  private constructor(private readonly file: string | undefined) {}

  /** The registry in `file` (empty when there is none yet), or an in-memory one. */
  static open(file?: string): MasterRegistry {
    const registry = new MasterRegistry(file);
    if (file) registry.load(file);
    return registry;
  }

  admitted(): mesos.v1.IAgentInfo[] {
    return [...this.admittedAgents.values()];
  }

  unreachableSince(agentId: string): number | undefined {
    return this.unreachableAgents.get(agentId);
  }

  goneSince(agentId: string): number | undefined {
    return this.goneAgents.get(agentId);
  }

  /** An agent (re-)registered: admitted, and no longer unreachable or gone. */
  admit(info: mesos.v1.IAgentInfo): void {
    const id = info.id?.value ?? '';
    this.admittedAgents.set(id, info);
    this.unreachableAgents.delete(id);
    this.goneAgents.delete(id);
    this.save();
  }

  markUnreachable(agentId: string, timestamp: number): void {
    this.admittedAgents.delete(agentId);
    this.unreachableAgents.set(agentId, timestamp);
    this.save();
  }

  markGone(agentId: string, timestamp: number): void {
    this.admittedAgents.delete(agentId);
    this.unreachableAgents.delete(agentId);
    this.goneAgents.set(agentId, timestamp);
    this.save();
  }

  /** An agent that unregistered (graceful shutdown) is forgotten. */
  remove(agentId: string): void {
    const had = this.admittedAgents.delete(agentId) || this.unreachableAgents.delete(agentId);
    if (had) this.save();
  }

  private load(file: string): void {
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw new MasterRegistryError(`Cannot read the local master's registry ${file}: ${(err as Error).message}`);
    }
    try {
      const parsed = JSON.parse(text) as Partial<RegistryFile>;
      for (const json of parsed.agents ?? []) {
        const info = mesos.v1.AgentInfo.toObject(fromMesosJson(mesos.v1.AgentInfo, json), { longs: Number }) as mesos.v1.IAgentInfo;
        if (!info.id?.value) throw new Error('an agent without an ID');
        this.admittedAgents.set(info.id.value, info);
      }
      for (const { id, timestamp } of parsed.unreachable ?? []) this.unreachableAgents.set(String(id), Number(timestamp));
      for (const { id, timestamp } of parsed.gone ?? []) this.goneAgents.set(String(id), Number(timestamp));
    } catch (err) {
      throw new MasterRegistryError(
        `The local master's registry ${file} is unreadable (${(err as Error).message}). Move it aside to start ` +
          'with an empty registry: agents that re-register are admitted again, as a real master admits them.',
      );
    }
  }

  private save(): void {
    if (!this.file) return;
    const content: RegistryFile = {
      agents: this.admitted().map((info) => toMesosJson(mesos.v1.AgentInfo, info)),
      unreachable: [...this.unreachableAgents].map(([id, timestamp]) => ({ id, timestamp })),
      gone: [...this.goneAgents].map(([id, timestamp]) => ({ id, timestamp })),
    };
    fs.mkdirSync(path.dirname(this.file), { recursive: true });
    const tmp = `${this.file}.tmp-${process.pid}`;
    fs.writeFileSync(tmp, `${JSON.stringify(content, null, 2)}\n`);
    fs.renameSync(tmp, this.file);
  }
}
