/**
 * Turning Marathon app definitions into Polly's AppSpec: defaults and migrations as Marathon does
 * them, every problem in one 400 with its JSON path, 422 for what Polly cannot honour, and every
 * storage style of a Marathon app becoming a managed volume on the right service.
 */
import { UnprocessableError } from '../../../../framework/errors/unprocessable-error';
import { ValidationError } from '../../../../framework/errors/validation-error';
import { managedVolumes, parseAppDefinition, parseAppSpec, volumeNameFor } from '../../../../framework/scheduler/app-spec';
import { DEFAULT_DEFINITION_CONTEXT, type AppDefinitionContext } from '../../../../framework/scheduler/marathon/app-normaliser';

const ctx: AppDefinitionContext = {
  services: [
    { name: 'local', driver: 'vfs', profiles: ['default'] },
    { name: 'ebs', driver: 'libstorage', dockerVolumeDriver: 'rexray-ebs', profiles: ['default', 'fast'] },
    { name: 'portworx', driver: 'libstorage', profiles: ['default'] },
  ],
  volumeDrivers: { rexray: 'local', pxd: 'portworx' },
  roles: ['polly'],
};

function failure(body: unknown, context = ctx): { status: number; message: string; problems: Array<{ field: string; message: string }> } {
  try {
    parseAppDefinition(body, context);
  } catch (err) {
    if (!(err instanceof ValidationError) && !(err instanceof UnprocessableError)) throw err;
    return { status: err.status, message: err.message, problems: (err.details as { problems: Array<{ field: string; message: string }> }).problems };
  }
  throw new Error('accepted');
}

const base = { id: '/group/app', cmd: 'sleep 1' };

describe('defaults and migrations', () => {
  it("fills in Marathon's defaults: resources, one port, backoff, strategies", () => {
    const spec = parseAppSpec(base, ctx);
    expect(spec).toEqual({
      id: 'group/app',
      cmd: 'sleep 1',
      cpus: 1,
      mem: 128,
      disk: 0,
      instances: 1,
      networks: [{ mode: 'host' }],
      portDefinitions: [{ port: 0, name: 'default', protocol: 'tcp' }],
      requirePorts: false,
      backoffSeconds: 1,
      backoffFactor: 1.15,
      maxLaunchDelaySeconds: 300,
      killSelection: 'YOUNGEST_FIRST',
      upgradeStrategy: { minimumHealthCapacity: 1, maximumOverCapacity: 1 },
      unreachableStrategy: { inactiveAfterSeconds: 0, expungeAfterSeconds: 0 },
    });
  });

  it('takes "cmd": null with args, and defaults container.type to DOCKER when docker is given', () => {
    const spec = parseAppSpec({ id: 'a', cmd: null, args: ['redis-server'], container: { docker: { image: 'redis:7' } } }, ctx);
    expect(spec.cmd).toBeUndefined();
    expect(spec.args).toEqual(['redis-server']);
    expect(spec.container).toMatchObject({ type: 'DOCKER', docker: { image: 'redis:7' } });
    expect(parseAppSpec({ id: 'a', container: { type: 'MESOS', docker: { image: 'redis:7', forcePullImage: true } } }, ctx).container).toMatchObject({
      type: 'MESOS',
      docker: { image: 'redis:7', forcePullImage: true },
    });
  });

  it('migrates ports, uris, docker.network and docker.portMappings as Marathon does', () => {
    expect(parseAppSpec({ ...base, ports: [0, 0] }, ctx).portDefinitions).toEqual([
      { port: 0, protocol: 'tcp' },
      { port: 0, protocol: 'tcp' },
    ]);
    expect(parseAppSpec({ ...base, uris: ['https://x/a.tgz', 'https://x/run.sh'] }, ctx).fetch).toEqual([
      { uri: 'https://x/a.tgz', extract: true, executable: false, cache: false },
      { uri: 'https://x/run.sh', extract: false, executable: false, cache: false },
    ]);
    const bridged = parseAppSpec({ id: 'w', container: { type: 'DOCKER', docker: { image: 'nginx', network: 'BRIDGE', portMappings: [{ containerPort: 80 }] } } }, ctx);
    expect(bridged.networks).toEqual([{ mode: 'container/bridge' }]);
    expect(bridged.portDefinitions).toEqual([]);
    // In bridge mode a missing host port is 0: any port from the offer.
    expect(bridged.container!.portMappings).toEqual([{ containerPort: 80, hostPort: 0, protocol: 'tcp' }]);
    const named = parseAppSpec({ ...base, networks: [{ mode: 'container', name: 'calico' }], container: { type: 'MESOS', portMappings: [{ containerPort: 8080, name: 'http' }] } }, ctx);
    expect(named.container!.portMappings).toEqual([{ containerPort: 8080, name: 'http', protocol: 'tcp' }]);
  });

  it("fills a health check's defaults, port index 0 and path /", () => {
    expect(parseAppSpec({ ...base, healthChecks: [{ protocol: 'MESOS_HTTP' }] }, ctx).healthChecks).toEqual([
      { protocol: 'MESOS_HTTP', ipProtocol: 'IPv4', path: '/', portIndex: 0, gracePeriodSeconds: 300, intervalSeconds: 60, timeoutSeconds: 20, delaySeconds: 15, maxConsecutiveFailures: 3 },
    ]);
  });

  it('takes constraints in array and string form', () => {
    expect(parseAppSpec({ ...base, constraints: [['hostname', 'UNIQUE'], 'rack:GROUP_BY:3', 'hostname:LIKE:node:[0-9]'] }, ctx).constraints).toEqual([
      ['hostname', 'UNIQUE'],
      ['rack', 'GROUP_BY', '3'],
      ['hostname', 'LIKE', 'node:[0-9]'],
    ]);
  });

  it('does not change the body it is given', () => {
    const body = { ...base, env: { DVDI_VOLUME_NAME: 'v' }, container: { type: 'DOCKER', docker: { image: 'x', parameters: [{ key: 'volume-driver', value: 'rexray' }, { key: 'volume', value: 'v2:/d' }] } } };
    const copy = JSON.parse(JSON.stringify(body));
    parseAppDefinition(body, ctx);
    expect(body).toEqual(copy);
  });
});

describe('problems, all at once', () => {
  it('lists every schema problem with its JSON path in one 400', () => {
    const got = failure({ id: 'x', cpus: 0, mem: 'lots', instances: -1, container: { type: 'RKT', volumes: [{ containerPath: 7 }] }, healthChecks: [{ protocol: 'SMTP' }] });
    expect(got.status).toBe(400);
    expect(got.problems.map((p) => p.field).sort()).toEqual(['container.type', 'container.volumes[0].containerPath', 'cpus', 'healthChecks[0].protocol', 'instances', 'mem']);
    expect(got.problems.find((p) => p.field === 'container.type')?.message).toBe('container.type must be one of MESOS, DOCKER');
    expect(got.message).toMatch(/^The app definition has 6 problems: /);
  });

  it('lists every problem the schema cannot see in one 400', () => {
    const got = failure({
      id: 'Bad_ID',
      cmd: 'x',
      args: ['y'],
      constraints: [['hostname', 'NEAR'], 'hostname'],
      healthChecks: [{ protocol: 'HTTP', path: 'health', portIndex: 2 }, { protocol: 'COMMAND' }],
      portDefinitions: [{ port: 0, name: 'a' }, { port: 0, name: 'a' }],
      requirePorts: true,
      fetch: [{ uri: 'https://x/y', destPath: '../../etc' }],
      resourceLimits: { cpus: 0.5 },
    });
    expect(got.status).toBe(400);
    expect(got.problems.map((p) => p.field).sort()).toEqual(
      [
        'id',
        'cmd',
        'constraints[0]',
        'constraints[1]',
        'portDefinitions[1].name',
        'portDefinitions[0].port',
        'portDefinitions[1].port',
        'healthChecks[0].portIndex',
        'healthChecks[0].path',
        'healthChecks[1].command.value',
        'fetch[0].destPath',
        'resourceLimits.cpus',
      ].sort(),
    );
  });

  it('answers 422 naming every field Polly cannot honour', () => {
    const got = failure({ ...base, gpus: 2, executor: '/opt/x', secrets: { s: { source: 'a' } }, env: { P: { secret: 's' } }, role: 'slave_public', networks: [{ mode: 'container', name: 'a' }, { mode: 'container', name: 'b' }] });
    expect(got.status).toBe(422);
    expect(got.problems.map((p) => p.field).sort()).toEqual(['env.P', 'executor', 'gpus', 'networks', 'role', 'secrets']);
    expect(got.message).toMatch(/^Polly cannot run this app as defined \(6 fields\): /);
  });

  it('refuses local persistent and secret volumes, saying what to use instead', () => {
    const got = failure({ ...base, container: { type: 'MESOS', volumes: [{ containerPath: 'data', mode: 'RW', persistent: { size: 100 } }, { containerPath: 's', secret: 'x' }] } });
    expect(got.status).toBe(422);
    expect(got.problems[0]).toEqual({
      field: 'container.volumes[0].persistent',
      message: expect.stringMatching(/^container\.volumes\[0\]\.persistent: Marathon local persistent volumes are not supported: Polly manages external volumes\. Use external \{"provider": "polly"/),
    });
    expect(got.problems[1].field).toBe('container.volumes[1].secret');
  });

  it('never says "external is required" for a hostPath volume: host paths pass through', () => {
    const spec = parseAppSpec({ ...base, container: { type: 'MESOS', volumes: [{ containerPath: '/etc/app', hostPath: '/etc/app', mode: 'RO' }] } }, ctx);
    expect(spec.container!.volumes).toEqual([{ containerPath: '/etc/app', hostPath: '/etc/app', mode: 'RO' }]);
    expect(managedVolumes(spec)).toEqual([]);
  });
});

describe('every storage style becomes a managed volume', () => {
  it('dvdi with a mapped driver, a driver served by a service, and provider polly', () => {
    const spec = parseAppSpec(
      {
        ...base,
        container: {
          type: 'MESOS',
          volumes: [
            { containerPath: 'a', mode: 'RW', external: { name: 'va', provider: 'dvdi', options: { 'dvdi/driver': 'rexray' } } },
            { containerPath: 'b', mode: 'RW', external: { name: 'vb', provider: 'dvdi', size: 20, options: { 'dvdi/driver': 'rexray-ebs', 'dvdi/volumetype': 'gp3', 'dvdi/iops': '3000', 'dvdi/size': '5' } } },
            { containerPath: 'c', mode: 'RO', external: { name: 'vc', provider: 'polly', options: { service: 'ebs', profile: 'fast' } } },
          ],
        },
      },
      ctx,
    );
    expect(managedVolumes(spec).map((v) => [v.service, v.external.name, v.create])).toEqual([
      ['local', 'va', undefined],
      ['ebs', 'vb', { size: 20, type: 'gp3', iops: 3000 }],
      ['ebs', 'vc', { profile: 'fast' }],
    ]);
  });

  it('REX-Ray Docker parameters: volume-driver + volume name:/path[:ro], removed from the parameters', () => {
    const spec = parseAppSpec(
      {
        ...base,
        container: {
          type: 'DOCKER',
          docker: {
            image: 'postgres:16',
            parameters: [
              { key: 'volume-driver', value: 'rexray' },
              { key: 'volume', value: 'pgdata:/var/lib/postgresql/data' },
              { key: 'volume', value: 'pgconf:/etc/postgresql:ro' },
              { key: 'volume', value: '/etc/localtime:/etc/localtime:ro' },
              { key: 'memory-swappiness', value: '0' },
            ],
          },
        },
      },
      ctx,
    );
    expect(spec.container!.docker!.parameters).toEqual([{ key: 'memory-swappiness', value: '0' }]);
    expect(spec.container!.volumes).toEqual([
      { containerPath: '/var/lib/postgresql/data', mode: 'RW', external: { name: 'pgdata', provider: 'dvdi', options: { 'dvdi/driver': 'rexray' } }, service: 'local', from: 'container.docker.parameters[1]' },
      { containerPath: '/etc/postgresql', mode: 'RO', external: { name: 'pgconf', provider: 'dvdi', options: { 'dvdi/driver': 'rexray' } }, service: 'local', from: 'container.docker.parameters[2]' },
      { containerPath: '/etc/localtime', mode: 'RO', hostPath: '/etc/localtime' },
    ]);
  });

  it('legacy DVDI_VOLUME_* variables, removed from the environment', () => {
    const spec = parseAppSpec(
      {
        ...base,
        env: {
          DVDI_VOLUME_NAME: 'test12345',
          DVDI_VOLUME_DRIVER: 'rexray',
          DVDI_VOLUME_OPTS: 'size=5,iops=150,volumetype=io1',
          DVDI_VOLUME_NAME1: 'logs',
          DVDI_VOLUME_CONTAINERPATH1: '/logs',
          KEEP: 'me',
        },
      },
      ctx,
    );
    expect(spec.env).toEqual({ KEEP: 'me' });
    expect(managedVolumes(spec).map((v) => [v.containerPath, v.external.name, v.service, v.create, v.from])).toEqual([
      ['/var/lib/rexray/volumes/test12345', 'test12345', 'local', { size: 5, iops: 150, type: 'io1' }, 'env.DVDI_VOLUME_NAME'],
      ['/logs', 'logs', 'local', undefined, 'env.DVDI_VOLUME_NAME1'],
    ]);
  });

  it('a dvdi/driver with no service is a 422 naming the driver, the mapped drivers and the services', () => {
    const got = failure({ ...base, container: { type: 'MESOS', volumes: [{ containerPath: 'd', mode: 'RW', external: { name: 'v', provider: 'dvdi', options: { 'dvdi/driver': 'datera' } } }] } });
    expect(got.status).toBe(422);
    expect(got.problems).toEqual([
      {
        field: 'container.volumes[0].external.options.dvdi/driver',
        message:
          'container.volumes[0].external.options.dvdi/driver: volume driver "datera" has no storage service: map it in scheduler.volumeDrivers ' +
          '(mapped: rexray, pxd; services: local, ebs, portworx), or set options.service',
      },
    ]);
    const env = failure({ ...base, env: { DVDI_VOLUME_NAME: 'v', DVDI_VOLUME_DRIVER: 'datera' } });
    expect(env.problems[0].field).toBe('env.DVDI_VOLUME_DRIVER');
    const param = failure({ ...base, container: { type: 'DOCKER', docker: { image: 'x', parameters: [{ key: 'volume-driver', value: 'datera' }, { key: 'volume', value: 'v:/d' }] } } });
    expect(param.problems[0].field).toBe('container.docker.parameters[1].value (driver)');
  });

  it('parses inline specs into options; secrets are dropped, never in names, the spec or messages', () => {
    const secret = 'hunter2-S3CRET';
    const body = {
      ...base,
      container: {
        type: 'MESOS',
        volumes: [{ containerPath: 'db', mode: 'RW', external: { name: `name=pgvol,size=10,repl=2,secret_key=${secret},io_priority=high`, provider: 'dvdi', options: { 'dvdi/driver': 'pxd' } } }],
      },
    };
    const { spec, warnings } = parseAppDefinition(body, ctx);
    const [volume] = managedVolumes(spec);
    expect(volume.external.name).toBe('pgvol');
    expect(volume.service).toBe('portworx');
    expect(volume.create).toEqual({ size: 10, fields: { repl: '2', io_priority: 'high' } });
    expect(JSON.stringify(spec)).not.toContain(secret);
    expect(JSON.stringify(warnings)).not.toContain(secret);
    expect(warnings).toContain(
      'container.volumes[0].external.name (secret_key): a secret in a volume definition is not used: Polly dropped it (it is not stored, shown or logged)',
    );
    // Encryption from a service that cannot encrypt: refused, never silently in the clear; no secret in the answer.
    const clear = failure({ ...base, container: { type: 'MESOS', volumes: [{ containerPath: 'db', mode: 'RW', external: { name: `name=v,secure=true,passphrase=${secret}`, provider: 'dvdi', options: { 'dvdi/driver': 'rexray' } } }] } });
    expect(clear.status).toBe(422);
    expect(clear.problems.map((p) => p.field)).toEqual(['container.volumes[0].external.name (secure)']);
    expect(JSON.stringify(clear)).not.toContain(secret);
    // An inline spec without name=: the spec is not echoed.
    const nameless = failure({ ...base, container: { type: 'MESOS', volumes: [{ containerPath: 'db', mode: 'RW', external: { name: `size=1,secret_key=${secret}`, provider: 'dvdi', options: { 'dvdi/driver': 'pxd' } } }] } });
    expect(nameless.problems[0].message).toBe('container.volumes[0].external.name: an inline volume spec (key=value,...) needs name=<volume name>');
    expect(JSON.stringify(nameless)).not.toContain(secret);
  });

  it('warns about options a service cannot honour, and per-instance names still work', () => {
    const { spec, warnings } = parseAppDefinition(
      {
        ...base,
        instances: 3,
        container: {
          type: 'MESOS',
          volumes: [{ containerPath: 'd', mode: 'RW', external: { name: 'data-{{instance}}', provider: 'dvdi', options: { 'dvdi/driver': 'rexray', 'dvdi/newfstype': 'xfs', 'dvdi/overwritefs': 'true', 'dvdi/frobnicate': '1' } } }],
        },
      },
      ctx,
    );
    expect(warnings).toEqual([
      'container.volumes[0].external.options.dvdi/newfstype: service local (vfs) does not format volumes; ignored',
      'container.volumes[0].external.options.dvdi/overwritefs: ignored: Polly never reformats a volume (its data is kept)',
      'container.volumes[0].external.options.dvdi/frobnicate: not an option service local can honour; ignored',
    ]);
    expect(volumeNameFor(managedVolumes(spec)[0], 2)).toBe('data-2');
    const shared = failure({ ...base, instances: 2, container: { type: 'MESOS', volumes: [{ containerPath: 'd', mode: 'RW', external: { name: 'one', provider: 'polly', options: { service: 'local' } } }] } });
    expect(shared.problems[0].field).toBe('container.volumes[0].external.name');
  });

  it('the default context maps rexray and polly onto local', () => {
    expect(managedVolumes(parseAppSpec({ ...base, env: { DVDI_VOLUME_NAME: 'v' } }, DEFAULT_DEFINITION_CONTEXT))[0].service).toBe('local');
  });
});
