/**
 * Crash safety of a CSI-backed service. Polly's storage core runs in a child process against a
 * real CSI plugin (Polly's own, in this process) and is killed with SIGKILL at every point of
 * every CSI driver call it makes (create, publish, unpublish, delete, snapshot): after the intent
 * is written and before the call; while the plugin performs the call (the plugin does it, Polly
 * never hears the answer); after the answer and before it is recorded. Restarted, Polly recovers;
 * then catalog = plugin = claims (no plugin volume Polly does not know, no publication no claim
 * accounts for, never two), the operation retried completes, and the same holds again.
 */
import { ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { StorageDriver } from '../../../drivers/storage-driver';
import { csiVolumeName } from '../../../drivers/csi/csi-names';
import type { StorageService } from '../../../framework/storage/storage-service';
import { buildCsiBackendStorage, runCsiBackendOperation } from '../../support/csi-backend-storage';
import { CsiFixture, makeCsiFixture } from '../../support/csi-fixture';

jest.setTimeout(300_000);

const REPO = path.resolve(__dirname, '../../..');
const REGISTER = path.join(REPO, 'test/support/register-ts.js');
const WORKER = path.join(REPO, 'test/support/csi-backend-crash-worker.ts');

interface Op {
  op: 'create' | 'publish' | 'unpublish' | 'delete' | 'snapshot';
  /** The core's intent kind (its crash points). */
  kind: string;
  /** The plugin's storage call that performs it. */
  pluginCall: keyof StorageDriver;
  /** What must be there before it. */
  before: Op['op'][];
}

const OPS: Op[] = [
  { op: 'create', kind: 'create', pluginCall: 'volumeCreate', before: [] },
  { op: 'publish', kind: 'attach', pluginCall: 'volumeAttach', before: ['create'] },
  { op: 'unpublish', kind: 'detach', pluginCall: 'volumeDetach', before: ['create', 'publish'] },
  { op: 'delete', kind: 'remove', pluginCall: 'volumeRemove', before: ['create'] },
  { op: 'snapshot', kind: 'snapshot', pluginCall: 'volumeSnapshot', before: ['create'] },
];
const POINTS = ['after-intent', 'mid-call', 'after-driver'] as const;

/** Plugin calls that kill a lane's child when made for that lane's volume (while the plugin is doing it). */
const traps = new Set<{ call: string; lane: string; kill: () => Promise<void> }>();

/** The lane a plugin storage call is for: its CSI name, or the name of the plugin volume it names. */
function laneOf(args: unknown[]): string {
  const first = String(args[0] ?? '');
  const name = plugin.storage.catalog.list({ service: 'local' }).find((v) => v.driverVolumeId === first)?.name ?? first;
  return /polly-disks-(l\d+)-/.exec(name)?.[1] ?? '';
}
let plugin: CsiFixture;
const children = new Set<ChildProcess>();

beforeAll(async () => {
  plugin = await makeCsiFixture({
    overrides: { 'csi.nodes': [{ id: 'n1', zone: 'zone-a' }] },
    wrap: (driver) =>
      new Proxy(driver, {
        get(target, prop, receiver) {
          const value = Reflect.get(target, prop, receiver) as unknown;
          if (typeof value !== 'function') return value;
          return async (...args: unknown[]) => {
            const result = await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
            for (const trap of traps) {
              if (trap.call !== prop || trap.lane !== laneOf(args)) continue;
              traps.delete(trap);
              await trap.kill();
            }
            return result;
          };
        },
      }),
  });
});

afterAll(async () => {
  for (const child of children) child.kill('SIGKILL');
  await plugin?.dispose();
});

/** Runs `op` in a child that dies at `point`; resolves once it is dead (killed as planned). */
async function killedRun(dir: string, op: Op, point: (typeof POINTS)[number], name: string): Promise<void> {
  const env = { ...process.env, POLLY_CRASH_POINT: point === 'mid-call' ? '' : `${op.kind}:${point}:1` };
  const child = spawn(process.execPath, ['-r', REGISTER, WORKER, dir, plugin.controllerSocket, op.op, name], {
    cwd: REPO,
    stdio: ['ignore', 'pipe', 'pipe'],
    env,
  });
  children.add(child);
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<NodeJS.Signals | null>((resolve) =>
    child.on('exit', (_code, signal) => {
      children.delete(child);
      resolve(signal);
    }),
  );
  const trap = {
    call: op.pluginCall as string,
    lane: name.split('-')[0],
    kill: async () => {
      child.kill('SIGKILL');
      await exited;
    },
  };
  if (point === 'mid-call') traps.add(trap);
  const signal = await exited;
  traps.delete(trap);
  expect({ scenario: `${op.op} at ${point}`, signal, done: output.includes('DONE') }).toEqual({
    scenario: `${op.op} at ${point}`,
    signal: 'SIGKILL',
    done: false,
  });
}

/** Catalog = plugin = claims for this lane's volumes; returns how many volumes and snapshots it has. */
async function audit(storage: StorageService, lane: string): Promise<{ volumes: number; snapshots: number }> {
  expect(await storage.intents.pending()).toEqual([]);
  const mine = [...storage.catalog.all()];
  const onPlugin = plugin.storage.catalog.list({ service: 'local' }).filter((v) => v.name.startsWith(csiVolumeName('polly-disks-', lane)));
  expect(mine.map((v) => v.driverVolumeId).sort()).toEqual(onPlugin.map((v) => v.id).sort());
  for (const v of mine) {
    expect(v.status).toMatch(/^(available|attached)$/);
    const claims = storage.ledger.liveClaims(v.id);
    expect(claims.every((c) => c.state === 'attached')).toBe(true);
    const publications = plugin.storage.ledger.liveClaims(v.driverVolumeId);
    expect(publications.length).toBeLessThanOrEqual(1);
    expect(publications.map((c) => c.instanceId)).toEqual(claims.map((c) => c.instanceId));
  }
  const snapshots = (await plugin.storage.registry.get('local').driver.snapshots()).filter((s) =>
    onPlugin.some((v) => v.driverVolumeId === s.volumeId),
  );
  return { volumes: mine.length, snapshots: snapshots.length };
}

/** The lane's storage core in this process: started (recovery runs), given to `fn`, stopped. */
async function withStorage<T>(dir: string, fn: (storage: StorageService) => Promise<T>): Promise<T> {
  const { store, storage } = buildCsiBackendStorage(dir, plugin.controllerSocket);
  try {
    const report = await storage.start();
    expect(report.intentsLeftOpen).toBe(0);
    return await fn(storage);
  } finally {
    await storage.stop().catch(() => undefined);
    await store.close().catch(() => undefined);
  }
}

/** The operation until it is done, whatever recovery already finished or rolled back. */
async function complete(storage: StorageService, op: Op['op'], name: string): Promise<void> {
  const volume = storage.catalog.findByName('disks', name);
  if (op === 'create' && volume) return;
  if (op === 'publish' && volume && storage.ledger.liveClaims(volume.id).length > 0) return;
  if (op === 'delete' && !volume) return;
  await runCsiBackendOperation(storage, op, name);
}

test('SIGKILL at every CSI driver call point: no leaked plugin volume, no double publish, catalog = plugin = claims', async () => {
  const scenarios = OPS.flatMap((op) => POINTS.map((point) => ({ op, point })));
  const lanes = [scenarios.filter((_, i) => i % 2 === 0), scenarios.filter((_, i) => i % 2 === 1)];
  const killed: string[] = [];
  const runLane = async (lane: typeof scenarios, index: number): Promise<void> => {
    const dir = path.join(plugin.dir, `polly-${index}`);
    await fs.mkdir(dir, { recursive: true });
    for (const [i, { op, point }] of lane.entries()) {
      const name = `l${index}-${op.op}-${i}`;
      await withStorage(dir, async (storage) => {
        for (const step of op.before) await runCsiBackendOperation(storage, step, name);
      });
      await killedRun(dir, op, point, name);
      killed.push(`${op.op}@${point}`);
      await withStorage(dir, async (storage) => {
        await audit(storage, `l${index}-`);
        await complete(storage, op.op, name);
        await audit(storage, `l${index}-`);
        const volume = storage.catalog.findByName('disks', name);
        if (op.op === 'delete') expect(volume).toBeUndefined();
        else expect(volume).toBeDefined();
        const live = volume ? storage.ledger.liveClaims(volume.id) : [];
        expect(live).toHaveLength(op.op === 'publish' ? 1 : 0);
        if (op.op === 'snapshot') {
          const snaps = (await plugin.storage.registry.get('local').driver.snapshots()).filter(
            (s) => s.volumeId === plugin.storage.catalog.get(volume!.driverVolumeId).driverVolumeId,
          );
          expect(snaps).toHaveLength(1);
        }
      });
    }
  };
  await Promise.all(lanes.map((lane, i) => runLane(lane, i)));
  expect(killed).toHaveLength(OPS.length * POINTS.length);
  console.log(`CSI backend crash test: Polly killed with SIGKILL at ${killed.length} CSI driver call points (${killed.join(', ')})`);
});
