/**
 * The local agent's `volume/csi` isolator, as Mesos 1.11's
 * (src/slave/containerizer/mesos/isolators/volume/csi/isolator.cpp): for a launching container it
 * checks its CSI_VOLUME volumes (a reader-only access mode cannot be used read-write, a volume only
 * once), checkpoints which volumes the container uses under
 * `<work_dir>/isolators/volume/csi/<container id>/volumes`, then has each plugin stage and publish
 * them (csi-node-volumes.ts); the published target path is what the task's container path shows.
 * When the container ends, each volume no other container on the agent still uses is unpublished
 * (and unstaged). A restarted agent takes the checkpoints back: no container of an earlier run
 * survives here, so their volumes are unpublished then. A failure fails the launch with the
 * isolator's message (REASON_CONTAINER_LAUNCH_FAILED).
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { mesos } from '../../generated/mesos';
import type { Logger } from '../../../shared/logger';
import { CsiNodeVolumes, defaultSecretResolver, type SecretResolver } from './csi-node-volumes';
import { readCsiPluginInfo } from './csi-plugin-configs';
import { ContainerLaunchError } from './errors';

const SourceType = mesos.v1.Volume.Source.Type;
const Mode = mesos.v1.Volume.Source.CSIVolume.VolumeCapability.AccessMode.Mode;

/** What is checkpointed per container (Mesos' CSIVolumes). */
interface ContainerVolumes {
  volumes: Array<{ plugin_name: string; id: string }>;
}

export interface CsiVolumeIsolatorOptions {
  workDir: string;
  /** The agent's `--csi_plugin_config_dir`. */
  pluginConfigDir: string;
  logger: Logger;
  resolveSecret?: SecretResolver;
}

export function isCsiVolume(volume: mesos.v1.IVolume): boolean {
  return volume.source?.type === SourceType.CSI_VOLUME;
}

const volumeKey = (plugin: string, id: string): string => `${plugin}\u0000${id}`;

export class CsiVolumeIsolator {
  private readonly rootDir: string;
  private readonly plugins = new Map<string, CsiNodeVolumes>();
  /** Container ID → the CSI volumes it uses (`plugin\0id`). */
  private readonly infos = new Map<string, Set<string>>();
  private readonly pending = new Set<Promise<unknown>>();
  /** Containers cleaned up before their volumes were prepared (killed while launching): they publish nothing. */
  private readonly ended = new Set<string>();

  constructor(private readonly options: CsiVolumeIsolatorOptions) {
    this.rootDir = path.join(options.workDir, 'isolators', 'volume', 'csi');
  }

  /**
   * Publishes the container's CSI volumes; the target path of each by container path. Throws
   * ContainerLaunchError with every failure (one line each).
   */
  async prepare(containerId: string, volumes: readonly mesos.v1.IVolume[]): Promise<Map<string, string>> {
    const csi = volumes.filter(isCsiVolume);
    const targets = new Map<string, string>();
    if (csi.length === 0) return targets;
    if (this.ended.delete(containerId)) throw new ContainerLaunchError('The container was destroyed before its CSI volumes were published');
    const seen = new Set<string>();
    for (const volume of csi) {
      const source = volume.source?.csi_volume;
      const sp = source?.static_provisioning;
      if (!source?.plugin_name || !sp?.volume_id) {
        throw new ContainerLaunchError(
          `The CSI volume at '${volume.container_path}' needs csi_volume.plugin_name and static_provisioning.volume_id`,
        );
      }
      const mode = sp.volume_capability?.access_mode?.mode;
      if ((mode === Mode.SINGLE_NODE_READER_ONLY || mode === Mode.MULTI_NODE_READER_ONLY) && volume.mode === mesos.v1.Volume.Mode.RW) {
        throw new ContainerLaunchError(`Cannot use the read-only volume '${sp.volume_id}' in read-write mode`);
      }
      const key = volumeKey(source.plugin_name, sp.volume_id);
      if (seen.has(key)) {
        throw new ContainerLaunchError(`Found duplicate CSI volume with plugin '${source.plugin_name}' and volume ID '${sp.volume_id}'`);
      }
      seen.add(key);
    }
    await this.checkpoint(containerId, seen);
    this.infos.set(containerId, seen);
    const results = await Promise.allSettled(
      csi.map(async (volume) => {
        const source = volume.source!.csi_volume!;
        return { volume, target: await this.plugin(source.plugin_name).publish(volume) };
      }),
    );
    const failures = results.flatMap((r) => (r.status === 'rejected' ? [(r.reason as Error).message] : []));
    if (failures.length > 0) throw new ContainerLaunchError(failures.join('\n'));
    for (const r of results) if (r.status === 'fulfilled') targets.set(r.value.volume.container_path, r.value.target);
    return targets;
  }

  /** The container ended: unpublish each of its volumes no other container uses. Never throws (logs). */
  cleanup(containerId: string): Promise<void> {
    const run = this.cleanupNow(containerId);
    this.pending.add(run);
    void run.finally(() => this.pending.delete(run));
    return run;
  }

  /**
   * A restarted agent: every container of the earlier run is gone, so each checkpointed container's
   * volumes are unpublished (a checkpoint whose unpublish fails is kept for the next start).
   */
  async recover(): Promise<void> {
    let entries: string[] = [];
    try {
      entries = await fsp.readdir(this.rootDir);
    } catch {
      return; // nothing checkpointed
    }
    for (const containerId of entries) {
      try {
        const read = JSON.parse(await fsp.readFile(path.join(this.rootDir, containerId, 'volumes'), 'utf8')) as ContainerVolumes;
        this.infos.set(containerId, new Set(read.volumes.map((v) => volumeKey(v.plugin_name, v.id))));
      } catch {
        // Died before anything was checkpointed: nothing to unpublish.
        this.infos.set(containerId, new Set());
      }
    }
    for (const containerId of entries) {
      this.options.logger.info('Cleaning up CSI volumes of a container of an earlier run', { containerId });
      await this.cleanup(containerId);
    }
  }

  /** Waits for cleanups under way (agent stop). */
  async idle(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }

  close(): void {
    for (const p of this.plugins.values()) p.close();
    this.plugins.clear();
  }

  private async cleanupNow(containerId: string): Promise<void> {
    const mine = this.infos.get(containerId);
    if (!mine) {
      this.ended.add(containerId);
      return;
    }
    // Erased before unpublishing, so a failed unpublish does not keep counting this container.
    this.infos.delete(containerId);
    const failures: string[] = [];
    for (const key of mine) {
      const inUse = [...this.infos.values()].some((other) => other.has(key));
      const [plugin, volumeId] = key.split('\u0000') as [string, string];
      if (inUse) {
        this.options.logger.debug('CSI volume still used by another container; not unpublished', { containerId, plugin, volumeId });
        continue;
      }
      try {
        await this.plugin(plugin).unpublish(volumeId);
      } catch (err) {
        failures.push((err as Error).message);
      }
    }
    if (failures.length > 0) {
      this.options.logger.error('Failed to clean up the CSI volumes of a container; kept for the next start', {
        containerId,
        error: failures.join('\n'),
      });
      return;
    }
    await fsp.rm(path.join(this.rootDir, containerId), { recursive: true, force: true });
  }

  private plugin(type: string): CsiNodeVolumes {
    let plugin = this.plugins.get(type);
    if (!plugin) {
      let info;
      try {
        info = readCsiPluginInfo(this.options.pluginConfigDir, type, this.options.logger);
      } catch (err) {
        throw new ContainerLaunchError(`Failed to initialize CSI plugin '${type}': ${(err as Error).message}`);
      }
      plugin = new CsiNodeVolumes(info, this.options.workDir, this.options.logger, this.options.resolveSecret ?? defaultSecretResolver);
      this.plugins.set(type, plugin);
    }
    return plugin;
  }

  private async checkpoint(containerId: string, volumes: Set<string>): Promise<void> {
    const file = path.join(this.rootDir, containerId, 'volumes');
    const state: ContainerVolumes = {
      volumes: [...volumes].map((key) => {
        const [plugin_name, id] = key.split('\u0000') as [string, string];
        return { plugin_name, id };
      }),
    };
    try {
      await fsp.mkdir(path.dirname(file), { recursive: true });
      await fsp.writeFile(`${file}.tmp`, JSON.stringify(state));
      await fsp.rename(`${file}.tmp`, file);
    } catch (err) {
      throw new ContainerLaunchError(`Failed to checkpoint CSI volumes at '${file}': ${(err as Error).message}`);
    }
  }
}
