/**
 * The configured storage services, their profiles and their drivers. Drivers are built by a factory
 * passed in (the real one is `createDriver` in drivers/index.ts; tests pass a fake), so this module
 * knows no driver. The registry also guards profile immutability: a profile's frozen parameters are
 * recorded in the store the first time it is used, and a later config that changes them is refused
 * at start.
 */
import path from 'node:path';
import { Value } from '@sinclair/typebox/value';
import { readCsiEndpoint } from '../../drivers/csi/csi-endpoint';
import type { StorageDriver } from '../../drivers/storage-driver';
import { CsiServiceConfig, CsiServiceConfigSchema, LibStorageServiceConfig, ServiceConfig } from '../config/config-schema';
import { NotFoundError } from '../errors/not-found-error';
import { PollyError } from '../errors/polly-error';
import { ValidationError } from '../errors/validation-error';
import { Logger, silentLogger } from '../shared/logger';
import { PREFIXES, profileUsedKey } from '../state/keys';
import { Store, StoreConflictError } from '../state/store';
import {
  changedParams,
  CreateRequest,
  DEFAULT_PROFILE_NAME,
  immutableParams,
  ImmutableProfileParams,
  Profile,
  profileFromConfig,
  ProfileInput,
  resolveCreate,
  ResolvedCreate,
} from './profile';

export const SERVICE_NAME_PATTERN = /^[a-z][a-z0-9-]{0,62}$/;
export const DEFAULT_SERVICE_TIMEOUT_MS = 60_000;

export type VolumeMapping = 'hostPath' | 'dockerVolume' | 'csi';

/** A service as written in the config; the schema's defaults are optional here. */
export type ServiceInput = Omit<ServiceConfig, 'mapping' | 'timeoutMs' | 'profiles' | 'csi'> & {
  mapping?: VolumeMapping;
  timeoutMs?: number;
  profiles?: ProfileInput[];
  /** As written: what is left out takes the schema's defaults. */
  csi?: Partial<CsiServiceConfig> & { endpoint: string };
};

/** A service with every default applied: what the driver factory receives. */
export interface ServiceDefinition {
  readonly name: string;
  /** The driver kind, e.g. `vfs`. */
  readonly driver: string;
  readonly mapping: VolumeMapping;
  readonly dockerVolumeDriver?: string;
  readonly timeoutMs: number;
  /** Present for the vfs driver: root is absolute. */
  readonly vfs?: { readonly root: string; readonly attachLimit?: number };
  /** Present for the libstorage driver: the remote server and its service. */
  readonly libstorage?: Readonly<LibStorageServiceConfig>;
  /** Present for the csi driver: the plugin and its settings (defaults applied, `namePrefix` filled in). */
  readonly csi?: Readonly<CsiServiceConfig>;
  readonly profiles: readonly Profile[];
}

export type DriverFactory = (service: ServiceDefinition) => StorageDriver;

export interface StorageService {
  readonly name: string;
  readonly definition: ServiceDefinition;
  readonly driver: StorageDriver;
}

/** What is stored under `profiles-used/<service>/<profile>`. */
export interface UsedProfileRecord {
  service: string;
  profile: string;
  params: ImmutableProfileParams;
  firstUsedAt: string;
}

export interface ServiceRegistryOptions {
  services: readonly ServiceInput[];
  /** Polly's home directory (absolute): default vfs roots live under `<home>/vfs/<service>`. */
  home: string;
  createDriver: DriverFactory;
  store: Store;
  logger?: Logger;
}

export interface StartOptions {
  signal?: AbortSignal;
}

function defineService(input: ServiceInput, index: number, home: string): ServiceDefinition {
  const where = `services[${index}]`;
  if (typeof input.name !== 'string' || !SERVICE_NAME_PATTERN.test(input.name)) {
    throw ValidationError.field(`${where}.name`, `${where}.name ${JSON.stringify(input.name)} must match ${SERVICE_NAME_PATTERN.source}`);
  }
  const name = input.name;
  const mapping = input.mapping ?? (input.driver === 'csi' ? 'csi' : 'hostPath');
  if (mapping !== 'hostPath' && mapping !== 'dockerVolume' && mapping !== 'csi') {
    throw ValidationError.field(`${where}.mapping`, `${where}.mapping must be hostPath, dockerVolume or csi`);
  }
  const csiProblems = csiServiceProblems(input, where);
  if (csiProblems.length > 0) {
    throw new ValidationError(csiProblems.map((p) => p.message).join('; '), { field: csiProblems[0].field, problems: csiProblems });
  }
  if (mapping === 'dockerVolume' && !input.dockerVolumeDriver) {
    throw ValidationError.field(
      `${where}.dockerVolumeDriver`,
      `Service "${name}" maps volumes as Docker volumes: set dockerVolumeDriver (e.g. rexray)`,
    );
  }
  const timeoutMs = input.timeoutMs ?? DEFAULT_SERVICE_TIMEOUT_MS;
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1)
    throw ValidationError.field(`${where}.timeoutMs`, `${where}.timeoutMs must be a positive integer`);

  const profileInputs = input.profiles ?? [{ name: DEFAULT_PROFILE_NAME }];
  if (profileInputs.length === 0) throw ValidationError.field(`${where}.profiles`, `Service "${name}" needs at least one profile`);
  const profiles = profileInputs.map((p, i) => profileFromConfig(name, p, `${where}.profiles[${i}]`));
  const seen = new Set<string>();
  for (const [i, profile] of profiles.entries()) {
    if (seen.has(profile.name)) {
      throw ValidationError.field(`${where}.profiles[${i}].name`, `Service "${name}" has two profiles named "${profile.name}"`);
    }
    seen.add(profile.name);
  }

  const definition: { -readonly [K in keyof ServiceDefinition]: ServiceDefinition[K] } = {
    name,
    driver: input.driver,
    mapping,
    timeoutMs,
    profiles: Object.freeze(profiles),
  };
  if (input.dockerVolumeDriver) definition.dockerVolumeDriver = input.dockerVolumeDriver;
  if (input.driver === 'vfs') {
    // A relative root is taken relative to Polly's home, never to the working directory.
    const root = input.vfs?.root ? path.resolve(home, input.vfs.root) : path.join(home, 'vfs', name);
    definition.vfs = input.vfs?.attachLimit !== undefined ? { root, attachLimit: input.vfs.attachLimit } : { root };
  }
  if (input.driver === 'libstorage') {
    if (!input.libstorage?.host || !input.libstorage.service) {
      throw ValidationError.field(`${where}.libstorage`, `Service "${name}" uses driver libstorage: set libstorage.host and libstorage.service`);
    }
    definition.libstorage = Object.freeze({ ...input.libstorage });
  }
  if (input.driver === 'csi' && input.csi) {
    const csi = Value.Default(CsiServiceConfigSchema, structuredClone(input.csi)) as CsiServiceConfig;
    definition.csi = Object.freeze({ ...csi, namePrefix: csi.namePrefix || `polly-${name}-` });
  }
  return Object.freeze(definition);
}

/**
 * What makes a csi service (or a csi mapping) unusable before any plugin is asked, every problem
 * with its key: `polly config check` reports them all, and the registry refuses such a service.
 */
export function csiServiceProblems(input: ServiceInput, where: string): Array<{ field: string; message: string }> {
  const problems: Array<{ field: string; message: string }> = [];
  const mapping = input.mapping ?? (input.driver === 'csi' ? 'csi' : 'hostPath');
  const name = input.name;
  if (mapping === 'csi' && input.driver !== 'csi') {
    problems.push({
      field: `${where}.mapping`,
      message: `Service "${name}" maps volumes as Mesos CSI volumes (mapping csi), which needs driver csi: a CSI_VOLUME names a CSI plugin's volume`,
    });
  }
  if (input.driver !== 'csi') return problems;
  const csi = input.csi;
  if (!csi?.endpoint) {
    problems.push({ field: `${where}.csi.endpoint`, message: `Service "${name}" uses driver csi: set csi.endpoint (the plugin's controller socket)` });
    return problems;
  }
  const endpoint = readCsiEndpoint(csi.endpoint, `${where}.csi.endpoint`);
  if ('problem' in endpoint) problems.push({ field: `${where}.csi.endpoint`, message: endpoint.problem });
  else if (endpoint.endpoint.kind === 'tcp' && !csi.tls?.caFile) {
    problems.push({
      field: `${where}.csi.tls`,
      message: `Service "${name}": csi.endpoint is TCP: set csi.tls.caFile (and csi.tls.certFile/keyFile if the plugin asks for a client certificate); Polly sends no secrets in the clear`,
    });
  }
  if (csi.tls && (csi.tls.certFile === undefined) !== (csi.tls.keyFile === undefined)) {
    problems.push({ field: `${where}.csi.tls`, message: `Service "${name}": csi.tls needs both certFile and keyFile, or neither` });
  }
  if (mapping === 'csi' && csi.nodeNeedsPublishContext) {
    problems.push({ field: `${where}.csi.nodeNeedsPublishContext`, message: csiPublishContextProblem(name) });
  }
  if (csi.accessType === 'block' && (csi.fsType || Object.values(csi.profiles ?? {}).some((p) => p.fsType))) {
    problems.push({
      field: `${where}.csi.fsType`,
      message: `Service "${name}" uses block access (csi.accessType block): a file system type (csi.fsType, csi.profiles.*.fsType) has no meaning there`,
    });
  }
  const profileNames = new Set((input.profiles ?? [{ name: DEFAULT_PROFILE_NAME }]).map((p) => p.name));
  const unknown = Object.keys(csi.profiles ?? {}).filter((p) => !profileNames.has(p));
  if (unknown.length > 0) {
    problems.push({
      field: `${where}.csi.profiles`,
      message: `Service "${name}": csi.profiles names ${unknown.map((p) => `"${p}"`).join(', ')}, which ${unknown.length === 1 ? 'is not a profile' : 'are not profiles'} of the service`,
    });
  }
  return problems;
}

/** Why a plugin whose node service needs a publish context cannot be served through Mesos' isolator. */
export function csiPublishContextProblem(service: string): string {
  return (
    `Service "${service}": its CSI plugin's node service needs ControllerPublishVolume's publish_context (csi.nodeNeedsPublishContext), ` +
    "but mapping csi hands volumes to Mesos' volume/csi isolator, which calls the node service without one " +
    '(Volume.Source.CSIVolume.StaticProvisioning has no publish_context field): use mapping dockerVolume with a volume driver that calls the node service itself, or a plugin that needs no publish context'
  );
}

export class ServiceRegistry {
  private readonly services = new Map<string, StorageService>();
  private readonly store: Store;
  private readonly logger: Logger;
  /** `<service>/<profile>` of profiles known to be recorded as used. */
  private readonly used = new Set<string>();

  /** Validates the configuration and builds the drivers (without initialising them). */
  constructor(options: ServiceRegistryOptions) {
    this.store = options.store;
    this.logger = options.logger ?? silentLogger;
    if (!path.isAbsolute(options.home))
      throw new ValidationError(`Polly home must be an absolute path, got ${JSON.stringify(options.home)}`, { field: 'home' });
    for (const [index, input] of options.services.entries()) {
      const definition = defineService(input, index, options.home);
      if (this.services.has(definition.name)) {
        throw ValidationError.field(`services[${index}].name`, `Two storage services are named "${definition.name}"`);
      }
      const driver = options.createDriver(definition);
      if (definition.mapping === 'hostPath' && typeof driver.hostPath !== 'function') {
        throw ValidationError.field(
          `services[${index}].mapping`,
          `Service "${definition.name}": driver ${driver.name} cannot expose volumes as host paths; use mapping ${definition.driver === 'csi' ? 'csi' : 'dockerVolume'}`,
        );
      }
      this.services.set(definition.name, Object.freeze({ name: definition.name, definition, driver }));
    }
  }

  /**
   * Refuses a config that changed a used profile, then initialises every driver (in parallel, each
   * bounded by its service's timeout).
   */
  async start(options: StartOptions = {}): Promise<void> {
    await this.checkUsedProfiles();
    await Promise.all(
      this.list().map(async (service) => {
        const signals = [AbortSignal.timeout(service.definition.timeoutMs), ...(options.signal ? [options.signal] : [])];
        try {
          await service.driver.init({ signal: AbortSignal.any(signals) });
        } catch (err) {
          throw new PollyError(
            `Storage service "${service.name}" (driver ${service.definition.driver}) failed to start: ${(err as Error).message}`,
            { service: service.name },
            { cause: err },
          );
        }
        this.logger.info('storage service ready', {
          service: service.name,
          driver: service.definition.driver,
          mapping: service.definition.mapping,
        });
      }),
    );
  }

  async close(): Promise<void> {
    for (const service of this.services.values()) {
      try {
        await service.driver.close?.();
      } catch (err) {
        this.logger.warn('storage driver failed to close', { service: service.name, error: (err as Error).message });
      }
    }
  }

  has(name: string): boolean {
    return this.services.has(name);
  }

  get(name: string): StorageService {
    const service = this.services.get(name);
    if (!service) throw new NotFoundError(`Unknown storage service ${JSON.stringify(name)}`, { service: name });
    return service;
  }

  /** In config order. */
  list(): StorageService[] {
    return [...this.services.values()];
  }

  profile(serviceName: string, profileName: string): Profile {
    const profile = this.get(serviceName).definition.profiles.find((p) => p.name === profileName);
    if (!profile)
      throw new NotFoundError(`Service "${serviceName}" has no profile ${JSON.stringify(profileName)}`, {
        service: serviceName,
        profile: profileName,
      });
    return profile;
  }

  /**
   * Effective create parameters for a new volume: profile (default `default`) merged with the request,
   * bounds checked. Pure: call `markUsed` once the create is actually going ahead.
   */
  resolveCreate(serviceName: string, profileName: string | undefined, request: CreateRequest = {}): ResolvedCreate {
    return resolveCreate(this.profile(serviceName, profileName ?? DEFAULT_PROFILE_NAME), request);
  }

  isUsed(profile: Profile): boolean {
    return this.used.has(`${profile.service}/${profile.name}`);
  }

  /** Records that `profile` created a volume: from now on its frozen parameters cannot change. */
  async markUsed(profile: Profile): Promise<void> {
    const id = `${profile.service}/${profile.name}`;
    if (this.used.has(id)) return;
    const record: UsedProfileRecord = {
      service: profile.service,
      profile: profile.name,
      params: immutableParams(profile),
      firstUsedAt: new Date().toISOString(),
    };
    try {
      await this.store.putIfVersion(profileUsedKey(profile.service, profile.name), record, 0);
      this.logger.info('profile used for the first time; its parameters are now fixed', {
        service: profile.service,
        profile: profile.name,
      });
    } catch (err) {
      if (!(err instanceof StoreConflictError)) throw err; // already recorded: the first use counts
    }
    this.used.add(id);
  }

  private async checkUsedProfiles(): Promise<void> {
    const problems: string[] = [];
    const details: Array<{ service: string; profile: string; fields?: string[] }> = [];
    for await (const [key, record] of this.store.scan<UsedProfileRecord>(PREFIXES.profilesUsed)) {
      const service = this.services.get(record.service);
      if (!service) {
        this.logger.warn('a storage service with used profiles is no longer configured', {
          service: record.service,
          profile: record.profile,
          key,
        });
        continue;
      }
      const profile = service.definition.profiles.find((p) => p.name === record.profile);
      if (!profile) {
        problems.push(
          `profile "${record.profile}" of service "${record.service}" was used and cannot be removed (set active: false instead)`,
        );
        details.push({ service: record.service, profile: record.profile });
        continue;
      }
      const changed = changedParams(record.params, profile);
      if (changed.length > 0) {
        const what = changed.map((f) => `${f} ${JSON.stringify(record.params[f])} → ${JSON.stringify(profile[f] ?? null)}`).join(', ');
        problems.push(
          `profile "${record.profile}" of service "${record.service}" was used and cannot change (${what}); deactivate it and add a profile with a new name`,
        );
        details.push({ service: record.service, profile: record.profile, fields: changed });
        continue;
      }
      this.used.add(`${record.service}/${record.profile}`);
    }
    if (problems.length > 0) {
      throw new ValidationError(`Storage configuration conflicts with used profiles: ${problems.join('; ')}`, {
        field: 'services',
        profiles: details,
      });
    }
  }
}
