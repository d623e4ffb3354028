/**
 * What the API shows of apps and tasks: the records plus what is known only in memory (why an
 * instance waits, whether a task is stranded).
 */
import type { AppSpec } from './app-spec';
import type { AppRecord, TaskRecord } from './instance-tracker';
import type { StrandedView } from './stranded-tasks';

export interface TaskVolumeView {
  name: string;
  volumeId?: string;
  claimId?: string;
  containerPath: string;
  mode: 'RW' | 'RO';
}

export interface TaskView {
  id: string;
  appId: string;
  instance: number;
  state: string;
  agentId: string;
  hostname: string;
  zone?: string;
  volumes: TaskVolumeView[];
  message?: string;
  /** The health check's last word (TaskStatus.healthy); absent while there is none. */
  healthy?: boolean;
  /** When Mesos first reported it running. */
  startedAt?: string;
  /** The host ports it got. */
  ports?: number[];
  /** The app definition version it runs. */
  version?: string;
  /** Mesos has not accounted for the task for longer than scheduler.unknownTaskTimeoutSeconds. */
  stranded?: StrandedView;
  updatedAt: string;
}

/** Why an instance waits; `operatorAction`: it will not start until someone acts (`polly app run --wait` gives up). */
export interface WaitingView {
  instance: number;
  reason: string;
  operatorAction?: boolean;
}

/** Waiting reasons that no offer, release or timer will clear: an operator has to act. */
const OPERATOR_ACTION = [/^waiting: volume .* is not offered to scheduler /, /^waiting: volume .* is missing$/, / is stranded since /, /^waiting: volumes .* are in different zones$/];

export function waitingView(instance: number, reason: string): WaitingView {
  const view: WaitingView = { instance, reason };
  if (OPERATOR_ACTION.some((re) => re.test(reason))) view.operatorAction = true;
  return view;
}

export interface AppView extends AppSpec {
  state: AppRecord['state'];
  /** Fields accepted but not (fully) honoured, each naming its field. */
  warnings: string[];
  tasks: TaskView[];
  waiting: WaitingView[];
  reservations: AppRecord['reservations'];
  createdAt: string;
  updatedAt: string;
}

/** Why an instance whose task Mesos does not report running waits (undefined: it does not wait on its task). */
export function taskWaitReason(task: TaskRecord, stranded: StrandedView | undefined): string | undefined {
  if (stranded) {
    return (
      `waiting: task ${task.id} on ${task.hostname} is stranded since ${stranded.since} (${stranded.reason}); its volumes stay held. ` +
      `Once you know it is not running: polly task resolve ${task.id} --reason "..."`
    );
  }
  if (task.state === 'TASK_UNKNOWN') {
    return `waiting: task ${task.id} is unknown to Mesos; its volumes stay held until Mesos accounts for it or an operator resolves it`;
  }
  if (task.state === 'TASK_UNREACHABLE') {
    return `waiting: task ${task.id} is unreachable on ${task.hostname}; its volumes stay held until Mesos confirms it is gone`;
  }
  return undefined;
}

export function taskView(t: TaskRecord, stranded?: StrandedView): TaskView {
  const view: TaskView = {
    id: t.id,
    appId: t.appId,
    instance: t.instance,
    state: t.state,
    agentId: t.agentId,
    hostname: t.hostname,
    volumes: t.volumes.map((v) => {
      const out: TaskVolumeView = { name: v.name, containerPath: v.containerPath, mode: v.mode };
      if (v.volumeId !== undefined) out.volumeId = v.volumeId;
      if (v.claimId !== undefined) out.claimId = v.claimId;
      return out;
    }),
    updatedAt: t.updatedAt,
  };
  if (t.zone !== undefined) view.zone = t.zone;
  if (t.message !== undefined) view.message = t.message;
  if (t.healthy !== undefined) view.healthy = t.healthy;
  if (t.startedAt !== undefined) view.startedAt = t.startedAt;
  if (t.ports !== undefined) view.ports = t.ports;
  if (t.version !== undefined) view.version = t.version;
  if (stranded) view.stranded = stranded;
  return view;
}
