/**
 * `importInstallation` refuses an export it cannot restore as it is — a service that is not
 * configured or has another driver, metadata given twice or damaged, a malformed line — naming
 * every problem, creating no store and touching no root.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ValidationError } from '../../../../framework/errors/validation-error';
import { RestoreRefusedError } from '../../../../framework/errors/restore-refused-error';
import { LevelStore } from '../../../../framework/state/level-store';
import { exportInstallation } from '../../../../framework/storage/backup/installation-export';
import { importInstallation } from '../../../../framework/storage/backup/installation-import';
import { driverFactory } from '../../../../framework/storage/driver-factory';
import { ServiceInput, ServiceRegistry } from '../../../../framework/storage/service-registry';
import { makeFixture } from '../storage-fixture';

let dir: string;
let file: string;

beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'polly-import-'));
  file = path.join(dir, 'export.jsonl');
  const fx = await makeFixture({ dir: path.join(dir, 'source') });
  await fx.storage.catalog.create({ service: 'local', name: 'kept', size: 1 });
  const out = (await fs.open(file, 'w')).createWriteStream();
  const done = await exportInstallation({ store: fx.store, registry: fx.registry, out });
  await new Promise<void>((resolve) => out.end(() => resolve()));
  expect(done.backends).toEqual([expect.objectContaining({ service: 'local', volumes: 1 })]);
  await fx.dispose().catch(() => undefined);
});
afterEach(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

/** Imports `text` (the export, edited) with `services` configured under a fresh home; returns the refusal. */
async function refused(services: ServiceInput[], text?: string): Promise<unknown> {
  const home = path.join(dir, 'target');
  const source = text === undefined ? file : path.join(dir, 'edited.jsonl');
  if (text !== undefined) await fs.writeFile(source, text);
  const store = new LevelStore(path.join(home, 'state'));
  const registry = new ServiceRegistry({ services, home, store, createDriver: driverFactory({ durable: false }) });
  const err = await importInstallation({ store, registry, file: source, home }).then(
    () => undefined,
    (e: unknown) => e,
  );
  // Nothing was created: no store, no root, no home marker.
  await expect(fs.stat(home)).rejects.toThrow();
  return err;
}

const vfsLocal: ServiceInput = { name: 'local', driver: 'vfs' };

test('a service in the export that is not configured, or configured with another driver, is refused', async () => {
  const none = await refused([]);
  expect(none).toBeInstanceOf(RestoreRefusedError);
  expect((none as RestoreRefusedError).problems).toEqual([expect.stringMatching(/Service "local" is in the export but not configured/)]);

  const libstorage = await refused([
    {
      name: 'local',
      driver: 'libstorage',
      mapping: 'dockerVolume',
      dockerVolumeDriver: 'rexray',
      libstorage: { host: 'tcp://127.0.0.1:1', service: 'x', timeoutMs: 1000 },
    },
  ]);
  expect((libstorage as RestoreRefusedError).problems).toEqual([
    expect.stringMatching(/configured with driver libstorage; the export holds vfs metadata for it/),
  ]);
});

test('metadata given twice, damaged metadata and a root without the data are all reported at once', async () => {
  const lines = (await fs.readFile(file, 'utf8')).trim().split('\n');
  const backend = JSON.parse(lines[lines.length - 1]);
  const damaged = structuredClone(backend);
  damaged.backendMetadata.service = 'second';
  damaged.backendMetadata.metadata.data.checkpoint.volumes = 'not a list';
  const err = await refused(
    [vfsLocal, { name: 'second', driver: 'vfs' }],
    [...lines, lines[lines.length - 1], JSON.stringify(damaged)].join('\n'),
  );
  expect((err as RestoreRefusedError).problems).toEqual([
    expect.stringMatching(/Service "local" has its metadata twice/),
    expect.stringMatching(/Service "second": the exported metadata is unreadable: damaged vfs metadata/),
    expect.stringMatching(/Service "local": vfs root .* lacks the data of 1 volume or snapshot the export lists \(vfs-000001\)/),
  ]);
});

test('a malformed line is bad input naming the line', async () => {
  const lines = (await fs.readFile(file, 'utf8')).trim().split('\n');
  lines.splice(2, 0, '{"neither": 1}');
  const err = await refused([vfsLocal], lines.join('\n'));
  expect(err).toBeInstanceOf(ValidationError);
  expect((err as Error).message).toMatch(/^Line 3: expected/);
});
