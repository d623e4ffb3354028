/**
 * CSI idempotency across crashes: a real child process serves the CSI controller on its unix
 * socket and is killed with SIGKILL in the middle of a call, at the crash test's kill points (the
 * storage core's intent points, the snapshot book's, and the CSI entry points `csi:received` and
 * `csi:replying`). Restarted, Polly recovers; the CO's retry of the same call then succeeds with
 * the answer it would have had, twice in a row, and nothing leaked, doubled or stayed half-done.
 */
import { ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { formatVolumeId } from '../../../../framework/storage/volume-id';
import { codeOf, CsiClient, csiClient, GIB, MOUNT_SNW } from '../../../support/csi-client';
import { buildCrashStorage } from '../../../support/crash-storage';

jest.setTimeout(300_000);

const REPO = path.resolve(__dirname, '../../../..');
const REGISTER = path.join(REPO, 'test/support/register-ts.js');
const WORKER = path.join(REPO, 'test/support/csi-crash-worker.ts');

interface Worker {
  child: ChildProcess;
  client: CsiClient;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>;
}

const children = new Set<ChildProcess>();
let base: string;

beforeAll(async () => {
  base = await fs.mkdtemp(path.join(os.tmpdir(), 'polly-csi-crash-'));
});

afterEach(() => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  children.clear();
});

afterAll(async () => {
  await fs.rm(base, { recursive: true, force: true });
});

async function startWorker(dir: string, crashPoint?: string): Promise<Worker> {
  const env = { ...process.env };
  delete env.POLLY_CRASH_POINT;
  if (crashPoint) env.POLLY_CRASH_POINT = crashPoint;
  const child = spawn(process.execPath, ['-r', REGISTER, WORKER, dir], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'], env });
  children.add(child);
  let stdout = '';
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve) =>
    child.on('exit', (code, signal) => {
      children.delete(child);
      resolve({ code, signal, stderr });
    }),
  );
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      stdout += d.toString();
      if (stdout.includes('READY\n')) resolve();
    });
    void exited.then(({ code, signal }) => reject(new Error(`CSI worker exited (${code ?? signal}) before it was ready: ${stderr}`)));
  });
  return { child, client: csiClient(path.join(dir, 'csi.sock')), exited };
}

async function stopWorker(worker: Worker): Promise<void> {
  worker.client.close();
  worker.child.kill('SIGTERM');
  const { code, stderr } = await worker.exited;
  if (code !== 0) throw new Error(`CSI worker did not stop cleanly (${code}): ${stderr}`);
}

/**
 * One call interrupted at one kill point: `prepare` sets up (in the run before), `call` is the call,
 * `check` its outcome. Every mutating CSI call is killed at `csi:replying` (done, not answered) and
 * at the core's points between its intent and its outcome; CreateVolume at all of them.
 */
interface Scenario {
  point: string;
  rpc: string;
  prepare?: (c: CsiClient) => Promise<void>;
  call: (c: CsiClient) => Promise<unknown>;
  check: (c: CsiClient, answer: unknown) => Promise<void>;
}

const volumeIdOf = async (c: CsiClient, name: string): Promise<string> => {
  const { entries } = await c.controller.ListVolumes({});
  const found = entries.filter((e: { volume: { volume_context: { name: string } } }) => e.volume.volume_context.name === name);
  expect(found).toHaveLength(1);
  return found[0].volume.volume_id;
};
const createVolume = (c: CsiClient, name: string, extra: Record<string, unknown> = {}) =>
  c.controller.CreateVolume({ name, volume_capabilities: [MOUNT_SNW], ...extra });

function scenarios(): Scenario[] {
  const out: Scenario[] = [];
  for (const point of ['csi:received', 'create:after-intent', 'create:after-driver', 'create:after-resolve', 'csi:replying']) {
    const name = `cv-${point.replace(':', '-')}`;
    out.push({
      point,
      rpc: 'CreateVolume',
      call: (c) => createVolume(c, name),
      check: async (c, answer) => expect((answer as { volume: { volume_id: string } }).volume.volume_id).toBe(await volumeIdOf(c, name)),
    });
  }
  for (const point of ['remove:after-intent', 'remove:after-driver', 'csi:replying']) {
    const name = `dv-${point.replace(':', '-')}`;
    let id = '';
    out.push({
      point,
      rpc: 'DeleteVolume',
      prepare: async (c) => {
        id = (await createVolume(c, name)).volume.volume_id;
      },
      call: (c) => c.controller.DeleteVolume({ volume_id: id }),
      check: async (c) => expect((await codeOf(c.controller.ControllerGetVolume({ volume_id: id }))).code).toBe('NOT_FOUND'),
    });
  }
  for (const point of ['attach:after-intent', 'attach:after-driver', 'csi:replying']) {
    const name = `pv-${point.replace(':', '-')}`;
    let id = '';
    out.push({
      point,
      rpc: 'ControllerPublishVolume',
      prepare: async (c) => {
        id = (await createVolume(c, name)).volume.volume_id;
      },
      call: (c) => c.controller.ControllerPublishVolume({ volume_id: id, node_id: 'n1', volume_capability: MOUNT_SNW }),
      check: async (c) => expect((await c.controller.ControllerGetVolume({ volume_id: id })).status.published_node_ids).toEqual(['n1']),
    });
  }
  for (const point of ['detach:after-intent', 'detach:after-driver', 'csi:replying']) {
    const name = `uv-${point.replace(':', '-')}`;
    let id = '';
    out.push({
      point,
      rpc: 'ControllerUnpublishVolume',
      prepare: async (c) => {
        id = (await createVolume(c, name)).volume.volume_id;
        await c.controller.ControllerPublishVolume({ volume_id: id, node_id: 'n2', volume_capability: MOUNT_SNW });
      },
      call: (c) => c.controller.ControllerUnpublishVolume({ volume_id: id, node_id: 'n2' }),
      check: async (c) => expect((await c.controller.ControllerGetVolume({ volume_id: id })).status.published_node_ids).toEqual([]),
    });
  }
  for (const point of ['snapshot:after-intent', 'snapshot:after-driver', 'csi:replying']) {
    const name = `sv-${point.replace(':', '-')}`;
    let id = '';
    out.push({
      point,
      rpc: 'CreateSnapshot',
      prepare: async (c) => {
        id = (await createVolume(c, name)).volume.volume_id;
      },
      call: (c) => c.controller.CreateSnapshot({ source_volume_id: id, name: `snap-${name}` }),
      check: async (c, answer) => {
        const { entries } = await c.controller.ListSnapshots({ source_volume_id: id });
        expect(entries.map((e: { snapshot: { snapshot_id: string } }) => e.snapshot.snapshot_id)).toEqual([
          (answer as { snapshot: { snapshot_id: string } }).snapshot.snapshot_id,
        ]);
      },
    });
  }
  for (const point of ['snapshot-remove:after-intent', 'snapshot-remove:after-driver', 'csi:replying']) {
    const name = `ds-${point.replace(':', '-')}`;
    let snapshotId = '';
    out.push({
      point,
      rpc: 'DeleteSnapshot',
      prepare: async (c) => {
        const id = (await createVolume(c, name)).volume.volume_id;
        snapshotId = (await c.controller.CreateSnapshot({ source_volume_id: id, name: `snap-${name}` })).snapshot.snapshot_id;
      },
      call: (c) => c.controller.DeleteSnapshot({ snapshot_id: snapshotId }),
      check: async (c) => expect((await c.controller.ListSnapshots({ snapshot_id: snapshotId })).entries).toEqual([]),
    });
  }
  for (const point of ['expand:after-intent', 'expand:after-driver', 'csi:replying']) {
    const name = `ev-${point.replace(':', '-')}`;
    let id = '';
    out.push({
      point,
      rpc: 'ControllerExpandVolume',
      prepare: async (c) => {
        id = (await createVolume(c, name, { capacity_range: { required_bytes: String(2 * GIB) } })).volume.volume_id;
      },
      call: (c) => c.controller.ControllerExpandVolume({ volume_id: id, capacity_range: { required_bytes: String(5 * GIB) } }),
      check: async (c, answer) => {
        expect(answer).toEqual({ capacity_bytes: String(5 * GIB), node_expansion_required: false });
        expect((await c.controller.ControllerGetVolume({ volume_id: id })).volume.capacity_bytes).toBe(String(5 * GIB));
      },
    });
  }
  for (const [point, kind] of [
    ['create:after-driver', 'snapshot'],
    ['create:after-intent', 'volume'],
  ] as const) {
    const name = `from-${kind}`;
    let source: Record<string, unknown> = {};
    out.push({
      point,
      rpc: `CreateVolume from a ${kind}`,
      prepare: async (c) => {
        const id = (await createVolume(c, `${name}-src`)).volume.volume_id;
        source =
          kind === 'volume'
            ? { volume: { volume_id: id } }
            : {
                snapshot: {
                  snapshot_id: (await c.controller.CreateSnapshot({ source_volume_id: id, name: `${name}-snap` })).snapshot.snapshot_id,
                },
              };
      },
      call: (c) => createVolume(c, name, { volume_content_source: source }),
      check: async (c, answer) => {
        expect((answer as { volume: { volume_id: string } }).volume.volume_id).toBe(await volumeIdOf(c, name));
        expect((answer as { volume: { content_source: unknown } }).volume.content_source).toMatchObject(source);
      },
    });
  }
  return out;
}

/** Opens the lane's state in-process, recovers, and checks that store and backend agree. */
async function audit(dir: string): Promise<{ volumes: number; snapshots: number }> {
  const { store, storage } = buildCrashStorage(dir);
  try {
    const report = await storage.start();
    expect(report.intentsLeftOpen).toBe(0);
    expect(await storage.intents.pending()).toEqual([]);
    const driver = storage.registry.get('local').driver;
    const backend = await driver.volumes();
    const names = backend.map((v) => v.name);
    expect(new Set(names).size).toBe(names.length);
    for (const dv of backend) {
      const record = storage.catalog.find(formatVolumeId('local', dv.id));
      expect(record?.status).toMatch(/^(available|attached)$/);
      const live = storage.ledger.liveClaims(record!.id);
      expect(live.every((c) => c.state === 'attached')).toBe(true);
      expect(dv.attachments.map((a) => a.instanceId.id).sort()).toEqual(live.map((c) => c.instanceId).sort());
    }
    expect(storage.catalog.size).toBe(backend.length);
    for (const dv of backend)
      expect({ id: dv.id, size: storage.catalog.find(formatVolumeId('local', dv.id))!.size }).toEqual({ id: dv.id, size: dv.size });
    const snapshots = await driver.snapshots();
    expect(new Set(snapshots.map((s) => s.name)).size).toBe(snapshots.length);
    return { volumes: backend.length, snapshots: snapshots.length };
  } finally {
    await storage.stop().catch(() => undefined);
    await store.close().catch(() => undefined);
  }
}

test('a crash at every CSI kill point, then the same call again: the answer it would have had, nothing leaked or doubled', async () => {
  const all = scenarios();
  const lanes = [all.filter((_, i) => i % 2 === 0), all.filter((_, i) => i % 2 === 1)];
  const killedAt: string[] = [];
  const runLane = async (lane: Scenario[], index: number): Promise<void> => {
    const dir = path.join(base, `lane-${index}`);
    await fs.mkdir(dir, { recursive: true });
    let worker = await startWorker(dir);
    for (const s of lane) {
      await s.prepare?.(worker.client);
      await stopWorker(worker);
      // The call, killed at its point: the CO sees the connection drop (UNAVAILABLE), not an answer.
      const armed = await startWorker(dir, `${s.point}:1`);
      const interrupted = await codeOf(s.call(armed.client));
      armed.client.close();
      expect({ scenario: `${s.rpc} at ${s.point}`, code: interrupted.code, signal: (await armed.exited).signal }).toEqual({
        scenario: `${s.rpc} at ${s.point}`,
        code: 'UNAVAILABLE',
        signal: 'SIGKILL',
      });
      killedAt.push(`${s.rpc}@${s.point}`);
      // Restarted (recovery ran before READY): the CO retries, and gets the same answer twice.
      worker = await startWorker(dir);
      const first = await s.call(worker.client);
      const second = await s.call(worker.client);
      expect(second).toEqual(first);
      await s.check(worker.client, first);
    }
    await stopWorker(worker);
  };
  await Promise.all(lanes.map((lane, i) => runLane(lane, i)));
  const audited = await Promise.all(lanes.map((_, i) => audit(path.join(base, `lane-${i}`))));
  expect(killedAt).toHaveLength(all.length);
  console.log(
    `CSI crash test: ${killedAt.length} calls killed with SIGKILL mid-call (${killedAt.join(', ')}); each retried twice after a restart ` +
      `with the same answer; audits: ${JSON.stringify(audited)}`,
  );
});
