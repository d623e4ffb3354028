/**
 * The storage service each volume of an app definition uses (`options.service`, the `dvdi/driver`
 * of a Marathon dvdi volume, or the only service there is), checked when the app is created, and
 * the volumes one instance wants (per-instance names filled in).
 */
import { NotFoundError } from '../errors/not-found-error';
import { ValidationError } from '../errors/validation-error';
import type { ServiceRegistry } from '../storage/service-registry';
import { volumeNameFor, type AppSpec } from './app-spec';
import type { WantedVolume } from './offer-matcher';

type AppVolume = NonNullable<AppSpec['container']>['volumes'][number];

export class AppVolumes {
  constructor(private readonly registry: ServiceRegistry) {}

  /** Every volume names a known service (and profile): a 400 naming the field otherwise. */
  check(spec: AppSpec): void {
    (spec.container?.volumes ?? []).forEach((v, i) => {
      try {
        this.serviceFor(v, `container.volumes[${i}]`);
      } catch (err) {
        if (err instanceof NotFoundError) throw ValidationError.field(`container.volumes[${i}].external.options.profile`, err.message);
        throw err;
      }
    });
  }

  wanted(spec: AppSpec, instance: number): WantedVolume[] {
    return (spec.container?.volumes ?? []).map((v, i) => ({
      name: volumeNameFor(v, instance),
      service: this.serviceFor(v, `container.volumes[${i}]`),
      containerPath: v.containerPath,
      mode: v.mode,
    }));
  }

  private serviceFor(volume: AppVolume, field: string): string {
    const options = volume.external.options ?? {};
    const services = this.registry.list();
    let name: string | undefined = options.service ?? options['polly/service'];
    if (name === undefined && volume.external.provider === 'dvdi') {
      name = services.find((s) => s.definition.dockerVolumeDriver === options['dvdi/driver'])?.name;
    }
    if (name === undefined && services.length === 1) name = services[0].name;
    if (name === undefined || !this.registry.has(name)) {
      throw ValidationError.field(`${field}.external.options`, `${field}: no storage service ${JSON.stringify(name ?? options['dvdi/driver'] ?? '')}; set options.service`);
    }
    if (options.profile !== undefined) this.registry.profile(name, options.profile);
    return name;
  }
}
