/**
 * Polly's configuration: one schema gives the TypeScript type, the defaults and the validation.
 * Every key can be set in the YAML file, overridden by `POLLY_<KEY_PATH>` in the environment
 * (e.g. `mesos.failoverTimeoutSeconds` ← `POLLY_MESOS_FAILOVER_TIMEOUT_SECONDS`) and some by CLI flags.
 */
import { Static, Type } from '@sinclair/typebox';

const Port = Type.Integer({ minimum: 0, maximum: 65535 });

/** A storage profile: a named, immutable-once-used set of create parameters (DESIGN §3). */
const ProfileConfigSchema = Type.Object(
  {
    name: Type.String({ pattern: '^[a-z0-9][a-z0-9._-]{0,62}$' }),
    type: Type.Optional(Type.String({ minLength: 1, maxLength: 128, pattern: '^[^\\u0000-\\u001f\\u007f]+$' })),
    iops: Type.Optional(Type.Integer({ minimum: 1, maximum: 10000000 })),
    fsType: Type.Optional(Type.String({ pattern: '^[a-z0-9][a-z0-9._-]{0,31}$' })),
    encrypted: Type.Optional(Type.Boolean()),
    minSizeGiB: Type.Optional(Type.Integer({ minimum: 1, maximum: 1048576 })),
    maxSizeGiB: Type.Optional(Type.Integer({ minimum: 1, maximum: 1048576 })),
    /** Inactive profiles keep existing volumes working but cannot create new ones (deactivate, never delete). */
    active: Type.Boolean({ default: true }),
  },
  { additionalProperties: false },
);

/** A storage service: a named backend = driver + its config + profiles. */
const ServiceConfigSchema = Type.Object(
  {
    name: Type.String({ pattern: '^[a-z][a-z0-9-]{0,62}$' }),
    /** `vfs` now; `libstorage` when that driver lands. */
    driver: Type.Literal('vfs'),
    /** How an attached volume reaches a task: a host path, or a Docker volume through `dockerVolumeDriver`. */
    mapping: Type.Union([Type.Literal('hostPath'), Type.Literal('dockerVolume')], { default: 'hostPath' }),
    /** Docker volume driver name on the agents (e.g. `rexray`), for mapping `dockerVolume`. */
    dockerVolumeDriver: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._/:-]{0,127}$' })),
    /** Bound on every driver call. */
    timeoutMs: Type.Integer({ minimum: 100, maximum: 3600000, default: 60000 }),
    vfs: Type.Optional(
      Type.Object(
        {
          /** Default `<home>/vfs/<service name>`. */
          root: Type.Optional(Type.String({ minLength: 1 })),
          attachLimit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100000 })),
        },
        { additionalProperties: false },
      ),
    ),
    profiles: Type.Array(ProfileConfigSchema, { minItems: 1, default: [{ name: 'default' }] }),
  },
  { additionalProperties: false },
);

export type ServiceConfig = Static<typeof ServiceConfigSchema>;
export type ProfileConfig = Static<typeof ProfileConfigSchema>;

export const ConfigSchema = Type.Object(
  {
    /** Where embedded state lives (LevelDB, local cluster sandboxes, vfs volumes). */
    home: Type.String({ minLength: 1, default: '~/.polly' }),
    /** `local`, a comma-separated list of http(s) master URLs, or later zk://. */
    master: Type.String({ minLength: 1, default: 'local' }),
    mesos: Type.Object(
      {
        frameworkName: Type.String({ minLength: 1, default: 'polly' }),
        /** Unix user tasks run as; empty means the user running Polly. */
        user: Type.String({ default: '' }),
        roles: Type.Array(Type.String({ minLength: 1 }), { minItems: 1, default: ['polly'] }),
        principal: Type.String({ default: '' }),
        secret: Type.String({ default: '' }),
        /** One week: a Polly restart must never kill running tasks. */
        failoverTimeoutSeconds: Type.Number({ minimum: 0, maximum: 365 * 24 * 3600, default: 7 * 24 * 3600 }),
        /** Shown in the Mesos UI as the framework's host; empty means this machine's hostname. */
        hostname: Type.String({ default: '' }),
        /** Public URL of the dashboard; empty means http://<api.host>:<api.port>/ui. */
        webuiUrl: Type.String({ default: '' }),
        format: Type.Union([Type.Literal('protobuf'), Type.Literal('json')], { default: 'protobuf' }),
        /** Heartbeats missed before the subscription is considered dead. */
        missedHeartbeats: Type.Integer({ minimum: 1, maximum: 100, default: 5 }),
        /** Seconds a declined agent is not offered again. */
        declineRefuseSeconds: Type.Number({ minimum: 0, maximum: 31536000, default: 30 }),
        tls: Type.Object(
          {
            caFile: Type.String({ default: '' }),
            rejectUnauthorized: Type.Boolean({ default: true }),
          },
          { default: {}, additionalProperties: false },
        ),
      },
      { default: {}, additionalProperties: false },
    ),
    scheduler: Type.Object(
      {
        /** The agent attribute naming the zone when an offer carries no fault domain. */
        zoneAttribute: Type.String({ minLength: 1, default: 'zone' }),
        /** Seconds an unreachable task is left alone before Polly asks Mesos about it again; volumes never move before Mesos says it is gone. */
        unreachableTimeoutSeconds: Type.Number({ minimum: 1, maximum: 86400, default: 60 }),
        /** Refuse filter (seconds) for offers declined while instances are waiting. */
        pendingRefuseSeconds: Type.Number({ minimum: 0, maximum: 3600, default: 1 }),
      },
      { default: {}, additionalProperties: false },
    ),
    api: Type.Object(
      {
        host: Type.String({ minLength: 1, default: '127.0.0.1' }),
        port: Type.Integer({ minimum: 0, maximum: 65535, default: 7978 }),
        /** `auto`: auth is off when the API listens on loopback, on otherwise. `off` is refused off loopback. */
        auth: Type.Union([Type.Literal('auto'), Type.Literal('on'), Type.Literal('off')], { default: 'auto' }),
        /** Bearer tokens; scope `admin`, `read`, or `scheduler:NAME` (sees and claims only volumes offered to NAME). */
        tokens: Type.Array(
          Type.Object(
            {
              name: Type.String({ minLength: 1, maxLength: 128 }),
              token: Type.String({ minLength: 16, maxLength: 4096 }),
              scope: Type.String({ pattern: '^(admin|read|scheduler:[A-Za-z0-9][A-Za-z0-9._:@-]{0,254})$' }),
            },
            { additionalProperties: false },
          ),
          { default: [] },
        ),
        /** HTTPS when both files are set (PEM). */
        tls: Type.Object(
          {
            certFile: Type.String({ default: '' }),
            keyFile: Type.String({ default: '' }),
          },
          { default: {}, additionalProperties: false },
        ),
        /** Largest accepted request body. */
        bodyLimitBytes: Type.Integer({ minimum: 1024, maximum: 64 * 1024 * 1024, default: 1024 * 1024 }),
        /** Bound on finishing in-flight requests at shutdown. */
        shutdownTimeoutMs: Type.Integer({ minimum: 0, maximum: 600000, default: 10000 }),
        /** Events kept for `/v1/events` resumption (Last-Event-ID). */
        eventJournalSize: Type.Integer({ minimum: 16, maximum: 1000000, default: 10000 }),
      },
      { default: {}, additionalProperties: false },
    ),
    local: Type.Object(
      {
        host: Type.String({ minLength: 1, default: '127.0.0.1' }),
        port: { ...Port, default: 5050 },
        agents: Type.Integer({ minimum: 1, maximum: 64, default: 3 }),
        heartbeatIntervalSeconds: Type.Number({ exclusiveMinimum: 0, maximum: 3600, default: 15 }),
        allocationIntervalMs: Type.Integer({ minimum: 10, maximum: 600000, default: 1000 }),
      },
      { default: {}, additionalProperties: false },
    ),
    log: Type.Object(
      {
        level: Type.Union([Type.Literal('error'), Type.Literal('warn'), Type.Literal('info'), Type.Literal('debug')], { default: 'info' }),
        format: Type.Union([Type.Literal('auto'), Type.Literal('json'), Type.Literal('pretty')], { default: 'auto' }),
      },
      { default: {}, additionalProperties: false },
    ),
    /** Storage services; names must be unique (checked by the ServiceRegistry). */
    services: Type.Array(ServiceConfigSchema, {
      default: [{ name: 'local', driver: 'vfs', mapping: 'hostPath', profiles: [{ name: 'default' }] }],
    }),
  },
  { additionalProperties: false },
);

export type PollyConfig = Static<typeof ConfigSchema>;
