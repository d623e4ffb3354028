/**
 * GET /master/state (also /state): the JSON the Mesos web UI polls (readonly_handler.cpp).
 * Resources appear as name→value maps, times as epoch seconds.
 */
import { mesos } from '../../generated/mesos';
import { toMesosJson } from '../../codec';
import type { LocalMaster } from './local-master';
import type { Framework, TaskRecord } from './framework-registry';
import type { AgentRecord } from './agent-registry';
import { type Resource, normalize, withoutAllocation } from './resources';
import { MESOS_VERSION } from './local-master';

type Json = Record<string, unknown>;

/** Resources::toJSON-like summary: scalars as numbers, ranges as "[a-b, ...]". */
export function resourcesSummary(resources: readonly Resource[]): Json {
  const out: Json = { cpus: 0, gpus: 0, mem: 0, disk: 0 };
  for (const r of normalize(withoutAllocation(resources))) {
    const name = r.name;
    if ((r.type ?? 0) === 0) out[name] = Math.round(((typeof out[name] === 'number' ? (out[name] as number) : 0) + (r.scalar?.value ?? 0)) * 1000) / 1000;
    else if (r.type === 1) {
      const ranges = (r.ranges?.range ?? []).map((x) => `${x.begin}-${x.end}`);
      out[name] = `[${[...(typeof out[name] === 'string' ? [(out[name] as string).slice(1, -1)] : []), ...ranges].filter(Boolean).join(', ')}]`;
    } else if (r.type === 2) out[name] = `{${(r.set?.item ?? []).join(', ')}}`;
  }
  return out;
}

function json(type: { fromObject(o: object): unknown; toObject(m: unknown, o?: object): object } & object, value: unknown): unknown {
  return toMesosJson(type as never, value as never);
}

function taskJson(record: TaskRecord, framework: Framework): Json {
  const t = record.task;
  const out: Json = {
    id: t.task_id.value,
    name: t.name,
    framework_id: framework.id,
    executor_id: t.executor_id?.value ?? '',
    slave_id: record.agentId,
    agent_id: record.agentId,
    state: mesos.v1.TaskState[t.state] ?? String(t.state),
    resources: resourcesSummary(t.resources ?? []),
    role: record.resources[0]?.allocation_info?.role ?? framework.roles[0] ?? '*',
    statuses: (t.statuses ?? []).map((s) => ({
      state: mesos.v1.TaskState[s.state] ?? String(s.state),
      timestamp: s.timestamp ?? 0,
      ...(s.container_status ? { container_status: json(mesos.v1.ContainerStatus, s.container_status) } : {}),
      ...(Object.prototype.hasOwnProperty.call(s, 'healthy') && s.healthy !== null && s.healthy !== undefined ? { healthy: s.healthy } : {}),
    })),
  };
  if (t.limits && Object.keys(t.limits).length > 0) out.limits = Object.fromEntries(Object.entries(t.limits).map(([k, v]) => [k, json(mesos.v1.Value.Scalar, v)]));
  if (t.user) out.user = t.user;
  if (t.labels) out.labels = (t.labels.labels ?? []).map((l) => ({ key: l.key, value: l.value }));
  if (t.discovery) out.discovery = json(mesos.v1.DiscoveryInfo, t.discovery);
  if (t.container) out.container = json(mesos.v1.ContainerInfo, t.container);
  if (t.health_check) out.health_check = json(mesos.v1.HealthCheck, t.health_check);
  return out;
}

function frameworkJson(master: LocalMaster, f: Framework): Json {
  const info = f.info;
  const out: Json = {
    id: f.id,
    name: info.name ?? '',
    pid: undefined,
    used_resources: resourcesSummary(master.allocatedTo(f)),
    offered_resources: resourcesSummary(master.offeredTo(f)),
    resources: resourcesSummary([...master.allocatedTo(f), ...master.offeredTo(f)]),
    capabilities: (info.capabilities ?? []).map((c) => mesos.v1.FrameworkInfo.Capability.Type[c.type ?? 0]),
    hostname: info.hostname ?? '',
    webui_url: info.webui_url ?? '',
    active: f.active,
    connected: f.connected,
    recovered: f.recovered,
    user: info.user ?? '',
    failover_timeout: Number(info.failover_timeout ?? 0),
    checkpoint: Boolean(info.checkpoint),
    registered_time: f.registeredTime ?? 0,
    unregistered_time: f.unregisteredTime ?? 0,
    principal: info.principal ?? undefined,
    tasks: [...f.tasks.values()].map((t) => taskJson(t, f)),
    unreachable_tasks: [...f.unreachableTasks.values()].map((t) => taskJson(t, f)),
    completed_tasks: f.completedTasks.map((t) => taskJson(t, f)),
    offers: master.offers.ofFramework(f.id).map((o) => ({
      id: o.id,
      framework_id: o.frameworkId,
      slave_id: o.agentId,
      allocation_info: { role: o.role },
      resources: resourcesSummary(o.resources),
    })),
    executors: [],
    labels: (info.labels?.labels ?? []).map((l) => ({ key: l.key, value: l.value })),
  };
  if (f.reregisteredTime !== undefined) out.reregistered_time = f.reregisteredTime;
  if (f.multiRole) out.roles = f.roles;
  else out.role = f.roles[0];
  return out;
}

function agentJson(master: LocalMaster, a: AgentRecord): Json {
  const used = master.usedOn(a.id);
  const offered = master.offeredOn(a.id);
  const out: Json = {
    id: a.id,
    pid: `slave(1)@127.0.0.1:${a.info.port ?? 5051}`,
    hostname: a.info.hostname,
    port: a.info.port ?? 5051,
    registered_time: a.registeredTime,
    resources: resourcesSummary(a.total),
    used_resources: resourcesSummary(used),
    offered_resources: resourcesSummary(offered),
    unreserved_resources: resourcesSummary(a.total.filter((r) => (r.reservations ?? []).length === 0)),
    attributes: Object.fromEntries(
      (a.info.attributes ?? []).map((attr) => [attr.name, attr.type === 0 ? attr.scalar?.value : attr.text?.value ?? attr.set?.item?.join(',')]),
    ),
    active: a.status === 'active',
    version: MESOS_VERSION,
    capabilities: ['MULTI_ROLE', 'HIERARCHICAL_ROLE', 'RESERVATION_REFINEMENT'],
  };
  if (a.reregisteredTime !== undefined) out.reregistered_time = a.reregisteredTime;
  if (a.info.domain) out.domain = json(mesos.v1.DomainInfo, a.info.domain);
  return out;
}

export function stateJson(master: LocalMaster): Json {
  const frameworks = master.frameworks.all();
  const agents = master.agents.all();
  const info = master.masterInfo();
  return {
    version: MESOS_VERSION,
    id: master.masterId,
    pid: info.pid,
    hostname: info.hostname,
    start_time: master.startTime,
    elected_time: master.startTime,
    activated_slaves: agents.filter((a) => a.status === 'active').length,
    deactivated_slaves: 0,
    unreachable_slaves: agents.filter((a) => a.status === 'unreachable').length,
    leader: info.pid,
    leader_info: json(mesos.v1.MasterInfo, info),
    flags: { allocation_interval: `${master.options.allocationIntervalMs}ms`, authenticate_http_frameworks: 'false' },
    slaves: agents.filter((a) => a.status === 'active').map((a) => agentJson(master, a)),
    recovered_slaves: [],
    frameworks: frameworks.filter((f) => !f.recovered).map((f) => frameworkJson(master, f)),
    completed_frameworks: master.frameworks.completedFrameworks().map((f) => frameworkJson(master, f)),
    orphan_tasks: [],
    unregistered_frameworks: frameworks.filter((f) => f.recovered).map((f) => f.id),
  };
}
