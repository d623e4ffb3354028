/**
 * Child process for the root-lock crash test: takes and releases the vfs root lock in a tight loop
 * (writing a little under it) until it is killed. Prints `ready` once it has held the lock.
 *
 * Usage: node -r test/support/register-ts.js test/support/root-lock-worker.ts LOCKFILE TIMEOUT_MS
 * (exits 1, with the error on stderr, if it ever waits longer than TIMEOUT_MS for the lock)
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { RootLock } from '../../drivers/vfs/root-lock';
import { runWorker } from './worker-main';

async function main(): Promise<void> {
  const [file, timeoutMs] = process.argv.slice(2);
  const lock = new RootLock(file, { acquireTimeoutMs: Number(timeoutMs) });
  let announced = false;
  for (let i = 0; ; i++) {
    await lock.withLock(undefined, `worker ${process.pid} round ${i}`, async () => {
      await fs.writeFile(path.join(path.dirname(file), `worker-${process.pid}`), String(i));
      if (!announced) {
        announced = true;
        process.stdout.write('ready\n');
      }
    });
  }
}

runWorker(main);
