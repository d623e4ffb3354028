/**
 * Child process for the storage crash test: runs a StorageService on `<dir>/state` (LevelDB) and
 * `<dir>/home/vfs/local` (vfs) and performs random create / claim / release / force-release /
 * expand / remove operations, a few at a time, until it has done `ops` operations or the crash point armed
 * by POLLY_CRASH_POINT kills it with SIGKILL.
 *
 *   node -r ./test/support/register-ts.js test/support/storage-crash-worker.ts <dir> <seed> <ops>
 *
 * Prints `DONE <ops>` when it finishes without being killed.
 */
import { isPollyError } from '../../framework/errors';
import { buildCrashStorage } from './crash-storage';
import { runWorker } from './worker-main';

const [dir, seedArg, opsArg] = process.argv.slice(2);
const OPS = Number(opsArg ?? '20');
const PARALLEL = 3;
const SCHEDULERS = ['marathon', 'spark', 'chronos'];

// A small deterministic PRNG (mulberry32), so a failing seed can be replayed.
let state = Number(seedArg ?? '1') >>> 0;
function random(): number {
  state = (state + 0x6d2b79f5) >>> 0;
  let t = state;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)];

const armedKind = (process.env.POLLY_CRASH_POINT ?? '').split(':')[0];

async function main(): Promise<void> {
  const crash = buildCrashStorage(dir);
  const { store, storage } = crash;
  await crash.start();
  const { catalog, ledger } = storage;
  let counter = 0;

  const ops: Record<'create' | 'attach' | 'detach' | 'expand' | 'remove', () => Promise<unknown> | undefined> = {
    create: () => catalog.create({ service: 'local', name: `v-${seedArg}-${counter++}`, size: 1, schedulers: SCHEDULERS }),
    attach: () => {
      const volumes = catalog.list({ service: 'local' }).filter((v) => v.status !== 'removing');
      if (volumes.length === 0) return undefined;
      const v = pick(volumes);
      const agent = `agent-${Math.floor(random() * 4)}`;
      return ledger.claim({
        volumeId: v.id,
        scheduler: pick(SCHEDULERS),
        agentId: agent,
        instanceId: `host-${agent}`,
        taskId: `task-${counter++}`,
        mode: random() < 0.3 ? 'RO' : 'RW',
      });
    },
    detach: () => {
      const live = ledger.list({ live: true });
      if (live.length === 0) return undefined;
      const c = pick(live);
      return random() < 0.2 ? ledger.forceRelease(c.id, 'crash test fencing') : ledger.release(c.id);
    },
    expand: () => {
      const volumes = catalog.list({ service: 'local' }).filter((v) => v.status !== 'removing');
      if (volumes.length === 0) return undefined;
      const v = pick(volumes);
      return storage.expander.expand(v.id, v.size + 1 + Math.floor(random() * 3));
    },
    remove: () => {
      const free = catalog.list({ service: 'local' }).filter((v) => ledger.liveClaims(v.id).length === 0);
      if (free.length === 0) return undefined;
      return catalog.remove(pick(free).id);
    },
  };
  const kinds = Object.keys(ops) as Array<keyof typeof ops>;

  let done = 0;
  const lane = async (): Promise<void> => {
    while (done < OPS) {
      done++;
      // Favour the kind whose crash point is armed, so the n-th hit comes soon.
      const kind = random() < 0.5 && armedKind in ops ? (armedKind as keyof typeof ops) : pick(kinds);
      try {
        await ops[kind]();
      } catch (err) {
        // Refusals (conflict, not found, ...) are expected under random load; anything else is a bug.
        if (!isPollyError(err) || err.status >= 500) throw err;
      }
    }
  };
  await Promise.all(Array.from({ length: PARALLEL }, lane));
  await storage.stop();
  await store.close();
  process.stdout.write(`DONE ${done}\n`);
}

runWorker(main);
