/**
 * The one call a composition root makes to serve Polly's CSI controller (Identity + Controller):
 * on the configured unix socket (default `<home>/csi/controller.sock`) and, when configured, on
 * TCP with client certificates. Used by `polly start` (leader only) and `polly csi controller`.
 */
import path from 'node:path';
import type { Registry } from 'prom-client';
import type { CsiConfig } from '../../config/config-schema';
import { ValidationError } from '../../errors/validation-error';
import { Logger, silentLogger } from '../../shared/logger';
import type { AgentRegistry } from '../../scheduler/agent-registry';
import type { StorageService } from '../../storage/storage-service';
import { CsiEndpoint, parseCsiEndpoint } from './csi-endpoint';
import { csiRpcHistogram } from './csi-metrics';
import { csiServices } from './csi-proto';
import { CsiEventSink, CsiServer } from './csi-server';
import { controllerMethods } from './controller/controller-service';
import { pluginExpansion } from './controller/expand-requests';
import { identityMethods } from './identity-service';

export interface CsiControllerDeps {
  storage: StorageService;
  home: string;
  logger?: Logger;
  /** Where the per-RPC histogram is registered (Polly's /metrics). */
  registry?: Registry;
  events?: CsiEventSink;
  /** The scheduler's agents, once they exist (node IDs that are Mesos agents map onto them). */
  agents?: () => AgentRegistry | undefined;
  /** Why this instance cannot serve now besides storage not being started (e.g. not leading). */
  notServing?: () => string | undefined;
  /** Overrides `csi.socket` (the `--endpoint` flag / CSI_ENDPOINT of `polly csi controller`). */
  endpoint?: CsiEndpoint;
}

export interface RunningCsiController {
  /** Every endpoint listened on (`unix:///…`, `tcp://…`). */
  endpoints: string[];
  stop(graceMs?: number): Promise<void>;
}

export function controllerSocketPath(config: Pick<CsiConfig, 'socket'>, home: string): string {
  return config.socket ? path.resolve(home, config.socket) : path.join(home, 'csi', 'controller.sock');
}

/** The configured socket; a path the kernel cannot bind says how to choose another (or go without CSI). */
export function controllerEndpoint(config: CsiConfig, home: string): CsiEndpoint {
  try {
    return parseCsiEndpoint(controllerSocketPath(config, home), 'csi.socket');
  } catch (err) {
    throw new ValidationError(`${(err as Error).message}; set csi.socket to a shorter path, or csi.enabled: false to serve no CSI`, {
      field: 'csi.socket',
    });
  }
}

export async function startCsiController(deps: CsiControllerDeps, config: CsiConfig): Promise<RunningCsiController> {
  const logger = deps.logger ?? silentLogger;
  const services = csiServices();
  const metrics = deps.registry ? csiRpcHistogram(deps.registry) : undefined;
  const notReady = (): string | undefined => {
    if (!deps.storage.isStarted) return 'Polly is recovering its storage state; retry shortly';
    return deps.notServing?.();
  };
  const identity = identityMethods({
    pluginName: config.pluginName,
    role: 'controller',
    ready: () => notReady() === undefined,
    volumeExpansion: () => pluginExpansion(deps.storage),
  });
  const controller = controllerMethods({
    storage: deps.storage,
    nodes: config.nodes,
    acceptUnknownNodes: config.acceptUnknownNodes,
    agents: deps.agents,
    notReady,
  });
  const endpoints: CsiEndpoint[] = [deps.endpoint ?? controllerEndpoint(config, deps.home)];
  if (config.tcp) endpoints.push({ kind: 'tcp', host: config.tcp.host, port: config.tcp.port });
  const servers: CsiServer[] = [];
  try {
    for (const endpoint of endpoints) {
      const server = new CsiServer({
        endpoint,
        ...(endpoint.kind === 'tcp' && config.tcp
          ? { tls: { certFile: config.tcp.certFile, keyFile: config.tcp.keyFile, caFile: config.tcp.caFile } }
          : {}),
        socketScheduler: config.scheduler,
        logger,
        ...(metrics ? { metrics } : {}),
        ...(deps.events ? { events: deps.events } : {}),
      });
      server.addService('identity', services.identity, identity);
      server.addService('controller', services.controller, controller);
      servers.push(server);
      await server.listen();
    }
  } catch (err) {
    await Promise.all(servers.map((s) => s.close(0)));
    throw err;
  }
  return {
    endpoints: servers.map((s) => s.endpoint),
    stop: async (graceMs) => {
      await Promise.all(servers.map((s) => s.close(graceMs)));
    },
  };
}
