/**
 * Crash test: a real child process runs the storage core and is killed with SIGKILL at an intent
 * point of create, attach, detach, expand or remove (POLLY_CRASH_POINT); this process then opens the
 * same LevelDB and vfs directories, runs recover(), and checks that no backend volume leaked, no
 * volume is attached twice for writing, and catalog, claims and backend agree (sizes included).
 * Two lanes run in parallel, each reusing its directories so state accumulates across kills.
 *
 * POLLY_CRASH_KILLS sets the number of kills (default 200).
 *
 * A second test damages the vfs journal or the store's backend mark between kills (journal removed,
 * its last entries cut, an older copy of meta/ restored, the mark dropped) and checks that every
 * start is either refused with nothing changed (every volume directory and the file in it still
 * there, nothing quarantined) or intact (all the invariants above). POLLY_CRASH_DAMAGES sets the
 * number of damaged starts (default 30).
 *
 * A third damages the LevelDB store itself between kills (its CURRENT file removed, the whole
 * state/ moved away, a table file truncated) and checks that every start is refused as the
 * installation check words it, with the store's files unchanged (LevelDB never sees a directory
 * without CURRENT; nothing is created in place of a missing state/; a damaged table is never
 * deleted or rewritten) and the vfs data untouched — or intact; and that putting the damaged file
 * back gives every record back. POLLY_CRASH_STORE_DAMAGES sets the number (default 24). Every start
 * here goes through the installation check first, as PollyService's does.
 */
import { ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { VfsDriver } from '../../../drivers/vfs/vfs-driver';
import { BackendMismatchError } from '../../../framework/errors/backend-mismatch-error';
import { InstallationRefusedError } from '../../../framework/state/installation-refused-error';
import { backendKey } from '../../../framework/state/keys';
import { isLive } from '../../../framework/storage/claim-record';
import { CRASH_KINDS, CRASH_STAGES } from '../../../framework/storage/crash-points';
import { formatVolumeId } from '../../../framework/storage/volume-id';
import { buildCrashStorage } from '../../support/crash-storage';
import { snapshotDir } from '../../support/dir-snapshot';
import type { RecoveryReport } from '../../../framework/storage/storage-recovery';
import type { StorageService } from '../../../framework/storage/storage-service';

const REPO = path.resolve(__dirname, '../../..');
const REGISTER = path.join(REPO, 'test/support/register-ts.js');
const WORKER = path.join(REPO, 'test/support/storage-crash-worker.ts');
const KILLS = Number(process.env.POLLY_CRASH_KILLS ?? '200');
const DAMAGES = Number(process.env.POLLY_CRASH_DAMAGES ?? '30');
const STORE_DAMAGES = Number(process.env.POLLY_CRASH_STORE_DAMAGES ?? '24');
const LANES = 2;
const OPS_PER_CHILD = 24;

const POINTS = CRASH_KINDS.flatMap((kind) => CRASH_STAGES.map((stage) => `${kind}:${stage}`));

const children = new Set<ChildProcess>();
let base: string;

beforeAll(async () => {
  base = await fs.mkdtemp(path.join(os.tmpdir(), 'polly-crash-'));
});

afterEach(() => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  children.clear();
});

afterAll(async () => {
  await fs.rm(base, { recursive: true, force: true });
});

interface ChildResult {
  killed: boolean;
  stdout: string;
  stderr: string;
}

function runChild(dir: string, seed: number, crashPoint: string): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-r', REGISTER, WORKER, dir, String(seed), String(OPS_PER_CHILD)], {
      cwd: REPO,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, POLLY_CRASH_POINT: crashPoint },
    });
    children.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      children.delete(child);
      if (signal === 'SIGKILL') resolve({ killed: true, stdout, stderr });
      else if (code === 0) resolve({ killed: false, stdout, stderr });
      else reject(new Error(`worker (seed ${seed}, ${crashPoint}) exited ${code ?? signal}: ${stderr}`));
    });
  });
}

interface Checked {
  volumes: number;
  claims: number;
  attachments: number;
  repairs: number;
}

/** Opens the dirs in-process, recovers, and checks every invariant; throws on the first violation. */
async function recoverAndCheck(dir: string, context: string): Promise<Checked> {
  const crash = buildCrashStorage(dir);
  try {
    return await checkInvariants(crash.storage, await crash.start(), context);
  } finally {
    await crash.storage.stop().catch(() => undefined);
    await crash.store.close().catch(() => undefined);
  }
}

/**
 * A start over possibly damaged state: `refused` (with the error) when the installation or the
 * storage core refuses to start, else every invariant is checked (a violation throws).
 */
async function startOrRefuse(dir: string, context: string): Promise<{ refused?: unknown }> {
  const crash = buildCrashStorage(dir);
  try {
    let report: RecoveryReport;
    try {
      report = await crash.start();
    } catch (err) {
      return { refused: err };
    }
    await checkInvariants(crash.storage, report, context);
    return {};
  } finally {
    await crash.storage.stop().catch(() => undefined);
    await crash.store.close().catch(() => undefined);
  }
}

/** Every invariant of a started storage core after recovery; throws on the first violation. */
async function checkInvariants(storage: StorageService, report: RecoveryReport, context: string): Promise<Checked> {
  const fail = (what: string): never => {
    throw new Error(`${context}: ${what}`);
  };
  const { catalog, ledger, intents } = storage;
  if ((await intents.pending()).length > 0) fail('intents left open after recover()');
  if (report.intentsLeftOpen > 0) fail('recover() left intents open');

  const driver = storage.registry.get('local').driver;
  const backend = await driver.volumes();
  const backendIds = new Set(backend.map((dv) => formatVolumeId('local', dv.id)));
  // No leaked backend volume: every vfs volume is managed in the catalog.
  for (const dv of backend) {
    const record = catalog.find(formatVolumeId('local', dv.id));
    if (!record || !record.managed) fail(`backend volume ${dv.id} (${dv.name}) is not in the catalog`);
  }
  // No record without its backend volume, and none stuck removing.
  for (const v of catalog.all()) {
    if (!backendIds.has(v.id)) fail(`catalog volume ${v.id} has no backend volume`);
    if (v.status === 'removing' || v.status === 'missing') fail(`catalog volume ${v.id} is ${v.status}`);
  }
  let attachments = 0;
  let claims = 0;
  for (const dv of backend) {
    const id = formatVolumeId('local', dv.id);
    const volume = catalog.get(id);
    // An expand killed between the driver and the catalog is settled from the backend's size.
    if (volume.size !== dv.size) fail(`volume ${id} is ${volume.size} GiB in the catalog but ${dv.size} GiB on the backend`);
    const live = ledger.liveClaims(id);
    claims += live.length;
    // No double attachment: a writer excludes everyone.
    const writers = dv.attachments.filter((a) => a.readOnly !== true);
    if (writers.length > 1 || (writers.length === 1 && dv.attachments.length > 1)) {
      fail(`volume ${id} attached ${dv.attachments.map((a) => `${a.instanceId.id}:${a.readOnly ? 'RO' : 'RW'}`).join(',')}`);
    }
    if (live.filter((c) => c.mode === 'RW').length > 1 || (live.some((c) => c.mode === 'RW') && live.length > 1)) {
      fail(`volume ${id} has incompatible live claims`);
    }
    for (const c of live) {
      if (c.state !== 'attached') fail(`claim ${c.id} is ${c.state} after recovery`);
      const a = dv.attachments.find((x) => x.instanceId.id.toLowerCase() === c.instanceId.toLowerCase());
      if (!a) fail(`attached claim ${c.id} has no attachment on the backend`);
      if ((a!.readOnly === true) !== (c.mode === 'RO')) fail(`claim ${c.id} is ${c.mode} but attached readOnly=${a!.readOnly}`);
    }
    for (const a of dv.attachments) {
      attachments++;
      if (!live.some((c) => c.instanceId.toLowerCase() === a.instanceId.id.toLowerCase())) {
        fail(`backend attachment of ${id} to ${a.instanceId.id} has no live claim`);
      }
    }
    const recorded = volume.attachments.map((a) => a.claimId).sort();
    const expected = live.map((c) => c.id).sort();
    if (JSON.stringify(recorded) !== JSON.stringify(expected))
      fail(`volume ${id} records attachments ${recorded} but claims are ${expected}`);
    if (volume.status !== (live.length > 0 ? 'attached' : 'available')) fail(`volume ${id} status ${volume.status}`);
  }
  // Live claims only on existing volumes.
  for (const c of ledger.list({ live: true })) {
    if (!catalog.find(c.volumeId)) fail(`live claim ${c.id} on unknown volume ${c.volumeId}`);
    if (!isLive(c)) fail('index returned a finished claim');
  }
  // A second pass finds nothing to do.
  const again = await storage.recovery.recover();
  const work =
    again.intentsFinished +
    again.intentsRolledBack +
    again.unexplainedAttachments +
    again.claimsRepaired +
    again.missingVolumes +
    again.volumesCorrected;
  if (work !== 0) fail(`a second recover() still found work: ${JSON.stringify(again)}`);
  // Every attachment a crash can leave is Polly's own (under an intent or a claim): none is unexplained.
  if (report.unexplainedAttachments !== 0) fail(`recover() found attachments no claim accounts for: ${report.actions.join('; ')}`);
  const repairs = report.intentsFinished + report.intentsRolledBack + report.claimsRepaired;
  return { volumes: backend.length, claims, attachments, repairs };
}

test(`SIGKILL at every intent point (${KILLS} kills), then recover(): no leak, no double attachment, all in agreement`, async () => {
  const byPoint = new Map<string, number>(POINTS.map((p) => [p, 0]));
  let kills = 0;
  let trials = 0;
  let completed = 0;
  let checks = 0;
  let maxVolumes = 0;
  let totalRepairs = 0;
  let attachmentsSeen = 0;
  let claimsSeen = 0;
  const maxTrials = KILLS * 3;

  const lane = async (index: number): Promise<void> => {
    const dir = path.join(base, `lane-${index}`);
    await fs.mkdir(dir, { recursive: true });
    while (kills < KILLS && trials < maxTrials) {
      trials++;
      // The point with the fewest kills so far (every point gets its share), the n-th hit random in 1..3.
      const point = [...byPoint].sort((a, b) => a[1] - b[1] || Math.random() - 0.5)[0][0];
      const n = 1 + Math.floor(Math.random() * 3);
      const seed = Math.floor(Math.random() * 2 ** 31);
      const crash = `${point}:${n}`;
      const result = await runChild(dir, seed, crash);
      if (result.killed) {
        kills++;
        byPoint.set(point, byPoint.get(point)! + 1);
      } else completed++;
      const checked = await recoverAndCheck(dir, `lane ${index}, seed ${seed}, ${crash}${result.killed ? ' (killed)' : ''}`);
      checks++;
      maxVolumes = Math.max(maxVolumes, checked.volumes);
      totalRepairs += checked.repairs;
      attachmentsSeen += checked.attachments;
      claimsSeen += checked.claims;
    }
  };
  await Promise.all(Array.from({ length: LANES }, (_, i) => lane(i)));

  const perPoint = [...byPoint].map(([p, n]) => `${p}=${n}`).join(' ');
  console.log(
    `crash test: ${kills} SIGKILLs in ${trials} child runs (${completed} finished unkilled); after each, recover() + ${checks} checks: ` +
      `every backend volume in the catalog (up to ${maxVolumes} volumes), no volume with >1 RW attachment, catalog size = backend size, ` +
      `every live claim attached on the backend and every backend attachment claimed (${claimsSeen} claims / ${attachmentsSeen} attachments checked), ` +
      `volume records = claims, no open intents, second recover() a no-op; ${totalRepairs} repairs made. Kills per point: ${perPoint}`,
  );
  expect(kills).toBeGreaterThanOrEqual(KILLS);
  for (const point of POINTS) expect(byPoint.get(point)).toBeGreaterThan(0);
}, 600_000);

/** Every entry under the vfs root's volumes/ and quarantine/, with each marker file's content. */
async function dataTree(root: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const sub of ['volumes', 'quarantine']) {
    const dir = path.join(root, sub);
    const entries = await fs.readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
    for (const e of entries) {
      const full = path.join(e.parentPath, e.name);
      out[path.relative(root, full)] = e.isFile() ? await fs.readFile(full, 'utf8') : '<dir>';
    }
  }
  return out;
}

/**
 * One round of a damage lane: a child run (killed at a random intent point, or finishing), then
 * recovery and every invariant, then a file in every volume: what a refused start must leave alone.
 */
async function damageRound(dir: string, lane: string): Promise<string> {
  const point = POINTS[Math.floor(Math.random() * POINTS.length)];
  const seed = Math.floor(Math.random() * 2 ** 31);
  const result = await runChild(dir, seed, `${point}:${1 + Math.floor(Math.random() * 3)}`);
  const context = `${lane}, seed ${seed}, ${point}${result.killed ? ' (killed)' : ''}`;
  await recoverAndCheck(dir, context);
  const volumes = path.join(dir, 'home', 'vfs', 'local', 'volumes');
  for (const entry of await fs.readdir(volumes)) {
    if (/^vfs-\d+$/.test(entry)) await fs.writeFile(path.join(volumes, entry, 'marker.txt'), entry);
  }
  return context;
}

/** Every marker file written by `damageRound` is still there with its content. */
async function expectMarkers(root: string, before: Record<string, string>): Promise<void> {
  for (const [rel, content] of Object.entries(before)) {
    if (rel.endsWith('marker.txt')) expect(await fs.readFile(path.join(root, rel), 'utf8')).toBe(content);
  }
}

type Damage = 'remove-journal' | 'truncate-journal' | 'older-meta' | 'drop-mark';

test(`journal or backend mark damaged between kills (${DAMAGES} damaged starts): refused with nothing changed, or intact`, async () => {
  const dir = path.join(base, 'damaged');
  const root = path.join(dir, 'home', 'vfs', 'local');
  const meta = path.join(root, 'meta');
  const older = path.join(dir, 'meta-older');
  await fs.mkdir(dir, { recursive: true });
  const outcomes: Record<string, number> = {};
  let damaged = 0;
  let trials = 0;
  while (damaged < DAMAGES && trials < DAMAGES * 4) {
    trials++;
    const round = await damageRound(dir, 'journal damage lane');
    const good = path.join(dir, 'meta-good');
    await fs.rm(good, { recursive: true, force: true });
    await fs.cp(meta, good, { recursive: true });
    const hasOlder = await fs.stat(older).then(
      () => true,
      () => false,
    );
    const damages: Damage[] = ['remove-journal', 'truncate-journal', 'drop-mark', ...(hasOlder ? (['older-meta'] as const) : [])];
    const damage = damages[Math.floor(Math.random() * damages.length)];
    const journal = (await fs.readdir(meta)).find((f) => f.startsWith('journal-'))!;
    let mustRefuse = true;
    if (damage === 'remove-journal') await fs.rm(path.join(meta, journal));
    else if (damage === 'truncate-journal') {
      const lines = (await fs.readFile(path.join(meta, journal), 'utf8')).split('\n').slice(0, -1);
      if (lines.length === 0) continue; // just compacted: nothing to cut this time
      const cut = Math.min(lines.length, 1 + Math.floor(Math.random() * 3));
      await fs.writeFile(path.join(meta, journal), lines.slice(0, lines.length - cut).join('\n') + (lines.length > cut ? '\n' : ''));
    } else if (damage === 'older-meta') {
      mustRefuse = (await sequenceOf(older)) < (await sequenceOf(meta));
      await fs.rm(meta, { recursive: true });
      await fs.cp(older, meta, { recursive: true });
    } else {
      mustRefuse = false;
      const { store } = buildCrashStorage(dir);
      await store.open();
      await store.delete(backendKey('local'));
      await store.close();
    }
    damaged++;
    const before = await dataTree(root);
    const context = `damage ${damage} after ${round}`;
    const { refused } = await startOrRefuse(dir, context);
    if (refused !== undefined) {
      if (!(refused instanceof BackendMismatchError)) throw new Error(`${context}: refused with ${String(refused)}`);
      expect({ context, data: await dataTree(root) }).toEqual({ context, data: before });
      outcomes[`${damage}: refused`] = (outcomes[`${damage}: refused`] ?? 0) + 1;
    } else {
      if (mustRefuse) throw new Error(`${context}: a damaged journal was accepted`);
      outcomes[`${damage}: accepted`] = (outcomes[`${damage}: accepted`] ?? 0) + 1;
    }
    // The way out (or nothing to repair), then every invariant again, every marker still there.
    await fs.rm(meta, { recursive: true, force: true });
    await fs.cp(good, meta, { recursive: true });
    await recoverAndCheck(dir, `${context}, after repair`);
    await expectMarkers(root, before);
    // The journal of this round is the older copy for a later one.
    if (Math.random() < 0.5 || !hasOlder) {
      await fs.rm(older, { recursive: true, force: true });
      await fs.cp(good, older, { recursive: true });
    }
  }
  console.log(`crash test with journal damage: ${damaged} damaged starts in ${trials} rounds: ${JSON.stringify(outcomes)}`);
  expect(damaged).toBe(DAMAGES);
  expect(outcomes['remove-journal: accepted'] ?? 0).toBe(0);
  expect(outcomes['truncate-journal: accepted'] ?? 0).toBe(0);
}, 600_000);

type StoreDamage = 'remove-current' | 'move-state' | 'truncate-table';

/** The records recovery and the invariants rest on, as the store holds them (read from `dir`'s store). */
async function storeRecords(dir: string): Promise<Array<[string, unknown]>> {
  const { store } = buildCrashStorage(dir);
  await store.open({ createIfMissing: false });
  try {
    const out: Array<[string, unknown]> = [];
    for (const prefix of ['volumes/', 'volume-names/', 'claims/', 'claims-by-volume/', 'intents/', 'meta/installation']) {
      for await (const entry of store.scan(prefix)) out.push(entry);
    }
    return out;
  } finally {
    await store.close();
  }
}

test(`store damaged between kills (${STORE_DAMAGES} damaged starts): refused with its files unchanged, or intact; never deleted`, async () => {
  const dir = path.join(base, 'store-damaged');
  const root = path.join(dir, 'home', 'vfs', 'local');
  const state = path.join(dir, 'state');
  await fs.mkdir(dir, { recursive: true });
  const outcomes: Record<string, number> = {};
  const order: StoreDamage[] = ['remove-current', 'move-state', 'truncate-table'];
  for (let i = 0; i < STORE_DAMAGES; i++) {
    const round = await damageRound(dir, 'store damage lane');
    // Read once more: LevelDB moves its log into a table at open, so every record is in a table file now.
    const records = await storeRecords(dir);
    const damage = order[i % order.length];
    const context = `damage ${damage} after ${round}`;
    let restore: () => Promise<void>;
    let untouched: () => Promise<void>;
    if (damage === 'remove-current') {
      const current = await fs.readFile(path.join(state, 'CURRENT'));
      await fs.rm(path.join(state, 'CURRENT'));
      const files = snapshotDir(state);
      // Refused before LevelDB sees the directory: every file exactly as it was.
      untouched = async () => expect({ context, files: snapshotDir(state) }).toEqual({ context, files });
      restore = () => fs.writeFile(path.join(state, 'CURRENT'), current);
    } else if (damage === 'move-state') {
      const moved = path.join(dir, 'state.moved');
      await fs.rename(state, moved);
      const files = snapshotDir(moved);
      // Nothing is created in its place, and the moved files are as they were.
      untouched = async () =>
        expect({ context, state: snapshotDir(state), moved: snapshotDir(moved) }).toEqual({ context, state: undefined, moved: files });
      restore = () => fs.rename(moved, state);
    } else {
      const tables = (await fs.readdir(state)).filter((f) => f.endsWith('.ldb'));
      const table = path.join(state, tables[Math.floor(Math.random() * tables.length)]);
      const bytes = await fs.readFile(table);
      await fs.truncate(table, Math.floor(bytes.length / 2));
      const cut = await fs.readFile(table);
      // LevelDB rewrites its log and manifest when it opens; the damaged table is never deleted or rewritten.
      untouched = async () => expect({ context, table: (await fs.readFile(table)).equals(cut) }).toEqual({ context, table: true });
      restore = () => fs.writeFile(table, bytes);
    }
    const before = await dataTree(root);
    const { refused } = await startOrRefuse(dir, context);
    if (refused !== undefined) {
      if (!(refused instanceof InstallationRefusedError)) throw new Error(`${context}: refused with ${String(refused)}`);
      expect({ context, reason: refused.reason }).toEqual({ context, reason: damage === 'move-state' ? 'store-missing' : 'store-damaged' });
      await untouched();
      expect({ context, data: await dataTree(root) }).toEqual({ context, data: before });
      outcomes[`${damage}: refused`] = (outcomes[`${damage}: refused`] ?? 0) + 1;
    } else {
      // Only a damaged table that start-up never reads may go unnoticed (the invariants held).
      if (damage !== 'truncate-table') throw new Error(`${context}: a damaged store was accepted`);
      outcomes[`${damage}: intact`] = (outcomes[`${damage}: intact`] ?? 0) + 1;
    }
    // The way out: the damaged file (or directory) put back gives every record back; then every invariant and marker.
    await restore();
    expect({ context, records: await storeRecords(dir) }).toEqual({ context, records });
    await recoverAndCheck(dir, `${context}, after repair`);
    await expectMarkers(root, before);
  }
  console.log(`crash test with store damage: ${STORE_DAMAGES} damaged starts: ${JSON.stringify(outcomes)}`);
  expect(outcomes['remove-current: refused']).toBeGreaterThan(0);
  expect(outcomes['move-state: refused']).toBeGreaterThan(0);
}, 600_000);

/** The sequence of the vfs journal in `metaDir`, read from a copy (its own root, no data). */
async function sequenceOf(metaDir: string): Promise<number> {
  const scratch = await fs.mkdtemp(path.join(base, 'sequence-'));
  try {
    await fs.cp(metaDir, path.join(scratch, 'meta'), { recursive: true });
    return (await new VfsDriver({ root: scratch, durable: false }).backendMark()).sequence;
  } finally {
    await fs.rm(scratch, { recursive: true, force: true });
  }
}
