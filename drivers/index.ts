/**
 * The storage drivers' public surface: the interface, errors, helpers, the bounded wrapper and a
 * factory that turns a configured driver name into a driver.
 */
import type { StorageDriver } from './storage-driver';
import { VfsDriver } from './vfs/vfs-driver';
import type { VfsDriverConfig } from './vfs/vfs-driver';
import { LibStorageDriver } from './libstorage/libstorage-driver';
import type { LibStorageDriverConfig } from './libstorage/libstorage-driver';
import { CsiDriver } from './csi/csi-driver';
import type { CsiDriverConfig } from './csi/csi-driver';

export * from './storage-driver';
export * from './errors';
export { DriverAbortedError, abortedError, throwIfAborted } from './abort';
export { BoundedDriver, DEFAULT_DRIVER_TIMEOUT_MS } from './bounded-driver';
export { CallBudget, currentCallBudget, withCallBudget } from './call-budget';
export type { BoundedDriverOptions, DriverOperation } from './bounded-driver';
export { silentDriverLogger } from './driver-logger';
export type { DriverLogger } from './driver-logger';
export { assertValidName, hasControlChars, nameKey, nameProblem, MAX_NAME_LENGTH } from './name-rules';
export { assertValidSize, checkCreateOptions, MAX_VOLUME_SIZE_GIB } from './create-options';
export { VfsDriver } from './vfs/vfs-driver';
export type { VfsDriverConfig } from './vfs/vfs-driver';
export { LibStorageDriver } from './libstorage/libstorage-driver';
export type { LibStorageDriverConfig } from './libstorage/libstorage-driver';
export { CsiDriver } from './csi/csi-driver';
export type { CsiDriverConfig } from './csi/csi-driver';

/** Each driver's config type, by driver name. */
export interface DriverConfigs {
  vfs: VfsDriverConfig;
  libstorage: LibStorageDriverConfig;
  csi: CsiDriverConfig;
}

export type DriverName = keyof DriverConfigs;

const factories: { [K in DriverName]: (config: DriverConfigs[K]) => StorageDriver } = {
  vfs: (config) => new VfsDriver(config),
  libstorage: (config) => new LibStorageDriver(config),
  csi: (config) => new CsiDriver(config),
};

export function isDriverName(name: string): name is DriverName {
  return Object.prototype.hasOwnProperty.call(factories, name);
}

export const driverNames: readonly DriverName[] = Object.keys(factories) as DriverName[];

/** A new (uninitialised, unbounded) driver; wrap it in `BoundedDriver` and call `init()`. */
export function createDriver<K extends DriverName>(name: K, config: DriverConfigs[K]): StorageDriver {
  if (!isDriverName(name)) {
    throw new Error(`unknown storage driver ${JSON.stringify(name)} (known: ${driverNames.join(', ')})`);
  }
  return factories[name](config);
}
