/** What every benchmark reports: one row of the table and of scripts/bench/results.json. */
export interface BenchResult {
  name: string;
  /** Absent when the row was skipped. */
  value?: number;
  unit: string;
  /** Why the row was not measured (e.g. a service it needs is not installed). */
  skipped?: string;
  /** The peer measured in the same run, if any. */
  peer?: string;
  peerValue?: number;
  /** value / peerValue (or the stated target ratio for ceilings). */
  ratio?: number;
  note?: string;
}

/** Benchmarks print their results as the last stdout line, prefixed, for the runner to collect. */
export const RESULT_PREFIX = 'BENCH_RESULTS ';

export function report(results: BenchResult[]): void {
  process.stdout.write(RESULT_PREFIX + JSON.stringify(results) + '\n');
}

/** Runs fn `repeats` times after a warm-up and returns the best (least disturbed) duration in ms. */
export async function bestOf(repeats: number, fn: () => Promise<void> | void): Promise<number> {
  await fn();
  let best = Infinity;
  for (let i = 0; i < repeats; i++) {
    const started = process.hrtime.bigint();
    await fn();
    best = Math.min(best, Number(process.hrtime.bigint() - started) / 1e6);
  }
  return best;
}

export function round(value: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
