/**
 * Child process of the CSI backend crash test: the storage core with the CSI-backed service
 * (csi-backend-storage.ts), recovered, then one operation; prints DONE. POLLY_CRASH_POINT kills it
 * at one of the core's intent points; the parent kills it itself while the plugin performs the call.
 *
 *   node -r ./test/support/register-ts.js test/support/csi-backend-crash-worker.ts <dir> <plugin socket> <op> <name>
 */
import { buildCsiBackendStorage, runCsiBackendOperation } from './csi-backend-storage';
import { runWorker } from './worker-main';

const [dir, socket, op, name] = process.argv.slice(2);

async function main(): Promise<void> {
  const { store, storage } = buildCsiBackendStorage(dir, socket);
  await storage.start();
  process.stdout.write('STARTED\n');
  await runCsiBackendOperation(storage, op, name);
  await storage.stop();
  await store.close();
  process.stdout.write('DONE\n');
}

runWorker(main);
