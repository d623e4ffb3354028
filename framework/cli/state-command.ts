/**
 * `polly state export [--config FILE] [--out FILE]` and `polly state import FILE [--config FILE]
 * [--force]`: move Polly's state between backends (LevelDB ↔ ZooKeeper), or restore it, as JSON
 * lines, one `{"key": ..., "value": ...}` per key, in key order — the installation marker
 * (`meta/installation`) included. Export from the old configuration, import with the new one.
 * Polly should be stopped while doing so (LevelDB refuses a second process anyway). Export never
 * creates a store; import refuses a store that already holds keys unless --force (then keys in the
 * file overwrite, others stay), and records the imported installation in the home marker, so the
 * next `polly start` opens it.
 */
import fs from 'node:fs';
import readline from 'node:readline';
import type { Command } from 'commander';
import { loadConfig } from '../config/config-loader';
import type { PollyConfig } from '../config/config-schema';
import { createStore } from '../state/create-store';
import { recordImportedInstallation } from '../state/open-installation';
import type { BatchOperation, Store, StoreOpenOptions } from '../state/store';
import { UsageError } from './cli-errors';

const IMPORT_BATCH = 100;

export interface StateEntry {
  key: string;
  value: unknown;
}

/** Writes every key of `store` to `out` as JSON lines; returns the number of keys. */
export async function exportState(store: Store, out: NodeJS.WritableStream): Promise<number> {
  let n = 0;
  for await (const [key, value] of store.scan('')) {
    const line = `${JSON.stringify({ key, value } satisfies StateEntry)}\n`;
    if (!out.write(line)) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
    n++;
  }
  return n;
}

/** Loads JSON lines into `store` (batches of 100); refuses a non-empty store unless `force`. */
export async function importState(store: Store, input: NodeJS.ReadableStream, options: { force?: boolean } = {}): Promise<number> {
  if (!options.force && (await store.count('')) > 0) {
    throw new UsageError(`The ${store.backend} store already holds state; import into an empty store, or pass --force to overwrite`);
  }
  let pending: BatchOperation[] = [];
  let n = 0;
  let lineNo = 0;
  for await (const line of readline.createInterface({ input, crlfDelay: Infinity })) {
    lineNo++;
    if (line.trim() === '') continue;
    let entry: StateEntry;
    try {
      entry = JSON.parse(line) as StateEntry;
    } catch {
      throw new UsageError(`Line ${lineNo}: not JSON`);
    }
    if (typeof entry?.key !== 'string' || !('value' in entry)) throw new UsageError(`Line ${lineNo}: expected {"key": ..., "value": ...}`);
    pending.push({ type: 'put', key: entry.key, value: entry.value });
    n++;
    if (pending.length >= IMPORT_BATCH) {
      await store.batch(pending);
      pending = [];
    }
  }
  if (pending.length > 0) await store.batch(pending);
  return n;
}

async function withStore<T>(config: PollyConfig, open: StoreOpenOptions, run: (store: Store) => Promise<T>): Promise<T> {
  const store = createStore(config, config.home);
  await store.open(open);
  try {
    return await run(store);
  } finally {
    await store.close();
  }
}

export function registerStateCommand(program: Command): void {
  const state = program.command('state').description("export or import Polly's state (to move between LevelDB and ZooKeeper)");
  state
    .command('export')
    .description('write every state key as JSON lines')
    .option('-c, --config <file>', 'the configuration whose state to read (default /etc/polly/config.yml if present)')
    .option('--from-config <file>', 'same as --config')
    .option('-o, --out <file>', 'output file (default: standard output)')
    .action(async (flags: { config?: string; fromConfig?: string; out?: string }) => {
      const config = loadConfig({ file: flags.fromConfig ?? flags.config });
      // Exporting a store that is not there must leave neither an empty store nor an empty export.
      const n = await withStore(config, { createIfMissing: false }, async (store) => {
        const out = flags.out ? fs.createWriteStream(flags.out, { mode: 0o600 }) : process.stdout;
        const count = await exportState(store, out);
        if (flags.out) await new Promise<void>((resolve, reject) => (out as fs.WriteStream).end((err?: Error | null) => (err ? reject(err) : resolve())));
        return count;
      });
      process.stderr.write(`exported ${n} keys from ${config.state.backend}\n`);
    });
  state
    .command('import <file>')
    .description('load JSON lines written by `polly state export` into the configured store')
    .option('-c, --config <file>', 'the configuration whose state to write (default /etc/polly/config.yml if present)')
    .option('--to-config <file>', 'same as --config')
    .option('--force', 'import even if the store already holds keys (keys in the file overwrite)')
    .action(async (file: string, flags: { config?: string; toConfig?: string; force?: boolean }) => {
      if (!fs.existsSync(file)) throw new UsageError(`No such file: ${file}`);
      const config = loadConfig({ file: flags.toConfig ?? flags.config });
      await withStore(config, {}, async (store) => {
        const n = await importState(store, fs.createReadStream(file), { force: flags.force });
        if (n === 0) throw new UsageError(`${file} holds no state keys: nothing was imported`);
        const imported = await recordImportedInstallation(store, config.home);
        process.stderr.write(`imported ${n} keys into ${config.state.backend} (installation ${imported.installation.id})\n`);
        if (imported.marked) process.stderr.write('the export predates installation markers: the store was marked with this installation ID\n');
        if (imported.previousHomeId) {
          process.stderr.write(`${config.home} named installation ${imported.previousHomeId} before; it now names the imported one\n`);
        }
      });
    });
}
