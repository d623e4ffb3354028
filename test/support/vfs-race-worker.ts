/**
 * Child process for the vfs two-process test: creates volumes on a shared root, some with names
 * only it uses and some with names every worker contests, all at once. Prints one JSON line:
 * `{ created: [{name, id}], conflicts: [name] }`; exits non-zero on any other error.
 *
 * Usage: node -r test/support/register-ts.js test/support/vfs-race-worker.ts ROOT WORKER COUNT
 */
import { DriverConflictError } from '../../drivers/errors';
import { VfsDriver } from '../../drivers/vfs/vfs-driver';
import { runWorker } from './worker-main';

async function main(): Promise<void> {
  const [root, worker, countText] = process.argv.slice(2);
  const count = Number(countText);
  const driver = new VfsDriver({ root, lockTimeoutMs: 120_000 });
  await driver.init();
  const created: { name: string; id: string }[] = [];
  const conflicts: string[] = [];
  const create = async (name: string): Promise<void> => {
    try {
      const v = await driver.volumeCreate(name, { size: 1 });
      created.push({ name, id: v.id });
    } catch (err) {
      if (err instanceof DriverConflictError) conflicts.push(name);
      else throw err;
    }
  };
  const jobs: Promise<void>[] = [];
  for (let i = 0; i < count; i++) {
    jobs.push(create(`worker-${worker}-${i}`));
    // Mixed case: the contest is case-insensitive.
    jobs.push(create(i % 2 === 0 ? `Contested-${i}` : `contested-${i}`.toUpperCase()));
  }
  await Promise.all(jobs);
  process.stdout.write(`${JSON.stringify({ created, conflicts })}\n`);
}

runWorker(main);
