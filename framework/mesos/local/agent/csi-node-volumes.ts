/**
 * The node side of one CSI plugin on a local agent, as Mesos' CSI volume manager does it for
 * pre-provisioned volumes (src/csi/v1_volume_manager.cpp): NodeStageVolume (when the plugin has
 * STAGE_UNSTAGE_VOLUME) then NodePublishVolume to publish, NodeUnpublishVolume then
 * NodeUnstageVolume to unpublish, one operation at a time per volume, each step's state
 * checkpointed first so a restarted agent finishes what it began. Paths are Mesos':
 *
 *   <work_dir>/csi/<type>/<name>/mounts/<volume id>/staging     staging_target_path
 *   <work_dir>/csi/<type>/<name>/mounts/<volume id>/target      target_path (or under target_path_root)
 *   <work_dir>/csi/<type>/<name>/volumes/<volume id>/volume.state
 *
 * (the volume ID percent-encoded). The target path is per volume, not per container: containers
 * on the agent that use one volume share its publication. Nothing here deletes data: only empty
 * directories the agent made are removed, and a target the plugin leaves behind is reported.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { csiClient, type CsiClient } from '../../../../drivers/csi/csi-client';
import { grpcCodeName } from '../../../../drivers/csi/csi-errors';
import { mesos } from '../../generated/mesos';
import type { Logger } from '../../../shared/logger';
import type { CsiPluginInfo } from './csi-plugin-configs';

/** Mesos' VolumeState.State (src/csi/state.proto) for the steps of a pre-provisioned volume. */
export type NodeVolumeState = 'NODE_READY' | 'NODE_STAGE' | 'VOL_READY' | 'NODE_PUBLISH' | 'PUBLISHED' | 'NODE_UNPUBLISH' | 'NODE_UNSTAGE';

/** What is checkpointed per volume (never a secret). */
export interface NodeVolumeRecord {
  state: NodeVolumeState;
  volume_capability: Record<string, unknown>;
  volume_context: Record<string, string>;
  readonly: boolean;
  pre_provisioned: true;
}

/** Resolves a Mesos Secret to its value (the agent's secret resolver). */
export type SecretResolver = (secret: mesos.v1.ISecret) => Promise<string>;

/** Mesos' default secret resolver: values only; references need a resolver module. */
export const defaultSecretResolver: SecretResolver = async (secret) => {
  if (secret.reference) throw new Error('Default secret resolver cannot resolve references');
  if (!secret.value) throw new Error('Secret has no value');
  return Buffer.from(secret.value.data ?? new Uint8Array()).toString('utf8');
};

/** Deadline of one node call. */
const NODE_CALL_MS = 120_000;

/** Mesos' http::encode: every byte outside unreserved characters percent-encoded. */
export function encodeVolumeId(volumeId: string): string {
  let out = '';
  for (const byte of Buffer.from(volumeId, 'utf8')) {
    const ch = String.fromCharCode(byte);
    out += /[A-Za-z0-9\-._~]/.test(ch) ? ch : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** A CSI capability from Mesos' CSIVolume.VolumeCapability (same fields, enum by name). */
export function capabilityOf(c: mesos.v1.Volume.Source.CSIVolume.IVolumeCapability | null | undefined): Record<string, unknown> {
  const Mode = mesos.v1.Volume.Source.CSIVolume.VolumeCapability.AccessMode.Mode;
  const mode = Mode[c?.access_mode?.mode ?? 0] ?? 'UNKNOWN';
  if (c?.block) return { block: {}, access_mode: { mode } };
  return { mount: { fs_type: c?.mount?.fs_type ?? '', mount_flags: [...(c?.mount?.mount_flags ?? [])] }, access_mode: { mode } };
}

async function exists(p: string): Promise<boolean> {
  return fsp.stat(p).then(
    () => true,
    () => false,
  );
}

/** Removes a directory the agent made, only when empty. */
async function removeEmptyDir(dir: string, logger: Logger): Promise<void> {
  try {
    await fsp.rmdir(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return;
    logger.warn('CSI mount directory left in place (not empty or busy); nothing is deleted', { path: dir, error: code });
  }
}

export class CsiNodeVolumes {
  private client: CsiClient | undefined;
  private stageUnstage: Promise<boolean> | undefined;
  /** One operation at a time per volume. */
  private readonly chains = new Map<string, Promise<unknown>>();

  constructor(
    readonly plugin: CsiPluginInfo,
    private readonly workDir: string,
    private readonly logger: Logger,
    private readonly resolveSecret: SecretResolver = defaultSecretResolver,
  ) {}

  private get pluginDir(): string {
    return path.join(this.workDir, 'csi', this.plugin.type, this.plugin.name);
  }

  mountPath(volumeId: string): string {
    return path.join(this.plugin.targetPathRoot ?? path.join(this.pluginDir, 'mounts'), encodeVolumeId(volumeId));
  }

  stagingPath(volumeId: string): string {
    return path.join(this.mountPath(volumeId), 'staging');
  }

  targetPath(volumeId: string): string {
    return path.join(this.mountPath(volumeId), 'target');
  }

  private statePath(volumeId: string): string {
    return path.join(this.pluginDir, 'volumes', encodeVolumeId(volumeId), 'volume.state');
  }

  /** Stages (if the plugin stages) and publishes a volume; its target path. */
  publish(volume: mesos.v1.IVolume): Promise<string> {
    const sp = volume.source!.csi_volume!.static_provisioning!;
    return this.serial(sp.volume_id, () => this.publishNow(volume, sp));
  }

  /** Unpublishes and unstages a volume (a no-op for one this agent does not know). */
  unpublish(volumeId: string): Promise<void> {
    return this.serial(volumeId, () => this.unpublishNow(volumeId));
  }

  close(): void {
    this.client?.close();
    this.client = undefined;
  }

  private async publishNow(volume: mesos.v1.IVolume, sp: mesos.v1.Volume.Source.CSIVolume.IStaticProvisioning): Promise<string> {
    const volumeId = sp.volume_id;
    const target = this.targetPath(volumeId);
    let record = await this.read(volumeId);
    if (record?.state === 'PUBLISHED') return target; // another container uses it already
    if (record?.state === 'NODE_UNPUBLISH' || record?.state === 'NODE_UNSTAGE') {
      // A failed unpublish is finished first (the spec's recovery of a failed call is the same call again).
      await this.unpublishNow(volumeId);
      record = undefined;
    }
    record ??= {
      state: 'NODE_READY',
      volume_capability: capabilityOf(sp.volume_capability),
      volume_context: { ...(sp.volume_context ?? {}) },
      readonly: volume.mode === mesos.v1.Volume.Mode.RO,
      pre_provisioned: true,
    };
    const stages = await this.stages();
    if (record.state === 'NODE_READY' || record.state === 'NODE_STAGE') {
      if (stages) {
        const staging = this.stagingPath(volumeId);
        await fsp.mkdir(staging, { recursive: true });
        record = await this.write(volumeId, { ...record, state: 'NODE_STAGE' });
        await this.call('NodeStageVolume', volumeId, {
          volume_id: volumeId,
          staging_target_path: staging,
          volume_capability: record.volume_capability,
          volume_context: record.volume_context,
          secrets: await this.secrets(sp.node_stage_secrets),
        });
      }
      record = await this.write(volumeId, { ...record, state: 'VOL_READY' });
    }
    if (this.plugin.targetPathExists) await fsp.mkdir(target, { recursive: true });
    else await fsp.mkdir(path.dirname(target), { recursive: true });
    record = await this.write(volumeId, { ...record, state: 'NODE_PUBLISH' });
    await this.call('NodePublishVolume', volumeId, {
      volume_id: volumeId,
      target_path: target,
      ...(stages ? { staging_target_path: this.stagingPath(volumeId) } : {}),
      volume_capability: record.volume_capability,
      readonly: record.readonly,
      volume_context: record.volume_context,
      secrets: await this.secrets(sp.node_publish_secrets),
    });
    if (!(await exists(target))) throw new Error(`Target path '${target}' not created`);
    await this.write(volumeId, { ...record, state: 'PUBLISHED' });
    this.logger.info('CSI volume published', { plugin: this.plugin.type, volumeId, target });
    return target;
  }

  private async unpublishNow(volumeId: string): Promise<void> {
    let record = await this.read(volumeId);
    if (!record) return;
    const target = this.targetPath(volumeId);
    if (record.state === 'PUBLISHED' || record.state === 'NODE_PUBLISH' || record.state === 'NODE_UNPUBLISH') {
      record = await this.write(volumeId, { ...record, state: 'NODE_UNPUBLISH' });
      await this.call('NodeUnpublishVolume', volumeId, { volume_id: volumeId, target_path: target });
      if (!this.plugin.targetPathExists && (await exists(target))) throw new Error(`Target path '${target}' not removed`);
      record = await this.write(volumeId, { ...record, state: 'VOL_READY' });
      this.logger.info('CSI volume unpublished', { plugin: this.plugin.type, volumeId });
    }
    if ((await this.stages()) && record.state !== 'NODE_READY') {
      await this.write(volumeId, { ...record, state: 'NODE_UNSTAGE' });
      await this.call('NodeUnstageVolume', volumeId, { volume_id: volumeId, staging_target_path: this.stagingPath(volumeId) });
      this.logger.info('CSI volume unstaged', { plugin: this.plugin.type, volumeId });
    }
    // A pre-provisioned volume's life on this agent ends here: its state and its (empty) mount directories go.
    if (this.plugin.targetPathExists) await removeEmptyDir(target, this.logger);
    await removeEmptyDir(this.stagingPath(volumeId), this.logger);
    await removeEmptyDir(this.mountPath(volumeId), this.logger);
    await fsp.rm(this.statePath(volumeId), { force: true });
    await removeEmptyDir(path.dirname(this.statePath(volumeId)), this.logger);
  }

  private serial<T>(volumeId: string, fn: () => Promise<T>): Promise<T> {
    const before = this.chains.get(volumeId) ?? Promise.resolve();
    const run = before.then(fn, fn);
    const settled = run.then(
      () => undefined,
      () => undefined,
    );
    this.chains.set(volumeId, settled);
    void settled.then(() => {
      if (this.chains.get(volumeId) === settled) this.chains.delete(volumeId);
    });
    return run;
  }

  /** Whether the plugin stages volumes (NodeGetCapabilities, asked once). */
  private stages(): Promise<boolean> {
    this.stageUnstage ??= this.connect()
      .node.NodeGetCapabilities({}, { deadlineMs: NODE_CALL_MS })
      .then((reply: { capabilities?: Array<{ rpc?: { type?: string } }> }) =>
        (reply.capabilities ?? []).some((c) => c.rpc?.type === 'STAGE_UNSTAGE_VOLUME'),
      )
      .catch((err: unknown) => {
        this.stageUnstage = undefined;
        throw new Error(`Failed to get the node capabilities of CSI plugin '${this.plugin.type}': ${describeRpcError(err)}`);
      });
    return this.stageUnstage;
  }

  private async call(rpc: string, volumeId: string, request: Record<string, unknown>): Promise<void> {
    try {
      await this.connect().node[rpc](request, { deadlineMs: NODE_CALL_MS });
    } catch (err) {
      throw new Error(
        `Failed to call '/csi.v1.Node/${rpc}' for volume '${volumeId}' of CSI plugin '${this.plugin.type}': ${describeRpcError(err)}`,
      );
    }
  }

  private async secrets(secrets: Record<string, mesos.v1.ISecret> | null | undefined): Promise<Record<string, string>> {
    const out: Record<string, string> = {};
    for (const [key, secret] of Object.entries(secrets ?? {})) out[key] = await this.resolveSecret(secret);
    return out;
  }

  private connect(): CsiClient {
    this.client ??= csiClient(this.plugin.nodeEndpoint, undefined, { reconnect: { initialMs: 100, maxMs: 2000 } });
    return this.client;
  }

  private async read(volumeId: string): Promise<NodeVolumeRecord | undefined> {
    try {
      return JSON.parse(await fsp.readFile(this.statePath(volumeId), 'utf8')) as NodeVolumeRecord;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new Error(`Failed to read the CSI volume state '${this.statePath(volumeId)}': ${(err as Error).message}`);
    }
  }

  /** Checkpoints a volume's state (written whole, then renamed into place). */
  private async write(volumeId: string, record: NodeVolumeRecord): Promise<NodeVolumeRecord> {
    const file = this.statePath(volumeId);
    await fsp.mkdir(path.dirname(file), { recursive: true });
    const tmp = `${file}.tmp`;
    await fsp.writeFile(tmp, JSON.stringify(record));
    await fsp.rename(tmp, file);
    return record;
  }
}

function describeRpcError(err: unknown): string {
  const e = err as { code?: unknown; details?: string; message?: string };
  if (typeof e?.code === 'number') return `${grpcCodeName(e.code)}${e.details ? `: ${e.details}` : ''}`;
  return e?.message ?? String(err);
}
