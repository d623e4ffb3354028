import * as fs from 'node:fs';
import * as path from 'node:path';
import { mesos } from '../../../../../framework/mesos/generated/mesos';
import { SimulatedAgent, type SimulatedAgentOptions } from '../../../../../framework/mesos/local/agent/simulated-agent';
import { framework, makeSpec, makeTempDir, processAlive, RecordingMaster, shellTask, stateName, waitFor } from './agent-test-kit';

const TaskState = mesos.v1.TaskState;
const Source = mesos.v1.TaskStatus.Source;
const Reason = mesos.v1.TaskStatus.Reason;
const Capability = mesos.v1.FrameworkInfo.Capability.Type;
const FW = 'fw-1';

describe('SimulatedAgent', () => {
  let workDir: string;
  let scratch: string;
  let master: RecordingMaster;
  let agent: SimulatedAgent;

  function startAgent(options: SimulatedAgentOptions = {}, autoAck = true): SimulatedAgent {
    master = new RecordingMaster();
    master.autoAck = autoAck;
    agent = new SimulatedAgent(makeSpec(workDir), master, {
      statusUpdateRetry: { minMs: 50, maxMs: 200 },
      killGracePeriodMs: 2000,
      ...options,
    });
    agent.start();
    return agent;
  }

  async function terminalOf(taskId: string): Promise<mesos.v1.ITaskStatus> {
    const terminal = new Set<number>([TaskState.TASK_FINISHED, TaskState.TASK_FAILED, TaskState.TASK_KILLED, TaskState.TASK_LOST]);
    await waitFor(`terminal update of ${taskId}`, () => terminal.has(master.last(taskId)?.state ?? -1));
    return master.last(taskId)!;
  }

  beforeEach(() => {
    workDir = makeTempDir('polly-agent-');
    scratch = makeTempDir('polly-agent-host-');
  });

  afterEach(async () => {
    await agent?.destroy();
    fs.rmSync(workDir, { recursive: true, force: true });
    fs.rmSync(scratch, { recursive: true, force: true });
  });

  it('registers on start and reports its AgentInfo', () => {
    startAgent();
    expect(agent.state).toBe('running');
    expect(master.registrations).toEqual([{ agentId: 'master-1-S0', reregistered: false }]);
    const info = agent.info();
    expect(info.id).toEqual({ value: 'master-1-S0' });
    expect(info.hostname).toBe('node0');
    expect(info.resources?.map((r) => r.name)).toEqual(['cpus', 'disk']);
    expect(info.domain?.fault_domain?.zone?.name).toBe('zone-a');
  });

  it('runs a shell task in its sandbox and finishes it on exit 0', async () => {
    startAgent();
    agent.launch(framework(FW), [shellTask('t1', 'echo hello > out.txt; echo to-stdout')]);
    const last = await terminalOf('t1');
    expect(master.states('t1')).toEqual(['TASK_STARTING', 'TASK_RUNNING', 'TASK_FINISHED']);
    expect(last.message).toBe('Command exited with status 0');
    expect(last.source).toBe(Source.SOURCE_EXECUTOR);

    const sandbox = findDir(workDir, 't1');
    expect(sandbox).toMatch(new RegExp(`^${workDir}/slaves/master-1-S0/frameworks/${FW}/executors/t1/runs/[0-9a-f-]{36}$`));
    expect(fs.readFileSync(path.join(sandbox, 'out.txt'), 'utf8')).toBe('hello\n');
    expect(fs.readFileSync(path.join(sandbox, 'stdout'), 'utf8')).toContain('to-stdout');
    expect(fs.existsSync(path.join(path.dirname(sandbox), 'latest'))).toBe(true);

    for (const status of master.distinctUpdates('t1')) {
      expect(status.uuid).toHaveLength(16);
      expect(status.agent_id).toEqual({ value: 'master-1-S0' });
      expect(status.executor_id).toEqual({ value: 't1' });
      expect(typeof status.timestamp).toBe('number');
    }
    const running = master.distinctUpdates('t1')[1];
    expect(running.container_status?.executor_pid).toBeGreaterThan(0);
    // Acknowledged terminal task is forgotten.
    await waitFor('task forgotten', () => agent.tasks().length === 0);
  });

  it('gives the task the MESOS_* variables and the command environment', async () => {
    startAgent();
    agent.launch(framework(FW), [
      shellTask('env-task', 'env > env.txt', {
        command: {
          value: 'env > env.txt',
          environment: { variables: [{ name: 'GREETING', value: 'hi there' }] },
        },
      }),
    ]);
    await terminalOf('env-task');
    const text = fs.readFileSync(path.join(findDir(workDir, 'env-task'), 'env.txt'), 'utf8');
    const env = Object.fromEntries(
      text
        .split('\n')
        .filter((l) => l.includes('='))
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    );
    expect(env.GREETING).toBe('hi there');
    expect(env.MESOS_TASK_ID).toBe('env-task');
    expect(env.MESOS_FRAMEWORK_ID).toBe(FW);
    expect(env.MESOS_EXECUTOR_ID).toBe('env-task');
    expect(env.MESOS_AGENT_ID).toBe('master-1-S0');
    expect(env.MESOS_SLAVE_ID).toBe('master-1-S0');
    expect(env.MESOS_SANDBOX).toBe(env.MESOS_DIRECTORY);
    expect(env.MESOS_SANDBOX).toContain('/executors/env-task/runs/');
    expect(env.PATH).toBeTruthy();
  });

  it('fails a task that exits non-zero, and runs non-shell commands with arguments', async () => {
    startAgent();
    agent.launch(framework(FW), [
      shellTask('bad', 'exit 3'),
      shellTask('exec', '', { command: { shell: false, value: '/bin/sh', arguments: ['sh', '-c', 'exit 0'] } }),
      shellTask('missing', '', { command: { shell: false, value: '/no/such/binary', arguments: ['x'] } }),
    ]);
    const bad = await terminalOf('bad');
    expect(stateName(bad.state)).toBe('TASK_FAILED');
    expect(bad.message).toBe('Command exited with status 3');
    expect(stateName((await terminalOf('exec')).state)).toBe('TASK_FINISHED');
    const missing = await terminalOf('missing');
    expect(stateName(missing.state)).toBe('TASK_FAILED');
    expect(missing.message).toContain('Failed to launch command');
  });

  it('kills a task with SIGTERM; TASK_KILLING only for frameworks with TASK_KILLING_STATE', async () => {
    startAgent();
    agent.launch(framework(FW), [shellTask('plain', 'sleep 30')]);
    agent.launch(framework('fw-killing', [Capability.TASK_KILLING_STATE]), [shellTask('k', 'sleep 30')]);
    await waitFor('both running', () => master.states('plain').includes('TASK_RUNNING') && master.states('k').includes('TASK_RUNNING'));

    agent.kill(FW, 'plain');
    agent.kill('fw-killing', 'k');
    const plain = await terminalOf('plain');
    const k = await terminalOf('k');
    expect(master.states('plain')).toEqual(['TASK_STARTING', 'TASK_RUNNING', 'TASK_KILLED']);
    expect(master.states('k')).toEqual(['TASK_STARTING', 'TASK_RUNNING', 'TASK_KILLING', 'TASK_KILLED']);
    expect(plain.message).toBe('Command terminated with signal Terminated');
    expect(k.message).toBe('Command terminated with signal Terminated');

    // Kill of an unknown task: nothing happens.
    agent.kill(FW, 'nope');
  });

  it('escalates to SIGKILL after the kill policy grace period', async () => {
    startAgent();
    const grace: mesos.v1.IKillPolicy = { grace_period: { nanoseconds: 300_000_000 } };
    agent.launch(framework(FW), [
      shellTask('stubborn', 'trap "" TERM; touch ready; while true; do sleep 0.05; done', { kill_policy: grace }),
    ]);
    await waitFor('trap installed', () => {
      const sandbox = agent.sandboxOf(FW, 'stubborn');
      return !!sandbox && fs.existsSync(path.join(sandbox, 'ready'));
    });
    const pid = agent.taskPid(FW, 'stubborn')!;
    agent.kill(FW, 'stubborn');
    const last = await terminalOf('stubborn');
    expect(stateName(last.state)).toBe('TASK_KILLED');
    expect(last.message).toBe('Command terminated with signal Killed');
    await waitFor('process gone', () => !processAlive(pid));
  });

  it('lets a repeated kill shorten, but not lengthen, the grace period', async () => {
    startAgent();
    const long: mesos.v1.IKillPolicy = { grace_period: { nanoseconds: 60_000_000_000 } };
    agent.launch(framework(FW), [
      shellTask('stubborn2', 'trap "" TERM; touch ready; while true; do sleep 0.05; done', { kill_policy: long }),
    ]);
    await waitFor('trap installed', () => {
      const sandbox = agent.sandboxOf(FW, 'stubborn2');
      return !!sandbox && fs.existsSync(path.join(sandbox, 'ready'));
    });
    agent.kill(FW, 'stubborn2');
    agent.kill(FW, 'stubborn2', { grace_period: { nanoseconds: 120_000_000_000 } }); // longer: ignored
    agent.kill(FW, 'stubborn2', { grace_period: { nanoseconds: 200_000_000 } }); // shorter: SIGKILL soon
    const last = await terminalOf('stubborn2');
    expect(stateName(last.state)).toBe('TASK_KILLED');
    expect(last.message).toBe('Command terminated with signal Killed');
  });

  it('retries an unacknowledged update with the same uuid and sends the next only after the ack', async () => {
    startAgent({}, false);
    agent.launch(framework(FW), [shellTask('slow-ack', 'exit 0')]);
    await waitFor('three sends', () => master.updates.filter((u) => u.status.task_id.value === 'slow-ack').length >= 3);
    const sent = master.updates.filter((u) => u.status.task_id.value === 'slow-ack');
    expect(new Set(sent.map((u) => Buffer.from(u.status.uuid!).toString('hex'))).size).toBe(1);
    expect(stateName(sent[0].status.state)).toBe('TASK_STARTING');

    // The agent already knows the task finished, but the master has not heard yet.
    await waitFor('task finished locally', () => agent.tasks()[0]?.task.state === TaskState.TASK_FINISHED);
    const view = agent.tasks()[0].task;
    expect(stateName(view.status_update_state)).toBe('TASK_STARTING');
    expect(agent.pendingStatusUpdates).toBe(3);

    // A mismatched ack changes nothing.
    agent.acknowledge(FW, 'slow-ack', new Uint8Array(16));
    expect(agent.pendingStatusUpdates).toBe(3);

    for (const expected of ['TASK_STARTING', 'TASK_RUNNING', 'TASK_FINISHED']) {
      await waitFor(`${expected} sent`, () => stateName(master.updates[master.updates.length - 1]?.status.state) === expected);
      const head = master.updates[master.updates.length - 1].status;
      agent.acknowledge(FW, 'slow-ack', head.uuid!);
    }
    expect(master.states('slow-ack')).toEqual(['TASK_STARTING', 'TASK_RUNNING', 'TASK_FINISHED']);
    expect(agent.pendingStatusUpdates).toBe(0);
    expect(agent.tasks()).toEqual([]);
  });

  it('maps HOST_PATH and legacy host_path volumes into the sandbox as links', async () => {
    startAgent();
    const hostDir = path.join(scratch, 'shared');
    fs.mkdirSync(hostDir);
    fs.writeFileSync(path.join(hostDir, 'hello.txt'), 'x');
    const volumes: mesos.v1.IVolume[] = [
      {
        mode: mesos.v1.Volume.Mode.RW,
        container_path: 'data',
        source: { type: mesos.v1.Volume.Source.Type.HOST_PATH, host_path: { path: hostDir } },
      },
      { mode: mesos.v1.Volume.Mode.RO, container_path: '/mnt/legacy', host_path: hostDir },
    ];
    agent.launch(framework(FW), [
      shellTask('vol', 'ls data > ls-data.txt && ls mnt/legacy > ls-legacy.txt && echo written > data/from-task.txt', {
        container: { type: mesos.v1.ContainerInfo.Type.MESOS, volumes },
      }),
    ]);
    expect(stateName((await terminalOf('vol')).state)).toBe('TASK_FINISHED');
    const sandbox = findDir(workDir, 'vol');
    expect(fs.readFileSync(path.join(sandbox, 'ls-data.txt'), 'utf8')).toContain('hello.txt');
    expect(fs.readFileSync(path.join(sandbox, 'ls-legacy.txt'), 'utf8')).toContain('hello.txt');
    expect(fs.readFileSync(path.join(hostDir, 'from-task.txt'), 'utf8')).toBe('written\n');
  });

  it('fails the launch when a host path is missing or a volume escapes the sandbox', async () => {
    startAgent();
    const hostPath = (p: string, containerPath = 'data'): mesos.v1.IContainerInfo => ({
      type: mesos.v1.ContainerInfo.Type.MESOS,
      volumes: [
        { mode: 1, container_path: containerPath, source: { type: mesos.v1.Volume.Source.Type.HOST_PATH, host_path: { path: p } } },
      ],
    });
    agent.launch(framework(FW), [
      shellTask('missing-host', 'true', { container: hostPath(path.join(scratch, 'nope')) }),
      shellTask('escape', 'true', { container: hostPath(scratch, '../../outside') }),
    ]);
    for (const taskId of ['missing-host', 'escape']) {
      const last = await terminalOf(taskId);
      expect(master.states(taskId)).toEqual(['TASK_FAILED']);
      expect(last.source).toBe(Source.SOURCE_AGENT);
      expect(last.reason).toBe(Reason.REASON_CONTAINER_LAUNCH_FAILED);
      expect(last.message).toMatch(/^Failed to launch container: /);
    }
    expect(master.last('missing-host')!.message).toContain('does not exist');
    expect(master.last('escape')!.message).toContain('escapes the sandbox');
  });

  it('resolves DOCKER_VOLUME sources through the resolver, and fails without one', async () => {
    const volumeDir = path.join(scratch, 'docker-vol');
    fs.mkdirSync(volumeDir);
    fs.writeFileSync(path.join(volumeDir, 'inside.txt'), 'x');
    const calls: unknown[] = [];
    startAgent({
      dockerVolumeResolver: async (driver, name, options) => {
        calls.push({ driver, name, options });
        return volumeDir;
      },
    });
    const docker: mesos.v1.IContainerInfo = {
      type: mesos.v1.ContainerInfo.Type.MESOS,
      volumes: [
        {
          mode: mesos.v1.Volume.Mode.RW,
          container_path: '/var/lib/data',
          source: {
            type: mesos.v1.Volume.Source.Type.DOCKER_VOLUME,
            docker_volume: { driver: 'polly', name: 'vol-1', driver_options: { parameter: [{ key: 'size', value: '1' }] } },
          },
        },
      ],
    };
    agent.launch(framework(FW), [shellTask('dv', 'ls var/lib/data > ls.txt', { container: docker })]);
    expect(stateName((await terminalOf('dv')).state)).toBe('TASK_FINISHED');
    expect(calls).toEqual([{ driver: 'polly', name: 'vol-1', options: { size: '1' } }]);
    const sandbox = findDir(workDir, 'dv');
    expect(fs.readFileSync(path.join(sandbox, 'ls.txt'), 'utf8')).toContain('inside.txt');
    await agent.destroy();

    startAgent();
    agent.launch(framework(FW), [shellTask('dv2', 'true', { container: docker })]);
    const last = await terminalOf('dv2');
    expect(stateName(last.state)).toBe('TASK_FAILED');
    expect(last.reason).toBe(Reason.REASON_CONTAINER_LAUNCH_FAILED);
    expect(last.message).toContain('no docker volume driver');
  });

  it('checkpoints resources, creates and destroys persistent volume directories, and mounts them', async () => {
    startAgent();
    const volume: mesos.v1.IResource = {
      name: 'disk',
      type: mesos.v1.Value.Type.SCALAR,
      scalar: { value: 10 },
      reservations: [{ type: mesos.v1.Resource.ReservationInfo.Type.DYNAMIC, role: 'polly', principal: 'p' }],
      disk: { persistence: { id: 'pv-1' }, volume: { mode: mesos.v1.Volume.Mode.RW, container_path: 'pv' } },
    };
    const base = makeSpec(workDir).resources;
    agent.checkpointResources([...base, volume]);
    const dir = agent.persistentVolumePath('polly', 'pv-1');
    expect(dir).toBe(path.join(workDir, 'volumes', 'roles', 'polly', 'pv-1'));
    expect(fs.statSync(dir).isDirectory()).toBe(true);
    expect(agent.info().resources).toHaveLength(3);
    const checkpoint = JSON.parse(fs.readFileSync(path.join(workDir, 'meta', 'slaves', 'master-1-S0', 'resources.json'), 'utf8')) as {
      disk?: unknown;
      type: string;
    }[];
    expect(checkpoint).toHaveLength(3);
    expect(checkpoint[2].type).toBe('SCALAR');

    agent.launch(framework(FW), [shellTask('pv-task', 'echo kept > pv/file.txt', { resources: [volume] })]);
    expect(stateName((await terminalOf('pv-task')).state)).toBe('TASK_FINISHED');
    expect(fs.readFileSync(path.join(dir, 'file.txt'), 'utf8')).toBe('kept\n');

    // A restarted agent over the same work dir reads its checkpoint.
    const again = new SimulatedAgent(makeSpec(workDir), new RecordingMaster());
    expect(again.info().resources).toHaveLength(3);
    expect(again.info().resources?.[2].disk?.persistence?.id).toBe('pv-1');

    agent.checkpointResources(base);
    expect(fs.existsSync(dir)).toBe(false);
    expect(agent.info().resources).toHaveLength(2);
  });

  it('runs a task group under one executor and kills the group when one task fails', async () => {
    startAgent();
    const executor: mesos.v1.IExecutorInfo = {
      type: mesos.v1.ExecutorInfo.Type.DEFAULT,
      executor_id: { value: 'exec-1' },
      framework_id: { value: FW },
    };
    agent.launch(
      framework(FW),
      [shellTask('g1', 'echo $MESOS_SANDBOX > where.txt; sleep 30'), shellTask('g2', 'sleep 0.2; exit 1')],
      executor,
    );
    expect(stateName((await terminalOf('g2')).state)).toBe('TASK_FAILED');
    const g1 = await terminalOf('g1');
    expect(stateName(g1.state)).toBe('TASK_KILLED');
    expect(g1.executor_id).toEqual({ value: 'exec-1' });
    const runs = path.join(workDir, 'slaves', 'master-1-S0', 'frameworks', FW, 'executors', 'exec-1', 'runs');
    const [run] = fs.readdirSync(runs).filter((d) => d !== 'latest');
    const g1Sandbox = fs.realpathSync(path.join(runs, run, 'tasks', 'g1'));
    expect(fs.readFileSync(path.join(g1Sandbox, 'where.txt'), 'utf8').trim()).toBe(
      path.join(runs, run, 'containers', path.basename(g1Sandbox)),
    );
  });

  it('kills the tasks of a shut-down framework with REASON_FRAMEWORK_REMOVED', async () => {
    startAgent({}, false);
    agent.launch(framework(FW), [shellTask('doomed', 'sleep 30')]);
    await waitFor('running locally', () => agent.tasks()[0]?.task.state === TaskState.TASK_RUNNING);
    agent.shutdownFramework(FW);
    await waitFor('killed', () => master.updates.some((u) => u.status.state === TaskState.TASK_KILLED));
    const killed = master.updates.find((u) => u.status.state === TaskState.TASK_KILLED)!.status;
    expect(killed.reason).toBe(Reason.REASON_FRAMEWORK_REMOVED);
    expect(agent.tasks()).toEqual([]);
    expect(agent.pendingStatusUpdates).toBe(0);
  });

  it('crash kills every task process silently; restart reports them failed', async () => {
    startAgent();
    agent.launch(framework(FW), [shellTask('victim', 'sleep 30')]);
    await waitFor('running', () => master.states('victim').includes('TASK_RUNNING'));
    await waitFor('acked', () => agent.pendingStatusUpdates === 0);
    const pid = agent.taskPid(FW, 'victim')!;
    expect(processAlive(pid)).toBe(true);

    agent.crash();
    expect(agent.state).toBe('stopped');
    await waitFor('process gone', () => !processAlive(pid));
    const sentBefore = master.updates.length;
    await new Promise((r) => setTimeout(r, 150));
    expect(master.updates.length).toBe(sentBefore);

    agent.restart();
    expect(agent.state).toBe('running');
    expect(master.registrations[master.registrations.length - 1]).toEqual({ agentId: 'master-1-S0', reregistered: true });
    const last = await terminalOf('victim');
    expect(stateName(last.state)).toBe('TASK_FAILED');
    expect(last.source).toBe(Source.SOURCE_AGENT);
    expect(last.reason).toBe(Reason.REASON_EXECUTOR_TERMINATED);
    expect(last.message).toBe('Abnormal executor termination: unknown container');
  });

  it('partition holds updates while tasks keep running; heal re-registers and delivers them', async () => {
    startAgent();
    agent.launch(framework(FW), [shellTask('p', 'touch started; while [ ! -e go ]; do sleep 0.05; done; exit 0')]);
    await waitFor('running', () => master.states('p').includes('TASK_RUNNING'));
    await waitFor('acked', () => agent.pendingStatusUpdates === 0);
    agent.partition();
    expect(agent.state).toBe('unreachable');
    fs.writeFileSync(path.join(agent.sandboxOf(FW, 'p')!, 'go'), '');
    await waitFor('finished locally', () => agent.tasks()[0]?.task.state === TaskState.TASK_FINISHED);
    await new Promise((r) => setTimeout(r, 150));
    expect(master.states('p')).toEqual(['TASK_STARTING', 'TASK_RUNNING']);
    // Messages from the master do not reach a partitioned agent.
    agent.kill(FW, 'p');

    agent.heal();
    expect(master.registrations[master.registrations.length - 1].reregistered).toBe(true);
    await terminalOf('p');
    expect(master.states('p')).toEqual(['TASK_STARTING', 'TASK_RUNNING', 'TASK_FINISHED']);
    await waitFor('forgotten', () => agent.tasks().length === 0);
  });

  it('re-registers with a new master and resends unacknowledged updates at once', async () => {
    startAgent({ statusUpdateRetry: { minMs: 60_000, maxMs: 60_000 } }, false);
    agent.launch(framework(FW), [shellTask('m', 'exit 0')]);
    await waitFor('starting sent', () => master.updates.length === 1);
    agent.reregister();
    expect(master.registrations.map((r) => r.reregistered)).toEqual([false, true]);
    await waitFor('resent', () => master.updates.length === 2);
    expect(master.updates[1].status.uuid).toEqual(master.updates[0].status.uuid);
  });

  it('shutdown delivers a TASK_KILLED that waits behind an unacknowledged update before unregistering', async () => {
    startAgent({}, false);
    const ackAll = (): void => {
      for (const u of master.updates) agent.acknowledge(FW, u.status.task_id.value, u.status.uuid!);
    };
    agent.launch(framework(FW), [shellTask('q', 'sleep 30')]);
    await waitFor('starting', () => master.states('q').includes('TASK_STARTING'));
    ackAll();
    await waitFor('running', () => master.states('q').includes('TASK_RUNNING'));
    const pid = agent.taskPid(FW, 'q')!;
    // TASK_RUNNING is in flight, unacknowledged: the TASK_KILLED of the shutdown queues behind it.
    const stopping = agent.shutdown();
    await waitFor('killed', () => !processAlive(pid));
    expect(master.states('q')).not.toContain('TASK_KILLED');
    expect(master.unregistered).toEqual([]);
    master.autoAck = true;
    ackAll();
    await stopping;
    expect(master.states('q')).toContain('TASK_KILLED');
    expect(master.unregistered).toEqual(['master-1-S0']);
  });

  it('shutdown kills tasks, then unregisters', async () => {
    startAgent();
    agent.launch(framework(FW), [shellTask('s', 'sleep 30')]);
    await waitFor('running', () => master.states('s').includes('TASK_RUNNING'));
    const pid = agent.taskPid(FW, 's')!;
    await agent.shutdown();
    expect(processAlive(pid)).toBe(false);
    expect(master.states('s')).toContain('TASK_KILLED');
    expect(master.unregistered).toEqual(['master-1-S0']);
    expect(agent.state).toBe('stopped');
  });

  it('answers a kill that arrives while the container is being prepared, and destroy does not wait for it', async () => {
    let release: (() => void) | undefined;
    startAgent({
      dockerVolumeResolver: () =>
        new Promise<string>((resolve) => {
          release = () => resolve(scratch);
        }),
    });
    const container: mesos.v1.IContainerInfo = {
      type: mesos.v1.ContainerInfo.Type.MESOS,
      volumes: [
        { mode: 1, container_path: 'v', source: { type: mesos.v1.Volume.Source.Type.DOCKER_VOLUME, docker_volume: { name: 'slow' } } },
      ],
    };
    agent.launch(framework(FW), [shellTask('early', 'sleep 30', { container }), shellTask('hang', 'sleep 30', { container })]);
    await waitFor('resolver called', () => release !== undefined);
    agent.kill(FW, 'early');
    const last = await terminalOf('early');
    expect(master.states('early')).toEqual(['TASK_KILLED']);
    expect(last.source).toBe(Source.SOURCE_AGENT);
    expect(last.reason).toBe(Reason.REASON_TASK_KILLED_DURING_LAUNCH);
    release!();
    await new Promise((r) => setTimeout(r, 100));
    expect(master.states('early')).toEqual(['TASK_KILLED']); // never started afterwards
    // 'hang' may still be preparing or running; destroy must finish either way.
    await agent.destroy();
  });

  it('never calls the master re-entrantly from inside an acknowledgement', async () => {
    startAgent({}, false);
    agent.launch(framework(FW), [shellTask('r', 'exit 0')]);
    await waitFor('starting sent', () => master.updates.length > 0);
    await waitFor('finished locally', () => agent.tasks()[0]?.task.state === TaskState.TASK_FINISHED);
    const before = master.updates.length;
    agent.acknowledge(FW, 'r', master.updates[0].status.uuid!);
    expect(master.updates.length).toBe(before);
    await waitFor('running sent', () => master.states('r').includes('TASK_RUNNING'));
  });

  it('reports tasks with their latest status and executor IDs as Mesos does', async () => {
    startAgent({}, false);
    agent.launch(framework(FW), [shellTask('view', 'sleep 30', { labels: { labels: [{ key: 'k', value: 'v' }] } })]);
    await waitFor('starting sent', () => master.updates.length > 0);
    const [view] = agent.tasks();
    expect(view.frameworkId).toBe(FW);
    expect(view.task.task_id).toEqual({ value: 'view' });
    expect(view.task.framework_id).toEqual({ value: FW });
    expect(view.task.agent_id).toEqual({ value: 'master-1-S0' });
    expect(view.task.executor_id).toBeUndefined(); // command tasks have none in Task
    expect(view.task.labels?.labels?.[0].key).toBe('k');
    expect(view.task.statuses).toHaveLength(1);
    expect(view.task.status_update_uuid).toEqual(master.updates[0].status.uuid);
  });
});

function findDir(root: string, executorId: string): string {
  const runs = path.join(root, 'slaves', 'master-1-S0', 'frameworks', FW, 'executors', executorId, 'runs');
  const [run] = fs.readdirSync(runs).filter((d) => d !== 'latest');
  return path.join(runs, run);
}
