/**
 * Fills a store the way a long-running Polly leaves it: managed volumes, every other one held by
 * an attached RW claim. Shared by the recovery-at-scale test and the storage benchmark.
 */
import type { DriverVolume } from '../../drivers/storage-driver';
import { claimByVolumeKey, claimKey, volumeKey } from '../../framework/state/keys';
import type { BatchOperation, Store } from '../../framework/state/store';
import type { ClaimRecord } from '../../framework/storage/claim-record';
import { formatVolumeId } from '../../framework/storage/volume-id';
import { volumeFromDriver } from '../../framework/storage/volume-record';

export interface StoredStateOptions {
  store: Store;
  service: string;
  volumes: number;
  /** The backend volume behind record i. */
  volume: (i: number) => DriverVolume;
  /** Record on the backend that volume i is attached to `instanceId`. */
  attach: (i: number, instanceId: string) => void;
  /** Distinct agents the claims spread over. */
  agents: number;
  /** Timestamp of record i plus `offsetMs` (default: one shared "now"). */
  time?: (i: number, offsetMs: number) => string;
}

export async function seedStoredState(options: StoredStateOptions): Promise<void> {
  const now = new Date().toISOString();
  const time = options.time ?? (() => now);
  let ops: BatchOperation[] = [];
  for (let i = 0; i < options.volumes; i++) {
    const dv = options.volume(i);
    const id = formatVolumeId(options.service, dv.id);
    const record = volumeFromDriver(id, options.service, dv, { managed: true, schedulers: ['marathon', 'polly'], now: time(i, 0) });
    if (i % 2 === 0) {
      const claim: ClaimRecord = {
        id: `claim-${i}`,
        volumeId: id,
        scheduler: 'marathon',
        taskId: `task-${i}`,
        agentId: `agent-${i % options.agents}`,
        instanceId: `host-${i % options.agents}`,
        mode: 'RW',
        state: 'attached',
        createdAt: time(i, 1),
        updatedAt: time(i, 9),
        history: [
          { state: 'pending', at: time(i, 1) },
          { state: 'attaching', at: time(i, 2) },
          { state: 'attached', at: time(i, 9) },
        ],
      };
      options.attach(i, claim.instanceId);
      record.status = 'attached';
      record.updatedAt = claim.updatedAt;
      record.attachments = [{ claimId: claim.id, instanceId: claim.instanceId, agentId: claim.agentId, mode: 'RW', attachedAt: claim.updatedAt }];
      ops.push({ type: 'put', key: claimKey(claim.id), value: claim }, { type: 'put', key: claimByVolumeKey(id, claim.id), value: claim.id });
    }
    ops.push({ type: 'put', key: volumeKey(id), value: record });
    if (ops.length >= 3000) {
      await options.store.batch(ops);
      ops = [];
    }
  }
  await options.store.batch(ops);
}
