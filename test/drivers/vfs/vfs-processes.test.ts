/**
 * Several real processes share one vfs root: IDs stay unique, each contested name has exactly one
 * winner, and every journal line is whole.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { nameKey } from '../../../drivers/name-rules';
import { VfsDriver } from '../../../drivers/vfs/vfs-driver';

const REPO = path.resolve(__dirname, '../../..');
const REGISTER = path.join(REPO, 'test/support/register-ts.js');
const WORKER = path.join(REPO, 'test/support/vfs-race-worker.ts');
const WORKERS = 4;

interface WorkerResult {
  created: { name: string; id: string }[];
  conflicts: string[];
}

let root: string;
const children: ChildProcess[] = [];

beforeEach(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'polly-vfs-procs-'));
});

afterEach(async () => {
  for (const child of children.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
  await fs.rm(root, { recursive: true, force: true });
});

function runWorker(index: number, perWorker: number): Promise<WorkerResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-r', REGISTER, WORKER, root, String(index), String(perWorker)], {
      cwd: REPO,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    let out = '';
    let err = '';
    child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (err += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) reject(new Error(`worker ${index} exited ${code}: ${err}`));
      else resolve(JSON.parse(out) as WorkerResult);
    });
  });
}

/** Runs the workers, then checks everything they and the root say. */
async function race(PER_WORKER: number): Promise<void> {
  const results = await Promise.all(Array.from({ length: WORKERS }, (_, i) => runWorker(i, PER_WORKER)));

  const created = results.flatMap((r) => r.created);
  const ids = created.map((c) => c.id);
  expect(new Set(ids).size).toBe(ids.length);

  // Exactly one winner per contested name (compared case-insensitively); every other worker saw a conflict.
  for (let i = 0; i < PER_WORKER; i++) {
    const key = nameKey(`contested-${i}`);
    expect(created.filter((c) => nameKey(c.name) === key)).toHaveLength(1);
    expect(results.flatMap((r) => r.conflicts).filter((n) => nameKey(n) === key)).toHaveLength(WORKERS - 1);
  }
  // Every worker got all of its own names.
  for (let w = 0; w < WORKERS; w++) {
    expect(created.filter((c) => c.name.startsWith(`worker-${w}-`))).toHaveLength(PER_WORKER);
  }

  const expected = WORKERS * PER_WORKER + PER_WORKER;
  expect(created).toHaveLength(expected);
  // Conflicts are detected before an ID is taken, so the IDs are exactly 1..expected.
  expect(ids.map((id) => Number(id.slice(4))).sort((a, b) => a - b)).toEqual(Array.from({ length: expected }, (_, i) => i + 1));

  // Every journal line is whole (no two processes' appends interleaved) and agrees with what the
  // workers were told; every volume has its data directory.
  const byId = new Map(created.map((c) => [c.id, c.name]));
  const lines = (await fs.readFile(path.join(root, 'meta', 'journal-000001.log'), 'utf8')).split('\n');
  expect(lines.pop()).toBe('');
  // The first line is the root's identity, written by whichever process opened the new root first.
  expect(Object.keys(JSON.parse(lines.shift()!) as object)).toEqual(['root']);
  expect(lines).toHaveLength(expected);
  for (const line of lines) {
    const { volume } = JSON.parse(line) as { volume: { id: string; name: string } };
    expect(byId.get(volume.id)).toBe(volume.name);
  }
  const entries = await fs.readdir(path.join(root, 'volumes'));
  expect(entries.filter((e) => /^vfs-\d+$/.test(e))).toHaveLength(expected);
  expect(entries.filter((e) => e.endsWith('.tmp') || e.startsWith('.staging-'))).toEqual([]);
  await expect(fs.stat(path.join(root, '.lock'))).rejects.toThrow();

  // A fresh driver sees the same world, and the next ID continues after the last.
  const driver = new VfsDriver({ root });
  expect(await driver.volumes()).toHaveLength(expected);
  for (let i = 0; i < PER_WORKER; i += 7) {
    expect(await driver.volumeInspectByName(`CONTESTED-${i}`)).toBeDefined();
  }
  expect((await driver.volumeCreate('after', {})).id).toBe(`vfs-${String(expected + 1).padStart(6, '0')}`);
}

it(`${WORKERS} processes creating volumes on one root agree on IDs and names`, async () => {
  await race(50);
});

it(`${WORKERS} processes all finding a stale lock break it once and still agree`, async () => {
  // Left by a crashed process on this host (a pid above Linux's pid_max cannot be alive).
  await fs.writeFile(
    path.join(root, '.lock'),
    JSON.stringify({ pid: 2 ** 22 + 12345, hostname: os.hostname(), acquiredAt: 'then', token: 'dead' }),
  );
  await race(20);
});
