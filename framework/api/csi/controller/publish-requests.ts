/**
 * ControllerPublishVolume and ControllerUnpublishVolume: a publication is a claim in the claim
 * ledger, for the calling scheduler, on the agent the node ID names (csi-nodes.ts), with the task
 * ID `csi:<node ID>`. A writer is an RW claim and excludes every other claim (Polly's single-writer
 * rule); readers are RO claims and share with readers only. Unpublish releases the claim (detach).
 */
import type { ClaimMode, ClaimRecord } from '../../../storage/claim-record';
import { AbortedError } from '../../../errors/aborted-error';
import { AlreadyExistsError } from '../../../errors/already-exists-error';
import { NotFoundError } from '../../../errors/not-found-error';
import { PreconditionFailedError } from '../../../errors/precondition-failed-error';
import { ResourceExhaustedError } from '../../../errors/resource-exhausted-error';
import { isVolumeId } from '../../../storage/volume-id';
import type { VolumeRecord } from '../../../storage/volume-record';
import { checkCapabilityShape, isReaderOnly, isSingleNode, Problems, unsupportedCapability } from '../csi-checks';
import type { AccessModeName, ControllerPublishVolumeRequest, ControllerUnpublishVolumeRequest } from '../csi-messages';
import type { CsiCallContext } from '../csi-server';
import { PUBLISH_CONTEXT_CLAIM, PUBLISH_CONTEXT_MODE, PUBLISH_CONTEXT_NODE } from '../publish-context';
import { assertOffered, ControllerDeps, mustFindVolume } from './controller-deps';
import type { CsiNode } from './csi-nodes';
import { isPublication, publicationTaskId } from './csi-views';

function publishContext(claim: ClaimRecord, nodeId: string): { publish_context: Record<string, string> } {
  return { publish_context: { [PUBLISH_CONTEXT_NODE]: nodeId, [PUBLISH_CONTEXT_MODE]: claim.mode, [PUBLISH_CONTEXT_CLAIM]: claim.id } };
}

function holderText(claim: ClaimRecord): string {
  const node = isPublication(claim) ? claim.taskId!.slice('csi:'.length) : claim.instanceId;
  const task = claim.taskId !== undefined && !isPublication(claim) ? `, task ${claim.taskId}` : '';
  return `node ${node} (${claim.mode}, claim ${claim.id}, agent ${claim.agentId}${task}${claim.scheduler ? `, scheduler ${claim.scheduler}` : ''})`;
}

/** Publications to nodes being set up right now, per agent: counted against the attach limit. */
class AttachReservations {
  private readonly byAgent = new Map<string, number>();

  count(agentId: string): number {
    return this.byAgent.get(agentId) ?? 0;
  }

  async hold<T>(agentId: string, fn: () => Promise<T>): Promise<T> {
    this.byAgent.set(agentId, this.count(agentId) + 1);
    try {
      return await fn();
    } finally {
      const left = this.count(agentId) - 1;
      if (left > 0) this.byAgent.set(agentId, left);
      else this.byAgent.delete(agentId);
    }
  }
}

export class Publications {
  private readonly reservations = new AttachReservations();

  constructor(private readonly deps: ControllerDeps) {}

  async publish(req: ControllerPublishVolumeRequest, ctx: CsiCallContext): Promise<{ publish_context: Record<string, string> }> {
    const problems = new Problems();
    problems.required(req.volume_id, 'volume_id');
    problems.required(req.node_id, 'node_id');
    checkCapabilityShape(req.volume_capability, 'volume_capability', problems);
    problems.throwIfAny('ControllerPublishVolume');
    const capability = req.volume_capability!;
    const unsupported = unsupportedCapability(capability);
    if (unsupported) problems.add(`volume_capability: ${unsupported}`);
    problems.throwIfAny('ControllerPublishVolume');
    const scheduler = ctx.caller.scheduler;
    const volume = mustFindVolume(this.deps, req.volume_id);
    assertOffered(volume, scheduler);
    const found = this.deps.nodes.lookup(req.node_id, volume.service);
    if (!found.node) throw new NotFoundError(found.why, { nodeId: req.node_id });
    const node = found.node;
    if (volume.status === 'removing' || volume.status === 'missing') {
      throw new PreconditionFailedError(`Volume ${volume.id} is ${volume.status}: it cannot be published`, { volumeId: volume.id });
    }
    if (volume.availabilityZone !== undefined && node.zone !== undefined && volume.availabilityZone !== node.zone) {
      throw new PreconditionFailedError(
        `Volume ${volume.id} is in zone ${volume.availabilityZone} and node ${node.nodeId} in zone ${node.zone}: it cannot be published there`,
        { volumeId: volume.id, nodeId: node.nodeId },
      );
    }
    const accessMode = capability.access_mode!.mode;
    const mode: ClaimMode = req.readonly || isReaderOnly(accessMode) ? 'RO' : 'RW';
    return this.deps.inFlight.run([`volume/${volume.id}`], 'ControllerPublishVolume', () =>
      this.publishOne(volume, node, mode, accessMode, scheduler),
    );
  }

  private async publishOne(
    volume: VolumeRecord,
    node: CsiNode,
    mode: ClaimMode,
    accessMode: AccessModeName,
    scheduler: string,
  ): Promise<{ publish_context: Record<string, string> }> {
    const { ledger, registry } = this.deps.storage;
    const taskId = publicationTaskId(node.nodeId);
    const live = ledger.liveClaims(volume.id);
    const mine = live.find((c) => c.taskId === taskId && c.scheduler === scheduler);
    if (mine) {
      if (mine.state === 'releasing') {
        throw new AbortedError(
          `Unpublishing volume ${volume.id} from node ${node.nodeId} has not finished; call ControllerUnpublishVolume again, then publish`,
          { volumeId: volume.id, claimId: mine.id },
        );
      }
      if (mine.mode !== mode) {
        throw new AlreadyExistsError(
          `Volume ${volume.id} is already published to node ${node.nodeId} ${mine.mode === 'RW' ? 'read-write' : 'read-only'}; ` +
            `unpublish it before publishing it ${mode === 'RW' ? 'read-write' : 'read-only'}`,
          { volumeId: volume.id, claimId: mine.id },
        );
      }
      return publishContext(mine, node.nodeId);
    }
    for (const holder of live) {
      const otherNode = holder.instanceId.toLowerCase() !== node.instanceId.toLowerCase();
      if (mode === 'RW' || holder.mode === 'RW' || (isSingleNode(accessMode) && otherNode)) {
        throw new PreconditionFailedError(
          `Volume ${volume.id} is published to ${holderText(holder)}; ` +
            `it can be published to node ${node.nodeId} ${mode === 'RW' ? 'read-write' : 'read-only'} once that is unpublished (or the holder is fenced)`,
          { volumeId: volume.id, claimId: holder.id, holder: holder.instanceId },
        );
      }
    }
    const limit = registry.get(volume.service).driver.attachLimit({ id: node.instanceId });
    if (limit !== undefined) {
      const attached = ledger
        .list({ agentId: node.agentId, live: true })
        .filter((c) => c.volumeId !== volume.id && this.deps.storage.catalog.find(c.volumeId)?.service === volume.service).length;
      if (attached + this.reservations.count(node.agentId) >= limit) {
        throw new ResourceExhaustedError(
          `Node ${node.nodeId} already has ${attached} volumes of service "${volume.service}" published, its limit (${limit}); unpublish one first`,
          { nodeId: node.nodeId, limit },
        );
      }
    }
    const claim = await this.reservations.hold(node.agentId, () =>
      ledger.claim({ volumeId: volume.id, scheduler, agentId: node.agentId, instanceId: node.instanceId, taskId, mode }),
    );
    return publishContext(claim, node.nodeId);
  }

  async unpublish(req: ControllerUnpublishVolumeRequest, ctx: CsiCallContext): Promise<object> {
    const problems = new Problems();
    problems.required(req.volume_id, 'volume_id');
    problems.throwIfAny('ControllerUnpublishVolume');
    if (!isVolumeId(req.volume_id)) return {}; // names no volume: nothing is published
    const scheduler = ctx.caller.scheduler;
    const volume = this.deps.storage.catalog.find(req.volume_id);
    if (volume) assertOffered(volume, scheduler);
    const taskId = req.node_id === '' ? undefined : publicationTaskId(req.node_id);
    return this.deps.inFlight.run([`volume/${req.volume_id}`], 'ControllerUnpublishVolume', async () => {
      const claims = this.deps.storage.ledger
        .liveClaims(req.volume_id)
        .filter((c) => isPublication(c) && c.scheduler === scheduler && (taskId === undefined || c.taskId === taskId));
      const reason = `CSI ControllerUnpublishVolume${req.node_id ? ` from node ${req.node_id}` : ' from every node'}`;
      await Promise.all(claims.map((c) => this.deps.storage.ledger.release(c.id, { reason })));
      return {};
    });
  }
}
