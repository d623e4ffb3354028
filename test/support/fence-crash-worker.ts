/**
 * Child process for the mass-fence crash test: opens the storage core the test prepared (LevelDB
 * and vfs under `<dir>`, as crash-storage.ts builds it; start-up recovery included) and fences every
 * claim of agent `dead` at once, until it finishes or the crash point armed by POLLY_CRASH_POINT
 * kills it with SIGKILL.
 *
 *   node -r ./test/support/register-ts.js test/support/fence-crash-worker.ts <dir>
 *
 * Prints `DONE <claims>` when it finishes without being killed.
 */
import { buildCrashStorage } from './crash-storage';
import { runWorker } from './worker-main';

const [dir] = process.argv.slice(2);

async function main(): Promise<void> {
  const crash = buildCrashStorage(dir);
  await crash.start();
  const fenced = await crash.storage.ledger.releaseForAgent('dead', 'fenced: agent dead is gone', 'polly');
  await crash.storage.stop();
  await crash.store.close();
  process.stdout.write(`DONE ${fenced.length}\n`);
}

runWorker(main);
