/**
 * The entry of a test's child-process worker: runs `main`; a failure is printed to stderr and ends
 * the process with exit code 1, which the spawning test checks (with the printed stack as its reason).
 */
export function runWorker(main: () => Promise<void>): void {
  main().catch((err: unknown) => {
    process.stderr.write(`worker failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  });
}
