/**
 * Times every call of a storage driver into `polly_driver_call_duration_seconds`. Wraps the driver
 * the registry builds (see `instrumentDriverFactory`), so every caller is measured — the catalog,
 * the ledger, recovery — without any of them knowing about metrics.
 */
import type { StorageDriver } from '../../../drivers/storage-driver';
import type { DriverFactory, ServiceDefinition } from '../../storage/service-registry';
import type { PollyMetrics } from './polly-metrics';

/** Driver methods that are not calls to the backend. */
const UNTIMED = new Set(['type', 'attachLimit', 'hostPath', 'describe', 'constructor']);

export function instrumentDriver(driver: StorageDriver, service: string, metrics: PollyMetrics): StorageDriver {
  const labels = { service, driver: driver.name };
  return new Proxy(driver, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown;
      if (typeof value !== 'function' || typeof prop !== 'string' || UNTIMED.has(prop)) {
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      }
      return (...args: unknown[]): unknown => {
        const end = metrics.driverCallDuration.startTimer({ ...labels, operation: prop });
        let result: unknown;
        try {
          result = (value as (...a: unknown[]) => unknown).apply(target, args);
        } catch (err) {
          end({ outcome: 'error' });
          throw err;
        }
        if (result instanceof Promise) {
          return result.then(
            (v) => {
              end({ outcome: 'ok' });
              return v;
            },
            (err: unknown) => {
              end({ outcome: 'error' });
              throw err;
            },
          );
        }
        end({ outcome: 'ok' });
        return result;
      };
    },
  });
}

export function instrumentDriverFactory(factory: DriverFactory, metrics: PollyMetrics): DriverFactory {
  return (service: ServiceDefinition) => instrumentDriver(factory(service), service.name, metrics);
}
