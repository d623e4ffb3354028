/**
 * Images, ports and health checks on the local cluster (issue 15, point 3): the TaskInfo of a Docker
 * or UCR app reaches the master in both encodings as a real master takes it; the local agents, which
 * have no container engine, fail image tasks saying so, or run their command on the host when told
 * to; host ports come from the offers and reach the task's environment; the Mesos health check runs,
 * its verdict is shown per task, and a task failing it too often is killed and relaunched.
 */
import fs from 'node:fs';
import path from 'node:path';
import { LocalCluster } from '../../../framework/mesos/local/local-cluster';
import { silentLogger } from '../../../framework/shared/logger';
import { PollyService } from '../../../framework/polly-service';
import { waitFor } from '../../support/mesos-http';
import { startLocalPollyFixture, type LocalPollyFixture } from '../../support/local-polly';
import { E2E, runningTask, startE2E, stdoutOf } from './scheduler-fixture';

jest.setTimeout(90000);

type Json = Record<string, unknown>;

async function masterTask(url: string, taskId: string): Promise<Json | undefined> {
  const state = (await (await fetch(`${url}/master/state`)).json()) as { frameworks: Array<{ tasks: Json[]; completed_tasks: Json[] }> };
  return state.frameworks.flatMap((f) => [...f.tasks, ...f.completed_tasks]).find((t) => t.id === taskId);
}

/** A tiny HTTP server on $PORT0: 200 on /health, 500 elsewhere. */
const SERVER = `exec ${JSON.stringify(process.execPath)} -e "require('http').createServer((q,s)=>{s.statusCode=q.url==='/health'?200:500;s.end('x')}).listen(+process.env.PORT0,'127.0.0.1')"`;

describe('images on the local cluster', () => {
  let e: E2E | undefined;
  let fixture: LocalPollyFixture | undefined;
  let service: PollyService | undefined;
  let hostCluster: LocalCluster | undefined;

  afterEach(async () => {
    await e?.stop();
    e = undefined;
    await service?.stop().catch(() => undefined);
    service = undefined;
    await hostCluster?.stop();
    hostCluster = undefined;
    await fixture?.dispose();
    fixture = undefined;
  });

  it('a Docker app reaches the master (JSON) as Marathon builds it, and the agent fails it saying why', async () => {
    e = await startE2E();
    const api = e.polly.api;
    await api.createApp({
      id: 'nginx',
      cpus: 0.1,
      mem: 32,
      backoffSeconds: 60,
      container: { type: 'DOCKER', docker: { image: 'nginx:1.25', network: 'BRIDGE', portMappings: [{ containerPort: 80, hostPort: 0, name: 'http' }] } },
    });
    const failed = await waitFor(() => e!.polly.tracker.tasksOf('nginx').find((t) => t.state === 'TASK_FAILED'), 20000);
    expect(failed.message).toMatch(/^Failed to launch container: Docker image nginx:1\.25: None of the enabled containerizers \(mesos\) could create a container .*set local\.imageTasks: host/);
    const seen = (await masterTask(e.cluster.url, failed.id))!;
    expect(seen.container).toMatchObject({ type: 'DOCKER', docker: { image: 'nginx:1.25', network: 'BRIDGE', port_mappings: [{ container_port: 80, protocol: 'tcp' }] } });
    const hostPort = ((seen.container as Json).docker as { port_mappings: Array<{ host_port: number }> }).port_mappings[0].host_port;
    expect(hostPort).toBeGreaterThanOrEqual(31000);
    expect(hostPort).toBeLessThanOrEqual(31099);
    expect(failed.ports).toEqual([hostPort]);
    // A failing image task backs off like any failing task, and says so.
    expect((await waitFor(() => api.app('nginx').waiting[0], 10000)).reason).toMatch(/backing off after 1 failed task \(last: TASK_FAILED: Failed to launch container: Docker image/);
  });

  it('a UCR app reaches the master (protobuf) with its image; local.imageTasks host runs its command on the host', async () => {
    fixture = await startLocalPollyFixture('polly-images-');
    hostCluster = await LocalCluster.start({ port: 0, workDir: path.join(fixture.dir, 'host-cluster'), heartbeatIntervalSeconds: 0.2, allocationIntervalMs: 50, imageTasks: 'host' });
    service = await PollyService.start({ config: fixture.config({ master: hostCluster.url, 'mesos.format': 'protobuf' }), logger: silentLogger });
    const res = await fetch(`${service.apiUrl}/v1/apps`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ id: '/tools/busy', cmd: 'echo "port=$PORT0 image=$MARATHON_APP_ID" > out.txt; sleep 1000', cpus: 0.1, mem: 32, container: { type: 'MESOS', docker: { image: 'busybox:1.36', forcePullImage: true } } }),
    });
    expect(res.status).toBe(201);
    const task = await waitFor(() => service!.parts.tracker.liveTasks().find((t) => t.state === 'TASK_RUNNING'), 20000);
    const seen = (await masterTask(hostCluster.url, task.id))!;
    expect(seen.container).toMatchObject({ type: 'MESOS', mesos: { image: { type: 'DOCKER', docker: { name: 'busybox:1.36' }, cached: false } } });
    const agent = hostCluster.agent(task.agentId)!;
    const sandbox = agent.sandboxOf(service.scheduler.frameworkId!, task.id)!;
    await waitFor(() => fs.existsSync(path.join(sandbox, 'out.txt')), 10000);
    expect(fs.readFileSync(path.join(sandbox, 'out.txt'), 'utf8')).toBe(`port=${task.ports![0]} image=/tools/busy\n`);
  });
});

describe('ports and health checks on the local cluster', () => {
  let e: E2E | undefined;

  afterEach(async () => {
    await e?.stop();
    e = undefined;
  });

  it('gives the task its host port, runs the health check and shows the task healthy', async () => {
    e = await startE2E();
    const api = e.polly.api;
    await api.createApp({
      id: 'svc',
      cmd: SERVER,
      cpus: 0.1,
      mem: 32,
      portDefinitions: [{ port: 0, name: 'http' }],
      healthChecks: [{ protocol: 'MESOS_HTTP', path: '/health', portIndex: 0, gracePeriodSeconds: 10, intervalSeconds: 1, timeoutSeconds: 1, delaySeconds: 0, maxConsecutiveFailures: 3 }],
    });
    const task = await waitFor(() => api.app('svc').tasks.find((t) => t.state === 'TASK_RUNNING' && t.healthy === true), 20000);
    const [port] = task.ports!;
    expect(port).toBeGreaterThanOrEqual(31000);
    expect((await fetch(`http://127.0.0.1:${port}/health`)).status).toBe(200);
    const seen = (await masterTask(e.cluster.url, task.id))!;
    expect(seen.health_check).toMatchObject({ type: 'HTTP', http: { port, path: '/health', scheme: 'http' }, consecutive_failures: 3 });
    expect(seen.discovery).toMatchObject({ ports: { ports: [{ number: port, name: 'http', protocol: 'tcp' }] } });
  });

  it('kills a task that fails its health check maxConsecutiveFailures times and relaunches it after its backoff', async () => {
    e = await startE2E();
    const api = e.polly.api;
    await api.createApp({
      id: 'sick',
      cmd: SERVER,
      cpus: 0.1,
      mem: 32,
      backoffSeconds: 1,
      healthChecks: [{ protocol: 'HTTP', path: '/broken', gracePeriodSeconds: 0, intervalSeconds: 1, timeoutSeconds: 1, delaySeconds: 0, maxConsecutiveFailures: 2 }],
    });
    const first = await waitFor(() => runningTask(e!, 'sick'), 20000);
    const killed = await waitFor(() => {
      const t = e!.polly.tracker.task(first.id);
      return t?.terminal ? t : undefined;
    }, 20000);
    expect(killed).toMatchObject({ state: 'TASK_KILLED', healthy: false });
    const second = await waitFor(() => {
      const t = runningTask(e!, 'sick');
      return t && t.id !== first.id ? t : undefined;
    }, 20000);
    expect(Date.parse(second.createdAt) - Date.parse(killed.updatedAt)).toBeGreaterThanOrEqual(950);
    expect(stdoutOf(e, second.id, second.agentId)).toBe('');
  });
});
