/** The backend of the storage bench's start-up rows (see StandInBackend). */
import { DriverNotFoundError, DriverNotImplementedError } from '../../drivers/errors';
import type { DriverVolume, InstanceId, StorageDriver } from '../../drivers/storage-driver';

/**
 * The backend of the start-up benches: a stand-in for a remote backend (EBS behind libStorage, say)
 * holding `count` volumes. A real backend keeps its volumes outside Polly's process, so this one
 * keeps them compactly (a name is derived from the index, attachments are one string each) and
 * builds DriverVolume objects only when asked, as a remote driver parses them from a response.
 * Until this bench used the object-per-volume MemoryDriver of the tests, whose ~38 MiB of heap
 * was counted as Polly's RSS.
 */
export class StandInBackend implements StorageDriver {
  readonly name = 'stand-in';
  private readonly attachedTo: Array<string | undefined>;

  constructor(readonly count: number) {
    this.attachedTo = new Array<string | undefined>(count);
  }

  static idOf(i: number): string {
    return `mem-${i + 1}`;
  }

  attach(i: number, instanceId: string): void {
    this.attachedTo[i] = instanceId;
  }

  volume(i: number): DriverVolume {
    const id = StandInBackend.idOf(i);
    const instance = this.attachedTo[i];
    return {
      id,
      name: `vol-${i}`,
      size: 1 + (i % 50),
      availabilityZone: `zone-${i % 20}`,
      fields: {},
      attachments: instance === undefined ? [] : [{ volumeId: id, instanceId: { id: instance }, readOnly: false }],
    };
  }

  private index(id: string): number {
    const i = Number(id.slice('mem-'.length)) - 1;
    if (!id.startsWith('mem-') || !Number.isInteger(i) || i < 0 || i >= this.count) throw new DriverNotFoundError(`no ${id}`);
    return i;
  }

  type(): 'block' {
    return 'block';
  }
  async init(): Promise<void> {}
  async instanceInspect(instanceId: InstanceId) {
    return { instanceId };
  }
  async volumes(): Promise<DriverVolume[]> {
    return Array.from({ length: this.count }, (_, i) => this.volume(i));
  }
  async volumeInspect(id: string): Promise<DriverVolume> {
    return this.volume(this.index(id));
  }
  async volumeInspectByName(name: string): Promise<DriverVolume | undefined> {
    const i = /^vol-(\d+)$/.exec(name) ? Number(name.slice(4)) : -1;
    return i >= 0 && i < this.count ? this.volume(i) : undefined;
  }
  async volumeAttach(id: string, instanceId: InstanceId) {
    const i = this.index(id);
    this.attachedTo[i] = instanceId.id;
    return { volume: this.volume(i) };
  }
  async volumeDetach(id: string, instanceId: InstanceId): Promise<DriverVolume> {
    const i = this.index(id);
    if (this.attachedTo[i] === instanceId.id) this.attachedTo[i] = undefined;
    return this.volume(i);
  }
  private nope = async (): Promise<never> => {
    throw new DriverNotImplementedError('stand-in backend');
  };
  volumeCreate = this.nope;
  volumeRemove = this.nope;
  volumeCreateFromSnapshot = this.nope;
  volumeCopy = this.nope;
  volumeSnapshot = this.nope;
  snapshots = this.nope;
  snapshotInspect = this.nope;
  snapshotRemove = this.nope;
  async capacity() {
    return undefined;
  }
  attachLimit(): undefined {
    return undefined;
  }
}
