/**
 * Bind mounts on this host: reading the mount table (/proc/self/mountinfo) and mounting or
 * unmounting with util-linux's mount(8)/umount(8), which need root (CAP_SYS_ADMIN). A bind mount
 * shows the source directory's inode at the target, so "is this target a mount of that directory"
 * is a device + inode comparison.
 */
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import { PollyError } from '../../../errors/polly-error';
import { PreconditionFailedError } from '../../../errors/precondition-failed-error';

export interface MountEntry {
  mountPoint: string;
  /** Per-mount options (`ro`, `rw`, `nosuid`, ...). */
  options: string[];
}

/** mountinfo escapes space, tab, newline and backslash as octal (`\040`). */
function unescapeMountPath(text: string): string {
  return text.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

export function parseMountInfo(text: string): MountEntry[] {
  const out: MountEntry[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    // id parent major:minor root mount-point options [optional fields...] - fstype source super-options
    const fields = line.split(' ');
    if (fields.length < 6) continue;
    out.push({ mountPoint: unescapeMountPath(fields[4]), options: fields[5].split(',') });
  }
  return out;
}

function run(command: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { timeout: 60_000 }, (err, _stdout, stderr) => {
      if (!err) return resolve();
      const text = String(stderr || err.message)
        .trim()
        .split('\n')[0];
      if (/busy/i.test(text)) {
        reject(new PreconditionFailedError(`${command} ${args[args.length - 1]}: ${text}; stop what uses it and retry`));
      } else {
        reject(
          new PollyError(`${command} failed: ${text}${process.getuid?.() === 0 ? '' : ' (polly csi node must run as root to mount)'}`),
        );
      }
    });
  });
}

export class MountTable {
  constructor(private readonly mountInfoPath = '/proc/self/mountinfo') {}

  async entries(): Promise<MountEntry[]> {
    return parseMountInfo(await fs.readFile(this.mountInfoPath, 'utf8'));
  }

  /** The topmost mount at `target`, if any (later lines are mounted over earlier ones). */
  async topAt(target: string): Promise<MountEntry | undefined> {
    const all = await this.entries();
    for (let i = all.length - 1; i >= 0; i--) if (all[i].mountPoint === target) return all[i];
    return undefined;
  }

  /** Mount points whose root is the same inode as `dir` (where the directory is bind-mounted). */
  async bindsOf(dir: string): Promise<string[]> {
    const want = await fs.stat(dir);
    const out: string[] = [];
    for (const entry of await this.entries()) {
      if (entry.mountPoint === dir) continue;
      const at = await fs.stat(entry.mountPoint).catch(() => undefined);
      if (at && at.dev === want.dev && at.ino === want.ino) out.push(entry.mountPoint);
    }
    return [...new Set(out)];
  }

  /** `mount --bind [-o options] source target` (util-linux applies `ro` and the others with a bind remount). */
  async bind(source: string, target: string, options: readonly string[]): Promise<void> {
    const opts = options.filter((o) => o !== 'rw');
    await run('mount', ['--bind', ...(opts.length > 0 ? ['-o', opts.join(',')] : []), source, target]);
  }

  async remountReadOnly(target: string): Promise<void> {
    await run('mount', ['-o', 'remount,bind,ro', target]);
  }

  async unmount(target: string): Promise<void> {
    await run('umount', [target]);
  }
}

export async function sameInode(a: string, b: string): Promise<boolean> {
  const [x, y] = await Promise.all([fs.stat(a).catch(() => undefined), fs.stat(b).catch(() => undefined)]);
  return x !== undefined && y !== undefined && x.dev === y.dev && x.ino === y.ino;
}
