/**
 * The storage core under load, on its embedded defaults (vfs with fsync, LevelDB):
 * - claim cycles per second (create + claim + attach + release) at 1, 8 and 64 concurrent clients;
 * - start-up with 100,000 volumes and 50,000 claims stored (and, with BENCH_SCALE=1, 1,000,000 and
 *   500,000 beside it): time, RSS, heap per volume and per claim, `/v1/volumes` pages and storage
 *   offers on the started core (start-up-rows.ts).
 *
 * No peer runs here: the Kubernetes CSI external-provisioner's published figure (about 40
 * volumes/s with 100 workers) is quoted in the notes for scale, not measured. The 64-client row is
 * set beside the filesystem's own ceiling, measured in the same run on the same filesystem: bare
 * mkdir calls, one at a time as the vfs driver makes them (a vfs volume is a directory, so a cycle
 * needs one). Every row's directories are removed after the last row (see claim-cycles.ts).
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { LevelStore } from '../../framework/state/level-store';
import { ClaimCycleResult, measureClaimCycles } from './claim-cycles';
import { BenchResult, report, round } from './bench-result';
import { startUpRows } from './start-up-rows';

const CYCLE_SECONDS = Number(process.env.BENCH_CYCLE_SECONDS ?? 4);
/**
 * Rounds of the three claim-cycle rows; each row reports its median. This machine's disk swings by
 * 2-4x within minutes, so rounds interleave the rows and every run is listed in the note.
 */
const CYCLE_ROUNDS = Number(process.env.BENCH_CYCLE_ROUNDS ?? 3);
const MKDIR_SECONDS = 1;
/** `cycles`, `recovery` or both (default): run only some rows while iterating. */
const ROWS = process.env.BENCH_STORAGE_ROWS ?? 'cycles,recovery';

/**
 * Directories made per second on the filesystem holding the bench's roots, one at a time: mkdirs in
 * one parent are serialised by the kernel, and more in flight only adds spinning on its lock.
 */
async function mkdirCeiling(leftovers: string[]): Promise<number> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'polly-bench-mkdir-'));
  leftovers.push(dir); // removed with the cycle rows' directories, after the last round
  let made = 0;
  const started = performance.now();
  const deadline = started + MKDIR_SECONDS * 1000;
  // Bounded: stops at the deadline (and after at most 1,000,000 directories).
  while (made < 1_000_000 && performance.now() < deadline) await fs.mkdir(path.join(dir, `d-${made++}`));
  return made / ((performance.now() - started) / 1000);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function claimCycles(clients: number): Promise<ClaimCycleResult> {
  return measureClaimCycles({
    makeStore: (dir) => new LevelStore(path.join(dir, 'state')),
    clients,
    seconds: CYCLE_SECONDS,
    durable: process.env.BENCH_VFS_DURABLE !== '0',
    keepDir: true,
  });
}

async function main(): Promise<void> {
  const results: BenchResult[] = [];
  const leftovers: string[] = [];
  const clientCounts = ROWS.includes('cycles') ? [1, 8, 64] : [];
  const runs = new Map<number, number[]>(clientCounts.map((c) => [c, []]));
  const ceilings: number[] = [];
  for (let round = 0; round < CYCLE_ROUNDS; round++) {
    for (const clients of clientCounts) {
      const { perSecond, dir } = await claimCycles(clients);
      leftovers.push(dir);
      runs.get(clients)!.push(perSecond);
    }
    if (clientCounts.length > 0) ceilings.push(await mkdirCeiling(leftovers));
  }
  for (const clients of clientCounts) {
    const perSecond = median(runs.get(clients)!);
    const listed = runs
      .get(clients)!
      .map((v) => round(v, 0))
      .join(', ');
    const row: BenchResult = {
      name: `claim cycles, ${clients} client${clients > 1 ? 's' : ''} (vfs + LevelDB)`,
      value: round(perSecond, 0),
      unit: 'cycles/s',
      note: `median of ${CYCLE_ROUNDS} runs of ${CYCLE_SECONDS} s: ${listed}`,
    };
    if (clients === 64) {
      const ceiling = median(ceilings);
      Object.assign(row, {
        peer: 'bare mkdir, same fs, one at a time',
        peerValue: round(ceiling, 0),
        ratio: round(perSecond / ceiling),
        note: `${row.note} (mkdir: ${ceilings.map((v) => round(v, 0)).join(', ')}); target >= 1,000/s. Each cycle of create + claim + attach + release makes one directory (the volume), so the filesystem's mkdir rate beside it is the ceiling on this machine. CSI external-provisioner publishes ~40 volumes/s at 100 workers (not measured here)`,
      });
    }
    results.push(row);
  }
  for (const dir of leftovers) await fs.rm(dir, { recursive: true, force: true });
  if (ROWS.includes('recovery')) results.push(...(await startUpRows()));
  report(results);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
