/**
 * Child process for the CSI crash test: the crash test's storage core (crash-storage.ts) with the
 * CSI controller on `<dir>/csi.sock`. It prints `READY` once recovery is done and serves until
 * SIGTERM (a clean stop: prints `STOPPED`), unless the crash point armed by POLLY_CRASH_POINT kills
 * it with SIGKILL in the middle of a call.
 *
 *   node -r ./test/support/register-ts.js test/support/csi-crash-worker.ts <dir>
 */
import path from 'node:path';
import { startCsiController } from '../../framework/api/csi/start-csi-controller';
import { loadConfig } from '../../framework/config/config-loader';
import { buildCrashStorage } from './crash-storage';
import { runWorker } from './worker-main';

const [dir] = process.argv.slice(2);

async function main(): Promise<void> {
  const { store, storage } = buildCrashStorage(dir);
  const config = loadConfig({ env: {}, file: '/dev/null', overrides: { 'csi.acceptUnknownNodes': true } }).csi;
  const csi = await startCsiController(
    { storage, home: path.join(dir, 'home'), endpoint: { kind: 'unix', path: path.join(dir, 'csi.sock') } },
    config,
  );
  await storage.start();
  // The handler is in place before READY is out: the parent may stop us the moment it reads it.
  const stopped = new Promise<void>((resolve) => process.once('SIGTERM', () => resolve()));
  process.stdout.write('READY\n');
  await stopped;
  await csi.stop(1000);
  await storage.stop();
  await store.close();
  process.stdout.write('STOPPED\n');
}

runWorker(main);
