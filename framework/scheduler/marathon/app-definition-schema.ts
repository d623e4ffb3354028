/**
 * Marathon's AppDefinition (`docs/docs/rest-api/public/api/v2/types/app.raml` and the types it uses,
 * Marathon 1.x, plus `storeUrls` of earlier 1.x versions) as one typebox schema: every field Marathon accepts, with its types and bounds, plus
 * the read-only fields of an AppInfo (what `GET /v2/apps` exports), so an operator can paste what
 * Marathon gave them. A field Marathon does not know is refused, naming it (a typo must not be
 * silently dropped). `null` stands for "not set", as in Marathon's own exports (see `withoutNulls`).
 *
 * This schema only says what is well-formed; what Polly does with each field is
 * app-definition-fields.ts's, and turning a definition into Polly's AppSpec app-normaliser.ts's.
 */
import { Static, TSchema, Type } from '@sinclair/typebox';

const Obj = <T extends Parameters<typeof Type.Object>[0]>(properties: T) => Type.Object(properties, { additionalProperties: false });
const Opt = <T extends TSchema>(schema: T) => Type.Optional(schema);
const Str = (max = 4096) => Type.String({ maxLength: max });
const NonEmpty = (max = 4096) => Type.String({ minLength: 1, maxLength: max });
const Int = (min = 0, max = 2147483647) => Type.Integer({ minimum: min, maximum: max });
const AnyPort = Type.Integer({ minimum: 0, maximum: 65535 });
const KVLabels = Type.Record(Type.String({ maxLength: 255 }), Type.String({ maxLength: 4096 }), { maxProperties: 256 });
const NetworkProtocol = Type.Union([Type.Literal('tcp'), Type.Literal('udp'), Type.Literal('udp,tcp'), Type.Literal('tcp,udp')]);
const ReadMode = Type.Union([Type.Literal('RO'), Type.Literal('RW')]);
/** `^[a-z0-9]([-a-z0-9]*[a-z0-9])?$` (strings.LegacyName). */
const LegacyName = Type.String({ minLength: 1, maxLength: 255, pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$' });
const NetworkName = Type.String({ minLength: 1, maxLength: 63, pattern: '^[a-z0-9]([-a-z0-9_]*[a-z0-9])?$' });
const HttpScheme = Type.Union([Type.Literal('HTTP'), Type.Literal('HTTPS')]);

/** An environment variable's value, or a reference to a secret (`{"secret": "name"}`). */
export const EnvValueSchema = Type.Union([Type.String({ maxLength: 65536 }), Obj({ secret: NonEmpty(255) })]);

export const ArtifactSchema = Obj({
  uri: NonEmpty(1024),
  extract: Opt(Type.Boolean()),
  executable: Opt(Type.Boolean()),
  cache: Opt(Type.Boolean()),
  destPath: Opt(NonEmpty(1024)),
});

export const PortDefinitionSchema = Obj({
  port: Opt(AnyPort),
  labels: Opt(KVLabels),
  name: Opt(LegacyName),
  protocol: Opt(NetworkProtocol),
});

export const PortMappingSchema = Obj({
  containerPort: Opt(AnyPort),
  hostPort: Opt(AnyPort),
  labels: Opt(KVLabels),
  name: Opt(LegacyName),
  protocol: Opt(NetworkProtocol),
  servicePort: Opt(AnyPort),
  networkNames: Opt(Type.Array(NetworkName, { maxItems: 16 })),
});

export const NetworkSchema = Obj({
  name: Opt(NetworkName),
  mode: Opt(Type.Union([Type.Literal('container'), Type.Literal('container/bridge'), Type.Literal('host')])),
  labels: Opt(KVLabels),
});

const CommandCheck = Obj({ value: Str(65536) });

export const HealthCheckSchema = Obj({
  command: Opt(CommandCheck),
  gracePeriodSeconds: Opt(Int()),
  ignoreHttp1xx: Opt(Type.Boolean()),
  intervalSeconds: Opt(Int()),
  maxConsecutiveFailures: Opt(Int()),
  path: Opt(Str(1024)),
  port: Opt(AnyPort),
  portIndex: Opt(AnyPort),
  protocol: Opt(
    Type.Union(['HTTP', 'HTTPS', 'TCP', 'COMMAND', 'MESOS_TCP', 'MESOS_HTTP', 'MESOS_HTTPS'].map((p) => Type.Literal(p))),
  ),
  ipProtocol: Opt(Type.Union([Type.Literal('IPv4'), Type.Literal('IPv6')])),
  timeoutSeconds: Opt(Int()),
  delaySeconds: Opt(Int()),
});

const AppCheckSchema = Obj({
  http: Opt(Obj({ portIndex: Opt(AnyPort), port: Opt(AnyPort), path: Opt(Str(1024)), scheme: Opt(HttpScheme) })),
  tcp: Opt(Obj({ portIndex: Opt(AnyPort), port: Opt(AnyPort) })),
  exec: Opt(Obj({ command: Type.Unknown() })),
  intervalSeconds: Opt(Int()),
  timeoutSeconds: Opt(Int()),
  delaySeconds: Opt(Int()),
});

const ReadinessCheckSchema = Obj({
  name: Opt(NonEmpty(255)),
  protocol: Opt(HttpScheme),
  path: Opt(NonEmpty(1024)),
  portName: Opt(LegacyName),
  intervalSeconds: Opt(Int()),
  timeoutSeconds: Opt(Int(1)),
  httpStatusCodesForReady: Opt(Type.Array(Int(100, 999), { maxItems: 100 })),
  preserveLastResponse: Opt(Type.Boolean()),
});

const DvdiExternalSchema = Obj({
  size: Opt(Int(0)),
  name: Opt(Str(1024)),
  provider: Opt(Str(255)),
  options: Opt(KVLabels),
  shared: Opt(Type.Boolean()),
});

export const AppVolumeSchema = Obj({
  containerPath: NonEmpty(1024),
  mode: Opt(ReadMode),
  external: Opt(DvdiExternalSchema),
  hostPath: Opt(NonEmpty(4096)),
  persistent: Opt(
    Obj({
      type: Opt(Type.Union([Type.Literal('root'), Type.Literal('path'), Type.Literal('mount')])),
      size: Opt(Int(0)),
      maxSize: Opt(Int(0)),
      profileName: Opt(Str(255)),
      constraints: Opt(Type.Array(Type.Array(Str(1024), { minItems: 2, maxItems: 3 }), { maxItems: 32 })),
    }),
  ),
  secret: Opt(NonEmpty(255)),
});

export const DockerParameterSchema = Obj({ key: NonEmpty(255), value: Str(4096) });

export const DockerSchema = Obj({
  credential: Opt(Obj({ principal: Str(1024), secret: Opt(Str(4096)) })),
  pullConfig: Opt(Obj({ secret: NonEmpty(255) })),
  forcePullImage: Opt(Type.Boolean()),
  image: NonEmpty(1024),
  network: Opt(Type.Union([Type.Literal('BRIDGE'), Type.Literal('HOST'), Type.Literal('NONE'), Type.Literal('USER')])),
  parameters: Opt(Type.Array(DockerParameterSchema, { maxItems: 256 })),
  portMappings: Opt(Type.Array(PortMappingSchema, { maxItems: 1000 })),
  privileged: Opt(Type.Boolean()),
});

export const LinuxInfoSchema = Obj({
  seccomp: Opt(Obj({ profileName: Opt(Str(1024)), unconfined: Opt(Type.Boolean()) })),
  ipcInfo: Opt(Obj({ mode: Type.Union([Type.Literal('PRIVATE'), Type.Literal('SHARE_PARENT')]), shmSize: Opt(Int()) })),
});

export const ContainerSchema = Obj({
  type: Opt(Type.Union([Type.Literal('MESOS'), Type.Literal('DOCKER')])),
  docker: Opt(DockerSchema),
  linuxInfo: Opt(LinuxInfoSchema),
  volumes: Opt(Type.Array(AppVolumeSchema, { maxItems: 64 })),
  portMappings: Opt(Type.Array(PortMappingSchema, { maxItems: 1000 })),
});

/** `[field, OPERATOR, value?]`, or Marathon's string form `"field:OPERATOR[:value]"`. */
export const ConstraintSchema = Type.Union([Type.Array(Str(1024), { minItems: 2, maxItems: 3 }), NonEmpty(2048)]);

const UnreachableSchema = Type.Union([
  Type.Literal('disabled'),
  Obj({ inactiveAfterSeconds: Opt(Int()), expungeAfterSeconds: Opt(Int()) }),
]);

const ResourceLimit = Type.Union([Type.Literal('unlimited'), Type.Number({ minimum: 0 })]);

/** The read-only fields of an AppInfo (a `GET /v2/apps` export): status, not definition. */
export const APP_INFO_FIELDS = [
  'tasksStaged',
  'tasksRunning',
  'tasksHealthy',
  'tasksUnhealthy',
  'deployments',
  'readinessCheckResults',
  'tasks',
  'lastTaskFailure',
  'tasksStats',
] as const;

export const AppDefinitionSchema = Obj({
  id: Type.String({ minLength: 1, maxLength: 200 }),
  acceptedResourceRoles: Opt(Type.Array(NonEmpty(255), { maxItems: 64 })),
  args: Opt(Type.Array(Str(65536), { maxItems: 1000 })),
  backoffFactor: Opt(Type.Number({ minimum: 1, maximum: 1000 })),
  backoffSeconds: Opt(Int(0, 86400)),
  cmd: Opt(Type.String({ minLength: 1, maxLength: 65536 })),
  constraints: Opt(Type.Array(ConstraintSchema, { maxItems: 64 })),
  container: Opt(ContainerSchema),
  cpus: Opt(Type.Number({ minimum: 0.001, maximum: 1024 })),
  dependencies: Opt(Type.Array(NonEmpty(200), { maxItems: 256 })),
  disk: Opt(Type.Number({ minimum: 0, maximum: 1073741824 })),
  env: Opt(Type.Record(Type.String({ minLength: 1, maxLength: 255 }), EnvValueSchema, { maxProperties: 1024 })),
  executor: Opt(Str(1024)),
  executorResources: Opt(Obj({ cpus: Opt(Type.Number({ minimum: 0 })), mem: Opt(Type.Number({ minimum: 0 })), disk: Opt(Type.Number({ minimum: 0 })) })),
  fetch: Opt(Type.Array(ArtifactSchema, { maxItems: 256 })),
  healthChecks: Opt(Type.Array(HealthCheckSchema, { maxItems: 16 })),
  check: Opt(AppCheckSchema),
  instances: Opt(Int(0, 1000)),
  labels: Opt(KVLabels),
  maxLaunchDelaySeconds: Opt(Int(0, 86400)),
  mem: Opt(Type.Number({ minimum: 0, maximum: 16777216 })),
  gpus: Opt(Int(0, 1024)),
  ipAddress: Opt(
    Obj({
      discovery: Opt(Obj({ ports: Opt(Type.Array(Obj({ number: Opt(AnyPort), name: LegacyName, protocol: Opt(NetworkProtocol), labels: Opt(KVLabels) }), { maxItems: 1000 })) })),
      groups: Opt(Type.Array(Str(255), { maxItems: 64 })),
      labels: Opt(KVLabels),
      networkName: Opt(NonEmpty(255)),
    }),
  ),
  networks: Opt(Type.Array(NetworkSchema, { maxItems: 16 })),
  ports: Opt(Type.Array(AnyPort, { maxItems: 1000 })),
  portDefinitions: Opt(Type.Array(PortDefinitionSchema, { maxItems: 1000 })),
  readinessChecks: Opt(Type.Array(ReadinessCheckSchema, { maxItems: 16 })),
  residency: Opt(
    Obj({
      relaunchEscalationTimeoutSeconds: Opt(Int()),
      taskLostBehavior: Opt(Type.Union([Type.Literal('WAIT_FOREVER'), Type.Literal('RELAUNCH_AFTER_TIMEOUT')])),
    }),
  ),
  resourceLimits: Opt(Obj({ cpus: Opt(ResourceLimit), mem: Opt(ResourceLimit) })),
  requirePorts: Opt(Type.Boolean()),
  /** Marathon ≤ 1.4's artifact store (app.raml of those versions). */
  storeUrls: Opt(Type.Array(NonEmpty(1024), { maxItems: 256 })),
  secrets: Opt(Type.Record(Type.String({ maxLength: 255 }), Obj({ source: NonEmpty(4096) }), { maxProperties: 256 })),
  taskKillGracePeriodSeconds: Opt(Int(0, 86400)),
  upgradeStrategy: Opt(Obj({ maximumOverCapacity: Opt(Type.Number({ minimum: 0, maximum: 1 })), minimumHealthCapacity: Opt(Type.Number({ minimum: 0, maximum: 1 })) })),
  uris: Opt(Type.Array(NonEmpty(1024), { maxItems: 256 })),
  user: Opt(Str(255)),
  version: Opt(Str(64)),
  versionInfo: Opt(Obj({ lastScalingAt: Opt(Str(64)), lastConfigChangeAt: Opt(Str(64)) })),
  killSelection: Opt(Type.Union([Type.Literal('YOUNGEST_FIRST'), Type.Literal('OLDEST_FIRST')])),
  unreachableStrategy: Opt(UnreachableSchema),
  tty: Opt(Type.Boolean()),
  role: Opt(NonEmpty(255)),
  // AppInfo (read-only status in an export); accepted and ignored.
  tasksStaged: Opt(Type.Integer()),
  tasksRunning: Opt(Type.Integer()),
  tasksHealthy: Opt(Type.Integer()),
  tasksUnhealthy: Opt(Type.Integer()),
  deployments: Opt(Type.Array(Type.Unknown())),
  readinessCheckResults: Opt(Type.Array(Type.Unknown())),
  tasks: Opt(Type.Array(Type.Unknown())),
  lastTaskFailure: Opt(Type.Unknown()),
  tasksStats: Opt(Type.Unknown()),
});

export type AppDefinition = Static<typeof AppDefinitionSchema>;
export type MarathonHealthCheck = Static<typeof HealthCheckSchema>;
export type MarathonPortDefinition = Static<typeof PortDefinitionSchema>;
export type MarathonPortMapping = Static<typeof PortMappingSchema>;
export type MarathonVolume = Static<typeof AppVolumeSchema>;
export type MarathonContainer = Static<typeof ContainerSchema>;
export type MarathonArtifact = Static<typeof ArtifactSchema>;
export type MarathonNetwork = Static<typeof NetworkSchema>;

/** The top-level fields of a Marathon app (definition and AppInfo), in schema order. */
export const APP_DEFINITION_FIELDS: readonly string[] = Object.keys(AppDefinitionSchema.properties);

/**
 * `null` means "not set" in Marathon's exports (`"cmd": null`, `"ipAddress": null`): a copy of
 * `value` without null object members, at any depth (array items are kept as they are).
 */
export function withoutNulls(value: unknown): unknown {
  if (Array.isArray(value)) return value.map((v) => (v !== null && typeof v === 'object' ? withoutNulls(v) : v));
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value as Record<string, unknown>)) {
    if (v === null) continue;
    out[key] = typeof v === 'object' ? withoutNulls(v) : v;
  }
  return out;
}
