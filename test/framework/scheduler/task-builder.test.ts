/**
 * The TaskInfo of an app instance, as Marathon builds it for the command executor: Docker and UCR
 * images, networks and port mappings, ports in the environment and DiscoveryInfo, the health check,
 * fetch URIs, user, kill policy, limits — and the same message over both Mesos encodings.
 */
import { toMesosJson } from '../../../framework/mesos/codec';
import { mesos } from '../../../framework/mesos/generated/mesos';
import { parseAppSpec } from '../../../framework/scheduler/app-spec';
import { buildTaskInfo, healthCheckOf, portsEnv, type TaskBuildInput } from '../../../framework/scheduler/task-builder';

function input(body: Record<string, unknown>, extra: Partial<TaskBuildInput> = {}): TaskBuildInput {
  const spec = parseAppSpec({ cpus: 0.5, mem: 64, ...body });
  return { taskId: `${spec.id}.0.abc`, agentId: 'A1', hostname: 'node1', appId: spec.id, instance: 0, spec, version: '2024-05-01T10:00:00.000Z', resources: [], hostPorts: [31005], mounts: [], ...extra };
}

function env(task: mesos.v1.ITaskInfo): Record<string, string> {
  return Object.fromEntries((task.command?.environment?.variables ?? []).map((v) => [v.name, v.value ?? '']));
}

/** Encodes and decodes the TaskInfo in both encodings; returns the Mesos JSON. */
function overBothEncodings(task: mesos.v1.ITaskInfo): Record<string, unknown> {
  const message = mesos.v1.TaskInfo.fromObject(task as unknown as Record<string, unknown>);
  const bytes = mesos.v1.TaskInfo.encode(message).finish();
  const decoded = mesos.v1.TaskInfo.decode(bytes);
  const json = toMesosJson(mesos.v1.TaskInfo, message);
  expect(toMesosJson(mesos.v1.TaskInfo, decoded)).toEqual(json);
  // A real master parses this JSON back into the same message.
  expect(mesos.v1.TaskInfo.toObject(mesos.v1.TaskInfo.fromObject(JSON.parse(JSON.stringify(json))), { longs: Number })).toEqual(mesos.v1.TaskInfo.toObject(decoded, { longs: Number }));
  return json;
}

describe('buildTaskInfo', () => {
  it('a Docker app: the Docker containerizer with image, bridge network, port mappings, privileged, parameters, force pull', () => {
    const task = buildTaskInfo(
      input({
        id: '/web/nginx',
        container: {
          type: 'DOCKER',
          docker: { image: 'nginx:1.25', network: 'BRIDGE', portMappings: [{ containerPort: 80, hostPort: 0, name: 'http', protocol: 'tcp' }], privileged: true, forcePullImage: true, parameters: [{ key: 'memory-swappiness', value: '0' }] },
        },
      }),
    );
    const json = overBothEncodings(task);
    expect(json.container).toEqual({
      type: 'DOCKER',
      docker: {
        image: 'nginx:1.25',
        network: 'BRIDGE',
        port_mappings: [{ host_port: 31005, container_port: 80, protocol: 'tcp' }],
        privileged: true,
        parameters: [
          { key: 'memory-swappiness', value: '0' },
          { key: 'label', value: 'MESOS_TASK_ID=web/nginx.0.abc' },
        ],
        force_pull_image: true,
      },
    });
    expect(json.command).toMatchObject({ shell: false });
    expect(env(task)).toMatchObject({ PORT0: '31005', PORT_80: '31005', PORT_HTTP: '31005', PORT: '31005', PORTS: '31005', MARATHON_APP_DOCKER_IMAGE: 'nginx:1.25', HOST: 'node1' });
    expect(json.discovery).toEqual({ visibility: 'FRAMEWORK', name: 'nginx.web', ports: { ports: [{ number: 31005, name: 'http', protocol: 'tcp' }] } });
  });

  it('a UCR app: MESOS with a Docker image (cached unless forcePullImage), args run by the entrypoint', () => {
    const task = buildTaskInfo(input({ id: 'redis', args: ['--appendonly', 'yes'], container: { type: 'MESOS', docker: { image: 'redis:7', forcePullImage: true } } }));
    const json = overBothEncodings(task);
    expect(json.container).toEqual({ type: 'MESOS', mesos: { image: { type: 'DOCKER', docker: { name: 'redis:7' }, cached: false } } });
    expect(json.command).toMatchObject({ shell: false, arguments: ['--appendonly', 'yes'] });
    expect((json.command as Record<string, unknown>).value).toBeUndefined();
    const cached = buildTaskInfo(input({ id: 'redis', container: { type: 'MESOS', docker: { image: 'redis:7' } } }));
    expect(cached.container?.mesos?.image?.cached).toBe(true);
  });

  it('the command: cmd through the shell, args without an image, the environment Marathon gives tasks, fetch, user', () => {
    const task = buildTaskInfo(
      input({ id: '/g/app', cmd: 'echo hi', user: 'nobody', labels: { 'tier.name': 'web' }, env: { PORT0: 'mine', A: '1' }, fetch: [{ uri: 'https://x/app.tgz', destPath: 'app.tgz', executable: false }] }),
    );
    const json = overBothEncodings(task);
    expect(json.command).toMatchObject({ shell: true, value: 'echo hi', user: 'nobody', uris: [{ value: 'https://x/app.tgz', executable: false, extract: true, cache: false, output_file: 'app.tgz' }] });
    expect(env(task)).toMatchObject({
      MESOS_TASK_ID: 'g/app.0.abc',
      MARATHON_APP_ID: '/g/app',
      MARATHON_APP_VERSION: '2024-05-01T10:00:00.000Z',
      MARATHON_APP_RESOURCE_CPUS: '0.5',
      MARATHON_APP_RESOURCE_MEM: '64',
      MARATHON_APP_LABELS: 'TIER_NAME',
      MARATHON_APP_LABEL_TIER_NAME: 'web',
      PORT0: 'mine',
      A: '1',
      POLLY_APP_ID: 'g/app',
    });
    expect(json.container).toBeUndefined();
    const args = buildTaskInfo(input({ id: 'a', args: ['/bin/echo', 'x'] }));
    expect(args.command).toMatchObject({ shell: false, value: '/bin/echo', arguments: ['/bin/echo', 'x'] });
  });

  it('ports: fixed and any, named, several protocols; container-only ports on a container network', () => {
    const spec = parseAppSpec({ id: 'p', cmd: 'x', portDefinitions: [{ port: 0, name: 'http' }, { port: 8443, protocol: 'udp,tcp' }] });
    expect(portsEnv(spec, [31000, 31001])).toEqual({ PORT0: '31000', PORT_31000: '31000', PORT_HTTP: '31000', PORT1: '31001', PORT_8443: '31001', PORT: '31000', PORTS: '31000,31001' });
    const container = parseAppSpec({ id: 'c', cmd: 'x', networks: [{ mode: 'container', name: 'calico' }], container: { type: 'MESOS', portMappings: [{ containerPort: 8080, name: 'api' }, { containerPort: 9000, hostPort: 0 }] } });
    expect(portsEnv(container, [undefined, 31007])).toEqual({ PORT0: '8080', PORT_8080: '8080', PORT_API: '8080', PORT1: '31007', PORT_9000: '31007', PORT: '8080', PORTS: '8080,31007' });
    const task = buildTaskInfo({ ...input({ id: 'c', cmd: 'x' }), spec: container, hostPorts: [undefined, 31007] });
    expect(overBothEncodings(task).container).toEqual({
      type: 'MESOS',
      mesos: {},
      network_infos: [{ name: 'calico', ip_addresses: [{}], port_mappings: [{ host_port: 31007, container_port: 9000, protocol: 'tcp' }] }],
    });
  });

  it('health checks: MESOS_HTTP on its port, HTTP/TCP as their Mesos counterparts, COMMAND; maxConsecutiveFailures 0 never kills', () => {
    const http = buildTaskInfo(input({ id: 'h', cmd: 'x', healthChecks: [{ protocol: 'MESOS_HTTP', path: '/health', portIndex: 0, gracePeriodSeconds: 5, intervalSeconds: 2, timeoutSeconds: 1, maxConsecutiveFailures: 2, delaySeconds: 0 }] }));
    expect(overBothEncodings(http).health_check).toEqual({
      type: 'HTTP',
      http: { port: 31005, path: '/health', scheme: 'http', protocol: 'IPv4' },
      delay_seconds: 0,
      interval_seconds: 2,
      timeout_seconds: 1,
      consecutive_failures: 2,
      grace_period_seconds: 5,
    });
    const https = parseAppSpec({ id: 'h', cmd: 'x', healthChecks: [{ protocol: 'HTTPS', port: 8443 }] });
    expect(healthCheckOf(https, [31000])?.http).toEqual({ port: 8443, path: '/', scheme: 'https', protocol: mesos.v1.NetworkInfo.Protocol.IPv4 });
    const tcp = parseAppSpec({ id: 'h', cmd: 'x', healthChecks: [{ protocol: 'TCP', maxConsecutiveFailures: 0 }] });
    expect(healthCheckOf(tcp, [31000])).toMatchObject({ type: mesos.v1.HealthCheck.Type.TCP, tcp: { port: 31000 }, consecutive_failures: 4294967295 });
    const cmd = parseAppSpec({ id: 'h', cmd: 'x', healthChecks: [{ protocol: 'COMMAND', command: { value: 'test -f ready' } }] });
    expect(healthCheckOf(cmd, [])).toMatchObject({ type: mesos.v1.HealthCheck.Type.COMMAND, command: { shell: true, value: 'test -f ready' } });
    // On a container network Mesos probes the container port.
    const bridged = parseAppSpec({ id: 'h', networks: [{ mode: 'container/bridge' }], container: { type: 'DOCKER', docker: { image: 'x' }, portMappings: [{ containerPort: 8080 }] }, healthChecks: [{ protocol: 'MESOS_TCP' }] });
    expect(healthCheckOf(bridged, [31000])?.tcp?.port).toBe(8080);
  });

  it('volumes: claimed ones by their service mapping, host paths passed through; kill policy, limits, tty, linuxInfo', () => {
    const task = buildTaskInfo(
      input(
        {
          id: 'v',
          cmd: 'x',
          taskKillGracePeriodSeconds: 30,
          resourceLimits: { cpus: 'unlimited', mem: 128 },
          tty: true,
          container: { type: 'MESOS', linuxInfo: { seccomp: { unconfined: true }, ipcInfo: { mode: 'PRIVATE', shmSize: 64 } }, volumes: [{ containerPath: '/etc/app', hostPath: '/etc/app', mode: 'RO' }] },
        },
        { mounts: [{ kind: 'dockerVolume', name: 'data', containerPath: '/data', mode: 'RW', driver: 'rexray', volumeName: 'data' }] },
      ),
    );
    const json = overBothEncodings(task);
    expect(json.container).toEqual({
      type: 'MESOS',
      mesos: {},
      volumes: [
        { container_path: '/data', mode: 'RW', source: { type: 'DOCKER_VOLUME', docker_volume: { driver: 'rexray', name: 'data' } } },
        { container_path: '/etc/app', mode: 'RO', source: { type: 'HOST_PATH', host_path: { path: '/etc/app' } } },
      ],
      linux_info: { seccomp: { unconfined: true }, ipc_mode: 'PRIVATE', shm_size: 64 },
      tty_info: {},
    });
    expect(json.kill_policy).toEqual({ grace_period: { nanoseconds: 30000000000 } });
    expect(json.limits).toEqual({ cpus: { value: 'Infinity' }, mem: { value: 128 } });
  });
});
