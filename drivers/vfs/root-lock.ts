/**
 * An exclusive lock over a vfs root, safe across processes and hosts sharing the root (NFSv3+ links
 * atomically). The lock is a file holding pid, hostname, time and a token. It is taken crash-safely:
 * the owner record is written to a unique temp file first and then hard-linked into place, so the
 * lock never exists without its owner (a process killed mid-take leaves only a temp file, which
 * `init()` sweeps). Where hard links are not supported it falls back to `open(path, 'wx')` + write.
 * Within one process, callers queue on a promise chain (shared per lock path) so a process never
 * spins on its own lock.
 *
 * Stale locks are broken when the owner is a dead pid on this host, when the file has not been
 * touched for `staleMs` (a live holder touches it every staleMs/3), or when it is unreadable (empty
 * or torn: only the fallback or an older Polly can leave one) for longer than a short grace.
 * Breaking is itself guarded by a second lock file (`.lock.break`, taken the same way) and a re-check
 * of the owner token, so two waiters cannot both break one lock and then delete each other's fresh
 * lock. A guard left by a dead breaker (dead pid on this host, or older than a few seconds) is
 * removed, so a crash while breaking does not hold everyone up until the timeout.
 */
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import { sleep, throwIfAborted } from '../abort';
import { DriverTransientError } from '../errors';
import { DriverLogger, silentDriverLogger } from '../driver-logger';
import { isErrno, TEMP_SUFFIX } from './atomic-json';

export interface RootLockOptions {
  /** A lock untouched this long is presumed abandoned, ms. Default 30 000. */
  staleMs?: number;
  /** Give up waiting after this long with DriverTransientError, ms. Default 30 000. */
  acquireTimeoutMs?: number;
  logger?: DriverLogger;
  /** Called as this lock object is about to let go of the lock (whoever takes it next may write). */
  onRelease?: () => void;
}

interface LockOwner {
  pid: number;
  hostname: string;
  acquiredAt: string;
  token: string;
}

/** An unreadable (empty, torn) lock or guard is judged abandoned after this long, ms. */
const UNREADABLE_GRACE_MS = 1_500;
/** A break guard is held for a re-check and one unlink; one older than this was abandoned, ms. */
const BREAK_STALE_MS = 5_000;

type CreateResult = 'created' | 'exists';

/** In-process queues, per lock file, shared by every RootLock (and so every driver) on that root. */
const queues = new Map<string, Promise<void>>();

export class RootLock {
  private readonly staleMs: number;
  private readonly acquireTimeoutMs: number;
  private readonly logger: DriverLogger;
  private readonly onRelease: (() => void) | undefined;
  private readonly breakFile: string;
  private readonly breakStaleMs: number;
  /** Cleared the first time the filesystem refuses a hard link: then `open('wx')` + write. */
  private useLinks = true;

  constructor(
    readonly file: string,
    options: RootLockOptions = {},
  ) {
    this.staleMs = options.staleMs ?? 30_000;
    this.acquireTimeoutMs = options.acquireTimeoutMs ?? 30_000;
    this.logger = options.logger ?? silentDriverLogger;
    this.onRelease = options.onRelease;
    this.breakFile = `${file}.break`;
    this.breakStaleMs = Math.min(BREAK_STALE_MS, this.staleMs);
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
        this.onRelease?.();
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
      if ((await this.createOwned(this.file, owner)) === 'created') return token;
      // NFS may report EEXIST for a link that did happen (a retransmitted request): the token tells.
      if ((await readOwner(this.file))?.token === token) return token;
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

  /**
   * Creates `file` holding `owner` unless it exists. The record goes to a unique temp file first,
   * which is then hard-linked into place: `file` never exists without its content, whenever the
   * process dies.
   */
  private async createOwned(file: string, owner: LockOwner): Promise<CreateResult> {
    const content = JSON.stringify(owner);
    while (this.useLinks) {
      const tmp = `${file}.${process.pid}.${owner.token}${TEMP_SUFFIX}`;
      let written = false;
      try {
        await writeNew(tmp, content);
        written = true;
        await fs.link(tmp, file);
        return 'created';
      } catch (err) {
        if (!written) throw err;
        if (isErrno(err, 'EEXIST')) return 'exists';
        // The temp file was swept by another process's init() between write and link: write it again.
        if (isErrno(err, 'ENOENT')) continue;
        if (!isLinkUnsupported(err)) throw err;
        this.useLinks = false;
        this.logger.warn('vfs root does not support hard links; taking the lock with open(wx)', { lockFile: file });
      } finally {
        await unlinkIfPresent(tmp);
      }
    }
    return (await createExclusive(file, content)) ? 'created' : 'exists';
  }

  private async release(token: string): Promise<void> {
    const owner = await readOwner(this.file);
    if (owner?.token !== token) {
      this.logger.warn('vfs lock was taken over while held', { lockFile: this.file });
      return;
    }
    await unlinkIfPresent(this.file);
  }

  private async touch(): Promise<void> {
    const now = new Date();
    await fs.utimes(this.file, now, now).catch(() => undefined);
  }

  /** Removes the lock file if its owner is gone; only one breaker at a time, and only the lock it judged stale. */
  private async breakIfStale(): Promise<void> {
    const judged = await this.staleIdentity(this.file, this.staleMs);
    if (judged === undefined) return;
    const guard: LockOwner = {
      pid: process.pid,
      hostname: os.hostname(),
      acquiredAt: new Date().toISOString(),
      token: randomBytes(8).toString('hex'),
    };
    if ((await this.createOwned(this.breakFile, guard)) !== 'created') {
      // Someone else is breaking it, or a breaker died holding the guard: then remove the guard.
      await this.clearAbandonedGuard();
      return;
    }
    try {
      if ((await this.staleIdentity(this.file, this.staleMs)) === judged) {
        await fs.rm(this.file, { force: true });
        this.logger.warn('broke stale vfs lock', { lockFile: this.file });
      }
    } finally {
      // Only our own guard: if ours was judged abandoned and replaced, the new one is not ours to remove.
      if ((await readOwner(this.breakFile))?.token === guard.token) await fs.rm(this.breakFile, { force: true });
    }
  }

  /** Removes a break guard whose owner died (or that is older than a break can take). */
  private async clearAbandonedGuard(): Promise<void> {
    const judged = await this.staleIdentity(this.breakFile, this.breakStaleMs);
    if (judged === undefined) return;
    // Re-checked just before removing, so a guard that was replaced meanwhile is (almost surely) spared.
    if ((await this.staleIdentity(this.breakFile, this.breakStaleMs)) !== judged) return;
    await fs.rm(this.breakFile, { force: true });
    this.logger.warn('removed abandoned vfs lock break guard', { lockFile: this.file });
  }

  /**
   * The identity of `file`'s owner (its token, or the raw content if unreadable) when `file` is
   * abandoned: untouched for `staleAfterMs`, owned by a dead pid on this host, or unreadable for
   * longer than the grace. Undefined when it is live, or gone.
   */
  private async staleIdentity(file: string, staleAfterMs: number): Promise<string | undefined> {
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
    const age = Date.now() - mtimeMs;
    if (age > staleAfterMs) return identity;
    if (owner && owner.hostname === os.hostname() && !pidAlive(owner.pid)) return identity;
    // Unreadable: a writer killed between create and write (fallback / older Polly); a live one writes within ms.
    if (!owner && age > Math.min(UNREADABLE_GRACE_MS, staleAfterMs)) return identity;
    return undefined;
  }
}

/**
 * Removes a file, if it is there. One unlink: fs.rm would lstat it twice first, and the lock changes
 * hands many times a second under load (each hand-off removes the lock and a temp file).
 */
async function unlinkIfPresent(file: string): Promise<void> {
  try {
    await fs.unlink(file);
  } catch (err) {
    if (!isErrno(err, 'ENOENT')) throw err;
  }
}

/** Writes a new file (refusing to reuse one: the name is unique to this attempt). */
async function writeNew(file: string, content: string): Promise<void> {
  const handle = await fs.open(file, 'wx', 0o644);
  try {
    await handle.writeFile(content, 'utf8');
  } finally {
    await handle.close();
  }
}

/** Filesystems without hard links (some FUSE and SMB mounts) refuse `link()` with one of these. */
function isLinkUnsupported(err: unknown): boolean {
  return ['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS', 'EMLINK'].some((code) => isErrno(err, code));
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
