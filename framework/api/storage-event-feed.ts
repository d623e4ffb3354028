/** Feeds the storage layer's events into the event journal; returns the function that stops it. */
import type { StorageEventMap, StorageEventName, StorageEvents } from '../storage/storage-events';
import type { EventJournal } from './event-journal';

const NAMES: readonly StorageEventName[] = [
  'volume.created',
  'volume.updated',
  'volume.removed',
  'volume.unexplained-attachment',
  'volume.audit',
  'claim.pending',
  'claim.attaching',
  'claim.attached',
  'claim.releasing',
  'claim.released',
  'claim.failed',
  'claim.audit',
  'storage.recovered',
  'quarantine.purged',
  'quarantine.restored',
];

export function feedStorageEvents(events: StorageEvents, journal: EventJournal): () => void {
  const listeners = NAMES.map((name) => {
    const listener = (payload: StorageEventMap[typeof name]): void => {
      journal.publish(name, payload as unknown as Record<string, unknown>);
    };
    events.on(name, listener as never);
    return () => events.off(name, listener as never);
  });
  return () => listeners.forEach((off) => off());
}
