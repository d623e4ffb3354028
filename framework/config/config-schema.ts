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

/** A service backed by a remote libStorage server (drivers/libstorage). */
const LibStorageServiceConfigSchema = Type.Object(
  {
    /** `http(s)://host:port`, `tcp://host:port` or `unix:///path.sock`. */
    host: Type.String({ minLength: 1, pattern: '^(https?|tcp|unix)://' }),
    /** The service name on the remote server. */
    service: Type.String({ minLength: 1, maxLength: 255 }),
    /** Bound on each HTTP request to the server. */
    timeoutMs: Type.Integer({ minimum: 100, maximum: 3600000, default: 30000 }),
    /** JWT sent as a bearer token when the remote server has auth on. */
    token: Type.Optional(Type.String({ minLength: 1 })),
    /** Instance-ID header driver name; default: the driver the remote service advertises. */
    instanceDriver: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$' })),
  },
  { additionalProperties: false },
);

/** Polly's own libStorage-compatible API (REX-Ray agents point `libstorage.host` here). */
const LibStorageConfigSchema = Type.Object(
  {
    enabled: Type.Boolean({ default: true }),
    host: Type.String({ minLength: 1, default: '127.0.0.1' }),
    port: Type.Integer({ minimum: 0, maximum: 65535, default: 7981 }),
    /** A unix socket path to listen on instead of host:port; empty: TCP. */
    socket: Type.String({ default: '' }),
    /** HTTPS when both files are set (PEM). */
    tls: Type.Optional(
      Type.Object({ certFile: Type.String({ minLength: 1 }), keyFile: Type.String({ minLength: 1 }) }, { additionalProperties: false }),
    ),
    /** JWT bearer auth (libStorage §auth); absent: auth off, allowed only on loopback or a unix socket. */
    jwt: Type.Optional(
      Type.Object(
        {
          secret: Type.Optional(Type.String({ minLength: 16 })),
          secretFile: Type.Optional(Type.String({ minLength: 1 })),
          algorithm: Type.Union([Type.Literal('HS256'), Type.Literal('HS384'), Type.Literal('HS512')], { default: 'HS256' }),
          /** Per service: token subjects allowed (empty: any valid token) and denied (deny wins). */
          services: Type.Record(
            Type.String(),
            Type.Object(
              {
                allow: Type.Array(Type.String({ minLength: 1 }), { default: [] }),
                deny: Type.Array(Type.String({ minLength: 1 }), { default: [] }),
              },
              { additionalProperties: false },
            ),
            { default: {} },
          ),
          /** Subjects that see every volume and may preempt with `force`. */
          admins: Type.Array(Type.String({ minLength: 1 }), { default: [] }),
        },
        { additionalProperties: false },
      ),
    ),
    /**
     * Per service: which instance IDs each token subject (JWT `sub`, or an `api.tokens` name) may
     * attach and detach as. A service listed here refuses (403) any other instance to a non-admin
     * caller; a service not listed lets a caller name any instance. Needs auth.
     */
    instances: Type.Record(
      Type.String(),
      Type.Record(Type.String({ minLength: 1 }), Type.Array(Type.String({ minLength: 1, maxLength: 255 }), { maxItems: 1000 })),
      { default: {} },
    ),
    /** Per service: the driver name (and type) advertised to clients; vfs services default to `vfs`. */
    advertise: Type.Optional(
      Type.Record(
        Type.String(),
        Type.Object(
          {
            driver: Type.String({ pattern: '^[a-z0-9][a-z0-9._-]{0,63}$' }),
            type: Type.Optional(Type.Union([Type.Literal('block'), Type.Literal('nas'), Type.Literal('object')])),
          },
          { additionalProperties: false },
        ),
      ),
    ),
  },
  { default: {}, additionalProperties: false },
);

export type LibStorageConfig = Static<typeof LibStorageConfigSchema>;

/** A CSI node ID (NodeGetInfo's node_id): printable, at most 128 characters (the CSI size limit). */
const CsiNodeId = Type.String({ minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9][A-Za-z0-9._:@-]*$' });
/** A zone name as it appears in a CSI topology segment. */
const CsiZone = Type.String({ minLength: 1, maxLength: 63, pattern: '^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$' });

/**
 * Polly as a CSI plugin: Identity + Controller inside `polly start` (or `polly csi controller`),
 * Identity + Node in `polly csi node` on each host.
 */
const CsiConfigSchema = Type.Object(
  {
    /** Serve the CSI controller inside `polly start` (on the leader only, under HA). */
    enabled: Type.Boolean({ default: true }),
    /** The plugin name (GetPluginInfo): Kubernetes' CSIDriver name, Nomad's plugin driver name. */
    pluginName: Type.String({ pattern: '^[A-Za-z0-9]([A-Za-z0-9.-]{0,61}[A-Za-z0-9])?$', default: 'polly.csi.storage' }),
    /** The controller's unix socket (mode 0600, in a 0700 directory); empty: `<home>/csi/controller.sock`. */
    socket: Type.String({ default: '' }),
    /** The scheduler every caller on the unix socket acts as: CSI volumes are offered to it and it publishes only volumes offered to it. */
    scheduler: Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._:@-]{0,254}$', default: 'csi' }),
    /** A TCP listener besides the socket; callers must present a TLS client certificate whose common name is their scheduler name. */
    tcp: Type.Optional(
      Type.Object(
        {
          host: Type.String({ minLength: 1, default: '127.0.0.1' }),
          port: { ...Port, default: 7982 },
          certFile: Type.String({ minLength: 1 }),
          keyFile: Type.String({ minLength: 1 }),
          /** CA certificates (PEM) that sign the schedulers' client certificates. */
          caFile: Type.String({ minLength: 1 }),
        },
        { additionalProperties: false },
      ),
    ),
    /** CSI nodes that are not Mesos agents Polly knows (by hostname), with their zone. */
    nodes: Type.Array(Type.Object({ id: CsiNodeId, zone: Type.Optional(CsiZone) }, { additionalProperties: false }), { default: [] }),
    /** Accept any node ID in ControllerPublishVolume (an unknown one is claimed for the agent ID `csi-node:<id>`). */
    acceptUnknownNodes: Type.Boolean({ default: false }),
    /** `polly csi node` on this host. */
    node: Type.Object(
      {
        /** This host's node ID; empty: the host name (what Mesos agents are known by). */
        id: Type.String({ maxLength: 128, pattern: '^([A-Za-z0-9][A-Za-z0-9._:@-]*)?$', default: '' }),
        /** This host's zone (NodeGetInfo's topology); empty: none. */
        zone: Type.String({ maxLength: 63, pattern: '^([A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?)?$', default: '' }),
        /** The node service's unix socket; empty: `<home>/csi/node.sock` (CSI_ENDPOINT or --endpoint win). */
        socket: Type.String({ default: '' }),
        /**
         * Mount only volumes whose publish context (from Polly's ControllerPublishVolume) names this node.
         * Off for a CO that calls the node service alone (Mesos' volume/csi isolator): Polly claimed the
         * volume for the agent itself, and the isolator passes no publish context.
         */
        requirePublishContext: Type.Boolean({ default: true }),
        /** Stage volumes (STAGE_UNSTAGE_VOLUME): bind the volume at the staging path, then the staging path at each target. */
        stageVolumes: Type.Boolean({ default: false }),
      },
      { default: {}, additionalProperties: false },
    ),
  },
  { default: {}, additionalProperties: false },
);

export type CsiConfig = Static<typeof CsiConfigSchema>;

export type LibStorageServiceConfig = Static<typeof LibStorageServiceConfigSchema>;

const StringMapSchema = Type.Record(Type.String({ minLength: 1, maxLength: 255 }), Type.String({ maxLength: 4096 }), { default: {} });

/** A secret Mesos' secret resolver on the agent looks up by name (Secret.Reference); Polly never sees its value. */
const CsiSecretReferenceSchema = Type.Object(
  { name: Type.String({ minLength: 1, maxLength: 1024 }), key: Type.Optional(Type.String({ minLength: 1, maxLength: 1024 })) },
  { additionalProperties: false },
);

/** For driver `csi`: a CSI plugin's controller service as the backend (drivers/csi). */
export const CsiServiceConfigSchema = Type.Object(
  {
    /** The plugin's controller endpoint: `unix:///path/to/controller.sock` or `tcp://host:port` (with `tls`). */
    endpoint: Type.String({ minLength: 1 }),
    /** For a TCP endpoint: the CA that signs the plugin's certificate, and a client certificate if the plugin asks for one. */
    tls: Type.Optional(
      Type.Object(
        {
          caFile: Type.String({ minLength: 1 }),
          certFile: Type.Optional(Type.String({ minLength: 1 })),
          keyFile: Type.Optional(Type.String({ minLength: 1 })),
        },
        { additionalProperties: false },
      ),
    ),
    /** The name the plugin must give in GetPluginInfo; empty: whatever it says. */
    pluginName: Type.String({ pattern: '^([A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?)?$', default: '' }),
    /** The name the agents know the plugin by (the `type` of its CSIPluginInfo on the agents); empty: the plugin's own name. */
    agentPluginName: Type.String({ pattern: '^([A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?)?$', default: '' }),
    /** The topology segment key whose value is a zone (the plugin's own key; `topology.kubernetes.io/zone` is always understood too). */
    topologyKey: Type.String({ minLength: 1, maxLength: 316, default: 'topology.kubernetes.io/zone' }),
    /** The agent attribute holding the agent's node ID for this plugin; empty: `csi.<plugin name>.node_id`. Agents without it are known by their host name. */
    nodeIdAttribute: Type.String({ maxLength: 255, default: '' }),
    /** Every CSI name Polly gives starts with it; empty: `polly-<service>-`. */
    namePrefix: Type.String({ pattern: '^([a-z0-9][a-z0-9._-]{0,47})?$', default: '' }),
    /** How tasks use the volumes: a mounted file system, or a raw block device. */
    accessType: Type.Union([Type.Literal('mount'), Type.Literal('block')], { default: 'mount' }),
    /** The file system volumes are mounted with when their profile names none (mount access); empty: the plugin's default. */
    fsType: Type.String({ pattern: '^([a-z0-9][a-z0-9._-]{0,31})?$', default: '' }),
    mountFlags: Type.Array(Type.String({ minLength: 1, maxLength: 255 }), { maxItems: 64, default: [] }),
    /** The access mode of read-only claims. */
    readerMode: Type.Union([Type.Literal('MULTI_NODE_READER_ONLY'), Type.Literal('SINGLE_NODE_READER_ONLY')], {
      default: 'MULTI_NODE_READER_ONLY',
    }),
    /** Parameters of every CreateVolume and GetCapacity (a StorageClass's parameters). */
    parameters: StringMapSchema,
    /** Parameters of every CreateSnapshot. */
    snapshotParameters: StringMapSchema,
    /** Per profile (by name): its own parameters (over the service's) and file system. */
    profiles: Type.Record(
      Type.String({ pattern: '^[a-z0-9][a-z0-9._-]{0,62}$' }),
      Type.Object(
        { parameters: Type.Optional(StringMapSchema), fsType: Type.Optional(Type.String({ pattern: '^[a-z0-9][a-z0-9._-]{0,31}$' })) },
        { additionalProperties: false },
      ),
      { default: {} },
    ),
    /** Passed as `secrets` on the plugin's controller calls; never logged, masked by `polly config show`. */
    secrets: StringMapSchema,
    /** Secrets of NodeStageVolume / NodePublishVolume, by reference: the agents' secret resolver looks them up. */
    nodeStageSecrets: Type.Record(Type.String({ minLength: 1, maxLength: 255 }), CsiSecretReferenceSchema, { default: {} }),
    nodePublishSecrets: Type.Record(Type.String({ minLength: 1, maxLength: 255 }), CsiSecretReferenceSchema, { default: {} }),
    /** The plugin's node service needs ControllerPublishVolume's publish_context (Mesos' isolator cannot pass it: mapping csi is refused). */
    nodeNeedsPublishContext: Type.Boolean({ default: false }),
    /** Deadline of each call to the plugin. */
    callTimeoutMs: Type.Integer({ minimum: 100, maximum: 3600000, default: 30000 }),
    /** Volumes of this service one node may have published; unset: no limit known. */
    attachLimit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100000 })),
  },
  { additionalProperties: false },
);

export type CsiServiceConfig = Static<typeof CsiServiceConfigSchema>;

/** A storage service: a named backend = driver + its config + profiles. */
const ServiceConfigSchema = Type.Object(
  {
    name: Type.String({ pattern: '^[a-z][a-z0-9-]{0,62}$' }),
    /** `vfs` (local directories), `libstorage` (a remote libStorage server, e.g. REX-Ray or another Polly) or `csi` (any CSI plugin's controller). */
    driver: Type.Union([Type.Literal('vfs'), Type.Literal('libstorage'), Type.Literal('csi')]),
    /**
     * How an attached volume reaches a task: a host path, a Docker volume through `dockerVolumeDriver`,
     * or a Mesos CSI volume the agents' `volume/csi` isolator publishes. Default: `csi` for driver csi, else `hostPath`.
     */
    mapping: Type.Optional(Type.Union([Type.Literal('hostPath'), Type.Literal('dockerVolume'), Type.Literal('csi')])),
    /** Docker volume driver name on the agents (e.g. `rexray`), for mapping `dockerVolume`. */
    dockerVolumeDriver: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._/:-]{0,127}$' })),
    /**
     * Bound on every driver operation, in total: its calls, retries and follow-up calls (the inspect
     * after a failed attach) together take at most this long, then the caller gets its answer.
     */
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
    /** For driver `libstorage`: the remote server and the service on it this Polly service uses. */
    libstorage: Type.Optional(LibStorageServiceConfigSchema),
    /** For driver `csi`: the plugin and how its volumes are created and handed to tasks. */
    csi: Type.Optional(CsiServiceConfigSchema),
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
        /**
         * Seconds a task may be unaccounted for by Mesos (TASK_UNKNOWN, or no answer to reconciliation)
         * before it is reported stranded (log, `task.stranded` event, `polly app get`); its volumes stay
         * held until an operator resolves it (`polly task resolve`).
         */
        unknownTaskTimeoutSeconds: Type.Number({ minimum: 1, maximum: 7 * 86400, default: 300 }),
        /** Refuse filter (seconds) for offers declined while instances are waiting. */
        pendingRefuseSeconds: Type.Number({ minimum: 0, maximum: 3600, default: 1 }),
        /**
         * Docker volume driver names (a Marathon app's `dvdi/driver`, `volume-driver` parameter or
         * `DVDI_VOLUME_DRIVER`) → the storage service whose volumes they are. A driver not listed is
         * served by a service with that `dockerVolumeDriver`, or refused (422).
         */
        volumeDrivers: Type.Record(Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._/:-]{0,127}$' }), Type.String({ pattern: '^[a-z][a-z0-9-]{0,62}$' }), {
          default: { rexray: 'local', polly: 'local' },
          maxProperties: 256,
        }),
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
        /**
         * Tasks with a Docker or UCR image or a container network. The local agents have no container
         * engine: `fail` them as a real agent without one does (default), or `host`: run their command
         * on the host, without the image or any isolation (development only).
         */
        imageTasks: Type.Union([Type.Literal('fail'), Type.Literal('host')], { default: 'fail' }),
        /**
         * The agents' `--csi_plugin_config_dir` (their `volume/csi` isolator): CSIPluginInfo JSON files.
         * An agent reads `<dir>/<hostname>/` when it exists, else `<dir>`; empty: no isolator. Relative to home.
         */
        csiPluginConfigDir: Type.String({ default: '' }),
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
    libstorage: LibStorageConfigSchema,
    csi: CsiConfigSchema,
    /**
     * Where Polly's state lives. `leveldb` (default): embedded under `home`, one Polly process.
     * `zookeeper`: in the ensemble at `servers`, shared by several Polly instances that elect a
     * leader among themselves (only the leader talks to Mesos and mutates; standbys serve reads).
     */
    state: Type.Object(
      {
        backend: Type.Union([Type.Literal('leveldb'), Type.Literal('zookeeper')], { default: 'leveldb' }),
        /** ZooKeeper connection string, e.g. `zk1:2181,zk2:2181,zk3:2181`. */
        servers: Type.String({ default: '' }),
        /** The znode under which Polly keeps its state and its leader election. */
        path: Type.String({ pattern: '^/[^\\u0000-\\u001f]+$', default: '/polly' }),
        /**
         * The ZooKeeper session: a leader cut off from ZooKeeper for 2/3 of it steps down, and a
         * leader that dies before its first heartbeat is replaced when it expires.
         */
        sessionTimeoutMs: Type.Integer({ minimum: 1000, maximum: 120000, default: 10000 }),
        /** How often the leader rewrites its heartbeat in ZooKeeper. */
        leaderHeartbeatMs: Type.Integer({ minimum: 100, maximum: 60000, default: 500 }),
        /**
         * A standby replaces (fences out) a leader whose heartbeat has not changed for this long;
         * 0 = only when the leader's ZooKeeper session expires. At least 3 heartbeats.
         */
        leaderTimeoutMs: Type.Integer({ minimum: 0, maximum: 600000, default: 3000 }),
        /** The API URL other instances redirect mutations to while this one leads; empty means the bound API URL. */
        advertiseUrl: Type.String({ default: '' }),
        /**
         * Readiness probe of the store: when nothing was written for `intervalMs` (or writes fail), one
         * small key is written; a write waiting longer than `stallMs` makes `/health/ready` 503.
         */
        writeProbe: Type.Object(
          {
            intervalMs: Type.Integer({ minimum: 100, maximum: 600000, default: 5000 }),
            stallMs: Type.Integer({ minimum: 100, maximum: 600000, default: 10000 }),
          },
          { default: {}, additionalProperties: false },
        ),
        /** Finished (released or failed) claims are kept this long and at most this many, then pruned. */
        finishedClaims: Type.Object(
          {
            keepHours: Type.Number({ minimum: 0, maximum: 10 * 8760, default: 7 * 24 }),
            keepMax: Type.Integer({ minimum: 0, maximum: 10_000_000, default: 100_000 }),
          },
          { default: {}, additionalProperties: false },
        ),
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
