/** Shared setup for the local master conformance tests: a fast cluster in a temp dir. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { mesos } from '../../../../framework/mesos/generated/mesos';
import { LocalCluster, type LocalClusterOptions } from '../../../../framework/mesos/local/local-cluster';
import { subscribe, type EventStream, type SubscribeOptions } from '../../../support/mesos-http';

export const Cap = mesos.v1.FrameworkInfo.Capability.Type;
export const CallType = mesos.v1.scheduler.Call.Type;
export const EventType = mesos.v1.scheduler.Event.Type;
export const TaskState = mesos.v1.TaskState;
export const Reason = mesos.v1.TaskStatus.Reason;

export interface Fixture {
  cluster: LocalCluster;
  dir: string;
  streams: EventStream[];
}

export async function startCluster(options: Partial<LocalClusterOptions> = {}): Promise<Fixture> {
  const dir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'polly-master-'));
  const cluster = await LocalCluster.start({
    port: 0,
    workDir: dir,
    heartbeatIntervalSeconds: 0.2,
    allocationIntervalMs: 50,
    agentPingTimeoutMs: 300,
    statusUpdateRetry: { minMs: 100, maxMs: 400 },
    agents: [{ hostname: 'node0', zone: 'zone-a', region: 'region-1', resources: 'cpus:2;mem:1024;disk:1000;ports:[31000-31010]' }],
    ...options,
  });
  return { cluster, dir, streams: [] };
}

export async function stopCluster(f: Fixture | undefined): Promise<void> {
  if (!f) return;
  for (const s of f.streams) s.close();
  await f.cluster.stop();
  // Task processes may still be flushing into their sandboxes for a moment after they are killed.
  await fs.promises.rm(f.dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 50 });
}

export function frameworkInfo(extra: Partial<mesos.v1.IFrameworkInfo> = {}): mesos.v1.IFrameworkInfo {
  return {
    user: 'polly',
    name: 'conformance',
    roles: ['storage'],
    capabilities: [{ type: Cap.MULTI_ROLE }, { type: Cap.RESERVATION_REFINEMENT }],
    ...extra,
  };
}

/** SUBSCRIBE and wait for SUBSCRIBED; returns the stream and framework ID. */
export async function subscribed(
  f: Fixture,
  info: mesos.v1.IFrameworkInfo = frameworkInfo(),
  options: SubscribeOptions = {},
): Promise<{ stream: EventStream; frameworkId: string }> {
  const stream = await subscribe(f.cluster.url, info, options);
  f.streams.push(stream);
  const first = await stream.next(() => true);
  if (first.type !== EventType.SUBSCRIBED) throw new Error(`Expected SUBSCRIBED, got ${EventType[first.type]}: ${first.error?.message}`);
  return { stream, frameworkId: first.subscribed?.framework_id?.value as string };
}
