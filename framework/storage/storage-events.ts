/**
 * The storage layer's typed events: every catalog change and every claim transition is emitted
 * here after it is persisted (the API's `/v1/events` and the scheduler listen).
 */
import { TypedEmitter } from '../mesos/typed-emitter';
import type { ClaimRecord } from './claim-record';
import type { RecoveryReport } from './storage-recovery';
import type { VolumeRecord } from './volume-record';

export interface ClaimEvent {
  claim: ClaimRecord;
}

/** An operator's (or fencing's) force-release: who, why, when. */
export interface ClaimAuditEvent {
  claim: ClaimRecord;
  action: 'force-release';
  reason: string;
  at: string;
  /** Who asked: an API token's name, or `polly` for fencing (absent when not known). */
  by?: string;
}

export interface StorageEventMap {
  'volume.created': { volume: VolumeRecord };
  'volume.updated': { volume: VolumeRecord };
  'volume.removed': { volume: VolumeRecord };
  'claim.pending': ClaimEvent;
  'claim.attaching': ClaimEvent;
  'claim.attached': ClaimEvent;
  'claim.releasing': ClaimEvent;
  'claim.released': ClaimEvent;
  'claim.failed': ClaimEvent;
  'claim.audit': ClaimAuditEvent;
  'storage.recovered': { report: RecoveryReport };
}

export type StorageEventName = keyof StorageEventMap;

export class StorageEvents extends TypedEmitter<StorageEventMap> {
  /** Emits after the change is persisted; a throwing listener never undoes or blocks the change. */
  publish<K extends StorageEventName>(event: K, payload: StorageEventMap[K]): void {
    try {
      (this.emit as (e: K, p: StorageEventMap[K]) => boolean)(event, payload);
    } catch {
      // listeners must not break the storage layer
    }
  }
}
