/** Wraps a driver so a test can make chosen calls fail (before or after the real call runs). */
import type { StorageDriver } from '../../../drivers/storage-driver';

export type Op =
  | 'volumeAttach'
  | 'volumeDetach'
  | 'volumeCreate'
  | 'volumeCopy'
  | 'volumeCreateFromSnapshot'
  | 'volumeRemove'
  | 'volumeInspect'
  | 'volumes'
  | 'snapshots'
  | 'volumeSnapshot'
  | 'snapshotRemove'
  | 'volumeExpand';

export interface Fault {
  op: Op;
  error: Error;
  /** `after`: the real call runs first, then the error is thrown (a timeout that did happen). */
  when?: 'before' | 'after';
  times?: number;
}

export class FaultInjector {
  private faults: Fault[] = [];
  readonly calls: Array<{ op: string; args: unknown[] }> = [];

  add(fault: Fault): void {
    this.faults.push({ times: 1, when: 'before', ...fault });
  }

  clear(): void {
    this.faults = [];
  }

  wrap(driver: StorageDriver): StorageDriver {
    const take = (op: string): Fault | undefined => {
      const f = this.faults.find((x) => x.op === op && (x.times ?? 1) > 0);
      if (f) f.times = (f.times ?? 1) - 1;
      return f;
    };
    return new Proxy(driver, {
      get: (target, prop, receiver) => {
        const value = Reflect.get(target, prop, receiver) as unknown;
        if (typeof value !== 'function') return value;
        return (...args: unknown[]) => {
          const op = String(prop);
          this.calls.push({ op, args });
          const fault = take(op);
          if (fault?.when === 'before') return Promise.reject(fault.error);
          const result = (value as (...a: unknown[]) => unknown).apply(target, args);
          if (fault?.when === 'after') return Promise.resolve(result).then(() => Promise.reject(fault.error));
          return result;
        };
      },
    });
  }
}
