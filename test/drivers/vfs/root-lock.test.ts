/**
 * The vfs root lock after crashes: whatever a killed process leaves behind (an empty lock file, a
 * break guard, a half-taken lock), the next process gets the lock well within its timeout.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { RootLock } from '../../../drivers/vfs/root-lock';
import { VfsDriver } from '../../../drivers/vfs/vfs-driver';

const REPO = path.resolve(__dirname, '../../..');
const REGISTER = path.join(REPO, 'test/support/register-ts.js');
const WORKER = path.join(__dirname, '../../support/root-lock-worker.ts');
/** Every process here must get the lock well within the 30 s default, or fail the test. */
const LOCK_TIMEOUT_MS = 5_000;
/** A pid above Linux's pid_max: never alive. */
const DEAD_PID = 2 ** 22 + 12345;

let root: string;
let lockFile: string;
const children: ChildProcess[] = [];

beforeEach(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'polly-root-lock-'));
  lockFile = path.join(root, '.lock');
});

afterEach(async () => {
  for (const child of children.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
  await fs.rm(root, { recursive: true, force: true });
});

const owner = (pid: number, hostname = os.hostname(), token = 'left-behind'): string =>
  JSON.stringify({ pid, hostname, acquiredAt: new Date().toISOString(), token });

async function setAge(file: string, ageMs: number): Promise<void> {
  const then = new Date(Date.now() - ageMs);
  await fs.utimes(file, then, then);
}

/** A driver that must get the lock well within the 30 s default, or fail the test. */
async function initFresh(): Promise<VfsDriver> {
  const driver = new VfsDriver({ root, lockTimeoutMs: LOCK_TIMEOUT_MS });
  await driver.init();
  return driver;
}

describe('RootLock after a crash', () => {
  it('takes over a lock file left empty (killed between create and write)', async () => {
    await fs.writeFile(lockFile, '');
    const driver = await initFresh();
    expect((await driver.volumeCreate('after-empty', {})).name).toBe('after-empty');
    await driver.close(); // lets go of the lock it keeps briefly after a lone request
    await expect(fs.stat(lockFile)).rejects.toThrow();
  });

  it('takes over a torn lock file, however old', async () => {
    await fs.writeFile(lockFile, '{"pid":12');
    await setAge(lockFile, 10_000);
    await initFresh();
  });

  it('removes a break guard abandoned by a dead breaker, then breaks the dead lock', async () => {
    await fs.writeFile(lockFile, owner(DEAD_PID));
    await fs.writeFile(`${lockFile}.break`, owner(DEAD_PID, os.hostname(), 'dead-breaker'));
    await initFresh();
    await expect(fs.stat(lockFile)).rejects.toThrow();
    await expect(fs.stat(`${lockFile}.break`)).rejects.toThrow();
  });

  it('removes an empty break guard (older Polly, or killed mid-write) and an old one from another host', async () => {
    await fs.writeFile(lockFile, owner(DEAD_PID));
    await fs.writeFile(`${lockFile}.break`, '');
    await initFresh();

    await fs.writeFile(lockFile, owner(DEAD_PID));
    await fs.writeFile(`${lockFile}.break`, owner(1, 'another-host', 'remote-breaker'));
    await setAge(`${lockFile}.break`, 10_000);
    await initFresh();
  });

  it('never breaks a live holder: a lock and guard of a live process on this host stay', async () => {
    await fs.writeFile(lockFile, owner(process.pid, os.hostname(), 'live'));
    await fs.writeFile(`${lockFile}.break`, owner(process.pid, os.hostname(), 'live-breaker'));
    const lock = new RootLock(lockFile, { acquireTimeoutMs: 2_000 });
    await expect(lock.withLock(undefined, 'blocked', async () => undefined)).rejects.toThrow(/waiting for lock/);
    expect(JSON.parse(await fs.readFile(lockFile, 'utf8'))).toMatchObject({ token: 'live' });
  });

  it('the lock file always holds its owner, and no temp file is left after release', async () => {
    const lock = new RootLock(lockFile);
    const seen = await lock.withLock(undefined, 'look', async () => JSON.parse(await fs.readFile(lockFile, 'utf8')) as { pid: number });
    expect(seen.pid).toBe(process.pid);
    expect((await fs.readdir(root)).filter((f) => f.startsWith('.lock'))).toEqual([]);
  });

  it('two locks in one process (two drivers) still take turns', async () => {
    const a = new RootLock(lockFile);
    const b = new RootLock(lockFile);
    let inside = 0;
    let overlap = false;
    const run = (lock: RootLock): Promise<void> =>
      lock.withLock(undefined, 'turn', async () => {
        if (++inside > 1) overlap = true;
        await new Promise((resolve) => setImmediate(resolve));
        inside--;
      });
    await Promise.all(Array.from({ length: 40 }, (_, i) => run(i % 2 ? a : b)));
    expect(overlap).toBe(false);
  });
});

describe('RootLock with processes killed while taking or holding it', () => {
  /** Workers that exited on their own (e.g. timed out waiting for the lock): each is a test failure. */
  const failures: string[] = [];

  /** Starts a worker; `ready` resolves once it has held the lock (or rejects if it fails on its own). */
  function startWorker(): { child: ChildProcess; ready: Promise<void> } {
    const child = spawn(process.execPath, ['-r', REGISTER, WORKER, lockFile, String(LOCK_TIMEOUT_MS)], {
      cwd: REPO,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    const ready = new Promise<void>((resolve, reject) => {
      let err = '';
      child.stderr!.on('data', (chunk: Buffer) => (err += chunk.toString()));
      child.stdout!.on('data', (chunk: Buffer) => {
        if (chunk.toString().includes('ready')) resolve();
      });
      child.on('error', reject);
      child.on('exit', (code, signal) => {
        if (signal !== null) return;
        failures.push(`lock worker exited ${code}: ${err}`);
        reject(new Error(failures[failures.length - 1]));
      });
    });
    ready.catch(() => undefined); // reported through `failures`
    return { child, ready };
  }

  function kill(child: ChildProcess): Promise<void> {
    return new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGKILL');
    });
  }

  const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

  it('a fresh driver gets the lock after workers were SIGKILLed at random points', async () => {
    for (let round = 0; round < 12; round++) {
      // Two workers start together: the first breaks the lock the last round's workers left. The
      // moment one has held the lock, the other is usually still taking (or breaking) it: kill that
      // one then, and the one holding or cycling the lock a moment later.
      const a = startWorker();
      const b = startWorker();
      const first = await Promise.race([a.ready.then(() => a), b.ready.then(() => b)]);
      const other = first === a ? b : a;
      await pause(Math.random() * 5);
      await kill(other.child);
      await pause(Math.random() * 30);
      await kill(first.child);
    }
    expect(failures).toEqual([]);
    const driver = await initFresh();
    expect((await driver.volumeCreate('after-kills', {})).name).toBe('after-kills');
    await driver.close();
    // The lock is released, and init swept the temp files the killed workers left.
    const left = (await fs.readdir(root)).filter((f) => f.startsWith('.lock') && f !== '.lock.break');
    expect(left).toEqual([]);
  }, 120_000);
});
