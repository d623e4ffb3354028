/**
 * Polly as a CSI plugin under load (vfs with fsync + LevelDB, its embedded defaults), over the real
 * transports, with the clients in this process:
 * - CSI cycles per second, CreateVolume + ControllerPublishVolume + ControllerUnpublishVolume +
 *   DeleteVolume, at 1, 8 and 64 concurrent gRPC clients (one channel each, on the unix socket),
 *   each row beside the same cycle through Polly's v1 HTTP API (POST /v1/volumes, POST /v1/claims,
 *   POST /v1/claims/:id/release, DELETE /v1/volumes/:id) measured in the same run, ratio CSI/HTTP;
 * - the node bind mount's own rate (NodePublishVolume + NodeUnpublishVolume, a mount(8) and an
 *   umount(8) each) at 1 and 8 clients, and the whole cycle with the node mount at 8 clients.
 * - claim cycles (create + claim + release) of a Polly whose service is CSI-backed (drivers/csi
 *   against this plugin: CreateVolume + ControllerPublishVolume + ControllerUnpublishVolume under
 *   its own intents) at 1 and 8 clients, beside the same cycles on a vfs service directly.
 * The clients run in a child process, as a CO does, so the plugin's process is measured alone.
 * Rows alternate CSI and HTTP within each round; each reports the median of its rounds. Needs root
 * (the node rows mount); every mount is undone before the bench ends.
 */
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createApiAuth } from '../../framework/api/auth/api-auth';
import { createApiServer } from '../../framework/api/api-server';
import { startCsiController } from '../../framework/api/csi/start-csi-controller';
import { startCsiNode } from '../../framework/api/csi/start-csi-node';
import { EventJournal } from '../../framework/api/event-journal';
import { PollyMetrics } from '../../framework/api/metrics/polly-metrics';
import { loadConfig } from '../../framework/config/config-loader';
import { LevelStore } from '../../framework/state/level-store';
import { driverFactory } from '../../framework/storage/driver-factory';
import { ServiceRegistry } from '../../framework/storage/service-registry';
import { StorageService } from '../../framework/storage/storage-service';
import { CsiClient, csiClient, GIB, MOUNT_SNW } from '../../test/support/csi-client';
import { BenchResult, report, round } from './bench-result';

const SECONDS = Number(process.env.BENCH_CSI_SECONDS ?? 3);
const ROUNDS = Number(process.env.BENCH_CSI_ROUNDS ?? 2);
const DURABLE = process.env.BENCH_VFS_DURABLE !== '0';
const NODES = 16;

/** Where the client process finds the plugin. */
interface Endpoints {
  dir: string;
  socket: string;
  apiUrl: string;
  nodeSocket: string;
}

interface Plugin extends Endpoints {
  stop(): Promise<void>;
}

/** A fresh Polly (store, vfs root, CSI controller, HTTP API, a node service) in a temp dir. */
async function startPlugin(): Promise<Plugin> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'polly-bench-csi-'));
  const home = path.join(dir, 'home');
  const config = loadConfig({ env: {}, file: '/dev/null', overrides: { home, 'csi.acceptUnknownNodes': true, 'log.level': 'error' } });
  const store = new LevelStore(path.join(home, 'state'));
  const storage = new StorageService({
    store,
    registry: new ServiceRegistry({ services: config.services, home, store, createDriver: driverFactory({ durable: DURABLE }) }),
    concurrency: 64,
  });
  const csi = await startCsiController({ storage, home }, config.csi);
  await storage.start();
  const api = createApiServer({
    storage,
    auth: createApiAuth({ host: '127.0.0.1', auth: 'off', tokens: [] }),
    readiness: () => ({ storeOpen: true, subscribed: true }),
    metrics: new PollyMetrics({ defaultMetrics: false }),
    events: new EventJournal(100),
  });
  const address = await api.listen({ host: '127.0.0.1', port: 0 });
  const nodeSocket = path.join(dir, 'node.sock');
  const node = await startCsiNode(config, { nodeId: 'node-0', endpoint: { kind: 'unix', path: nodeSocket } });
  return {
    dir,
    socket: path.join(home, 'csi', 'controller.sock'),
    apiUrl: address.url,
    nodeSocket,
    stop: async () => {
      unmountUnder(dir);
      await node.stop(0);
      await api.close(1000);
      await csi.stop(1000);
      await storage.stop();
      await store.close();
      await fs.rm(dir, { recursive: true, force: true });
    },
  };
}

function unmountUnder(dir: string): void {
  const text = readFileSync('/proc/self/mountinfo', 'utf8');
  for (const mount of text
    .split('\n')
    .map((l) => l.split(' ')[4])
    .filter((p) => p?.startsWith(`${dir}/`))) {
    try {
      execFileSync('umount', ['-l', mount], { stdio: 'ignore' });
    } catch {
      // already gone
    }
  }
}

/** `clients` loops of `cycle(client, i)` until the deadline; cycles per second. A failure stops every loop (none is left mounting). */
async function loops(clients: number, cycle: (client: number, i: number) => Promise<void>): Promise<number> {
  let cycles = 0;
  let failure: { error: unknown } | undefined;
  const started = performance.now();
  const deadline = started + SECONDS * 1000;
  await Promise.all(
    Array.from({ length: clients }, async (_, c) => {
      // Bounded: each client stops at the deadline (and after at most 100,000 cycles).
      for (let i = 0; i < 100_000 && performance.now() < deadline && !failure; i++) {
        try {
          await cycle(c, i);
        } catch (error) {
          failure ??= { error };
          return;
        }
        cycles++;
      }
    }),
  );
  if (failure) throw failure.error;
  return cycles / ((performance.now() - started) / 1000);
}

async function csiCycles(plugin: Endpoints, clients: number, withMount: boolean): Promise<number> {
  const channels: CsiClient[] = Array.from({ length: clients }, () => csiClient(plugin.socket));
  const node = withMount ? csiClient(plugin.nodeSocket) : undefined;
  try {
    return await loops(clients, async (c, i) => {
      const client = channels[c];
      const { volume } = await client.controller.CreateVolume({
        name: `csi-${c}-${i}`,
        volume_capabilities: [MOUNT_SNW],
        capacity_range: { required_bytes: String(GIB) },
      });
      const nodeId = withMount ? 'node-0' : `node-${c % NODES}`;
      const { publish_context } = await client.controller.ControllerPublishVolume({
        volume_id: volume.volume_id,
        node_id: nodeId,
        volume_capability: MOUNT_SNW,
      });
      if (node) {
        const target = path.join(plugin.dir, 'targets', `${c}-${i}`);
        await node.node.NodePublishVolume({
          volume_id: volume.volume_id,
          target_path: target,
          volume_capability: MOUNT_SNW,
          publish_context,
        });
        await node.node.NodeUnpublishVolume({ volume_id: volume.volume_id, target_path: target });
      }
      await client.controller.ControllerUnpublishVolume({ volume_id: volume.volume_id, node_id: nodeId });
      await client.controller.DeleteVolume({ volume_id: volume.volume_id });
    });
  } finally {
    for (const ch of channels) ch.close();
    node?.close();
  }
}

async function http(url: string, method: string, body?: unknown): Promise<Record<string, unknown>> {
  const res = await fetch(url, {
    method,
    headers: body ? { 'content-type': 'application/json' } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${url}: ${res.status} ${text}`);
  return text ? (JSON.parse(text) as Record<string, unknown>) : {};
}

async function httpCycles(plugin: Endpoints, clients: number): Promise<number> {
  const api = plugin.apiUrl;
  return loops(clients, async (c, i) => {
    const volume = await http(`${api}/v1/volumes`, 'POST', { service: 'local', name: `http-${c}-${i}`, size: 1, schedulers: ['bench'] });
    const id = String(volume.id);
    const claim = await http(`${api}/v1/claims`, 'POST', {
      volumeId: id,
      agentId: `node-${c % NODES}`,
      scheduler: 'bench',
      taskId: `t-${c}-${i}`,
    });
    await http(`${api}/v1/claims/${encodeURIComponent(String(claim.id))}/release`, 'POST', {});
    await http(`${api}/v1/volumes/${encodeURIComponent(id)}`, 'DELETE');
  });
}

/** The node's own rate: publish one volume to the node, then bind-mount and unmount it at fresh targets. */
async function nodeMountCycles(plugin: Endpoints, clients: number): Promise<number> {
  const controller = csiClient(plugin.socket);
  const node = csiClient(plugin.nodeSocket);
  const ro = { mount: {}, access_mode: { mode: 'MULTI_NODE_READER_ONLY' } };
  try {
    const { volume } = await controller.controller.CreateVolume({ name: `mounted-${clients}`, volume_capabilities: [ro] });
    const { publish_context } = await controller.controller.ControllerPublishVolume({
      volume_id: volume.volume_id,
      node_id: 'node-0',
      volume_capability: ro,
      readonly: true,
    });
    const rate = await loops(clients, async (c, i) => {
      const target = path.join(plugin.dir, 'mounts', `${c}-${i}`);
      await node.node.NodePublishVolume({
        volume_id: volume.volume_id,
        target_path: target,
        volume_capability: ro,
        readonly: true,
        publish_context,
      });
      await node.node.NodeUnpublishVolume({ volume_id: volume.volume_id, target_path: target });
    });
    await controller.controller.ControllerUnpublishVolume({ volume_id: volume.volume_id });
    await controller.controller.DeleteVolume({ volume_id: volume.volume_id });
    return rate;
  } finally {
    controller.close();
    node.close();
  }
}

/**
 * Claim cycles of a second Polly (its storage core in the client process) whose service `disks` is
 * CSI-backed by the plugin, or (`csi` false) a vfs service of its own: the same cycle either way.
 */
async function backendCycles(plugin: Endpoints, clients: number, csi: boolean): Promise<number> {
  const home = await fs.mkdtemp(path.join(plugin.dir, 'backend-'));
  const store = new LevelStore(path.join(home, 'state'));
  const service = csi
    ? { name: 'disks', driver: 'csi' as const, csi: { endpoint: `unix://${plugin.socket}`, parameters: { service: 'local' } } }
    : { name: 'disks', driver: 'vfs' as const };
  const storage = new StorageService({
    store,
    registry: new ServiceRegistry({ services: [service], home, store, createDriver: driverFactory({ durable: DURABLE }) }),
    concurrency: 64,
  });
  await storage.start();
  try {
    return await loops(clients, async (c, i) => {
      const volume = await storage.catalog.create({ service: 'disks', name: `claim-${c}-${i}`, size: 1, scheduler: 'bench' });
      const claim = await storage.ledger.claim({
        volumeId: volume.id,
        scheduler: 'bench',
        taskId: `task-${c}-${i}`,
        agentId: `agent-${c % NODES}`,
        instanceId: `node-${c % NODES}`,
      });
      if (claim.state !== 'attached') throw new Error(`claim ended ${claim.state}`);
      await storage.ledger.release(claim.id);
    });
  } finally {
    await storage.stop();
    await store.close();
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

const CLIENT_CHILD = '--clients-child';

/** The rows, by key: what the client process runs against the plugin. */
const ROWS: Record<string, (e: Endpoints) => Promise<number>> = {
  'csi-1': (e) => csiCycles(e, 1, false),
  'http-1': (e) => httpCycles(e, 1),
  'csi-8': (e) => csiCycles(e, 8, false),
  'http-8': (e) => httpCycles(e, 8),
  'csi-64': (e) => csiCycles(e, 64, false),
  'http-64': (e) => httpCycles(e, 64),
  'mount-1': (e) => nodeMountCycles(e, 1),
  'mount-8': (e) => nodeMountCycles(e, 8),
  'full-8': (e) => csiCycles(e, 8, true),
  'backend-csi-1': (e) => backendCycles(e, 1, true),
  'backend-vfs-1': (e) => backendCycles(e, 1, false),
  'backend-csi-8': (e) => backendCycles(e, 8, true),
  'backend-vfs-8': (e) => backendCycles(e, 8, false),
};

/** The client process: runs one row against the endpoints it is given, prints the rate. */
async function clientChild(key: string, endpoints: Endpoints): Promise<void> {
  const rate = await ROWS[key](endpoints);
  console.log(`${CLIENT_CHILD} ${rate}`);
}

/** A fresh plugin, one row's clients in a child process against it, then the plugin stopped. */
async function measure(key: string): Promise<number> {
  const plugin = await startPlugin();
  try {
    await fs.mkdir(path.join(plugin.dir, 'targets'), { recursive: true });
    await fs.mkdir(path.join(plugin.dir, 'mounts'), { recursive: true });
    const endpoints: Endpoints = { dir: plugin.dir, socket: plugin.socket, apiUrl: plugin.apiUrl, nodeSocket: plugin.nodeSocket };
    const child = spawn(process.execPath, [...process.execArgv, __filename, CLIENT_CHILD, key, JSON.stringify(endpoints)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    const line = stdout.split('\n').find((l) => l.startsWith(CLIENT_CHILD));
    if (code !== 0 || !line) throw new Error(`bench clients for ${key} failed (exit ${code}): ${stdout}`);
    return Number(line.slice(CLIENT_CHILD.length + 1));
  } finally {
    await plugin.stop();
  }
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('the CSI bench mounts (node rows): run it as root');
  const only = process.env.BENCH_CSI_ROWS?.split(',');
  const keys = Object.keys(ROWS).filter((k) => !only || only.includes(k));
  const runs = new Map<string, number[]>(Object.keys(ROWS).map((k) => [k, []]));
  for (let r = 0; r < ROUNDS; r++) for (const key of keys) runs.get(key)!.push(await measure(key));
  const value = (key: string): number => median(runs.get(key)!);
  const listed = (key: string): string =>
    runs
      .get(key)!
      .map((v) => round(v, 0))
      .join(', ');
  const results: BenchResult[] = [];
  for (const clients of [1, 8, 64]) {
    // With BENCH_CSI_ROWS, a client count whose two rows did not both run has no result.
    if (!keys.includes(`csi-${clients}`) || !keys.includes(`http-${clients}`)) continue;
    const csi = value(`csi-${clients}`);
    const httpRate = value(`http-${clients}`);
    results.push({
      name: `CSI create+publish+unpublish+delete, ${clients} gRPC client${clients > 1 ? 's' : ''} (vfs + LevelDB)`,
      value: round(csi, 0),
      unit: 'cycles/s',
      peer: 'same cycle over the v1 HTTP API',
      peerValue: round(httpRate, 0),
      ratio: round(csi / httpRate),
      note:
        `median of ${ROUNDS} runs of ${SECONDS} s: CSI ${listed(`csi-${clients}`)}; HTTP ${listed(`http-${clients}`)}` +
        (clients === 64 ? '; target >= 1,000 cycles/s at 64 clients without the node mount' : ''),
    });
  }
  results.push({
    name: 'CSI node bind mount (NodePublish + NodeUnpublish), 1 client',
    value: round(value('mount-1'), 0),
    unit: 'cycles/s',
    note: `median of ${ROUNDS} runs: ${listed('mount-1')}; each is a mount(8) and an umount(8) process`,
  });
  results.push({
    name: 'CSI node bind mount (NodePublish + NodeUnpublish), 8 clients',
    value: round(value('mount-8'), 0),
    unit: 'cycles/s',
    note: `median of ${ROUNDS} runs: ${listed('mount-8')}`,
  });
  results.push({
    name: 'CSI whole cycle with the node mount, 8 clients',
    value: round(value('full-8'), 0),
    unit: 'cycles/s',
    note: `create + controller publish + node publish + node unpublish + controller unpublish + delete; median of ${ROUNDS} runs: ${listed('full-8')}`,
  });
  for (const clients of [1, 8]) {
    const viaCsi = value(`backend-csi-${clients}`);
    const direct = value(`backend-vfs-${clients}`);
    results.push({
      name: `Claim cycles through a CSI backend (create + claim + release), ${clients} client${clients > 1 ? 's' : ''}`,
      value: round(viaCsi, 0),
      unit: 'cycles/s',
      peer: 'same cycle on vfs directly',
      peerValue: round(direct, 0),
      ratio: round(viaCsi / direct),
      note:
        `a Polly whose service is drivers/csi over this plugin's unix socket (each cycle: its intents, then CreateVolume, ` +
        `ControllerPublishVolume, ControllerUnpublishVolume on the plugin, which runs the same cycle on its vfs); ` +
        `median of ${ROUNDS} runs: CSI ${listed(`backend-csi-${clients}`)}; vfs ${listed(`backend-vfs-${clients}`)}`,
    });
  }
  // With BENCH_CSI_ROWS only some rows ran: report the results whose rows all did.
  const ran = (name: string): boolean => {
    const needs: Record<string, string[]> = {
      'CSI create': ['csi-', 'http-'],
      'CSI node bind mount (NodePublish + NodeUnpublish), 1': ['mount-1'],
      'CSI node bind mount (NodePublish + NodeUnpublish), 8': ['mount-8'],
      'CSI whole cycle': ['full-8'],
      'Claim cycles through a CSI backend': ['backend-'],
    };
    const prefixes = Object.entries(needs).find(([start]) => name.startsWith(start))?.[1] ?? [];
    return prefixes.every((prefix) => keys.some((k) => k.startsWith(prefix)));
  };
  report(results.filter((r) => ran(r.name)));
}

(process.argv[2] === CLIENT_CHILD ? clientChild(process.argv[3], JSON.parse(process.argv[4]) as Endpoints) : main()).catch((err) => {
  console.error(err);
  process.exit(1);
});
