/**
 * The single-key conveniences of the Store interface, expressed once over a backend's atomic
 * `write(operations)` (which returns the version of the last written key). Backends implement
 * reads, scans, watches and `write`; every mutation then goes through one checked path.
 */
import type { BatchOperation } from './store';

export abstract class WriteBatchStore {
  /** Applies the operations atomically (all or none), checking each `expectVersion`. */
  protected abstract write(operations: readonly BatchOperation[]): Promise<number>;

  async put(key: string, value: unknown): Promise<number> {
    return this.write([{ type: 'put', key, value }]);
  }

  async putIfVersion(key: string, value: unknown, expectedVersion: number): Promise<number> {
    return this.write([{ type: 'put', key, value, expectVersion: expectedVersion }]);
  }

  async delete(key: string): Promise<void> {
    await this.write([{ type: 'del', key }]);
  }

  async deleteIfVersion(key: string, expectedVersion: number): Promise<void> {
    await this.write([{ type: 'del', key, expectVersion: expectedVersion }]);
  }

  async batch(operations: readonly BatchOperation[]): Promise<void> {
    if (operations.length > 0) await this.write(operations);
  }
}
