/** Reference §4.2 rows 15–22, 24, 27–32: offers, ACCEPT, filters, failover, reconciliation. */
import { mesos } from '../../../../framework/mesos/generated/mesos';
import { call, post, waitFor, type EventStream } from '../../../support/mesos-http';
import { CallType, EventType, TaskState, Reason, Cap, frameworkInfo, startCluster, stopCluster, subscribed, type Fixture } from './local-cluster-fixture';

let f: Fixture;
afterEach(async () => {
  await stopCluster(f);
});

type Offer = mesos.v1.IOffer;

async function nextOffers(stream: EventStream, timeoutMs = 5000): Promise<Offer[]> {
  const e = await stream.nextOfType(EventType.OFFERS, timeoutMs);
  return e.offers?.offers ?? [];
}

function scalarOf(offer: Offer, name: string, reserved?: boolean): number {
  return (offer.resources ?? [])
    .filter((r) => r.name === name && (reserved === undefined || (r.reservations ?? []).length > 0 === reserved))
    .reduce((s, r) => s + (r.scalar?.value ?? 0), 0);
}

/** Declines offers (refuse 0) until one satisfies `want`. */
async function offerWhere(stream: EventStream, send: ReturnType<typeof client>, want: (o: Offer) => boolean): Promise<Offer> {
  for (let i = 0; i < 50; i++) {
    for (const o of await nextOffers(stream)) {
      if (want(o)) return o;
      await send({ type: CallType.DECLINE, decline: { offer_ids: [o.id!], filters: { refuse_seconds: 0 } } });
    }
  }
  throw new Error('no matching offer');
}

function client(stream: EventStream, frameworkId: string) {
  return (message: mesos.v1.scheduler.ICall) =>
    call(f.cluster.url, { framework_id: { value: frameworkId }, ...message }, { streamId: stream.streamId });
}

function sleepTask(taskId: string, agentId: string, seconds = 30, extra: mesos.v1.IResource[] = []): mesos.v1.ITaskInfo {
  return {
    name: taskId,
    task_id: { value: taskId },
    agent_id: { value: agentId },
    command: { value: `sleep ${seconds}` },
    resources: [
      { name: 'cpus', type: 0, scalar: { value: 0.5 } },
      { name: 'mem', type: 0, scalar: { value: 64 } },
      ...extra,
    ],
  };
}

describe('offers', () => {
  beforeEach(async () => {
    f = await startCluster();
  });

  test('offers carry allocation_info on the offer and each resource, agent facts and domain', async () => {
    const { stream, frameworkId } = await subscribed(f);
    const [offer] = await nextOffers(stream);
    expect(offer.id?.value).toMatch(new RegExp(`^${f.cluster.masterId}-O\\d+$`));
    expect(offer.framework_id?.value).toBe(frameworkId);
    expect(offer.agent_id?.value).toBe(`${f.cluster.masterId}-S0`);
    expect(offer.hostname).toBe('node0');
    expect(offer.allocation_info?.role).toBe('storage');
    expect((offer.resources ?? []).every((r) => r.allocation_info?.role === 'storage')).toBe(true);
    expect(offer.domain?.fault_domain?.zone?.name).toBe('zone-a');
    expect(scalarOf(offer, 'cpus')).toBe(2);
  });

  test('without MULTI_ROLE: no allocation_info; pre-refinement format without RESERVATION_REFINEMENT', async () => {
    const { stream } = await subscribed(f, { user: 'u', name: 'old', role: 'storage' });
    const [offer] = await nextOffers(stream);
    expect(offer.allocation_info).toBeFalsy();
    expect((offer.resources ?? []).every((r) => !r.allocation_info && (r.reservations ?? []).length === 0)).toBe(true);
  });

  test('DECLINE with refuse 0 is re-offered; 1 h filter holds until REVIVE; SUPPRESS stops offers (#24)', async () => {
    const { stream, frameworkId } = await subscribed(f);
    const send = client(stream, frameworkId);
    let [offer] = await nextOffers(stream);
    expect((await send({ type: CallType.DECLINE, decline: { offer_ids: [offer.id!], filters: { refuse_seconds: 0 } } })).status).toBe(202);
    [offer] = await nextOffers(stream);
    await send({ type: CallType.DECLINE, decline: { offer_ids: [offer.id!], filters: { refuse_seconds: 3600 } } });
    await expect(nextOffers(stream, 400)).rejects.toThrow('Timed out');
    await send({ type: CallType.REVIVE });
    [offer] = await nextOffers(stream);
    await send({ type: CallType.SUPPRESS });
    await send({ type: CallType.DECLINE, decline: { offer_ids: [offer.id!], filters: { refuse_seconds: 0 } } });
    await expect(nextOffers(stream, 400)).rejects.toThrow('Timed out');
    await send({ type: CallType.REVIVE, revive: { roles: ['storage'] } });
    await nextOffers(stream);
  });

  test('suppressed_roles on SUBSCRIBE: no offers', async () => {
    const { stream } = await subscribed(f, frameworkInfo(), { suppressedRoles: ['storage'] });
    await expect(nextOffers(stream, 400)).rejects.toThrow('Timed out');
  });

  test('DECLINE of an unknown offer is ignored', async () => {
    const { stream, frameworkId } = await subscribed(f);
    const r = await client(stream, frameworkId)({ type: CallType.DECLINE, decline: { offer_ids: [{ value: 'nope' }] } });
    expect(r.status).toBe(202);
  });

  test('the same offer twice: TASK_LOST / TASK_DROPPED with REASON_INVALID_OFFERS, resources re-offered (#21)', async () => {
    for (const partitionAware of [false, true]) {
      const info = frameworkInfo(partitionAware ? { capabilities: [{ type: Cap.MULTI_ROLE }, { type: Cap.PARTITION_AWARE }] } : {});
      const { stream, frameworkId } = await subscribed(f, info);
      const [offer] = await nextOffers(stream);
      await client(stream, frameworkId)({
        type: CallType.ACCEPT,
        accept: {
          offer_ids: [offer.id!, offer.id!],
          operations: [{ type: mesos.v1.Offer.Operation.Type.LAUNCH, launch: { task_infos: [sleepTask('t1', offer.agent_id!.value)] } }],
        },
      });
      const update = await stream.nextOfType(EventType.UPDATE);
      const status = update.update!.status!;
      expect(status.state).toBe(partitionAware ? TaskState.TASK_DROPPED : TaskState.TASK_LOST);
      expect(status.reason).toBe(Reason.REASON_INVALID_OFFERS);
      expect(status.source).toBe(mesos.v1.TaskStatus.Source.SOURCE_MASTER);
      expect(status.message).toBe(`Task launched with invalid offers: Duplicate offer ${offer.id!.value} in offer list`);
      expect(status.uuid?.length ?? 0).toBe(0);
      const [again] = await nextOffers(stream);
      expect(scalarOf(again, 'cpus')).toBe(2);
      await client(stream, frameworkId)({ type: CallType.TEARDOWN });
      await stream.closed();
    }
  });

  test('a rescinded/used offer in ACCEPT is invalid; OPERATION_ERROR only with an id', async () => {
    const { stream, frameworkId } = await subscribed(f);
    const send = client(stream, frameworkId);
    const [offer] = await nextOffers(stream);
    await send({ type: CallType.DECLINE, decline: { offer_ids: [offer.id!], filters: { refuse_seconds: 0 } } });
    await send({
      type: CallType.ACCEPT,
      accept: {
        offer_ids: [offer.id!],
        operations: [
          { type: mesos.v1.Offer.Operation.Type.RESERVE, reserve: { resources: [] } },
          { type: mesos.v1.Offer.Operation.Type.RESERVE, id: { value: 'op-1' }, reserve: { resources: [] } },
        ],
      },
    });
    const e = await stream.nextOfType(EventType.UPDATE_OPERATION_STATUS);
    expect(e.update_operation_status?.status?.operation_id?.value).toBe('op-1');
    expect(e.update_operation_status?.status?.state).toBe(mesos.v1.OperationState.OPERATION_ERROR);
    expect(e.update_operation_status?.status?.message).toContain(`Offer ${offer.id!.value} is no longer valid`);
  });

  test('LAUNCH: the task runs, updates carry a uuid, ACK of the terminal update removes it; resources freed', async () => {
    const { stream, frameworkId } = await subscribed(f);
    const send = client(stream, frameworkId);
    const [offer] = await nextOffers(stream);
    const agentId = offer.agent_id!.value;
    await send({
      type: CallType.ACCEPT,
      accept: {
        offer_ids: [offer.id!],
        operations: [{ type: mesos.v1.Offer.Operation.Type.LAUNCH, launch: { task_infos: [sleepTask('t1', agentId, 0.2)] } }],
        filters: { refuse_seconds: 0 },
      },
    });
    const seen: number[] = [];
    for (;;) {
      const e = await stream.nextOfType(EventType.UPDATE);
      const status = e.update!.status!;
      expect(status.uuid?.length).toBe(16);
      seen.push(status.state);
      await send({ type: CallType.ACKNOWLEDGE, acknowledge: { agent_id: { value: agentId }, task_id: status.task_id, uuid: status.uuid! } });
      if (status.state === TaskState.TASK_FINISHED) break;
    }
    expect(seen).toContain(TaskState.TASK_RUNNING);
    await waitFor(() => f.cluster.localMaster.frameworks.get(frameworkId)!.tasks.size === 0);
    // Implicit reconciliation no longer mentions the acknowledged terminal task.
    await send({ type: CallType.RECONCILE, reconcile: { tasks: [] } });
    await expect(stream.nextOfType(EventType.UPDATE, 300)).rejects.toThrow('Timed out');
    const full = await offerWhere(stream, send, (o) => scalarOf(o, 'cpus') === 2);
    expect(scalarOf(full, 'mem')).toBe(1024);
  });

  test('task validation: duplicate ID, both command and executor, wrong agent, too large → TASK_ERROR', async () => {
    const { stream, frameworkId } = await subscribed(f);
    const [offer] = await nextOffers(stream);
    const agentId = offer.agent_id!.value;
    const both = { ...sleepTask('both', agentId), executor: { executor_id: { value: 'e' }, command: { value: 'x' } } };
    const tooBig = sleepTask('big', agentId);
    tooBig.resources = [{ name: 'cpus', type: 0, scalar: { value: 64 } }];
    await client(stream, frameworkId)({
      type: CallType.ACCEPT,
      accept: {
        offer_ids: [offer.id!],
        operations: [
          {
            type: mesos.v1.Offer.Operation.Type.LAUNCH,
            launch: { task_infos: [sleepTask('dup', agentId), sleepTask('dup', agentId), both, sleepTask('wrong', 'other-agent'), tooBig] },
          },
          { type: mesos.v1.Offer.Operation.Type.LAUNCH, id: { value: 'x' }, launch: { task_infos: [sleepTask('withid', agentId)] } },
        ],
      },
    });
    const errors = new Map<string, mesos.v1.ITaskStatus>();
    while (errors.size < 5) {
      const s = (await stream.nextOfType(EventType.UPDATE)).update!.status!;
      if (s.state === TaskState.TASK_ERROR) errors.set(s.task_id.value, s);
    }
    expect(errors.get('dup')!.message).toBe('Task has duplicate ID: dup');
    expect(errors.get('dup')!.reason).toBe(Reason.REASON_TASK_INVALID);
    expect(errors.get('both')!.message).toBe('Task should have at least one (but not both) of CommandInfo or ExecutorInfo present');
    expect(errors.get('wrong')!.message).toBe(`Task uses invalid agent other-agent while agent ${agentId} is expected`);
    expect(errors.get('big')!.message).toMatch(/^Total resources .* required by task and its executor is more than available/);
    expect(errors.get('withid')!.message).toBe('The `id` field cannot be set on LAUNCH operations');
  });

  test('task validation: an invalid health check or ContainerInfo → TASK_ERROR with Mesos\' message', async () => {
    const { stream, frameworkId } = await subscribed(f);
    const [offer] = await nextOffers(stream);
    const agentId = offer.agent_id!.value;
    const tasks: mesos.v1.ITaskInfo[] = [
      { ...sleepTask('hc-path', agentId), health_check: { type: mesos.v1.HealthCheck.Type.HTTP, http: { port: 80, path: 'health' } } },
      { ...sleepTask('hc-type', agentId), health_check: { delay_seconds: 1 } },
      { ...sleepTask('hc-cmd', agentId), health_check: { type: mesos.v1.HealthCheck.Type.COMMAND } },
      { ...sleepTask('no-docker', agentId), container: { type: mesos.v1.ContainerInfo.Type.DOCKER } },
      { ...sleepTask('name-param', agentId), container: { type: mesos.v1.ContainerInfo.Type.DOCKER, docker: { image: 'x', parameters: [{ key: 'name', value: 'mine' }] } } },
      { ...sleepTask('two-sources', agentId), container: { type: mesos.v1.ContainerInfo.Type.MESOS, volumes: [{ container_path: 'd', mode: 1, host_path: '/tmp', source: { type: mesos.v1.Volume.Source.Type.HOST_PATH, host_path: { path: '/tmp' } } }] } },
    ];
    await client(stream, frameworkId)({
      type: CallType.ACCEPT,
      accept: { offer_ids: [offer.id!], operations: [{ type: mesos.v1.Offer.Operation.Type.LAUNCH, launch: { task_infos: tasks } }] },
    });
    const errors = new Map<string, string>();
    while (errors.size < tasks.length) {
      const s = (await stream.nextOfType(EventType.UPDATE)).update!.status!;
      if (s.state === TaskState.TASK_ERROR) errors.set(s.task_id.value, s.message ?? '');
    }
    expect(Object.fromEntries(errors)).toEqual({
      'hc-path': "Task uses invalid health check: The path 'health' of HTTP health check must start with '/'",
      'hc-type': "Task uses invalid health check: HealthCheck must specify 'type'",
      'hc-cmd': "Task uses invalid health check: Expecting 'command' to be set for COMMAND health check",
      'no-docker': "Task's `ContainerInfo` is invalid: DockerInfo 'docker' is not set for DOCKER typed ContainerInfo",
      'name-param': "Task's `ContainerInfo` is invalid: Parameter in DockerInfo must not be 'name'",
      'two-sources': "Task's `ContainerInfo` is invalid: Invalid volume: Only one of them should be set: 'host_path', 'image' and 'source'",
    });
  });

  test('KILL: running task ends TASK_KILLED; KILL of an unknown task answers by reconciliation', async () => {
    const { stream, frameworkId } = await subscribed(f, frameworkInfo({ capabilities: [{ type: Cap.MULTI_ROLE }, { type: Cap.PARTITION_AWARE }] }));
    const send = client(stream, frameworkId);
    await send({ type: CallType.KILL, kill: { task_id: { value: 'ghost' } } });
    const ghost = (await stream.nextOfType(EventType.UPDATE)).update!.status!;
    expect(ghost.task_id.value).toBe('ghost');
    expect(ghost.state).toBe(TaskState.TASK_UNKNOWN);
    expect(ghost.reason).toBe(Reason.REASON_RECONCILIATION);
    const [offer] = await nextOffers(stream);
    const agentId = offer.agent_id!.value;
    await send({
      type: CallType.ACCEPT,
      accept: { offer_ids: [offer.id!], operations: [{ type: mesos.v1.Offer.Operation.Type.LAUNCH, launch: { task_infos: [sleepTask('k', agentId)] } }] },
    });
    for (;;) {
      const s = (await stream.nextOfType(EventType.UPDATE)).update!.status!;
      await send({ type: CallType.ACKNOWLEDGE, acknowledge: { agent_id: { value: agentId }, task_id: s.task_id, uuid: s.uuid! } });
      if (s.state === TaskState.TASK_RUNNING) break;
    }
    await send({ type: CallType.KILL, kill: { task_id: { value: 'k' } } });
    for (;;) {
      const s = (await stream.nextOfType(EventType.UPDATE, 10000)).update!.status!;
      if (s.state === TaskState.TASK_KILLED) break;
    }
  });
});

describe('reservations and volumes', () => {
  beforeEach(async () => {
    f = await startCluster();
  });

  const reserved = (name: string, value: number, principal = 'polly'): mesos.v1.IResource => ({
    name,
    type: 0,
    scalar: { value },
    allocation_info: { role: 'storage' },
    reservations: [{ type: mesos.v1.Resource.ReservationInfo.Type.DYNAMIC, role: 'storage', principal }],
  });

  test('RESERVE then UNRESERVE; reserved resources re-offered next cycle (#28)', async () => {
    const { stream, frameworkId } = await subscribed(f, frameworkInfo({ principal: 'polly' }));
    const send = client(stream, frameworkId);
    let [offer] = await nextOffers(stream);
    await send({
      type: CallType.ACCEPT,
      accept: {
        offer_ids: [offer.id!],
        operations: [{ type: mesos.v1.Offer.Operation.Type.RESERVE, reserve: { resources: [reserved('cpus', 1), reserved('mem', 128)] } }],
        filters: { refuse_seconds: 3600 },
      },
    });
    [offer] = await nextOffers(stream);
    expect(scalarOf(offer, 'cpus', true)).toBe(1);
    expect(scalarOf(offer, 'mem', true)).toBe(128);
    expect(scalarOf(offer, 'cpus', false)).toBe(1);
    await send({
      type: CallType.ACCEPT,
      accept: {
        offer_ids: [offer.id!],
        operations: [{ type: mesos.v1.Offer.Operation.Type.UNRESERVE, unreserve: { resources: [reserved('cpus', 1), reserved('mem', 128)] } }],
        filters: { refuse_seconds: 3600 },
      },
    });
    [offer] = await nextOffers(stream);
    expect(scalarOf(offer, 'cpus', true)).toBe(0);
    expect(scalarOf(offer, 'cpus', false)).toBe(2);
  });

  test('a too-large RESERVE or one for another role is dropped (#30)', async () => {
    const { stream, frameworkId } = await subscribed(f, frameworkInfo({ principal: 'polly' }));
    const send = client(stream, frameworkId);
    let [offer] = await nextOffers(stream);
    const otherRole = { ...reserved('cpus', 1), reservations: [{ type: 2, role: 'other', principal: 'polly' }] };
    await send({
      type: CallType.ACCEPT,
      accept: {
        offer_ids: [offer.id!],
        operations: [
          { type: mesos.v1.Offer.Operation.Type.RESERVE, reserve: { resources: [reserved('cpus', 100)] } },
          { type: mesos.v1.Offer.Operation.Type.RESERVE, reserve: { resources: [otherRole] } },
        ],
        filters: { refuse_seconds: 0 },
      },
    });
    [offer] = await nextOffers(stream);
    expect(scalarOf(offer, 'cpus', true)).toBe(0);
    expect(scalarOf(offer, 'cpus')).toBe(2);
  });

  test('RESERVE + CREATE + LAUNCH in one ACCEPT; volume re-offered after the task; DESTROY removes it (#29, #31, #32)', async () => {
    const { stream, frameworkId } = await subscribed(f, frameworkInfo({ principal: 'polly' }));
    const send = client(stream, frameworkId);
    let [offer] = await nextOffers(stream);
    const agentId = offer.agent_id!.value;
    const volume: mesos.v1.IResource = {
      ...reserved('disk', 64),
      disk: { persistence: { id: 'pv-1', principal: 'polly' }, volume: { container_path: 'data', mode: mesos.v1.Volume.Mode.RW } },
    };
    const task = sleepTask('writer', agentId, 0, [volume]);
    task.command = { value: 'echo hello > data/out.txt' };
    await send({
      type: CallType.ACCEPT,
      accept: {
        offer_ids: [offer.id!],
        operations: [
          { type: mesos.v1.Offer.Operation.Type.RESERVE, reserve: { resources: [reserved('disk', 64)] } },
          { type: mesos.v1.Offer.Operation.Type.CREATE, create: { volumes: [volume] } },
          { type: mesos.v1.Offer.Operation.Type.LAUNCH, launch: { task_infos: [task] } },
        ],
        filters: { refuse_seconds: 0 },
      },
    });
    for (;;) {
      const s = (await stream.nextOfType(EventType.UPDATE, 10000)).update!.status!;
      await send({ type: CallType.ACKNOWLEDGE, acknowledge: { agent_id: { value: agentId }, task_id: s.task_id, uuid: s.uuid! } });
      expect([TaskState.TASK_STARTING, TaskState.TASK_RUNNING, TaskState.TASK_FINISHED]).toContain(s.state);
      if (s.state === TaskState.TASK_FINISHED) break;
    }
    offer = await offerWhere(stream, send, (o) => scalarOf(o, 'cpus') === 2 && (o.resources ?? []).some((r) => r.disk?.persistence?.id === 'pv-1'));
    const agent = f.cluster.agent(agentId)!;
    const fs = await import('node:fs');
    const pathModule = await import('node:path');
    expect(fs.readFileSync(pathModule.join(agent.persistentVolumePath('storage', 'pv-1'), 'out.txt'), 'utf8')).toBe('hello\n');
    const offered = (offer.resources ?? []).find((r) => r.disk?.persistence?.id === 'pv-1')!;
    await send({
      type: CallType.ACCEPT,
      accept: {
        offer_ids: [offer.id!],
        operations: [{ type: mesos.v1.Offer.Operation.Type.DESTROY, destroy: { volumes: [offered] } }],
        filters: { refuse_seconds: 0 },
      },
    });
    offer = await offerWhere(stream, send, (o) => !(o.resources ?? []).some((r) => r.disk?.persistence));
    expect(scalarOf(offer, 'disk', true)).toBe(64);
  });
});

describe('offer timeout', () => {
  test('an unanswered offer is rescinded and re-offered; a declined one is not rescinded (#19, #20)', async () => {
    f = await startCluster({ offerTimeoutMs: 300 });
    const { stream, frameworkId } = await subscribed(f);
    const [offer] = await nextOffers(stream);
    const rescind = await stream.nextOfType(EventType.RESCIND);
    expect(rescind.rescind?.offer_id?.value).toBe(offer.id!.value);
    const [again] = await nextOffers(stream);
    expect(again.id!.value).not.toBe(offer.id!.value);
    expect(scalarOf(again, 'cpus')).toBe(scalarOf(offer, 'cpus'));
    await client(stream, frameworkId)({ type: CallType.DECLINE, decline: { offer_ids: [again.id!], filters: { refuse_seconds: 3600 } } });
    await expect(stream.nextOfType(EventType.RESCIND, 600)).rejects.toThrow('Timed out');
    expect(f.cluster.localMaster.metrics.offersRescinded).toBe(1);
  });
});

describe('two agents', () => {
  test('offers from two agents in one ACCEPT are invalid (#22)', async () => {
    f = await startCluster({
      agents: [
        { hostname: 'a', resources: 'cpus:1;mem:256' },
        { hostname: 'b', resources: 'cpus:1;mem:256' },
      ],
    });
    const { stream, frameworkId } = await subscribed(f);
    const offers: Offer[] = [];
    while (offers.length < 2) offers.push(...(await nextOffers(stream)));
    await client(stream, frameworkId)({
      type: CallType.ACCEPT,
      accept: {
        offer_ids: offers.map((o) => o.id!),
        operations: [{ type: mesos.v1.Offer.Operation.Type.LAUNCH, launch: { task_infos: [sleepTask('t', offers[0].agent_id!.value)] } }],
      },
    });
    const s = (await stream.nextOfType(EventType.UPDATE)).update!.status!;
    expect(s.state).toBe(TaskState.TASK_LOST);
    expect(s.message).toMatch(/^Task launched with invalid offers: Aggregated offers must belong to one single agent/);
  });
});

describe('framework lifecycle', () => {
  beforeEach(async () => {
    f = await startCluster();
  });

  test('after failover_timeout the framework is removed; re-SUBSCRIBE gives ERROR (#15)', async () => {
    const { stream, frameworkId } = await subscribed(f, frameworkInfo({ failover_timeout: 0.2 }));
    stream.close();
    await waitFor(() => f.cluster.localMaster.frameworks.isCompleted(frameworkId));
    const again = await (await import('../../../support/mesos-http')).subscribe(f.cluster.url, frameworkInfo({ id: { value: frameworkId } }));
    f.streams.push(again);
    const e = await again.next(() => true);
    expect(e.type).toBe(EventType.ERROR);
    expect(e.error?.message).toBe('Framework has been removed');
    await again.closed();
  });

  test('after TEARDOWN re-SUBSCRIBE gives ERROR; tasks are killed (#16)', async () => {
    const { stream, frameworkId } = await subscribed(f);
    const send = client(stream, frameworkId);
    const [offer] = await nextOffers(stream);
    await send({
      type: CallType.ACCEPT,
      accept: { offer_ids: [offer.id!], operations: [{ type: mesos.v1.Offer.Operation.Type.LAUNCH, launch: { task_infos: [sleepTask('t', offer.agent_id!.value)] } }] },
    });
    await stream.nextOfType(EventType.UPDATE);
    expect((await send({ type: CallType.TEARDOWN })).status).toBe(202);
    await stream.closed();
    const state = JSON.parse((await post(f.cluster.url, '/master/state', '', {}, 'GET')).text);
    expect(state.completed_frameworks[0].id).toBe(frameworkId);
    expect(state.completed_frameworks[0].completed_tasks[0].state).toBe('TASK_KILLED');
    const { subscribe } = await import('../../../support/mesos-http');
    const again = await subscribe(f.cluster.url, frameworkInfo({ id: { value: frameworkId } }));
    f.streams.push(again);
    expect((await again.next(() => true)).error?.message).toBe('Framework has been removed');
  });

  test('principal change gives ERROR (#17)', async () => {
    const { frameworkId } = await subscribed(f, frameworkInfo({ principal: 'a', failover_timeout: 60 }));
    const { subscribe } = await import('../../../support/mesos-http');
    const again = await subscribe(f.cluster.url, frameworkInfo({ principal: 'b', failover_timeout: 60, id: { value: frameworkId } }));
    f.streams.push(again);
    expect((await again.next(() => true)).error?.message).toBe("Changing framework's principal is not allowed.");
  });

  test('an update unACKed by instance 1 is redelivered to instance 2 (#18)', async () => {
    const info = frameworkInfo({ failover_timeout: 60 });
    const { stream, frameworkId } = await subscribed(f, info);
    const [offer] = await nextOffers(stream);
    await client(stream, frameworkId)({
      type: CallType.ACCEPT,
      accept: { offer_ids: [offer.id!], operations: [{ type: mesos.v1.Offer.Operation.Type.LAUNCH, launch: { task_infos: [sleepTask('t', offer.agent_id!.value)] } }] },
    });
    const first = (await stream.nextOfType(EventType.UPDATE)).update!.status!;
    stream.close();
    const second = await subscribed(f, { ...info, id: { value: frameworkId } });
    const redelivered = (await second.stream.nextOfType(EventType.UPDATE, 5000)).update!.status!;
    expect(Buffer.from(redelivered.uuid!).equals(Buffer.from(first.uuid!))).toBe(true);
  });
});

describe('reconciliation (#27)', () => {
  beforeEach(async () => {
    f = await startCluster();
  });

  test('unknown task: TASK_LOST, or TASK_GONE/TASK_UNKNOWN when partition-aware', async () => {
    for (const pa of [false, true]) {
      const caps = pa ? [{ type: Cap.MULTI_ROLE }, { type: Cap.PARTITION_AWARE }] : [{ type: Cap.MULTI_ROLE }];
      const { stream, frameworkId } = await subscribed(f, frameworkInfo({ capabilities: caps }));
      const agentId = f.cluster.agents()[0].agentId;
      await client(stream, frameworkId)({
        type: CallType.RECONCILE,
        reconcile: { tasks: [{ task_id: { value: 'x' }, agent_id: { value: agentId } }, { task_id: { value: 'y' }, agent_id: { value: 'unknown-agent' } }] },
      });
      const a = (await stream.nextOfType(EventType.UPDATE)).update!.status!;
      const b = (await stream.nextOfType(EventType.UPDATE)).update!.status!;
      expect(a.state).toBe(pa ? TaskState.TASK_GONE : TaskState.TASK_LOST);
      expect(b.state).toBe(pa ? TaskState.TASK_UNKNOWN : TaskState.TASK_LOST);
      expect(a.reason).toBe(Reason.REASON_RECONCILIATION);
      expect(a.uuid?.length ?? 0).toBe(0);
      await client(stream, frameworkId)({ type: CallType.TEARDOWN });
    }
  });

  test('implicit reconciliation includes an unACKed terminal task', async () => {
    const { stream, frameworkId } = await subscribed(f);
    const send = client(stream, frameworkId);
    const [offer] = await nextOffers(stream);
    await send({
      type: CallType.ACCEPT,
      accept: { offer_ids: [offer.id!], operations: [{ type: mesos.v1.Offer.Operation.Type.LAUNCH, launch: { task_infos: [sleepTask('t', offer.agent_id!.value, 0)] } }] },
    });
    // ACK everything but the terminal update.
    for (;;) {
      const s = (await stream.nextOfType(EventType.UPDATE, 10000)).update!.status!;
      if (s.state === TaskState.TASK_FINISHED) break;
      await send({ type: CallType.ACKNOWLEDGE, acknowledge: { agent_id: offer.agent_id!, task_id: s.task_id, uuid: s.uuid! } });
    }
    await send({ type: CallType.RECONCILE, reconcile: {} });
    const r = (await stream.next((e) => e.type === EventType.UPDATE && e.update!.status!.source === mesos.v1.TaskStatus.Source.SOURCE_MASTER)).update!.status!;
    expect(r.task_id.value).toBe('t');
    expect(r.state).toBe(TaskState.TASK_FINISHED);
  });
});

describe('agent loss', () => {
  beforeEach(async () => {
    f = await startCluster();
  });

  test('partitioned agent: RESCIND, TASK_UNREACHABLE, FAILURE; heal brings the task back', async () => {
    const { stream, frameworkId } = await subscribed(f, frameworkInfo({ capabilities: [{ type: Cap.MULTI_ROLE }, { type: Cap.PARTITION_AWARE }] }));
    const send = client(stream, frameworkId);
    const [offer] = await nextOffers(stream);
    const agentId = offer.agent_id!.value;
    await send({
      type: CallType.ACCEPT,
      accept: { offer_ids: [offer.id!], operations: [{ type: mesos.v1.Offer.Operation.Type.LAUNCH, launch: { task_infos: [sleepTask('t', agentId)] } }], filters: { refuse_seconds: 0 } },
    });
    for (;;) {
      const s = (await stream.nextOfType(EventType.UPDATE)).update!.status!;
      await send({ type: CallType.ACKNOWLEDGE, acknowledge: { agent_id: { value: agentId }, task_id: s.task_id, uuid: s.uuid! } });
      if (s.state === TaskState.TASK_RUNNING) break;
    }
    await nextOffers(stream);
    f.cluster.partitionAgent(agentId);
    await stream.nextOfType(EventType.RESCIND);
    const u = (await stream.nextOfType(EventType.UPDATE)).update!.status!;
    expect(u.state).toBe(TaskState.TASK_UNREACHABLE);
    expect(u.source).toBe(mesos.v1.TaskStatus.Source.SOURCE_MASTER);
    expect((await stream.nextOfType(EventType.FAILURE)).failure?.agent_id?.value).toBe(agentId);
    await send({ type: CallType.RECONCILE, reconcile: { tasks: [{ task_id: { value: 't' }, agent_id: { value: agentId } }] } });
    expect((await stream.nextOfType(EventType.UPDATE)).update!.status!.state).toBe(TaskState.TASK_UNREACHABLE);
    await f.cluster.healAgent(agentId);
    await send({ type: CallType.RECONCILE, reconcile: { tasks: [] } });
    expect((await stream.nextOfType(EventType.UPDATE)).update!.status!.state).toBe(TaskState.TASK_RUNNING);
  });

  test('removed agent: TASK_GONE_BY_OPERATOR or TASK_LOST, FAILURE', async () => {
    const { stream, frameworkId } = await subscribed(f);
    const [offer] = await nextOffers(stream);
    const agentId = offer.agent_id!.value;
    await client(stream, frameworkId)({
      type: CallType.ACCEPT,
      accept: { offer_ids: [offer.id!], operations: [{ type: mesos.v1.Offer.Operation.Type.LAUNCH, launch: { task_infos: [sleepTask('t', agentId)] } }] },
    });
    f.cluster.removeAgent(agentId);
    const lost = await stream.next((e) => e.type === EventType.UPDATE && e.update!.status!.source === mesos.v1.TaskStatus.Source.SOURCE_MASTER);
    expect(lost.update!.status!.state).toBe(TaskState.TASK_LOST);
    expect(lost.update!.status!.reason).toBe(Reason.REASON_AGENT_REMOVED_BY_OPERATOR);
    await stream.nextOfType(EventType.FAILURE);
  });

  test('master failover: frameworks re-subscribe with their ID and see their tasks again', async () => {
    const info = frameworkInfo({ failover_timeout: 60 });
    const { stream, frameworkId } = await subscribed(f, info);
    const send = client(stream, frameworkId);
    const [offer] = await nextOffers(stream);
    const agentId = offer.agent_id!.value;
    await send({
      type: CallType.ACCEPT,
      accept: { offer_ids: [offer.id!], operations: [{ type: mesos.v1.Offer.Operation.Type.LAUNCH, launch: { task_infos: [sleepTask('t', agentId)] } }] },
    });
    for (;;) {
      const s = (await stream.nextOfType(EventType.UPDATE)).update!.status!;
      await send({ type: CallType.ACKNOWLEDGE, acknowledge: { agent_id: { value: agentId }, task_id: s.task_id, uuid: s.uuid! } });
      if (s.state === TaskState.TASK_RUNNING) break;
    }
    const oldMaster = f.cluster.masterId;
    await f.cluster.restartMaster();
    expect(f.cluster.masterId).not.toBe(oldMaster);
    await stream.closed();
    const again = await subscribed(f, { ...info, id: { value: frameworkId } });
    expect(again.frameworkId).toBe(frameworkId);
    await call(f.cluster.url, { type: CallType.RECONCILE, framework_id: { value: frameworkId }, reconcile: {} }, { streamId: again.stream.streamId });
    const s = (await again.stream.nextOfType(EventType.UPDATE)).update!.status!;
    expect(s.task_id.value).toBe('t');
    expect(s.state).toBe(TaskState.TASK_RUNNING);
  });
});
