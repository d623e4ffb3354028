/** Polly's FrameworkInfo: what Mesos (and its web UI) knows Polly by. */
import os from 'node:os';
import { mesos } from '../mesos/generated/mesos';

export interface FrameworkIdentity {
  name: string;
  user: string;
  roles: string[];
  principal?: string;
  failoverTimeoutSeconds: number;
  hostname: string;
  webuiUrl: string;
  frameworkId?: string;
}

const Capability = mesos.v1.FrameworkInfo.Capability.Type;

/** Capabilities Polly relies on: multi-role offers, refined reservations, partition-aware task states, TASK_KILLING. */
export const POLLY_CAPABILITIES = [
  Capability.MULTI_ROLE,
  Capability.RESERVATION_REFINEMENT,
  Capability.PARTITION_AWARE,
  Capability.TASK_KILLING_STATE,
];

export function buildFrameworkInfo(identity: FrameworkIdentity): mesos.v1.IFrameworkInfo {
  const info: mesos.v1.IFrameworkInfo = {
    user: identity.user || os.userInfo().username,
    name: identity.name,
    roles: identity.roles,
    failover_timeout: identity.failoverTimeoutSeconds,
    checkpoint: true,
    hostname: identity.hostname || os.hostname(),
    webui_url: identity.webuiUrl,
    capabilities: POLLY_CAPABILITIES.map((type) => ({ type })),
  };
  if (identity.principal) info.principal = identity.principal;
  if (identity.frameworkId) info.id = { value: identity.frameworkId };
  return info;
}
