/**
 * The agent's total resources as the master last checkpointed them (reservations and persistent
 * volumes included), kept on disk like the real agent's `meta/slaves/<id>/resources` checkpoint,
 * plus the persistent volume directories `<workDir>/volumes/roles/<role>/<persistenceId>`
 * (src/slave/paths.cpp). Written with temp file + rename so a crash never leaves half a file.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { mesos } from '../../generated/mesos';
import { fromMesosJson, toMesosJson } from '../../codec';
import { silentLogger, type Logger } from '../../../shared/logger';
import { assertPathComponent } from './sandbox';

export interface PersistentVolumeId {
  role: string;
  persistenceId: string;
}

/** The role a resource is reserved for: the last refinement, else the legacy `role`, else `*`. */
export function resourceRole(resource: mesos.v1.IResource): string {
  const reservations = resource.reservations ?? [];
  const last = reservations[reservations.length - 1];
  if (last?.role) return last.role;
  if (resource.reservation?.role) return resource.reservation.role;
  return resource.role || '*';
}

/** Role and persistence ID of a persistent volume resource, or undefined for any other resource. */
export function persistentVolumeId(resource: mesos.v1.IResource): PersistentVolumeId | undefined {
  const id = resource.disk?.persistence?.id;
  if (!id) return undefined;
  return { role: resourceRole(resource), persistenceId: id };
}

export class CheckpointedResources {
  private current: mesos.v1.IResource[];
  private readonly file: string;
  private readonly logger: Logger;

  constructor(
    private readonly workDir: string,
    agentId: string,
    initial: mesos.v1.IResource[],
    logger: Logger = silentLogger,
  ) {
    assertPathComponent('agent ID', agentId);
    this.logger = logger;
    this.file = path.join(workDir, 'meta', 'slaves', agentId, 'resources.json');
    this.current = this.load() ?? clone(initial);
  }

  get total(): mesos.v1.IResource[] {
    return clone(this.current);
  }

  /** Host directory of a persistent volume. Hierarchical roles (`a/b`) become nested directories. */
  volumePath(role: string, persistenceId: string): string {
    const segments = role.split('/');
    segments.forEach((s) => assertPathComponent('role', s));
    assertPathComponent('persistence ID', persistenceId);
    return path.join(this.workDir, 'volumes', 'roles', ...segments, persistenceId);
  }

  /**
   * Takes the master's new total: persists it, creates directories for new persistent volumes
   * and deletes those of volumes that are no longer in the total (DESTROY).
   */
  update(total: mesos.v1.IResource[]): void {
    const before = volumeKeys(this.current);
    const after = volumeKeys(total);
    for (const [key, id] of after) {
      if (!before.has(key)) fs.mkdirSync(this.volumePath(id.role, id.persistenceId), { recursive: true });
    }
    this.persist(total);
    this.current = clone(total);
    for (const [key, id] of before) {
      if (after.has(key)) continue;
      const dir = this.volumePath(id.role, id.persistenceId);
      fs.rmSync(dir, { recursive: true, force: true });
      this.logger.info('Deleted persistent volume', { role: id.role, persistenceId: id.persistenceId, dir });
    }
  }

  private persist(total: mesos.v1.IResource[]): void {
    fs.mkdirSync(path.dirname(this.file), { recursive: true });
    const tmp = `${this.file}.tmp-${process.pid}`;
    fs.writeFileSync(
      tmp,
      JSON.stringify(
        total.map((r) => toMesosJson(mesos.v1.Resource, r)),
        null,
        2,
      ),
    );
    fs.renameSync(tmp, this.file);
  }

  private load(): mesos.v1.IResource[] | undefined {
    let text: string;
    try {
      text = fs.readFileSync(this.file, 'utf8');
    } catch {
      return undefined;
    }
    try {
      const parsed: unknown = JSON.parse(text);
      if (Array.isArray(parsed)) return clone(parsed.map((r) => fromMesosJson(mesos.v1.Resource, r)));
    } catch {
      // fall through
    }
    this.logger.warn('Ignoring unreadable resources checkpoint', { file: this.file });
    return undefined;
  }
}

function volumeKeys(resources: mesos.v1.IResource[]): Map<string, PersistentVolumeId> {
  const out = new Map<string, PersistentVolumeId>();
  for (const r of resources) {
    const id = persistentVolumeId(r);
    if (id) out.set(`${id.role}\u0000${id.persistenceId}`, id);
  }
  return out;
}

/** Deep copies as plain objects (numeric enums), whether given plain objects or message instances. */
function clone(resources: mesos.v1.IResource[]): mesos.v1.IResource[] {
  return resources.map(
    (r) => mesos.v1.Resource.toObject(mesos.v1.Resource.fromObject(r as unknown as { [k: string]: unknown })) as mesos.v1.IResource,
  );
}
