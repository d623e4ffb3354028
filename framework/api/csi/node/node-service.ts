/**
 * The CSI Node service of `polly csi node`: publishing a volume on this host is a bind mount of the
 * volume's directory (found from the volume ID and Polly's configuration, never from the request)
 * at the target path, read-only when asked. It only mounts what Polly's controller published to
 * this node (the publish context names the node; a CO that calls only the node service, like Mesos'
 * volume/csi isolator, runs with `csi.node.requirePublishContext: false`), creates the target directory and removes it
 * again on unpublish, and never deletes data: a target that is not empty after unmounting is left
 * alone and reported. Staging only when configured (`csi.node.stageVolumes`: the directory is bound at
 * the staging path, and the staging path at each target); no expansion.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { AlreadyExistsError } from '../../../errors/already-exists-error';
import { NotFoundError } from '../../../errors/not-found-error';
import { NotImplementedError } from '../../../errors/not-implemented-error';
import { PreconditionFailedError } from '../../../errors/precondition-failed-error';
import { ValidationError } from '../../../errors/validation-error';
import { checkCapabilityShape, isReaderOnly, isSingleNode, Problems, unsupportedCapability } from '../csi-checks';
import type {
  NodeGetVolumeStatsRequest,
  NodePublishVolumeRequest,
  NodeStageVolumeRequest,
  NodeUnpublishVolumeRequest,
  NodeUnstageVolumeRequest,
} from '../csi-messages';
import type { CsiMethod, CsiMethods } from '../csi-server';
import { ZONE_KEY } from '../controller/csi-topology';
import { InFlight } from '../in-flight';
import { PUBLISH_CONTEXT_MODE, PUBLISH_CONTEXT_NODE } from '../publish-context';
import { MountTable, sameInode } from './mount-table';
import type { NodeVolumes, VolumeLocation } from './node-volumes';
import { volumeUsage } from './volume-stats';

export interface NodeServiceOptions {
  nodeId: string;
  zone?: string;
  /** 0: no limit known. */
  maxVolumesPerNode: number;
  /** Refuse a publish without Polly's publish context (default true; see `csi.node.requirePublishContext`). */
  requirePublishContext?: boolean;
  /**
   * Stage volumes (STAGE_UNSTAGE_VOLUME): NodeStageVolume binds the volume's directory at the staging
   * path and NodePublishVolume binds the staging path at the target (`csi.node.stageVolumes`).
   */
  stageVolumes?: boolean;
  volumes: NodeVolumes;
  mounts?: MountTable;
}

function isErrno(err: unknown, code: string): boolean {
  return (err as NodeJS.ErrnoException)?.code === code;
}

export class NodeService {
  private readonly mounts: MountTable;
  private readonly inFlight = new InFlight();

  constructor(private readonly options: NodeServiceOptions) {
    this.mounts = options.mounts ?? new MountTable();
  }

  methods(): CsiMethods {
    const volume = (r: { volume_id: string; target_path?: string }): Record<string, unknown> => ({
      volumeId: r.volume_id,
      target: r.target_path,
    });
    const staging = (r: { volume_id: string; staging_target_path?: string }): Record<string, unknown> => ({
      volumeId: r.volume_id,
      staging: r.staging_target_path,
    });
    const unimplemented = (what: string): CsiMethod<never, never> => ({
      handle: () => {
        throw new NotImplementedError(what);
      },
    });
    return {
      NodeGetInfo: {
        handle: () => ({
          node_id: this.options.nodeId,
          max_volumes_per_node: this.options.maxVolumesPerNode,
          ...(this.options.zone ? { accessible_topology: { segments: { [ZONE_KEY]: this.options.zone } } } : {}),
        }),
      },
      NodeGetCapabilities: {
        handle: () => ({
          capabilities: [
            { rpc: { type: 'GET_VOLUME_STATS' } },
            ...(this.options.stageVolumes ? [{ rpc: { type: 'STAGE_UNSTAGE_VOLUME' } }] : []),
          ],
        }),
      },
      NodePublishVolume: { handle: (r: NodePublishVolumeRequest) => this.publish(r), mutating: true, fields: volume },
      NodeUnpublishVolume: { handle: (r: NodeUnpublishVolumeRequest) => this.unpublish(r), mutating: true, fields: volume },
      NodeGetVolumeStats: {
        handle: (r: NodeGetVolumeStatsRequest) => this.stats(r),
        fields: (r: NodeGetVolumeStatsRequest) => ({ volumeId: r.volume_id }),
      },
      NodeStageVolume: this.options.stageVolumes
        ? { handle: (r: NodeStageVolumeRequest) => this.stage(r), mutating: true, fields: staging }
        : unimplemented('NodeStageVolume is not implemented: Polly binds volumes at publish time (no STAGE_UNSTAGE_VOLUME)'),
      NodeUnstageVolume: this.options.stageVolumes
        ? { handle: (r: NodeUnstageVolumeRequest) => this.unstage(r), mutating: true, fields: staging }
        : unimplemented('NodeUnstageVolume is not implemented: Polly binds volumes at publish time (no STAGE_UNSTAGE_VOLUME)'),
      // Never needed: ControllerExpandVolume answers node_expansion_required false, and EXPAND_VOLUME is not a node capability.
      NodeExpandVolume: unimplemented(
        'NodeExpandVolume is not implemented: Polly volumes are directories with nothing to grow at the node',
      ),
    };
  }

  /** The volume's directory on this host; NOT_FOUND or FAILED_PRECONDITION when there is none to publish. */
  private async dataDir(volumeId: string): Promise<string> {
    const where: VolumeLocation = this.options.volumes.locate(volumeId);
    if (where.kind === 'unknown') throw new NotFoundError(`${where.why}: no such volume`, { volumeId });
    if (where.kind === 'not-node-publishable') throw new PreconditionFailedError(where.why, { volumeId });
    const stat = await fs.stat(where.dir).catch(() => undefined);
    if (!stat?.isDirectory()) {
      throw new NotFoundError(
        `Volume ${volumeId} has no data directory here (${where.dir}): it does not exist, or the service's shared root is not mounted on this host`,
        { volumeId },
      );
    }
    return where.dir;
  }

  async publish(req: NodePublishVolumeRequest): Promise<object> {
    const problems = new Problems();
    problems.required(req.volume_id, 'volume_id');
    problems.required(req.target_path, 'target_path');
    checkCapabilityShape(req.volume_capability, 'volume_capability', problems);
    if (req.target_path && !path.isAbsolute(req.target_path)) problems.add('target_path must be an absolute path');
    problems.throwIfAny('NodePublishVolume');
    const capability = req.volume_capability!;
    const unsupported = unsupportedCapability(capability);
    if (unsupported) throw ValidationError.field('volume_capability', `NodePublishVolume: volume_capability: ${unsupported}`);
    const target = path.normalize(req.target_path);
    this.checkPublishedHere(req.volume_id, req.publish_context);
    const mode = capability.access_mode!.mode;
    const readOnly = req.readonly || isReaderOnly(mode);
    if (req.publish_context[PUBLISH_CONTEXT_MODE] === 'RO' && !readOnly) {
      throw new PreconditionFailedError(
        `Volume ${req.volume_id} is published to this node read-only: NodePublishVolume must ask for readonly`,
        { volumeId: req.volume_id },
      );
    }
    const dir = await this.dataDir(req.volume_id);
    // Staged: the target is bound from the staging path, which must hold this volume.
    const staged = this.options.stageVolumes ? path.normalize(req.staging_target_path ?? '') : undefined;
    if (staged !== undefined) {
      if (!req.staging_target_path || !path.isAbsolute(req.staging_target_path)) {
        throw ValidationError.field('staging_target_path', 'NodePublishVolume: staging_target_path is required (this node stages volumes)');
      }
      if (!(await this.mounts.topAt(staged)) || !(await sameInode(staged, dir))) {
        throw new PreconditionFailedError(`Volume ${req.volume_id} is not staged at ${staged}: call NodeStageVolume first`, {
          volumeId: req.volume_id,
        });
      }
    }
    const source = staged ?? dir;
    const flags = [
      ...new Set([...(capability.mount?.mount_flags ?? []).filter((f) => f !== 'ro' && f !== 'rw'), ...(readOnly ? ['ro'] : [])]),
    ];
    // One call per target; a single-node volume also one call at a time (its one-target check must not race).
    const keys = isSingleNode(mode) ? [`target/${target}`, `volume/${req.volume_id}`] : [`target/${target}`];
    return this.inFlight.run(keys, 'NodePublishVolume', async () => {
      const top = await this.mounts.topAt(target);
      if (top) {
        if (!(await sameInode(target, dir))) {
          throw new PreconditionFailedError(`Target ${target} already has another mount; unmount it or choose another target path`, {
            volumeId: req.volume_id,
          });
        }
        if (top.options.includes('ro') !== readOnly) {
          throw new AlreadyExistsError(
            `Volume ${req.volume_id} is already published at ${target} ${top.options.includes('ro') ? 'read-only' : 'read-write'}; unpublish it first to publish it ${readOnly ? 'read-only' : 'read-write'}`,
            { volumeId: req.volume_id },
          );
        }
        return {}; // already there, as asked
      }
      if (isSingleNode(mode)) {
        const elsewhere = (await this.mounts.bindsOf(dir)).filter((p) => p !== target && p !== staged);
        if (elsewhere.length > 0) {
          throw new PreconditionFailedError(
            `Volume ${req.volume_id} (${mode}) is already published on this node at ${elsewhere.join(', ')}; a single-node volume is published at one target`,
            { volumeId: req.volume_id },
          );
        }
      }
      const created = await this.makeTarget(target);
      try {
        await this.mounts.bind(source, target, flags);
        if (readOnly && !(await this.mounts.topAt(target))?.options.includes('ro')) await this.mounts.remountReadOnly(target);
      } catch (err) {
        await this.mounts.unmount(target).catch(() => undefined);
        if (created) await fs.rmdir(target).catch(() => undefined);
        throw err;
      }
      return {};
    });
  }

  /** Refuses a volume Polly's controller published to another node, or to none when a publish context is required. */
  private checkPublishedHere(volumeId: string, context: Record<string, string>): void {
    const publishedTo = context[PUBLISH_CONTEXT_NODE];
    if (publishedTo === undefined && this.options.requirePublishContext !== false) {
      throw new PreconditionFailedError(
        `Volume ${volumeId} was not published by Polly's controller (the publish context names no node): ` +
          `call ControllerPublishVolume for node ${this.options.nodeId} first (a CO that calls only the node service needs csi.node.requirePublishContext: false)`,
        { volumeId },
      );
    }
    if (publishedTo !== undefined && publishedTo !== this.options.nodeId) {
      throw new PreconditionFailedError(
        `Volume ${volumeId} is published to node ${publishedTo}, not to this node (${this.options.nodeId}): publish it to ${this.options.nodeId} first`,
        { volumeId, nodeId: publishedTo },
      );
    }
  }

  /** NodeStageVolume: the volume's directory bound at the staging path (which the CO made). */
  async stage(req: NodeStageVolumeRequest): Promise<object> {
    const problems = new Problems();
    problems.required(req.volume_id, 'volume_id');
    problems.required(req.staging_target_path, 'staging_target_path');
    checkCapabilityShape(req.volume_capability, 'volume_capability', problems);
    if (req.staging_target_path && !path.isAbsolute(req.staging_target_path)) problems.add('staging_target_path must be an absolute path');
    problems.throwIfAny('NodeStageVolume');
    const unsupported = unsupportedCapability(req.volume_capability!);
    if (unsupported) throw ValidationError.field('volume_capability', `NodeStageVolume: volume_capability: ${unsupported}`);
    this.checkPublishedHere(req.volume_id, req.publish_context);
    const staging = path.normalize(req.staging_target_path);
    const dir = await this.dataDir(req.volume_id);
    return this.inFlight.run([`target/${staging}`, `volume/${req.volume_id}`], 'NodeStageVolume', async () => {
      const stat = await fs.stat(staging).catch(() => undefined);
      if (!stat?.isDirectory()) throw new PreconditionFailedError(`Staging path ${staging} is not a directory; the CO must create it`);
      if (await this.mounts.topAt(staging)) {
        if (await sameInode(staging, dir)) return {}; // staged already
        throw new AlreadyExistsError(`Staging path ${staging} holds another mount; unstage it first`, { volumeId: req.volume_id });
      }
      await this.mounts.bind(dir, staging, []);
      return {};
    });
  }

  /** NodeUnstageVolume: the staging path's bind mount undone (the path itself is the CO's). */
  async unstage(req: NodeUnstageVolumeRequest): Promise<object> {
    const problems = new Problems();
    problems.required(req.volume_id, 'volume_id');
    problems.required(req.staging_target_path, 'staging_target_path');
    if (req.staging_target_path && !path.isAbsolute(req.staging_target_path)) problems.add('staging_target_path must be an absolute path');
    problems.throwIfAny('NodeUnstageVolume');
    const staging = path.normalize(req.staging_target_path);
    const dir = await this.existingDirOf(req.volume_id);
    return this.inFlight.run([`target/${staging}`, `volume/${req.volume_id}`], 'NodeUnstageVolume', async () => {
      await this.unmountVolumeAt(staging, 'Staging path', req.volume_id, dir);
      return {};
    });
  }

  /** The volume's directory on this node, when it is a directory volume that exists here. */
  private async existingDirOf(volumeId: string): Promise<string | undefined> {
    const where = this.options.volumes.locate(volumeId);
    return where.kind === 'dir' && (await fs.stat(where.dir).catch(() => undefined)) ? where.dir : undefined;
  }

  /**
   * Undoes every mount stacked at `at`, as long as each is the volume (`dir`, when known): a mount of
   * something else is refused and left alone.
   */
  private async unmountVolumeAt(at: string, what: string, volumeId: string, dir: string | undefined): Promise<void> {
    while (await this.mounts.topAt(at)) {
      if (dir !== undefined && !(await sameInode(at, dir))) {
        throw new PreconditionFailedError(`${what} ${at} holds a mount that is not volume ${volumeId}; Polly leaves it alone`, {
          volumeId,
        });
      }
      await this.mounts.unmount(at);
    }
  }

  /** Creates the target directory (its parent must exist); true when this call created it. */
  private async makeTarget(target: string): Promise<boolean> {
    try {
      await fs.mkdir(target);
      return true;
    } catch (err) {
      if (isErrno(err, 'ENOENT')) {
        throw new PreconditionFailedError(`The parent directory of target ${target} does not exist; the CO must create it`);
      }
      if (!isErrno(err, 'EEXIST')) throw err;
    }
    const stat = await fs.lstat(target);
    if (!stat.isDirectory()) throw new PreconditionFailedError(`Target ${target} exists and is not a directory`);
    return false;
  }

  async unpublish(req: NodeUnpublishVolumeRequest): Promise<object> {
    const problems = new Problems();
    problems.required(req.volume_id, 'volume_id');
    problems.required(req.target_path, 'target_path');
    if (req.target_path && !path.isAbsolute(req.target_path)) problems.add('target_path must be an absolute path');
    problems.throwIfAny('NodeUnpublishVolume');
    const target = path.normalize(req.target_path);
    const dir = await this.existingDirOf(req.volume_id);
    return this.inFlight.run([`target/${target}`], 'NodeUnpublishVolume', async () => {
      await this.unmountVolumeAt(target, 'Target', req.volume_id, dir);
      let stat;
      try {
        stat = await fs.lstat(target);
      } catch (err) {
        if (isErrno(err, 'ENOENT')) return {}; // nothing there: unpublished
        throw err;
      }
      if (!stat.isDirectory()) throw new PreconditionFailedError(`Target ${target} is not a directory Polly made; remove it yourself`);
      try {
        await fs.rmdir(target);
      } catch (err) {
        if (isErrno(err, 'ENOTEMPTY') || isErrno(err, 'EEXIST')) {
          throw new PreconditionFailedError(
            `Target ${target} is not empty after unmounting volume ${req.volume_id}: Polly does not delete data; empty or move it, then retry`,
            { volumeId: req.volume_id },
          );
        }
        if (!isErrno(err, 'ENOENT')) throw err;
      }
      return {};
    });
  }

  async stats(req: NodeGetVolumeStatsRequest): Promise<object> {
    const problems = new Problems();
    problems.required(req.volume_id, 'volume_id');
    problems.required(req.volume_path, 'volume_path');
    problems.throwIfAny('NodeGetVolumeStats');
    const dir = await this.dataDir(req.volume_id);
    const volumePath = req.volume_path;
    if (!path.isAbsolute(volumePath) || !(await sameInode(volumePath, dir))) {
      throw new NotFoundError(`Volume ${req.volume_id} is not published at ${JSON.stringify(volumePath.slice(0, 300))}`, {
        volumeId: req.volume_id,
      });
    }
    return { usage: await volumeUsage(volumePath, dir) };
  }
}
