/**
 * What Polly does with each top-level field of a Marathon app definition — the table behind the
 * README's "Marathon apps" section, kept next to the code that does it (app-normaliser.ts):
 *
 * - `honoured`: it does what Marathon does on Mesos (the note says how, where it differs);
 * - `inert`: it has no effect on a Mesos task (status, version, UI); accepted silently;
 * - `partly`: honoured for some values; the others are warned about (safe to ignore) or refused
 *   (422, when ignoring them would not be safe) — the note says which.
 */
export type FieldHandling = 'honoured' | 'inert' | 'partly';

export const APP_FIELD_HANDLING: Readonly<Record<string, { handling: FieldHandling; note: string }>> = {
  id: { handling: 'honoured', note: 'stored without the leading "/"' },
  acceptedResourceRoles: { handling: 'partly', note: '"*" and Polly\'s roles are used; other roles warned about; none usable → 422' },
  args: { handling: 'honoured', note: 'CommandInfo arguments, shell false' },
  backoffFactor: { handling: 'honoured', note: 'default 1.15' },
  backoffSeconds: { handling: 'honoured', note: 'default 1' },
  cmd: { handling: 'honoured', note: 'run with /bin/sh -c; not together with args' },
  constraints: { handling: 'honoured', note: 'array form and "field:OPERATOR[:value]" string form' },
  container: { handling: 'partly', note: 'DOCKER and MESOS (UCR) images, volumes, port mappings, linuxInfo; persistent and secret volumes, pullConfig → 422' },
  cpus: { handling: 'honoured', note: 'default 1' },
  dependencies: { handling: 'partly', note: 'no deployment order: a non-empty list is warned about' },
  disk: { handling: 'honoured', note: 'scratch disk, default 0' },
  env: { handling: 'partly', note: 'values honoured; DVDI_VOLUME_* become managed volumes; secret references → 422' },
  executor: { handling: 'partly', note: '"" and "//cmd" (the command executor); a custom executor → 422' },
  executorResources: { handling: 'partly', note: 'no separate executor: warned about' },
  fetch: { handling: 'honoured', note: 'CommandInfo URIs (uri, extract, executable, cache, destPath → output_file)' },
  healthChecks: { handling: 'honoured', note: 'the first runs as the Mesos health check; HTTP/HTTPS/TCP as MESOS_HTTP/MESOS_HTTPS/MESOS_TCP; others warned about' },
  check: { handling: 'partly', note: 'not run: warned about' },
  instances: { handling: 'honoured', note: 'default 1; several instances need {{instance}} in RW volume names' },
  labels: { handling: 'honoured', note: 'task labels' },
  maxLaunchDelaySeconds: { handling: 'honoured', note: 'default 300' },
  mem: { handling: 'honoured', note: 'default 128' },
  gpus: { handling: 'partly', note: '0 accepted; more → 422 (Polly does not schedule GPUs)' },
  ipAddress: { handling: 'honoured', note: 'migrated to networks (a named container network) and port mappings' },
  networks: { handling: 'partly', note: 'host, container/bridge, one named container network; several container networks → 422' },
  ports: { handling: 'honoured', note: 'migrated to portDefinitions' },
  portDefinitions: { handling: 'honoured', note: 'host ports from offers, PORT0..n / PORTS / PORT_<NAME> variables; default one port' },
  readinessChecks: { handling: 'partly', note: 'updates wait for running (and healthy) tasks: a non-empty list is warned about' },
  residency: { handling: 'honoured', note: 'Polly pins each instance to its agent with a labelled reservation' },
  resourceLimits: { handling: 'honoured', note: 'TaskInfo limits ("unlimited" is infinity)' },
  requirePorts: { handling: 'honoured', note: 'the portDefinitions ports are the host ports' },
  storeUrls: { handling: 'partly', note: "Marathon's artifact store (before 1.5): a non-empty list is warned about; use fetch" },
  secrets: { handling: 'partly', note: 'empty accepted; any secret → 422 (no secret store)' },
  taskKillGracePeriodSeconds: { handling: 'honoured', note: 'KillPolicy grace period' },
  upgradeStrategy: { handling: 'honoured', note: 'rolling replacement; an instance with an RW volume is replaced stop-first' },
  uris: { handling: 'honoured', note: 'migrated to fetch' },
  user: { handling: 'honoured', note: 'CommandInfo user' },
  version: { handling: 'inert', note: 'Polly versions definitions itself' },
  versionInfo: { handling: 'inert', note: '' },
  killSelection: { handling: 'honoured', note: 'which instances a scale-down stops' },
  unreachableStrategy: { handling: 'honoured', note: 'never moves an RW volume while its holder may still write' },
  tty: { handling: 'honoured', note: 'ContainerInfo tty_info' },
  role: { handling: 'partly', note: '"*" and Polly\'s roles; another role → 422' },
  tasksStaged: { handling: 'inert', note: 'AppInfo status in an export' },
  tasksRunning: { handling: 'inert', note: 'AppInfo status in an export' },
  tasksHealthy: { handling: 'inert', note: 'AppInfo status in an export' },
  tasksUnhealthy: { handling: 'inert', note: 'AppInfo status in an export' },
  deployments: { handling: 'inert', note: 'AppInfo status in an export' },
  readinessCheckResults: { handling: 'inert', note: 'AppInfo status in an export' },
  tasks: { handling: 'inert', note: 'AppInfo status in an export' },
  lastTaskFailure: { handling: 'inert', note: 'AppInfo status in an export' },
  tasksStats: { handling: 'inert', note: 'AppInfo status in an export' },
};
