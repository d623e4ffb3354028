/**
 * `polly state export [--config FILE] [--out FILE]` and `polly state import FILE [--config FILE]
 * [--force]`: back up and restore an installation — the store (every key, the installation marker
 * included) and each vfs root's metadata (its journal, as one checkpoint) — or move the store
 * between backends (LevelDB ↔ ZooKeeper). Volume data is not in the export: the README's "Backup
 * and restore" says how to back it up and in which order. Polly should be stopped while exporting
 * or importing (LevelDB refuses a second process anyway).
 *
 * Export never creates a store, and writes its file only whole (a temporary file renamed at the
 * end). Import checks everything first and reports every problem at once, changing nothing
 * (framework/storage/backup/installation-import.ts); it records the imported installation in the
 * home marker, so the next `polly start` opens it.
 */
import fs from 'node:fs';
import type { Command } from 'commander';
import { loadConfig } from '../config/config-loader';
import type { PollyConfig } from '../config/config-schema';
import { RestoreRefusedError } from '../errors/restore-refused-error';
import { ValidationError } from '../errors/validation-error';
import { createStore } from '../state/create-store';
import type { Store } from '../state/store';
import { exportInstallation } from '../storage/backup/installation-export';
import { importInstallation } from '../storage/backup/installation-import';
import { driverFactory } from '../storage/driver-factory';
import { ServiceRegistry } from '../storage/service-registry';
import { UsageError } from './cli-errors';
import { reportProblems } from './config-check';

function registryOf(config: PollyConfig, store: Store): ServiceRegistry {
  return new ServiceRegistry({ services: config.services, home: config.home, store, createDriver: driverFactory() });
}

/** Writes `out` whole or not at all: a temporary file beside it, renamed at the end. */
async function writeWhole<T>(out: string, write: (stream: NodeJS.WritableStream) => Promise<T>): Promise<T> {
  const temp = `${out}.${process.pid}.tmp`;
  const stream = fs.createWriteStream(temp, { mode: 0o600 });
  try {
    const result = await write(stream);
    await new Promise<void>((resolve, reject) => stream.end((err?: Error | null) => (err ? reject(err) : resolve())));
    fs.renameSync(temp, out);
    return result;
  } catch (err) {
    stream.destroy();
    fs.rmSync(temp, { force: true });
    throw err;
  }
}

export function registerStateCommand(program: Command): void {
  const state = program
    .command('state')
    .description("back up and restore Polly's state and vfs metadata, or move the store between LevelDB and ZooKeeper");
  state
    .command('export')
    .description("write the store's keys and each vfs root's metadata as JSON lines (not the volumes' data)")
    .option('-c, --config <file>', 'the configuration whose state to read (default /etc/polly/config.yml if present)')
    .option('--from-config <file>', 'same as --config')
    .option('-o, --out <file>', 'output file (default: standard output)')
    .action(async (flags: { config?: string; fromConfig?: string; out?: string }) => {
      const config = loadConfig({ file: flags.fromConfig ?? flags.config });
      const store = createStore(config, config.home);
      // Exporting a store that is not there must leave neither an empty store nor an empty export.
      await store.open({ createIfMissing: false });
      try {
        const registry = registryOf(config, store);
        const run = (out: NodeJS.WritableStream) => exportInstallation({ store, registry, out });
        const done = flags.out ? await writeWhole(flags.out, run) : await run(process.stdout);
        process.stderr.write(`exported ${done.keys} keys from ${config.state.backend}\n`);
        for (const b of done.backends) {
          process.stderr.write(`exported the metadata of service ${b.service} (${b.location}: sequence ${b.sequence}, ${b.volumes} volumes)\n`);
        }
        for (const name of done.empty) process.stderr.write(`service ${name} has no metadata yet: nothing to export for it\n`);
        process.stderr.write("the volumes' data is not in the export: back it up now (see the README, \"Backup and restore\")\n");
      } finally {
        await store.close();
      }
    });
  state
    .command('import <file>')
    .description('restore what `polly state export` wrote: the store, then each vfs root\'s metadata (checked first; nothing changes when refused)')
    .option('-c, --config <file>', 'the configuration whose state to write (default /etc/polly/config.yml if present)')
    .option('--to-config <file>', 'same as --config')
    .option('--force', 'import even if the store holds keys (the export\'s overwrite) or a vfs root has metadata (moved aside, never deleted)')
    .action(async (file: string, flags: { config?: string; toConfig?: string; force?: boolean }) => {
      if (!fs.existsSync(file)) throw new UsageError(`No such file: ${file}`);
      const config = loadConfig({ file: flags.toConfig ?? flags.config });
      const store = createStore(config, config.home);
      let done;
      try {
        done = await importInstallation({ store, registry: registryOf(config, store), file, home: config.home, force: flags.force === true });
      } catch (err) {
        if (err instanceof RestoreRefusedError) {
          reportProblems(['the import was refused; nothing was changed:', ...err.problems]);
          process.exitCode = 1;
          return;
        }
        if (err instanceof ValidationError) throw new UsageError(`${file}: ${err.message}`);
        throw err;
      }
      const { installation } = done;
      process.stderr.write(`imported ${done.keys} keys into ${config.state.backend} (installation ${installation.installation.id})\n`);
      for (const b of done.backends) {
        if (b.kept) {
          process.stderr.write(`service ${b.service}: ${b.location} is as new as the export or newer (sequence ${b.sequence} or later): kept as it is\n`);
          continue;
        }
        process.stderr.write(`restored the metadata of service ${b.service} into ${b.location} (sequence ${b.sequence}, ${b.volumes} volumes)\n`);
        if (b.replacedTo) process.stderr.write(`  the metadata that was there was moved to ${b.replacedTo}\n`);
      }
      for (const name of done.notInExport) {
        process.stderr.write(`the export holds no metadata for service ${name}: its backend keeps its own (polly start checks it against the store)\n`);
      }
      if (installation.marked) process.stderr.write('the export predates installation markers: the store was marked with this installation ID\n');
      if (installation.previousHomeId) {
        process.stderr.write(`${config.home} named installation ${installation.previousHomeId} before; it now names the imported one\n`);
      }
    });
}
