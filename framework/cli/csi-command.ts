/**
 * `polly csi controller` and `polly csi node`: Polly's CSI plugin outside `polly start`; and
 * `polly csi call`, a CSI client for trying and debugging any CSI plugin's sockets. The
 * controller (Identity + Controller) opens Polly's state and storage itself, so it never runs beside
 * a `polly start` on the same home; the node service (Identity + Node) runs as root on every host
 * that mounts volumes. Endpoints follow CSI conventions: `--endpoint unix:///path.sock`, else
 * `CSI_ENDPOINT`, else the configured socket.
 */
import fs from 'node:fs';
import http from 'node:http';
import type { Command } from 'commander';
import { csiClient } from '../api/csi/csi-client';
import { CsiEndpoint, parseCsiEndpoint } from '../api/csi/csi-endpoint';
import { controllerSocketPath, startCsiController } from '../api/csi/start-csi-controller';
import { nodeSocketPath, startCsiNode } from '../api/csi/start-csi-node';
import { grpcCodeName } from '../errors/to-grpc-status';
import { instrumentDriverFactory } from '../api/metrics/instrumented-driver';
import { PollyMetrics } from '../api/metrics/polly-metrics';
import { ConfigError, loadConfig } from '../config/config-loader';
import type { PollyConfig } from '../config/config-schema';
import { createLogger } from '../logging/winston-logger';
import type { Logger } from '../shared/logger';
import { createStore } from '../state/create-store';
import { openInstallation } from '../state/open-installation';
import { driverFactory } from '../storage/driver-factory';
import { ServiceRegistry } from '../storage/service-registry';
import { StorageService } from '../storage/storage-service';
import { UsageError } from './cli-errors';
import { loadCheckedConfig, reportProblems } from './config-check';

interface CommonFlags {
  config?: string;
  home?: string;
  endpoint?: string;
  logLevel?: string;
  logFormat?: string;
  metrics?: string;
}

interface NodeFlags extends CommonFlags {
  nodeId?: string;
  zone?: string;
}

function addCommonOptions(command: Command): Command {
  return command
    .option('-c, --config <file>', 'YAML configuration file (default /etc/polly/config.yml if present)')
    .option('--home <dir>', 'state directory (default ~/.polly, or POLLY_HOME)')
    .option('--endpoint <endpoint>', 'where to serve CSI: unix:///path/to/csi.sock (env CSI_ENDPOINT)')
    .option('--log-level <level>', 'error | warn | info | debug')
    .option('--log-format <format>', 'auto | json | pretty')
    .option('--metrics <host:port>', 'serve Prometheus metrics (per-RPC counts, latency, codes) at http://host:port/metrics');
}

export function registerCsiCommand(program: Command): void {
  const csi = program
    .command('csi')
    .description("Polly's CSI plugin outside `polly start`: the controller, or the node service on each host");

  addCommonOptions(csi.command('controller'))
    .description("serve the CSI controller (Identity + Controller) on Polly's state and storage, without Mesos")
    .action(async (flags: CommonFlags) => {
      const checked = loadCheckedConfig({ file: flags.config, overrides: overridesOf(flags) });
      if (!checked.config) {
        reportProblems(checked.problems);
        process.exitCode = 1;
        return;
      }
      await runController(checked.config, flags);
    });

  addCommonOptions(csi.command('node'))
    .description('serve the CSI node service (Identity + Node) on this host; needs root to bind-mount volumes')
    .option('--node-id <id>', "this host's node ID (default csi.node.id, else the host name)")
    .option('--zone <zone>', "this host's zone (default csi.node.zone)")
    .action(async (flags: NodeFlags) => {
      let config: PollyConfig;
      try {
        config = loadConfig({ file: flags.config, overrides: overridesOf(flags) });
      } catch (err) {
        if (!(err instanceof ConfigError)) throw err;
        reportProblems(err.problems);
        process.exitCode = 1;
        return;
      }
      await runNode(config, flags);
    });

  csi
    .command('call <method> [request]')
    .description(
      'call one CSI method and print its reply as JSON, e.g. `polly csi call Controller/CreateVolume \'{"name":"v1",...}\'` ' +
        "(request: JSON in the proto's field names, default {}; - reads it from stdin)",
    )
    .option('-c, --config <file>', 'YAML configuration file, for the default endpoint')
    .option('--home <dir>', 'state directory, for the default endpoint')
    .option(
      '--endpoint <endpoint>',
      'the plugin socket (env CSI_ENDPOINT; default: the configured controller socket, or the node socket for Node/ methods)',
    )
    .action(async (method: string, request: string | undefined, flags: CommonFlags) => {
      await callMethod(method, request, flags);
    });
}

const SERVICES = { Identity: 'identity', Controller: 'controller', Node: 'node' } as const;

/** `polly csi call`: one RPC, the reply as JSON on stdout, a refusal as one line `CODE: message` (exit 1). */
async function callMethod(method: string, requestText: string | undefined, flags: CommonFlags): Promise<void> {
  const [serviceName, rpc] = method.includes('/') ? method.split('/', 2) : ['', method];
  const client = (() => {
    let endpoint: CsiEndpoint | undefined = endpointOf(flags);
    if (!endpoint) {
      const config = loadConfig({ file: flags.config, overrides: { home: flags.home } });
      endpoint = parseCsiEndpoint(serviceName === 'Node' ? nodeSocketPath(config) : controllerSocketPath(config.csi, config.home));
    }
    return csiClient(endpoint);
  })();
  try {
    const services = serviceName ? [serviceName] : Object.keys(SERVICES);
    const found = services.find((s) => s in SERVICES && rpc in client[SERVICES[s as keyof typeof SERVICES]]);
    if (!found)
      throw new UsageError(`Unknown CSI method ${JSON.stringify(method)} (e.g. Identity/Probe, Controller/CreateVolume, Node/NodeGetInfo)`);
    const text = requestText === '-' ? fs.readFileSync(0, 'utf8') : (requestText ?? '{}');
    let request: Record<string, unknown>;
    try {
      request = JSON.parse(text) as Record<string, unknown>;
    } catch (err) {
      throw new UsageError(`The request is not JSON: ${(err as Error).message}`);
    }
    try {
      const reply = await client[SERVICES[found as keyof typeof SERVICES]][rpc](request);
      process.stdout.write(JSON.stringify(reply, null, 2) + '\n');
    } catch (err) {
      const e = err as { code?: number; details?: string };
      if (typeof e.code !== 'number') throw err;
      throw new Error(`${grpcCodeName(e.code)}: ${e.details ?? ''}`);
    }
  } finally {
    client.close();
  }
}

function overridesOf(flags: CommonFlags): Record<string, unknown> {
  return { home: flags.home, 'log.level': flags.logLevel, 'log.format': flags.logFormat };
}

function loggerFor(config: PollyConfig): Logger {
  return createLogger({ level: config.log.level, format: config.log.format === 'auto' ? undefined : config.log.format });
}

/** `--endpoint`, else CSI_ENDPOINT, else undefined (the configured socket). */
function endpointOf(flags: CommonFlags): ReturnType<typeof parseCsiEndpoint> | undefined {
  const value = flags.endpoint ?? (process.env.CSI_ENDPOINT || undefined);
  if (value === undefined) return undefined;
  try {
    return parseCsiEndpoint(value, flags.endpoint !== undefined ? '--endpoint' : 'CSI_ENDPOINT');
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

async function runController(config: PollyConfig, flags: CommonFlags): Promise<void> {
  if (config.state.backend !== 'leveldb') {
    throw new UsageError(
      'polly csi controller serves an embedded (leveldb) state only; with state.backend zookeeper the CSI controller runs inside `polly start` on the leader',
    );
  }
  const endpoint = endpointOf(flags);
  const logger = loggerFor(config);
  fs.mkdirSync(config.home, { recursive: true, mode: 0o700 });
  const store = createStore(config, config.home, { logger });
  await openInstallation(store, { home: config.home, logger });
  const metrics = new PollyMetrics();
  const storage = new StorageService({
    store,
    registry: new ServiceRegistry({
      services: config.services,
      home: config.home,
      store,
      createDriver: instrumentDriverFactory(driverFactory({ logger }), metrics),
      logger,
    }),
    logger: logger.child?.({ component: 'storage' }) ?? logger,
    claimRetention: { maxAgeMs: config.state.finishedClaims.keepHours * 3600 * 1000, maxKept: config.state.finishedClaims.keepMax },
  });
  let csi;
  let metricsServer: http.Server | undefined;
  try {
    // Listening first: Probe answers "not ready" while storage recovers.
    csi = await startCsiController(
      {
        storage,
        home: config.home,
        logger: logger.child?.({ component: 'csi' }) ?? logger,
        registry: metrics.registry,
        ...(endpoint ? { endpoint } : {}),
      },
      config.csi,
    );
    await storage.start();
    metricsServer = await serveMetrics(flags.metrics, () => metrics.render(), metrics.contentType, logger);
  } catch (err) {
    await csi?.stop(0);
    await storage.stop().catch(() => undefined);
    await store.close().catch(() => undefined);
    throw err;
  }
  logger.info('CSI controller running (without Mesos: node IDs must be listed in csi.nodes)', { endpoints: csi.endpoints });
  await untilSignalled(logger);
  await csi.stop(config.api.shutdownTimeoutMs);
  metricsServer?.close();
  await storage.stop();
  await store.close();
}

async function runNode(config: PollyConfig, flags: NodeFlags): Promise<void> {
  const endpoint = endpointOf(flags);
  const logger = loggerFor(config);
  const metrics = new PollyMetrics();
  const node = await startCsiNode(
    config,
    { ...(endpoint ? { endpoint } : {}), ...(flags.nodeId ? { nodeId: flags.nodeId } : {}), ...(flags.zone ? { zone: flags.zone } : {}) },
    { logger: logger.child?.({ component: 'csi-node' }) ?? logger, registry: metrics.registry },
  );
  let metricsServer: http.Server | undefined;
  try {
    metricsServer = await serveMetrics(flags.metrics, () => metrics.render(), metrics.contentType, logger);
  } catch (err) {
    await node.stop(0);
    throw err;
  }
  await untilSignalled(logger);
  await node.stop(config.api.shutdownTimeoutMs);
  metricsServer?.close();
}

/** A tiny /metrics listener for the standalone commands (Polly's API serves it inside `polly start`). */
async function serveMetrics(
  address: string | undefined,
  render: () => Promise<string>,
  contentType: string,
  logger: Logger,
): Promise<http.Server | undefined> {
  if (address === undefined) return undefined;
  const m = /^(.*):(\d{1,5})$/.exec(address);
  if (!m || Number(m[2]) > 65535) throw new UsageError(`--metrics must be host:port, got ${JSON.stringify(address)}`);
  const server = http.createServer((req, res) => {
    if (req.method !== 'GET' || req.url !== '/metrics') {
      res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ message: 'Not found: GET /metrics', status: 404 }));
      return;
    }
    render().then(
      (text) => res.writeHead(200, { 'content-type': contentType }).end(text),
      () => res.writeHead(500).end(),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(Number(m[2]), m[1] || '127.0.0.1', () => resolve());
  });
  logger.info('metrics listening', { url: `http://${address}/metrics` });
  return server;
}

function untilSignalled(logger: Logger): Promise<void> {
  return new Promise((resolve) => {
    const onSignal = (signal: NodeJS.Signals): void => {
      logger.info('signal received, shutting down', { signal });
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      resolve();
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  });
}
