/**
 * The one call `polly csi node` makes: serve Identity + Node on this host's socket. The node ID is
 * `--node-id`, else `csi.node.id`, else the host name (what Mesos agents are known by, so a CSI
 * node and the Mesos agent on the same host are the same Polly agent).
 */
import os from 'node:os';
import path from 'node:path';
import type { Registry } from 'prom-client';
import type { PollyConfig } from '../../config/config-schema';
import { Logger, silentLogger } from '../../shared/logger';
import { CsiEndpoint, parseCsiEndpoint } from './csi-endpoint';
import { csiRpcHistogram } from './csi-metrics';
import { csiServices } from './csi-proto';
import { CsiServer } from './csi-server';
import { identityMethods } from './identity-service';
import { NodeService } from './node/node-service';
import { NodeVolumes } from './node/node-volumes';

export interface CsiNodeOverrides {
  endpoint?: CsiEndpoint;
  nodeId?: string;
  zone?: string;
}

export interface RunningCsiNode {
  endpoint: string;
  nodeId: string;
  stop(graceMs?: number): Promise<void>;
}

export function nodeSocketPath(config: PollyConfig): string {
  return config.csi.node.socket ? path.resolve(config.home, config.csi.node.socket) : path.join(config.home, 'csi', 'node.sock');
}

/**
 * max_volumes_per_node: what the node-publishable services allow one node to have attached, summed
 * when every one of them has a limit; 0 (no limit) when any has none.
 */
export function maxVolumesPerNode(config: PollyConfig): number {
  const publishable = config.services.filter((s) => s.driver === 'vfs' && (s.mapping ?? 'hostPath') === 'hostPath');
  if (publishable.length === 0 || publishable.some((s) => s.vfs?.attachLimit === undefined)) return 0;
  return publishable.reduce((sum, s) => sum + s.vfs!.attachLimit!, 0);
}

/** Why this process cannot mount (Probe reports it), or undefined. */
function mountProblem(): string | undefined {
  const uid = process.getuid?.();
  if (uid !== undefined && uid !== 0) return `polly csi node runs as uid ${uid}: bind-mounting volumes needs root (CAP_SYS_ADMIN)`;
  return undefined;
}

export async function startCsiNode(
  config: PollyConfig,
  overrides: CsiNodeOverrides = {},
  deps: { logger?: Logger; registry?: Registry } = {},
): Promise<RunningCsiNode> {
  const logger = deps.logger ?? silentLogger;
  const nodeId = overrides.nodeId || config.csi.node.id || os.hostname();
  const zone = overrides.zone || config.csi.node.zone || undefined;
  const endpoint = overrides.endpoint ?? parseCsiEndpoint(nodeSocketPath(config), 'csi.node.socket');
  const services = csiServices();
  const server = new CsiServer({
    endpoint,
    socketScheduler: config.csi.scheduler,
    logger,
    ...(deps.registry ? { metrics: csiRpcHistogram(deps.registry) } : {}),
  });
  const node = new NodeService({
    nodeId,
    ...(zone ? { zone } : {}),
    maxVolumesPerNode: maxVolumesPerNode(config),
    requirePublishContext: config.csi.node.requirePublishContext,
    stageVolumes: config.csi.node.stageVolumes,
    volumes: new NodeVolumes(config.services, config.home),
  });
  server.addService(
    'identity',
    services.identity,
    identityMethods({
      pluginName: config.csi.pluginName,
      role: 'node',
      ready: () => true,
      unhealthy: mountProblem,
      // As the controller says it (one set of plugin capabilities): vfs services grow online.
      volumeExpansion: () => (config.services.some((s) => s.driver === 'vfs') ? 'ONLINE' : undefined),
    }),
  );
  server.addService('node', services.node, node.methods());
  const address = await server.listen();
  const problem = mountProblem();
  if (problem) logger.warn('CSI node cannot mount volumes', { problem });
  logger.info('CSI node service ready', { nodeId, zone, endpoint: address });
  return { endpoint: address, nodeId, stop: (graceMs) => server.close(graceMs) };
}
