/**
 * Polly's CSI plugin for the conformance tests: a real StorageService (LevelDB + vfs in a temp dir),
 * the CSI controller on its real unix socket, and node services ("nodes" with their own node IDs
 * and sockets) on this machine, each with a gRPC client. `dispose` unmounts every mount the test
 * made under its temp dir (even after a failure), stops the listeners and deletes the dir.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Registry } from 'prom-client';
import { RunningCsiController, startCsiController } from '../../framework/api/csi/start-csi-controller';
import { RunningCsiNode, startCsiNode } from '../../framework/api/csi/start-csi-node';
import { EventJournal } from '../../framework/api/event-journal';
import { loadConfig } from '../../framework/config/config-loader';
import type { PollyConfig } from '../../framework/config/config-schema';
import type { AgentRegistry } from '../../framework/scheduler/agent-registry';
import { LevelStore } from '../../framework/state/level-store';
import { driverFactory } from '../../framework/storage/driver-factory';
import { ServiceRegistry } from '../../framework/storage/service-registry';
import { StorageService } from '../../framework/storage/storage-service';
import type { StorageDriver } from '../../drivers/storage-driver';
import { codeOf, CsiClient, csiClient } from './csi-client';
import { listTree } from '../framework/storage/storage-fixture';

export interface CsiNodeHandle {
  nodeId: string;
  running: RunningCsiNode;
  client: CsiClient;
}

export interface CsiFixture {
  dir: string;
  home: string;
  config: PollyConfig;
  store: LevelStore;
  storage: StorageService;
  registry: Registry;
  journal: EventJournal;
  controller: RunningCsiController;
  controllerSocket: string;
  /** A client on the controller socket. */
  client: CsiClient;
  /** Starts a node service with this node ID (socket `<dir>/nodes/<id>.sock`). */
  startNode(nodeId: string, zone?: string): Promise<CsiNodeHandle>;
  /** A fresh directory for node publish targets. */
  targetDir(name: string): string;
  vfsRoot(service?: string): string;
  dispose(): Promise<void>;
}

export interface CsiFixtureOptions {
  /** Dotted config keys (as CLI flags give them), e.g. `{ 'csi.acceptUnknownNodes': true }`. */
  overrides?: Record<string, unknown>;
  /** Leave the storage core stopped (the controller listens, Probe says not ready). */
  startStorage?: boolean;
  agents?: () => AgentRegistry | undefined;
  /** Wraps each service's driver (fault or delay injection). */
  wrap?: (driver: StorageDriver) => StorageDriver;
}

export const TEST_SERVICES = [
  { name: 'local', driver: 'vfs', profiles: [{ name: 'default' }, { name: 'small', maxSizeGiB: 10 }, { name: 'old', active: false }] },
  { name: 'limited', driver: 'vfs', vfs: { attachLimit: 2 }, profiles: [{ name: 'default', minSizeGiB: 2 }] },
];

/** Every mount point under `dir`, deepest first. */
export function mountsUnder(dir: string): string[] {
  const text = fs.readFileSync('/proc/self/mountinfo', 'utf8');
  const prefix = dir.endsWith('/') ? dir : `${dir}/`;
  return text
    .split('\n')
    .map((line) => line.split(' ')[4])
    .filter((p): p is string => p !== undefined && p.startsWith(prefix))
    .map((p) => p.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))))
    .sort((a, b) => b.length - a.length);
}

export function unmountAll(dir: string): void {
  for (let round = 0; round < 10; round++) {
    const mounts = mountsUnder(dir);
    if (mounts.length === 0) return;
    for (const m of mounts) {
      try {
        execFileSync('umount', [m], { stdio: 'ignore' });
      } catch {
        try {
          execFileSync('umount', ['-l', m], { stdio: 'ignore' });
        } catch {
          // gone already
        }
      }
    }
  }
}

export async function makeCsiFixture(options: CsiFixtureOptions = {}): Promise<CsiFixture> {
  const dir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'polly-csi-'));
  const home = path.join(dir, 'home');
  fs.mkdirSync(home, { recursive: true });
  const empty = path.join(dir, 'empty.yml');
  fs.writeFileSync(empty, '');
  const config = loadConfig({
    env: {},
    file: empty,
    overrides: { home, services: TEST_SERVICES, 'log.level': 'error', ...options.overrides },
  });
  const store = new LevelStore(path.join(home, 'state'));
  const base = driverFactory({ durable: false });
  const storage = new StorageService({
    store,
    registry: new ServiceRegistry({
      services: config.services,
      home,
      store,
      createDriver: (definition) => (options.wrap ? options.wrap(base(definition)) : base(definition)),
    }),
    retry: { attempts: 3, baseDelayMs: 1, maxDelayMs: 5 },
  });
  const registry = new Registry();
  const journal = new EventJournal(1000);
  const nodes: CsiNodeHandle[] = [];
  const clients: CsiClient[] = [];
  let controller: RunningCsiController | undefined;
  const dispose = async (): Promise<void> => {
    for (const c of clients) c.close();
    unmountAll(dir);
    await Promise.all(nodes.map((n) => n.running.stop(0)));
    await controller?.stop(0);
    await storage.stop().catch(() => undefined);
    await store.close().catch(() => undefined);
    unmountAll(dir);
    await fs.promises.rm(dir, { recursive: true, force: true, maxRetries: 5 });
  };
  try {
    controller = await startCsiController(
      { storage, home, registry, events: journal, ...(options.agents ? { agents: options.agents } : {}) },
      config.csi,
    );
    if (options.startStorage !== false) await storage.start();
  } catch (err) {
    await dispose();
    throw err;
  }
  const controllerSocket = path.join(home, 'csi', 'controller.sock');
  const client = csiClient(controllerSocket);
  clients.push(client);
  return {
    dir,
    home,
    config,
    store,
    storage,
    registry,
    journal,
    controller,
    controllerSocket,
    client,
    startNode: async (nodeId, zone) => {
      const socket = path.join(dir, 'nodes', `${nodeId}.sock`);
      const running = await startCsiNode(config, { nodeId, ...(zone ? { zone } : {}), endpoint: { kind: 'unix', path: socket } });
      const handle = { nodeId, running, client: csiClient(socket) };
      nodes.push(handle);
      clients.push(handle.client);
      return handle;
    },
    targetDir: (name) => {
      const p = path.join(dir, 'targets', name);
      fs.mkdirSync(p, { recursive: true });
      return p;
    },
    vfsRoot: (service = 'local') => path.join(home, 'vfs', service),
    dispose,
  };
}

/** What a refused call must leave untouched: catalog, claims, open intents and the vfs roots. */
export async function observableState(f: CsiFixture): Promise<unknown> {
  const tree = async (service: string): Promise<string[]> =>
    // (vfs's lock file comes and goes with its group commit: not a change)
    (await listTree(f.vfsRoot(service))).filter((p) => p !== '.lock');
  return {
    volumes: [...f.storage.catalog.all()].map((v) => [v.id, v.updatedAt]),
    claims: f.storage.ledger.list().map((c) => [c.id, c.state]),
    intents: (await f.storage.intents.pending()).length,
    local: await tree('local'),
    limited: await tree('limited'),
  };
}

/** Expects the call to fail with `code` (and `message`), having changed nothing; returns the message. */
export async function expectRefused(f: CsiFixture, call: Promise<unknown>, code: string, message?: RegExp): Promise<string> {
  const before = await observableState(f);
  const got = await codeOf(call);
  expect(got.code).toBe(code);
  if (message) expect(got.message).toMatch(message);
  expect(await observableState(f)).toEqual(before);
  return got.message;
}
