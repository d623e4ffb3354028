/**
 * What the simulated agent does with the parts of a TaskInfo a container engine would handle: image
 * and network tasks fail as on an agent without one (or run on the host when told to), fetch URIs
 * land in the sandbox (extracted, executable), `user` switches the task's user, and the command
 * executor runs the health check and reports it.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { mesos } from '../../../../../framework/mesos/generated/mesos';
import { SimulatedAgent, type SimulatedAgentOptions } from '../../../../../framework/mesos/local/agent/simulated-agent';
import { framework, makeSpec, makeTempDir, RecordingMaster, shellTask, waitFor } from './agent-test-kit';

const TaskState = mesos.v1.TaskState;
const Reason = mesos.v1.TaskStatus.Reason;
const FW = 'fw-1';

describe('SimulatedAgent: containers, fetcher, users, health checks', () => {
  let workDir: string;
  let scratch: string;
  let master: RecordingMaster;
  let agent: SimulatedAgent;

  function startAgent(options: SimulatedAgentOptions = {}): SimulatedAgent {
    master = new RecordingMaster();
    master.autoAck = true;
    agent = new SimulatedAgent(makeSpec(workDir), master, { statusUpdateRetry: { minMs: 50, maxMs: 200 }, killGracePeriodMs: 1000, ...options });
    agent.start();
    return agent;
  }

  async function terminalOf(taskId: string): Promise<mesos.v1.ITaskStatus> {
    const terminal = new Set<number>([TaskState.TASK_FINISHED, TaskState.TASK_FAILED, TaskState.TASK_KILLED]);
    await waitFor(`terminal update of ${taskId}`, () => terminal.has(master.last(taskId)?.state ?? -1));
    return master.last(taskId)!;
  }

  /** A task's stdout (the sandbox stays after the agent forgets the task). */
  function stdoutOf(taskId: string): string {
    return fs.readFileSync(path.join(workDir, 'slaves', 'master-1-S0', 'frameworks', FW, 'executors', taskId, 'runs', 'latest', 'stdout'), 'utf8');
  }

  beforeEach(() => {
    workDir = makeTempDir('polly-agent-c-');
    scratch = makeTempDir('polly-agent-c-host-');
  });

  afterEach(async () => {
    await agent?.destroy();
    fs.rmSync(workDir, { recursive: true, force: true });
    fs.rmSync(scratch, { recursive: true, force: true });
  });

  it('fails Docker, UCR image and container network tasks as an agent without a container engine does', async () => {
    startAgent();
    const docker = shellTask('docker', 'true', { container: { type: mesos.v1.ContainerInfo.Type.DOCKER, docker: { image: 'nginx' } } });
    const ucr = shellTask('ucr', 'true', { container: { type: mesos.v1.ContainerInfo.Type.MESOS, mesos: { image: { type: mesos.v1.Image.Type.DOCKER, docker: { name: 'redis:7' } } } } });
    const cni = shellTask('cni', 'true', { container: { type: mesos.v1.ContainerInfo.Type.MESOS, network_infos: [{ name: 'calico' }] } });
    agent.launch(framework(FW), [docker, ucr, cni]);
    const [d, u, c] = [await terminalOf('docker'), await terminalOf('ucr'), await terminalOf('cni')];
    for (const s of [d, u, c]) expect(s).toMatchObject({ state: TaskState.TASK_FAILED, reason: Reason.REASON_CONTAINER_LAUNCH_FAILED });
    expect(d.message).toBe(
      'Failed to launch container: Docker image nginx: None of the enabled containerizers (mesos) could create a container for the provided TaskInfo/ExecutorInfo message ' +
        '(the local cluster has no container engine; set local.imageTasks: host to run the command on the host)',
    );
    expect(u.message).toMatch(/^Failed to launch container: container image redis:7: the agent has no image provisioner/);
    expect(c.message).toMatch(/^Failed to launch container: container network calico: the agent has no network isolator/);
  });

  it('runs an image task on the host with imageTasks: host (args: the first is the program)', async () => {
    startAgent({ imageTasks: 'host' });
    const out = path.join(scratch, 'out');
    const task = shellTask('args', '', {
      command: { shell: false, arguments: ['/bin/sh', '-c', `echo ran > ${out}`] },
      container: { type: mesos.v1.ContainerInfo.Type.MESOS, mesos: { image: { type: mesos.v1.Image.Type.DOCKER, docker: { name: 'alpine' } } } },
    });
    agent.launch(framework(FW), [task]);
    expect((await terminalOf('args')).state).toBe(TaskState.TASK_FINISHED);
    expect(fs.readFileSync(out, 'utf8')).toBe('ran\n');
  });

  it('fetches URIs into the sandbox: archives extracted, executables made so, output_file honoured; a failed fetch fails the launch', async () => {
    startAgent();
    fs.mkdirSync(path.join(scratch, 'pkg'));
    fs.writeFileSync(path.join(scratch, 'pkg', 'data.txt'), 'payload\n');
    execFileSync('tar', ['-czf', path.join(scratch, 'pkg.tgz'), '-C', scratch, 'pkg']);
    fs.writeFileSync(path.join(scratch, 'run.sh'), '#!/bin/sh\necho from-script\n');
    const task = shellTask('fetch', 'cat pkg/data.txt && ./tool.sh', {
      command: {
        value: 'cat pkg/data.txt && ./tool.sh',
        uris: [
          { value: `file://${path.join(scratch, 'pkg.tgz')}` },
          { value: path.join(scratch, 'run.sh'), executable: true, output_file: 'tool.sh' },
        ],
      },
    });
    agent.launch(framework(FW), [task]);
    expect((await terminalOf('fetch')).state).toBe(TaskState.TASK_FINISHED);
    expect(stdoutOf('fetch')).toBe('payload\nfrom-script\n');
    agent.launch(framework(FW), [shellTask('missing', 'true', { command: { value: 'true', uris: [{ value: path.join(scratch, 'nope') }] } })]);
    const failed = await terminalOf('missing');
    expect(failed).toMatchObject({ state: TaskState.TASK_FAILED, reason: Reason.REASON_CONTAINER_LAUNCH_FAILED });
    expect(failed.message).toMatch(/^Failed to launch container: Failed to fetch all URIs for container: .*nope: /);
  });

  it('runs the task as CommandInfo.user (the agent runs as root), and fails a user that does not exist', async () => {
    startAgent();
    agent.launch(framework(FW), [shellTask('as-nobody', 'id -un', { command: { value: 'id -un', user: 'nobody' } })]);
    expect((await terminalOf('as-nobody')).state).toBe(TaskState.TASK_FINISHED);
    expect(stdoutOf('as-nobody')).toBe('nobody\n');
    agent.launch(framework(FW), [shellTask('ghost', 'true', { command: { value: 'true', user: 'no-such-user-polly' } })]);
    const ghost = await terminalOf('ghost');
    expect(ghost).toMatchObject({ state: TaskState.TASK_FAILED, reason: Reason.REASON_CONTAINER_LAUNCH_FAILED });
    expect(ghost.message).toBe("Failed to launch container: Failed to switch to user 'no-such-user-polly': no such user on the agent");
  });

  it('runs the health check: healthy once it passes, unhealthy updates on failures, killed after consecutive_failures', async () => {
    startAgent();
    const flag = path.join(scratch, 'healthy');
    fs.writeFileSync(flag, '');
    const check: mesos.v1.IHealthCheck = {
      type: mesos.v1.HealthCheck.Type.COMMAND,
      command: { value: `test -f ${flag}` },
      delay_seconds: 0,
      interval_seconds: 0.2,
      timeout_seconds: 1,
      grace_period_seconds: 0,
      consecutive_failures: 2,
    };
    agent.launch(framework(FW), [shellTask('hc', 'sleep 30', { health_check: check })]);
    await waitFor('healthy', () => master.distinctUpdates('hc').some((s) => s.healthy === true));
    const healthy = master.distinctUpdates('hc').find((s) => s.healthy === true)!;
    expect(healthy).toMatchObject({ state: TaskState.TASK_RUNNING, reason: Reason.REASON_TASK_HEALTH_CHECK_STATUS_UPDATED });
    fs.rmSync(flag);
    const end = await terminalOf('hc');
    expect(end).toMatchObject({ state: TaskState.TASK_KILLED, healthy: false });
    const health = master.distinctUpdates('hc').filter((s) => s.reason === Reason.REASON_TASK_HEALTH_CHECK_STATUS_UPDATED).map((s) => s.healthy);
    expect(health).toEqual([true, false, false]);
  });
});
