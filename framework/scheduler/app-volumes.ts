/**
 * The storage side of app definitions: what accepting one needs to know of the storage services
 * (their names, drivers, Docker volume driver names and profiles, and the driver → service map of
 * `scheduler.volumeDrivers`), and the volumes one instance of an app wants (per-instance names
 * filled in, each on the service resolved when the app was accepted).
 */
import type { ServiceRegistry } from '../storage/service-registry';
import { managedVolumes, volumeNameFor, type AppSpec, type ExternalVolumeSpec } from './app-spec';
import type { AppDefinitionContext } from './marathon/app-normaliser';
import type { ServiceInfo } from './marathon/volume-options';
import type { WantedVolume } from './offer-matcher';

export class AppVolumes {
  constructor(
    private readonly registry: ServiceRegistry,
    private readonly volumeDrivers: Record<string, string> = {},
  ) {}

  /** The services as an app definition sees them, with the driver map and Polly's roles. */
  context(roles: string[]): AppDefinitionContext {
    const services: ServiceInfo[] = this.registry.list().map((s) => {
      const info: ServiceInfo = { name: s.name, driver: s.definition.driver, profiles: s.definition.profiles.map((p) => p.name) };
      if (s.definition.dockerVolumeDriver !== undefined) info.dockerVolumeDriver = s.definition.dockerVolumeDriver;
      return info;
    });
    return { services, volumeDrivers: { ...this.volumeDrivers }, roles: [...roles] };
  }

  wanted(spec: AppSpec, instance: number): WantedVolume[] {
    return managedVolumes(spec).map((v) => {
      const wanted: WantedVolume = { name: volumeNameFor(v, instance), service: v.service ?? this.legacyService(v), containerPath: v.containerPath, mode: v.mode };
      const create = v.create ?? legacyCreate(v);
      if (create) wanted.create = create;
      return wanted;
    });
  }

  /** Apps accepted before volumes carried their service: resolved as Polly did then. */
  private legacyService(volume: ExternalVolumeSpec): string {
    const options = volume.external.options ?? {};
    const services = this.registry.list();
    const named = options.service ?? options['polly/service'];
    if (named !== undefined) return named;
    const driver = options['dvdi/driver'];
    if (driver !== undefined) {
      const mapped = this.volumeDrivers[driver] ?? services.find((s) => s.definition.dockerVolumeDriver === driver)?.name;
      if (mapped !== undefined) return mapped;
    }
    return services.length === 1 ? services[0].name : '';
  }
}

function legacyCreate(volume: ExternalVolumeSpec): WantedVolume['create'] {
  const options = volume.external.options ?? {};
  const create: NonNullable<WantedVolume['create']> = {};
  if (volume.external.size !== undefined) create.size = volume.external.size;
  if (options.type !== undefined) create.type = options.type;
  if (options.iops !== undefined && /^[1-9][0-9]*$/.test(options.iops)) create.iops = Number(options.iops);
  if (options.profile !== undefined) create.profile = options.profile;
  return Object.keys(create).length > 0 ? create : undefined;
}
