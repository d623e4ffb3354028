/**
 * Every field of Marathon's AppDefinition (app.raml's App and AppInfo types, Marathon 1.x) is
 * accepted or refused with a named reason: a table over Marathon's field list, each with the values
 * Marathon users post (an export's defaults, and the values Polly cannot honour).
 */
import { UnprocessableError } from '../../../../framework/errors/unprocessable-error';
import { ValidationError } from '../../../../framework/errors/validation-error';
import { parseAppDefinition } from '../../../../framework/scheduler/app-spec';
import { APP_DEFINITION_FIELDS } from '../../../../framework/scheduler/marathon/app-definition-schema';
import { APP_FIELD_HANDLING } from '../../../../framework/scheduler/marathon/app-definition-fields';

/** Marathon's App type (app.raml; storeUrls from Marathon ≤ 1.4) and the read-only AppInfo fields of `GET /v2/apps`. */
const MARATHON_APP_FIELDS = [
  'id', 'acceptedResourceRoles', 'args', 'backoffFactor', 'backoffSeconds', 'cmd', 'constraints', 'container', 'cpus',
  'dependencies', 'disk', 'env', 'executor', 'executorResources', 'fetch', 'healthChecks', 'check', 'instances', 'labels',
  'maxLaunchDelaySeconds', 'mem', 'gpus', 'ipAddress', 'networks', 'ports', 'portDefinitions', 'readinessChecks', 'residency',
  'resourceLimits', 'requirePorts', 'storeUrls', 'secrets', 'taskKillGracePeriodSeconds', 'upgradeStrategy', 'uris', 'user', 'version',
  'versionInfo', 'killSelection', 'unreachableStrategy', 'tty', 'role',
  'tasksStaged', 'tasksRunning', 'tasksHealthy', 'tasksUnhealthy', 'deployments', 'readinessCheckResults', 'tasks',
  'lastTaskFailure', 'tasksStats',
];

type Outcome = 'accepted' | 'warned' | 'refused';

const base = { id: '/fields/app', cmd: 'sleep 1', cpus: 0.1, mem: 32 };

/** field → [value, expected outcome], several per field. `cmd` is dropped when the case sets args. */
const CASES: Record<string, Array<[unknown, Outcome]>> = {
  id: [['/a/b.c/d-e', 'accepted']],
  acceptedResourceRoles: [[['*'], 'accepted'], [['polly'], 'accepted'], [['*', 'slave_public'], 'warned'], [['slave_public'], 'refused']],
  args: [[['sleep', '1'], 'accepted'], [[], 'accepted']],
  backoffFactor: [[1.15, 'accepted']],
  backoffSeconds: [[1, 'accepted']],
  cmd: [['echo hi', 'accepted']],
  constraints: [[[['hostname', 'UNIQUE']], 'accepted'], [['hostname:LIKE:node[0-9]'], 'accepted'], [[], 'accepted']],
  container: [
    [{ type: 'DOCKER', docker: { image: 'nginx:1.25', network: 'BRIDGE', portMappings: [{ containerPort: 80, hostPort: 0 }] }, volumes: [] }, 'accepted'],
    [{ type: 'MESOS', docker: { image: 'busybox' } }, 'accepted'],
    [{ type: 'MESOS', volumes: [{ containerPath: 'data', persistent: { size: 100 }, mode: 'RW' }] }, 'refused'],
  ],
  cpus: [[1, 'accepted']],
  dependencies: [[[], 'accepted'], [['/db'], 'warned']],
  disk: [[0, 'accepted']],
  env: [[{ A: '1' }, 'accepted'], [{ PASSWORD: { secret: 'pw' } }, 'refused']],
  executor: [['', 'accepted'], ['//cmd', 'accepted'], ['/opt/my-executor', 'refused']],
  executorResources: [[{ cpus: 0.1, mem: 32, disk: 10 }, 'warned']],
  fetch: [[[], 'accepted'], [[{ uri: 'https://example.com/app.tgz', extract: true, executable: false, cache: false }], 'accepted']],
  healthChecks: [
    [[], 'accepted'],
    [[{ protocol: 'MESOS_HTTP', path: '/health', portIndex: 0, gracePeriodSeconds: 300, intervalSeconds: 60, timeoutSeconds: 20, maxConsecutiveFailures: 3 }], 'accepted'],
    [[{ protocol: 'HTTP', path: '/' }, { protocol: 'TCP' }], 'warned'],
  ],
  check: [[{ http: { portIndex: 0, path: '/' } }, 'warned']],
  instances: [[1, 'accepted'], [0, 'accepted']],
  labels: [[{ team: 'storage' }, 'accepted']],
  maxLaunchDelaySeconds: [[300, 'accepted'], [3600, 'accepted']],
  mem: [[128, 'accepted']],
  gpus: [[0, 'accepted'], [1, 'refused']],
  ipAddress: [[{ networkName: 'dcos', groups: [], labels: {} }, 'accepted']],
  networks: [[[{ mode: 'host' }], 'accepted'], [[{ mode: 'container', name: 'a' }, { mode: 'container', name: 'b' }], 'refused']],
  ports: [[[0], 'accepted'], [[], 'accepted']],
  portDefinitions: [[[{ port: 10000, protocol: 'tcp', name: 'http', labels: {} }], 'accepted'], [[], 'accepted']],
  readinessChecks: [[[], 'accepted'], [[{ name: 'ready', protocol: 'HTTP', path: '/', portName: 'default' }], 'warned']],
  residency: [[{ relaunchEscalationTimeoutSeconds: 3600, taskLostBehavior: 'WAIT_FOREVER' }, 'accepted']],
  resourceLimits: [[{ cpus: 'unlimited', mem: 256 }, 'accepted']],
  requirePorts: [[false, 'accepted']],
  storeUrls: [[[], 'accepted'], [['https://example.com/a.tgz'], 'warned']],
  secrets: [[{}, 'accepted'], [{ pw: { source: 'db/password' } }, 'refused']],
  taskKillGracePeriodSeconds: [[5, 'accepted']],
  upgradeStrategy: [[{ minimumHealthCapacity: 1, maximumOverCapacity: 1 }, 'accepted']],
  uris: [[[], 'accepted'], [['https://example.com/tool'], 'accepted']],
  user: [['nobody', 'accepted']],
  version: [['2024-01-01T00:00:00.000Z', 'accepted']],
  versionInfo: [[{ lastScalingAt: '2024-01-01T00:00:00.000Z', lastConfigChangeAt: '2024-01-01T00:00:00.000Z' }, 'accepted']],
  killSelection: [['YOUNGEST_FIRST', 'accepted'], ['OLDEST_FIRST', 'accepted']],
  unreachableStrategy: [[{ inactiveAfterSeconds: 0, expungeAfterSeconds: 0 }, 'accepted'], ['disabled', 'accepted']],
  tty: [[false, 'accepted'], [true, 'accepted']],
  role: [['*', 'accepted'], ['polly', 'accepted'], ['slave_public', 'refused']],
  tasksStaged: [[0, 'accepted']],
  tasksRunning: [[1, 'accepted']],
  tasksHealthy: [[1, 'accepted']],
  tasksUnhealthy: [[0, 'accepted']],
  deployments: [[[{ id: '5ed4c0c5-9ff8-4a6f-a0cd-f57f59a34b43' }], 'accepted']],
  readinessCheckResults: [[[], 'accepted']],
  tasks: [[[{ id: 'x', state: 'TASK_RUNNING' }], 'accepted']],
  lastTaskFailure: [[{ state: 'TASK_FAILED', message: 'exited' }, 'accepted']],
  tasksStats: [[{ startedAfterLastScaling: { stats: {} } }, 'accepted']],
};

function outcomeOf(body: Record<string, unknown>): { outcome: Outcome | 'invalid'; fields: string[]; warnings: string[]; message?: string } {
  try {
    const { warnings } = parseAppDefinition(body);
    return { outcome: warnings.length > 0 ? 'warned' : 'accepted', fields: [], warnings };
  } catch (err) {
    const details = (err as ValidationError).details as { problems?: Array<{ field: string }> };
    const fields = (details.problems ?? []).map((p) => p.field);
    if (err instanceof UnprocessableError) return { outcome: 'refused', fields, warnings: [], message: err.message };
    if (err instanceof ValidationError) return { outcome: 'invalid', fields, warnings: [], message: err.message };
    throw err;
  }
}

describe("Marathon's AppDefinition fields", () => {
  it("Polly's schema has exactly Marathon's fields, and says what it does with each", () => {
    expect([...APP_DEFINITION_FIELDS].sort()).toEqual([...MARATHON_APP_FIELDS].sort());
    expect(Object.keys(APP_FIELD_HANDLING).sort()).toEqual([...MARATHON_APP_FIELDS].sort());
    expect(Object.keys(CASES).sort()).toEqual([...MARATHON_APP_FIELDS].sort());
  });

  const rows = Object.entries(CASES).flatMap(([field, cases]) => cases.map(([value, outcome]) => [field, JSON.stringify(value), value, outcome] as const));

  it.each(rows)('%s = %s', (field, _shown, value, expected) => {
    const body: Record<string, unknown> = { ...base, [field]: value };
    if (field === 'args' && Array.isArray(value) && value.length > 0) delete body.cmd;
    const got = outcomeOf(body);
    expect({ outcome: got.outcome, message: got.message }).toEqual({ outcome: expected, message: got.message });
    // A refusal and a warning name the field they are about.
    if (expected === 'refused') expect(got.fields.some((f) => f === field || f.startsWith(`${field}.`) || f.startsWith(`${field}[`))).toBe(true);
    if (expected === 'warned') expect(got.warnings.some((w) => w.startsWith(field))).toBe(true);
  });

  it('accepts an export with every field at once, defaults and nulls included', () => {
    const exported = {
      id: '/prod/web',
      cmd: null,
      args: ['nginx', '-g', 'daemon off;'],
      user: null,
      env: {},
      instances: 2,
      cpus: 0.5,
      mem: 256,
      disk: 0,
      gpus: 0,
      executor: '',
      constraints: [],
      uris: [],
      fetch: [],
      storeUrls: [],
      backoffSeconds: 1,
      backoffFactor: 1.15,
      maxLaunchDelaySeconds: 300,
      container: { type: 'DOCKER', volumes: [], docker: { image: 'nginx:1.25', forcePullImage: false, privileged: false, parameters: [] }, portMappings: [{ containerPort: 80, hostPort: 0, labels: {}, protocol: 'tcp', servicePort: 10000, name: 'http' }] },
      healthChecks: [],
      readinessChecks: [],
      dependencies: [],
      upgradeStrategy: { minimumHealthCapacity: 1, maximumOverCapacity: 1 },
      labels: {},
      ipAddress: null,
      version: '2024-05-01T10:00:00.000Z',
      residency: null,
      secrets: {},
      taskKillGracePeriodSeconds: null,
      unreachableStrategy: { inactiveAfterSeconds: 0, expungeAfterSeconds: 0 },
      killSelection: 'YOUNGEST_FIRST',
      versionInfo: { lastScalingAt: '2024-05-01T10:00:00.000Z', lastConfigChangeAt: '2024-05-01T10:00:00.000Z' },
      networks: [{ mode: 'container/bridge' }],
      requirePorts: false,
      acceptedResourceRoles: ['*'],
      tasksStaged: 0,
      tasksRunning: 2,
      tasksHealthy: 0,
      tasksUnhealthy: 0,
      deployments: [],
      tasks: [],
      role: '*',
    };
    const { spec, warnings } = parseAppDefinition(JSON.parse(JSON.stringify(exported)));
    expect(warnings).toEqual([]);
    expect(spec).toMatchObject({
      id: 'prod/web',
      args: ['nginx', '-g', 'daemon off;'],
      instances: 2,
      networks: [{ mode: 'container/bridge' }],
      portDefinitions: [],
      container: { type: 'DOCKER', docker: { image: 'nginx:1.25' }, portMappings: [{ containerPort: 80, hostPort: 0, servicePort: 10000, name: 'http', protocol: 'tcp' }] },
    });
  });

  it('refuses a field Marathon does not know, naming it', () => {
    const got = outcomeOf({ ...base, cpu: 1, container: { type: 'DOCKER', docker: { image: 'x', imagee: 'y' } } });
    expect(got.outcome).toBe('invalid');
    expect(got.fields).toEqual(['cpu', 'container.docker.imagee']);
    expect(got.message).toBe('The app definition has 2 problems: cpu is not a Marathon app field; container.docker.imagee is not a field Marathon knows here');
  });
});
