/** An in-memory StorageDriver for scale tests: enough of the interface for the catalog, ledger and recovery. */
import { DriverConflictError, DriverNotFoundError, DriverNotImplementedError } from '../../../drivers/errors';
import type { DriverVolume, InstanceId, StorageDriver, VolumeCreateOptions } from '../../../drivers/storage-driver';

export class MemoryDriver implements StorageDriver {
  readonly name = 'memory';
  readonly store = new Map<string, DriverVolume>();
  private next = 1;

  type(): 'block' {
    return 'block';
  }
  async init(): Promise<void> {}
  async instanceInspect(instanceId: InstanceId) {
    return { instanceId };
  }
  async volumes(): Promise<DriverVolume[]> {
    return [...this.store.values()];
  }
  async volumeInspect(id: string): Promise<DriverVolume> {
    const v = this.store.get(id);
    if (!v) throw new DriverNotFoundError(`no ${id}`);
    return v;
  }
  async volumeInspectByName(name: string): Promise<DriverVolume | undefined> {
    return [...this.store.values()].find((v) => v.name.toLowerCase() === name.toLowerCase());
  }
  add(name: string, create: VolumeCreateOptions = {}): DriverVolume {
    const id = `mem-${this.next++}`;
    const v: DriverVolume = { id, name, size: create.size ?? 1, availabilityZone: create.availabilityZone, fields: {}, attachments: [] };
    this.store.set(id, v);
    return v;
  }
  async volumeCreate(name: string, create: VolumeCreateOptions): Promise<DriverVolume> {
    if (await this.volumeInspectByName(name)) throw new DriverConflictError('name taken');
    return this.add(name, create);
  }
  async volumeRemove(id: string): Promise<void> {
    await this.volumeInspect(id);
    this.store.delete(id);
  }
  async volumeAttach(id: string, instanceId: InstanceId, attach: { readOnly?: boolean } = {}) {
    const v = await this.volumeInspect(id);
    if (!v.attachments.some((a) => a.instanceId.id === instanceId.id)) {
      v.attachments.push({ volumeId: id, instanceId, readOnly: attach.readOnly === true });
    }
    return { volume: v };
  }
  async volumeDetach(id: string, instanceId: InstanceId): Promise<DriverVolume> {
    const v = await this.volumeInspect(id);
    v.attachments = v.attachments.filter((a) => a.instanceId.id !== instanceId.id);
    return v;
  }
  private nope = async (): Promise<never> => {
    throw new DriverNotImplementedError('memory driver');
  };
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
