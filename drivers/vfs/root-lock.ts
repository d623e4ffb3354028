/**
 * An exclusive lock over a vfs root, safe across processes and hosts sharing the root (NFSv3+
 * honours O_EXCL). The lock is a file created with `open(path, 'wx')` holding pid, hostname and
 * time. Within one process, callers queue on a promise chain (shared per lock path) so a process
 * never spins on its own lock.
 *
 * Stale locks are broken when the owner is a dead pid on this host, or when the file has not been
 * touched for `staleMs` (a live holder touches it every staleMs/3). Breaking is itself guarded by a
 * second lock file and a re-check of the owner token, so two waiters cannot both break one lock and
 * then delete each other's fresh lock.
 */
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import { sleep, throwIfAborted } from '../abort';
import { DriverTransientError } from '../errors';
import { DriverLogger, silentDriverLogger } from '../driver-logger';
import { isErrno } from './atomic-json';

export interface RootLockOptions {
  /** A lock untouched this long is presumed abandoned, ms. Default 30 000. */
  staleMs?: number;
  /** Give up waiting after this long with DriverTransientError, ms. Default 30 000. */
  acquireTimeoutMs?: number;
  logger?: DriverLogger;
}

interface LockOwner {
  pid: number;
  hostname: string;
  acquiredAt: string;
  token: string;
}

/** In-process queues, per lock file, shared by every RootLock (and so every driver) on that root. */
const queues = new Map<string, Promise<void>>();

export class RootLock {
  private readonly staleMs: number;
  private readonly acquireTimeoutMs: number;
  private readonly logger: DriverLogger;
  private readonly breakFile: string;

  constructor(
    readonly file: string,
    options: RootLockOptions = {},
  ) {
    this.staleMs = options.staleMs ?? 30_000;
    this.acquireTimeoutMs = options.acquireTimeoutMs ?? 30_000;
    this.logger = options.logger ?? silentDriverLogger;
    this.breakFile = `${file}.break`;
  }

  /** Runs `fn` holding the lock; waits (bounded, abortable) for other holders in this and other processes. */
  async withLock<T>(signal: AbortSignal | undefined, what: string, fn: () => Promise<T>): Promise<T> {
    const previous = queues.get(this.file) ?? Promise.resolve();
    let done!: () => void;
    const mine = new Promise<void>((resolve) => (done = resolve));
    const tail = previous.then(() => mine);
    queues.set(this.file, tail);
    try {
      await waitOrAbort(previous, signal, what);
      const token = await this.acquire(signal, what);
      const heartbeat = setInterval(() => void this.touch(), Math.max(10, Math.floor(this.staleMs / 3)));
      heartbeat.unref();
      try {
        return await fn();
      } finally {
        clearInterval(heartbeat);
        await this.release(token);
      }
    } finally {
      // Releasing early on abort is fine: the next waiter still waits for `previous` first.
      done();
      if (queues.get(this.file) === tail) queues.delete(this.file);
    }
  }

  private async acquire(signal: AbortSignal | undefined, what: string): Promise<string> {
    const started = Date.now();
    const token = randomBytes(8).toString('hex');
    const owner: LockOwner = { pid: process.pid, hostname: os.hostname(), acquiredAt: new Date().toISOString(), token };
    for (let attempt = 0; ; attempt++) {
      throwIfAborted(signal, what);
      if (await createExclusive(this.file, JSON.stringify(owner))) {
        return token;
      }
      await this.breakIfStale();
      if (Date.now() - started > this.acquireTimeoutMs) {
        throw new DriverTransientError(`timed out after ${this.acquireTimeoutMs} ms waiting for lock ${this.file}: ${what}`, {
          lockFile: this.file,
        });
      }
      // Small jittered sleeps, growing to ~50 ms: short waits under contention, no lock-step retries.
      const cap = Math.min(50, 2 * 2 ** Math.min(attempt, 5));
      await sleep(cap / 2 + Math.random() * (cap / 2), signal, what);
    }
  }

  private async release(token: string): Promise<void> {
    const owner = await readOwner(this.file);
    if (owner?.token !== token) {
      this.logger.warn('vfs lock was taken over while held', { lockFile: this.file });
      return;
    }
    await fs.rm(this.file, { force: true });
  }

  private async touch(): Promise<void> {
    const now = new Date();
    await fs.utimes(this.file, now, now).catch(() => undefined);
  }

  /** Removes the lock file if its owner is gone; only one breaker at a time, and only the lock it judged stale. */
  private async breakIfStale(): Promise<void> {
    const judged = await this.staleOwnerToken(this.file);
    if (judged === undefined) return;
    if (!(await createExclusive(this.breakFile, String(process.pid)))) {
      // Someone else is breaking it; an abandoned break file is itself removed once stale.
      if ((await ageMs(this.breakFile)) > this.staleMs) await fs.rm(this.breakFile, { force: true });
      return;
    }
    try {
      if ((await this.staleOwnerToken(this.file)) === judged) {
        await fs.rm(this.file, { force: true });
        this.logger.warn('broke stale vfs lock', { lockFile: this.file });
      }
    } finally {
      await fs.rm(this.breakFile, { force: true });
    }
  }

  /** The current owner's identity (token, or the raw content if unreadable) when the lock is stale; undefined otherwise. */
  private async staleOwnerToken(file: string): Promise<string | undefined> {
    let content: string;
    let mtimeMs: number;
    try {
      content = await fs.readFile(file, 'utf8');
      mtimeMs = (await fs.stat(file)).mtimeMs;
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return undefined;
      throw err;
    }
    const owner = parseOwner(content);
    const identity = owner?.token ?? `raw:${content}:${mtimeMs}`;
    if (Date.now() - mtimeMs > this.staleMs) return identity;
    if (owner && owner.hostname === os.hostname() && !pidAlive(owner.pid)) return identity;
    return undefined;
  }
}

async function createExclusive(file: string, content: string): Promise<boolean> {
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(file, 'wx', 0o644);
  } catch (err) {
    if (isErrno(err, 'EEXIST')) return false;
    throw err;
  }
  try {
    await handle.writeFile(content, 'utf8');
  } finally {
    await handle.close();
  }
  return true;
}

async function readOwner(file: string): Promise<LockOwner | undefined> {
  try {
    return parseOwner(await fs.readFile(file, 'utf8'));
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return undefined;
    throw err;
  }
}

function parseOwner(content: string): LockOwner | undefined {
  try {
    const v = JSON.parse(content) as Partial<LockOwner>;
    if (typeof v.pid === 'number' && typeof v.hostname === 'string' && typeof v.token === 'string') {
      return { pid: v.pid, hostname: v.hostname, token: v.token, acquiredAt: String(v.acquiredAt) };
    }
  } catch {
    // Being written right now, or torn by a crash: judged by age alone.
  }
  return undefined;
}

async function ageMs(file: string): Promise<number> {
  try {
    return Date.now() - (await fs.stat(file)).mtimeMs;
  } catch {
    return 0;
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return isErrno(err, 'EPERM');
  }
}

function waitOrAbort(p: Promise<void>, signal: AbortSignal | undefined, what: string): Promise<void> {
  throwIfAborted(signal, what);
  if (!signal) return p;
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      try {
        throwIfAborted(signal, what);
      } catch (err) {
        reject(err);
      }
    };
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      () => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      },
      () => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      },
    );
  });
}
