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
  /** Mesos has not accounted for the task for longer than scheduler.unknownTaskTimeoutSeconds. */
  stranded?: StrandedView;
  updatedAt: string;
}

export interface AppView extends AppSpec {
  state: AppRecord['state'];
  tasks: TaskView[];
  waiting: Array<{ instance: number; reason: string }>;
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
  if (stranded) view.stranded = stranded;
  return view;
}
