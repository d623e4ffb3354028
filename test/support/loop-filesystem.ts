/**
 * A small real filesystem for disk-full tests: an ext4 image file in a temp dir, loop-mounted (the
 * tests run as root). `fill()` writes a filler file until the disk refuses (ENOSPC), `free()` removes
 * it. `cleanup()` unmounts, detaches the loop device and removes the directory; it is safe to call
 * twice and after a failed start, so `afterAll` can always call it.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export class LoopFilesystem {
  private mounted = false;

  private constructor(
    readonly dir: string,
    readonly image: string,
    /** Where the filesystem is mounted. */
    readonly mountPoint: string,
  ) {}

  /** A fresh ext4 filesystem of `sizeMiB`, mounted under a new temp dir. */
  static async create(sizeMiB = 16, prefix = 'polly-loopfs-'): Promise<LoopFilesystem> {
    const dir = await fs.promises.mkdtemp(path.join(os.tmpdir(), prefix));
    const fsys = new LoopFilesystem(dir, path.join(dir, 'disk.img'), path.join(dir, 'mnt'));
    try {
      await fs.promises.truncate(await createEmpty(fsys.image), sizeMiB * 1024 * 1024);
      execFileSync('mkfs.ext4', ['-q', '-F', fsys.image], { stdio: 'pipe' });
      await fs.promises.mkdir(fsys.mountPoint);
      execFileSync('mount', ['-o', 'loop', fsys.image, fsys.mountPoint], { stdio: 'pipe' });
      fsys.mounted = true;
    } catch (err) {
      await fsys.cleanup();
      throw err;
    }
    return fsys;
  }

  private get filler(): string {
    return path.join(this.mountPoint, 'filler');
  }

  /** Writes until the filesystem has no block left (root's reserved blocks included). */
  fill(): void {
    const fd = fs.openSync(this.filler, 'a');
    try {
      for (const size of [1024 * 1024, 4096, 512, 1]) {
        const chunk = Buffer.alloc(size, 0x78);
        try {
          for (;;) fs.writeSync(fd, chunk);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
        }
      }
    } finally {
      fs.closeSync(fd);
    }
  }

  /** Gives the space back. */
  free(): void {
    fs.rmSync(this.filler, { force: true });
  }

  async cleanup(): Promise<void> {
    if (this.mounted) {
      try {
        execFileSync('umount', [this.mountPoint], { stdio: 'pipe' });
      } catch {
        // Something still holds it open: detach it lazily, it goes once released.
        execFileSync('umount', ['-l', this.mountPoint], { stdio: 'pipe' });
      }
      this.mounted = false;
    }
    detachLoopDevices(this.image);
    await fs.promises.rm(this.dir, { recursive: true, force: true });
  }
}

async function createEmpty(file: string): Promise<string> {
  await fs.promises.writeFile(file, '');
  return file;
}

/** `mount -o loop` sets up a device with auto-clear; detach any that is still bound to the image. */
function detachLoopDevices(image: string): void {
  if (!fs.existsSync(image)) return;
  let listed = '';
  try {
    listed = execFileSync('losetup', ['-j', image], { stdio: 'pipe' }).toString('utf8');
  } catch {
    return;
  }
  for (const line of listed.split('\n')) {
    const device = line.split(':')[0]?.trim();
    if (device) {
      try {
        execFileSync('losetup', ['-d', device], { stdio: 'pipe' });
      } catch {
        // already gone
      }
    }
  }
}
