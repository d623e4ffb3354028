/**
 * The real DriverFactory for the ServiceRegistry: builds the configured driver and bounds every
 * call by the service's timeout.
 */
import { BoundedDriver, createDriver, DriverLogger, VfsDriverConfig } from '../../drivers';
import type { StorageDriver } from '../../drivers/storage-driver';
import { ValidationError } from '../errors/validation-error';
import type { DriverFactory, ServiceDefinition } from './service-registry';

export interface DriverFactoryOptions {
  logger?: DriverLogger;
  /** fsync vfs metadata (default true). */
  durable?: boolean;
  /** vfs lock tuning (e.g. a short stale time for tests that kill processes holding the lock). */
  vfsLock?: Pick<VfsDriverConfig, 'lockStaleMs' | 'lockTimeoutMs'>;
}

export function driverFactory(options: DriverFactoryOptions = {}): DriverFactory {
  return (service: ServiceDefinition): StorageDriver => {
    switch (service.driver) {
      case 'vfs': {
        if (!service.vfs) throw ValidationError.field('vfs', `Service "${service.name}" has no vfs root`);
        const inner = createDriver('vfs', {
          root: service.vfs.root,
          attachLimit: service.vfs.attachLimit,
          logger: options.logger,
          durable: options.durable,
          ...options.vfsLock,
        });
        return new BoundedDriver(inner, { timeoutMs: service.timeoutMs });
      }
      case 'libstorage': {
        if (!service.libstorage) throw ValidationError.field('libstorage', `Service "${service.name}" has no libstorage host and service`);
        const inner = createDriver('libstorage', { ...service.libstorage, logger: options.logger });
        // The HTTP client bounds each request; the wrapper bounds the whole call (an attach is two requests).
        return new BoundedDriver(inner, { timeoutMs: service.timeoutMs });
      }
      case 'csi': {
        const csi = service.csi;
        if (!csi) throw ValidationError.field('csi', `Service "${service.name}" uses driver csi: set csi.endpoint`);
        const inner = createDriver('csi', {
          endpoint: csi.endpoint,
          ...(csi.tls ? { tls: csi.tls } : {}),
          ...(csi.pluginName ? { pluginName: csi.pluginName } : {}),
          topologyKey: csi.topologyKey,
          namePrefix: csi.namePrefix,
          accessType: csi.accessType,
          ...(csi.fsType ? { fsType: csi.fsType } : {}),
          mountFlags: csi.mountFlags,
          readerMode: csi.readerMode,
          parameters: csi.parameters,
          snapshotParameters: csi.snapshotParameters,
          // A profile's fsType (Polly's) is its file system unless csi.profiles says otherwise.
          profiles: Object.fromEntries(
            service.profiles.map((p) => {
              const own = csi.profiles[p.name] ?? {};
              const fsType = own.fsType ?? p.fsType;
              return [p.name, { ...(own.parameters ? { parameters: own.parameters } : {}), ...(fsType ? { fsType } : {}) }];
            }),
          ),
          creatingProfiles: service.profiles.filter((p) => p.active).map((p) => p.name),
          secrets: csi.secrets,
          callTimeoutMs: csi.callTimeoutMs,
          ...(csi.attachLimit !== undefined ? { attachLimit: csi.attachLimit } : {}),
          logger: options.logger,
        });
        // Each gRPC call has its own deadline; the wrapper bounds the whole operation (a forced attach is several calls).
        return new BoundedDriver(inner, { timeoutMs: service.timeoutMs });
      }
      default:
        throw ValidationError.field('driver', `Service "${service.name}": unknown storage driver ${JSON.stringify(service.driver)}`);
    }
  };
}
