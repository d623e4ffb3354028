/**
 * Builds the TaskInfo for an app instance: a command task (`cmd` through the shell, or `args`),
 * its environment, its resources from the matched offer, and one container volume per claimed
 * volume, mapped per its service's mode: `hostPath` → a HOST_PATH source at the driver's path for
 * the volume, `dockerVolume` → a DOCKER_VOLUME source with the service's Docker volume driver,
 * `csi` → a CSI_VOLUME the agent's volume/csi isolator publishes (csi-volume-mapping.ts).
 * Task labels carry the app, the instance and the volume names, so the Mesos UI shows them.
 */
import { mesos } from '../mesos/generated/mesos';
import type { AppSpec } from './app-spec';
import { csiTaskVolume, type CsiVolumeMount } from './csi-volume-mapping';

export const TASK_LABEL_APP = 'polly_app';
export const TASK_LABEL_INSTANCE = 'polly_instance';
export const TASK_LABEL_VOLUMES = 'polly_volumes';

/** How one claimed volume reaches the task. */
export type VolumeMount =
  | { containerPath: string; mode: 'RW' | 'RO'; name: string; kind: 'hostPath'; hostPath: string }
  | { containerPath: string; mode: 'RW' | 'RO'; name: string; kind: 'dockerVolume'; driver: string; volumeName: string }
  | CsiVolumeMount;

export interface TaskBuildInput {
  taskId: string;
  agentId: string;
  appId: string;
  instance: number;
  spec: AppSpec;
  resources: mesos.v1.IResource[];
  mounts: VolumeMount[];
}

const VolumeMode = mesos.v1.Volume.Mode;
const SourceType = mesos.v1.Volume.Source.Type;
const ContainerType = mesos.v1.ContainerInfo.Type;

/** Task IDs: `<app with / as _>.<instance>.<unique>`, valid Mesos IDs, parseable back. */
export function makeTaskId(appId: string, instance: number, unique: string): string {
  return `${appId.replace(/\//g, '_')}.${instance}.${unique}`;
}

export function parseTaskId(taskId: string): { appId: string; instance: number } | undefined {
  const m = /^(.+)\.(\d+)\.([A-Za-z0-9-]+)$/.exec(taskId);
  if (!m) return undefined;
  return { appId: m[1].replace(/_/g, '/'), instance: Number(m[2]) };
}

export function buildTaskInfo(input: TaskBuildInput): mesos.v1.ITaskInfo {
  const { spec } = input;
  const environment: mesos.v1.IEnvironment = {
    variables: [
      ...Object.entries(spec.env ?? {}).map(([name, value]) => ({ name, type: mesos.v1.Environment.Variable.Type.VALUE, value })),
      { name: 'POLLY_APP_ID', type: mesos.v1.Environment.Variable.Type.VALUE, value: input.appId },
      { name: 'POLLY_INSTANCE', type: mesos.v1.Environment.Variable.Type.VALUE, value: String(input.instance) },
    ],
  };
  const command: mesos.v1.ICommandInfo =
    spec.cmd !== undefined
      ? { shell: true, value: spec.cmd, environment }
      : spec.args && spec.args.length > 0
        ? { shell: false, value: spec.args[0], arguments: spec.args, environment }
        : { shell: false, environment };
  const volumes: mesos.v1.IVolume[] = input.mounts.map((m) => {
    const mode = m.mode === 'RO' ? VolumeMode.RO : VolumeMode.RW;
    if (m.kind === 'csi') return csiTaskVolume(m);
    if (m.kind === 'hostPath') {
      return { container_path: m.containerPath, mode, source: { type: SourceType.HOST_PATH, host_path: { path: m.hostPath } } };
    }
    return { container_path: m.containerPath, mode, source: { type: SourceType.DOCKER_VOLUME, docker_volume: { driver: m.driver, name: m.volumeName } } };
  });
  const container: mesos.v1.IContainerInfo =
    spec.container?.type === 'DOCKER' && spec.container.docker
      ? { type: ContainerType.DOCKER, docker: { image: spec.container.docker.image }, volumes }
      : { type: ContainerType.MESOS, volumes };
  const labels: mesos.v1.ILabel[] = [
    { key: TASK_LABEL_APP, value: input.appId },
    { key: TASK_LABEL_INSTANCE, value: String(input.instance) },
  ];
  if (input.mounts.length > 0) labels.push({ key: TASK_LABEL_VOLUMES, value: input.mounts.map((m) => m.name).join(',') });
  for (const [key, value] of Object.entries(spec.labels ?? {})) labels.push({ key, value });
  return {
    name: `${input.appId}.${input.instance}`,
    task_id: { value: input.taskId },
    agent_id: { value: input.agentId },
    resources: input.resources,
    command,
    container,
    labels: { labels },
  };
}
