/**
 * POST /api/v1: the v1 operator API (mesos.v1.master.Call) for the calls tools and Polly use.
 * Note that Response.Type numbers differ from Call.Type numbers; the enums say which is which.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { mesos } from '../../generated/mesos';
import { CodecError, MEDIA_TYPES, MessageCodec, formatOfMediaType, type WireFormat } from '../../codec';
import type { LocalMaster } from './local-master';
import type { Framework, TaskRecord } from './framework-registry';
import type { AgentRecord } from './agent-registry';
import { SubscriptionStream } from './subscription-stream';
import { accepts, authenticate, readBody, respond, type Credential } from './http-util';
import { has } from './resources';
import { MESOS_VERSION } from './local-master';

const CallType = mesos.v1.master.Call.Type;
const ResponseType = mesos.v1.master.Response.Type;
const EventType = mesos.v1.master.Event.Type;



const codecs = {
  call: {
    json: new MessageCodec(mesos.v1.master.Call, 'json', { checkRequired: true }),
    protobuf: new MessageCodec(mesos.v1.master.Call, 'protobuf'),
  },
  response: {
    json: new MessageCodec(mesos.v1.master.Response, 'json'),
    protobuf: new MessageCodec(mesos.v1.master.Response, 'protobuf'),
  },
  event: {
    json: new MessageCodec(mesos.v1.master.Event, 'json'),
    protobuf: new MessageCodec(mesos.v1.master.Event, 'protobuf'),
  },
};

function taskMessage(record: TaskRecord): mesos.v1.ITask {
  return record.task;
}

function frameworkMessage(master: LocalMaster, f: Framework): mesos.v1.master.Response.GetFrameworks.IFramework {
  const out: mesos.v1.master.Response.GetFrameworks.IFramework = {
    framework_info: f.info,
    active: f.active,
    connected: f.connected,
    recovered: f.recovered,
    offers: master.offers.ofFramework(f.id).map((o) => master.offerMessage(f, o)),
    allocated_resources: master.allocatedTo(f),
    offered_resources: master.offeredTo(f),
  };
  if (f.registeredTime !== undefined) out.registered_time = { nanoseconds: Math.round(f.registeredTime * 1e9) };
  if (f.reregisteredTime !== undefined) out.reregistered_time = { nanoseconds: Math.round(f.reregisteredTime * 1e9) };
  if (f.unregisteredTime !== undefined) out.unregistered_time = { nanoseconds: Math.round(f.unregisteredTime * 1e9) };
  return out;
}

function agentMessage(master: LocalMaster, a: AgentRecord): mesos.v1.master.Response.GetAgents.IAgent {
  const out: mesos.v1.master.Response.GetAgents.IAgent = {
    agent_info: { ...a.info, resources: a.total },
    active: a.status === 'active',
    version: MESOS_VERSION,
    pid: `slave(1)@127.0.0.1:${a.info.port ?? 5051}`,
    registered_time: { nanoseconds: Math.round(a.registeredTime * 1e9) },
    total_resources: a.total,
    allocated_resources: master.usedOn(a.id),
    offered_resources: master.offeredOn(a.id),
  };
  if (a.reregisteredTime !== undefined) out.reregistered_time = { nanoseconds: Math.round(a.reregisteredTime * 1e9) };
  return out;
}

export function getFrameworks(master: LocalMaster): mesos.v1.master.Response.IGetFrameworks {
  return {
    frameworks: master.frameworks.all().map((f) => frameworkMessage(master, f)),
    completed_frameworks: master.frameworks.completedFrameworks().map((f) => frameworkMessage(master, f)),
  };
}

export function getAgents(master: LocalMaster): mesos.v1.master.Response.IGetAgents {
  return { agents: master.agents.active().map((a) => agentMessage(master, a)), recovered_agents: master.recoveredAgentInfos() };
}

export function getTasks(master: LocalMaster): mesos.v1.master.Response.IGetTasks {
  const all = [...master.frameworks.all(), ...master.frameworks.completedFrameworks()];
  return {
    tasks: all.flatMap((f) => [...f.tasks.values()].map(taskMessage)),
    unreachable_tasks: all.flatMap((f) => [...f.unreachableTasks.values()].map(taskMessage)),
    completed_tasks: all.flatMap((f) => f.completedTasks.map(taskMessage)),
  };
}

export function getState(master: LocalMaster): mesos.v1.master.Response.IGetState {
  return {
    get_tasks: getTasks(master),
    get_executors: { executors: [], orphan_executors: [] },
    get_frameworks: getFrameworks(master),
    get_agents: getAgents(master),
  };
}

/** Who may use the operator API, and where the leader is when this master is not it. */
export interface OperatorAccess {
  credentials?: readonly Credential[];
  leader: () => { leading: true } | { leading: false; leaderHostPort?: string };
}

export class OperatorEndpoint {
  private readonly subscribers = new Set<SubscriptionStream<mesos.v1.master.Event>>();
  private detach?: () => void;

  constructor(
    private readonly master: () => LocalMaster,
    private readonly heartbeatIntervalSeconds: number,
    private readonly access: OperatorAccess = { leader: () => ({ leading: true }) },
  ) {}

  /** Attach to a (new) master's events; old subscribers are closed (a failover ends streams). */
  bind(master: LocalMaster): void {
    this.detach?.();
    for (const s of this.subscribers) s.close();
    this.subscribers.clear();
    const send = (event: mesos.v1.master.IEvent): void => {
      for (const s of this.subscribers) s.send(event);
    };
    const onTaskAdded = (t: TaskRecord): void => send({ type: EventType.TASK_ADDED, task_added: { task: t.task } });
    const onTaskUpdated = (t: TaskRecord, status: mesos.v1.ITaskStatus): void =>
      send({ type: EventType.TASK_UPDATED, task_updated: { framework_id: t.task.framework_id, status, state: t.task.state } });
    const onAgentAdded = (a: AgentRecord): void => send({ type: EventType.AGENT_ADDED, agent_added: { agent: agentMessage(master, a) } });
    const onAgentRemoved = (a: AgentRecord): void => send({ type: EventType.AGENT_REMOVED, agent_removed: { agent_id: { value: a.id } } });
    const onFrameworkAdded = (f: Framework): void =>
      send({ type: EventType.FRAMEWORK_ADDED, framework_added: { framework: frameworkMessage(master, f) } });
    const onFrameworkUpdated = (f: Framework): void =>
      send({ type: EventType.FRAMEWORK_UPDATED, framework_updated: { framework: frameworkMessage(master, f) } });
    const onFrameworkRemoved = (f: Framework): void => send({ type: EventType.FRAMEWORK_REMOVED, framework_removed: { framework_info: f.info } });
    master.events.on('taskAdded', onTaskAdded);
    master.events.on('taskUpdated', onTaskUpdated);
    master.events.on('agentAdded', onAgentAdded);
    master.events.on('agentRemoved', onAgentRemoved);
    master.events.on('frameworkAdded', onFrameworkAdded);
    master.events.on('frameworkUpdated', onFrameworkUpdated);
    master.events.on('frameworkRemoved', onFrameworkRemoved);
    this.detach = () => {
      master.events.off('taskAdded', onTaskAdded);
      master.events.off('taskUpdated', onTaskUpdated);
      master.events.off('agentAdded', onAgentAdded);
      master.events.off('agentRemoved', onAgentRemoved);
      master.events.off('frameworkAdded', onFrameworkAdded);
      master.events.off('frameworkUpdated', onFrameworkUpdated);
      master.events.off('frameworkRemoved', onFrameworkRemoved);
    };
  }

  close(): void {
    this.detach?.();
    for (const s of this.subscribers) s.close();
    this.subscribers.clear();
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const leader = this.access.leader();
    if (!leader.leading) {
      if (leader.leaderHostPort) return respond(res, 307, '', { Location: `//${leader.leaderHostPort}/api/v1` });
      return respond(res, 503, 'No leader elected');
    }
    // The master serves /api/v1 in its read-write HTTP authentication realm (--authenticate_http_readwrite).
    if (this.access.credentials && this.access.credentials.length > 0 && authenticate(req, this.access.credentials) === undefined) {
      return respond(res, 401, '', { 'WWW-Authenticate': 'Basic realm="mesos-master-readwrite"' });
    }
    if (req.method !== 'POST') return respond(res, 405, `Expecting one of { 'POST' }, but received '${req.method}'`, { Allow: 'POST' });
    const contentType = req.headers['content-type'];
    if (contentType === undefined) return respond(res, 400, "Expecting 'Content-Type' to be present");
    const format = formatOfMediaType(contentType);
    if (!format) return respond(res, 415, `Expecting 'Content-Type' of ${MEDIA_TYPES.json} or ${MEDIA_TYPES.protobuf}`);
    const body = await readBody(req);
    let call: mesos.v1.master.Call;
    try {
      call = codecs.call[format].decode(body);
    } catch (err) {
      if (!(err instanceof CodecError)) throw err;
      if (format === 'protobuf') return respond(res, 400, 'Failed to parse body into Call protobuf');
      if (err.kind === 'syntax') return respond(res, 400, `Failed to parse body into JSON: ${err.message}`);
      return respond(res, 400, `Failed to convert JSON into Call protobuf: ${err.message}`);
    }
    if (!has(call, 'type')) return respond(res, 400, "Failed to validate master::Call: Expecting 'type' to be present");
    const accept = req.headers.accept;
    const outFormat: WireFormat | undefined = accepts(accept, MEDIA_TYPES.json) ? 'json' : accepts(accept, MEDIA_TYPES.protobuf) ? 'protobuf' : undefined;
    if (!outFormat) return respond(res, 406, `Expecting 'Accept' to allow '${MEDIA_TYPES.protobuf}' or '${MEDIA_TYPES.json}'`);
    const master = this.master();
    const reply = (response: mesos.v1.master.IResponse): void => {
      const bytes = codecs.response[outFormat].encode(response);
      res.statusCode = 200;
      res.setHeader('Content-Type', MEDIA_TYPES[outFormat]);
      res.setHeader('Content-Length', bytes.length);
      res.end(bytes);
    };
    switch (call.type) {
      case CallType.GET_HEALTH:
        return reply({ type: ResponseType.GET_HEALTH, get_health: { healthy: true } });
      case CallType.GET_VERSION:
        return reply({
          type: ResponseType.GET_VERSION,
          get_version: { version_info: { version: MESOS_VERSION, build_date: '', build_time: 0, build_user: '' } },
        });
      case CallType.GET_STATE:
        return reply({ type: ResponseType.GET_STATE, get_state: getState(master) });
      case CallType.GET_FRAMEWORKS:
        return reply({ type: ResponseType.GET_FRAMEWORKS, get_frameworks: getFrameworks(master) });
      case CallType.GET_AGENTS:
        return reply({ type: ResponseType.GET_AGENTS, get_agents: getAgents(master) });
      case CallType.GET_TASKS:
        return reply({ type: ResponseType.GET_TASKS, get_tasks: getTasks(master) });
      case CallType.GET_MASTER:
        return reply({
          type: ResponseType.GET_MASTER,
          get_master: { master_info: master.masterInfo(), start_time: master.startTime, elected_time: master.startTime },
        });
      case CallType.MARK_AGENT_GONE: {
        const agentId = call.mark_agent_gone?.agent_id?.value;
        if (!agentId) return respond(res, 400, "Failed to validate master::Call: Expecting 'mark_agent_gone' to be present");
        master.markAgentGone(agentId);
        return respond(res, 200);
      }
      case CallType.TEARDOWN: {
        const framework = master.frameworks.get(call.teardown?.framework_id?.value ?? '');
        if (!framework) return respond(res, 400, 'No framework found with specified ID');
        master.removeFramework(framework);
        return respond(res, 200);
      }
      case CallType.SUBSCRIBE: {
        const stream = new SubscriptionStream(res, codecs.event[outFormat], { sendStreamId: false });
        stream.send({
          type: EventType.SUBSCRIBED,
          subscribed: { get_state: getState(master), heartbeat_interval_seconds: this.heartbeatIntervalSeconds },
        });
        this.subscribers.add(stream);
        stream.onClose(() => this.subscribers.delete(stream));
        stream.startHeartbeats(this.heartbeatIntervalSeconds * 1000, () => ({ type: EventType.HEARTBEAT }));
        return;
      }
      default:
        return respond(res, 501, `Call ${CallType[call.type] ?? call.type} is not implemented by the local master`);
    }
  }
}

