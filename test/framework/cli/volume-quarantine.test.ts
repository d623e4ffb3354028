/**
 * The real `polly` binary and quarantined data: `volume quarantine ls` shows it, `volume purge`
 * deletes exactly one entry and only with --yes and an admin token, `volume quarantine restore`
 * makes it a volume again.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { VfsDriver } from '../../../drivers/vfs/vfs-driver';
import { ApiFixture, makeApiFixture, TOKENS } from '../api/api-fixture';
import { runCli } from './run-cli';

let f: ApiFixture;
let env: Record<string, string>;

/** A removal whose directory came back, quarantined by the next start of the root; its entry ID. */
async function leftover(name: string): Promise<string> {
  const { catalog } = f.storage.storage;
  const v = await catalog.create({ service: 'local', name, size: 1 });
  await catalog.remove(v.id);
  const dir = path.join(f.storage.vfsRoot(), 'volumes', v.driverVolumeId);
  await fs.mkdir(dir);
  await fs.writeFile(path.join(dir, 'data.txt'), `${name} data`);
  await f.storage.drivers.get('local')!.close?.();
  const other = new VfsDriver({ root: f.storage.vfsRoot() });
  await other.init();
  return (await other.quarantined()).find((q) => q.originalId === v.driverVolumeId)!.id;
}

beforeEach(async () => {
  f = await makeApiFixture();
  env = { POLLY_API: f.url, POLLY_TOKEN: TOKENS.admin };
});
afterEach(async () => f.dispose());

it('volume quarantine ls, purge (only with --yes, only as admin) and restore', async () => {
  let r = await runCli(['volume', 'quarantine', 'ls'], env);
  expect(r).toEqual({ code: 0, stdout: 'SERVICE  ID  KIND  WAS  SINCE  REASON  PATH\n', stderr: '' });
  const purgeMe = await leftover('purge-me');
  const keepMe = await leftover('keep-me');

  r = await runCli(['volume', 'quarantine', 'ls', '--service', 'local'], env);
  expect(r.code).toBe(0);
  const lines = r.stdout.trimEnd().split('\n');
  expect(lines[0].split(/\s{2,}/)).toEqual(['SERVICE', 'ID', 'KIND', 'WAS', 'SINCE', 'REASON', 'PATH']);
  expect(lines.slice(1).map((l) => l.split(/\s{2,}/).slice(0, 4))).toEqual([
    ['local', purgeMe, 'volume', 'vfs-000001'],
    ['local', keepMe, 'volume', 'vfs-000002'],
  ]);
  const entries = JSON.parse((await runCli(['volume', 'quarantine', 'ls', '-o', 'json'], env)).stdout) as Array<{
    id: string;
    path: string;
  }>;
  const target = entries.find((e) => e.id === purgeMe)!;

  // Without --yes: a usage error, nothing deleted.
  r = await runCli(['volume', 'purge', 'local', purgeMe], env);
  expect(r.code).toBe(2);
  expect(r.stderr).toBe(
    `polly: polly volume purge deletes quarantined entry ${purgeMe} of service local and all its data for good: add --yes to confirm\n`,
  );
  // A read token may not.
  r = await runCli(['volume', 'purge', 'local', purgeMe, '--yes'], { ...env, POLLY_TOKEN: TOKENS.read });
  expect(r.code).toBe(1);
  expect(r.stderr).toMatch(/^polly: Token "viewer" is read-only/);
  expect(await fs.readFile(path.join(target.path, 'data.txt'), 'utf8')).toBe('purge-me data');

  r = await runCli(['volume', 'purge', 'local', purgeMe, '--yes'], env);
  expect(r).toEqual({ code: 0, stdout: `purged local/${purgeMe}: deleted ${target.path}\n`, stderr: '' });
  await expect(fs.stat(target.path)).rejects.toThrow();

  r = await runCli(['volume', 'quarantine', 'restore', 'local', keepMe, 'kept', '-o', 'json'], env);
  expect(r.code).toBe(0);
  const v = JSON.parse(r.stdout) as { name: string; driverVolumeId: string; managed: boolean };
  expect(v).toMatchObject({ name: 'kept', managed: true });
  expect(await fs.readFile(path.join(f.storage.vfsRoot(), 'volumes', v.driverVolumeId, 'data.txt'), 'utf8')).toBe('keep-me data');
  expect(JSON.parse((await runCli(['volume', 'quarantine', 'ls', '-o', 'json'], env)).stdout)).toEqual([]);
});
