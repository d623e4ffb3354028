/**
 * Growing a volume over the real API and the real `polly` binary: `POST /v1/volumes/:id/expand
 * {size}` (admin only) grows it in the catalog and the vfs journal, audited as `volume.audit`; the
 * same size again is a no-op; a bad body is one 400 naming every problem; shrinking and sizes past
 * the profile are 400; an unknown volume 404; nothing changes on any refusal. `polly volume expand
 * VOLUME --size GIB` does the same with a one-line error and a non-zero exit on bad input.
 */
import { runCli } from '../../cli/run-cli';
import { storeKeys } from '../../storage/storage-fixture';
import { ApiFixture, makeApiFixture, TOKENS } from '../api-fixture';

let f: ApiFixture;

beforeEach(async () => {
  f = await makeApiFixture();
});
afterEach(async () => f.dispose());

const backendSize = async (driverVolumeId: string): Promise<number> =>
  (await f.storage.drivers.get('local')!.volumeInspect(driverVolumeId)).size;

/** What a refusal must leave as it was: every store key, the record and the backend's size. */
async function state(id: string, driverVolumeId: string): Promise<unknown> {
  return { keys: await storeKeys(f.storage.store), record: f.storage.storage.catalog.get(id), size: await backendSize(driverVolumeId) };
}

it('grows the volume for an admin, audits it, and answers the same size again as a no-op', async () => {
  const v = await f.storage.storage.catalog.create({ service: 'local', name: 'grow', size: 2, scheduler: 'marathon' });
  const path = `/v1/volumes/${encodeURIComponent(v.id)}/expand`;
  const done = await f.call('POST', path, { body: { size: 6 } });
  expect(done.status).toBe(200);
  expect(done.body).toMatchObject({ expanded: true, volume: { id: v.id, size: 6 } });
  expect((await f.call('GET', `/v1/volumes/${encodeURIComponent(v.id)}`)).body.size).toBe(6);
  expect(await backendSize(v.driverVolumeId)).toBe(6);
  expect(f.journal.since().events.filter((e) => e.type === 'volume.audit')).toEqual([
    expect.objectContaining({ data: expect.objectContaining({ action: 'expand', fromSize: 2, toSize: 6, by: 'ops' }) }),
  ]);
  expect(f.journal.since().events.some((e) => e.type === 'volume.updated')).toBe(true);

  const before = await state(v.id, v.driverVolumeId);
  const again = await f.call('POST', path, { body: { size: 6 } });
  expect(again.status).toBe(200);
  expect(again.body).toMatchObject({ expanded: false, volume: { id: v.id, size: 6 } });
  expect(await state(v.id, v.driverVolumeId)).toEqual(before);
});

it('refuses bad input naming every problem, shrinking, sizes past the profile, unknown volumes and non-admins, with nothing changed', async () => {
  const v = await f.storage.storage.catalog.create({ service: 'local', name: 'bounded', size: 4, profile: 'small', scheduler: 'marathon' });
  const path = `/v1/volumes/${encodeURIComponent(v.id)}/expand`;
  const before = await state(v.id, v.driverVolumeId);

  const bad = await f.call('POST', path, { body: { size: 'big', sise: 5, extra: true } });
  expect(bad.status).toBe(400);
  expect(bad.body.message).toMatch(/size must be an integer/);
  expect(bad.body.message).toMatch(/sise is not a known field/);
  expect(bad.body.message).toMatch(/extra is not a known field/);
  expect(bad.body.details.problems.map((p: { field: string }) => p.field).sort()).toEqual(['extra', 'sise', 'size']);

  const missing = await f.call('POST', path, { body: {} });
  expect(missing.status).toBe(400);
  expect(missing.body.message).toMatch(/size is required/);
  for (const body of [{ size: 0 }, { size: 2.5 }, { size: 70000 }, ['size', 5]]) {
    expect((await f.call('POST', path, { body })).status).toBe(400);
  }
  expect((await f.call('POST', path, { raw: '{"size":' })).status).toBe(400);

  const shrink = await f.call('POST', path, { body: { size: 2 } });
  expect(shrink.status).toBe(400);
  expect(shrink.body.message).toMatch(/cannot shrink to 2 GiB/);
  const tooBig = await f.call('POST', path, { body: { size: 11 } });
  expect(tooBig.status).toBe(400);
  expect(tooBig.body.message).toMatch(/profile "small" of service "local" allows \(at most 10 GiB\)/);

  expect((await f.call('POST', '/v1/volumes/local.vfs-009999/expand', { body: { size: 5 } })).status).toBe(404);
  for (const token of [TOKENS.read, TOKENS.marathon]) {
    expect((await f.call('POST', path, { token, body: { size: 5 } })).status).toBe(403);
  }
  expect(await state(v.id, v.driverVolumeId)).toEqual(before);
  expect(f.journal.since().events.filter((e) => e.type === 'volume.audit')).toEqual([]);
});

it('a backend that cannot grow volumes is 501 with nothing changed', async () => {
  await f.dispose();
  f = await makeApiFixture({
    storage: {
      wrap: (driver) =>
        new Proxy(driver, {
          get: (target, prop, receiver) => (prop === 'volumeExpand' ? undefined : (Reflect.get(target, prop, receiver) as unknown)),
        }),
    },
  });
  const v = await f.storage.storage.catalog.create({ service: 'local', name: 'fixed', size: 2 });
  const before = await state(v.id, v.driverVolumeId);
  const res = await f.call('POST', `/v1/volumes/${encodeURIComponent(v.id)}/expand`, { body: { size: 3 } });
  expect(res.status).toBe(501);
  expect(res.body.message).toMatch(/cannot grow volumes/);
  expect(await state(v.id, v.driverVolumeId)).toEqual(before);
});

it('polly volume expand VOLUME --size GIB: by ID or name; one-line errors and a non-zero exit on bad input', async () => {
  const v = await f.storage.storage.catalog.create({ service: 'local', name: 'cli-vol', size: 1 });
  const env = { POLLY_API: f.url, POLLY_TOKEN: TOKENS.admin };
  const before = await state(v.id, v.driverVolumeId);
  // A missing option is commander's usage error (with its "run polly --help" hint), exit 2.
  const noSize = await runCli(['volume', 'expand', v.id], env);
  expect(noSize.code).toBe(2);
  expect(noSize.stderr).toMatch(/required option '--size <GiB>'/);
  for (const args of [
    ['volume', 'expand', v.id, '--size', 'ten'],
    ['volume', 'expand', v.id, '--size', '0'],
  ]) {
    const r = await runCli(args, env);
    expect({ args, code: r.code }).toEqual({ args, code: 2 });
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  }
  const shrink = await runCli(['volume', 'expand', 'cli-vol', '--size', '3'], env);
  expect(shrink.code).toBe(0);
  expect(shrink.stdout).toBe(`expanded ${v.id} to 3 GiB\n`);
  const down = await runCli(['volume', 'expand', 'cli-vol', '--size', '2'], env);
  expect(down.code).toBe(1);
  expect(down.stderr.trim().split('\n')).toHaveLength(1);
  expect(down.stderr).toMatch(/cannot shrink/);
  const unknown = await runCli(['volume', 'expand', 'no-such-volume', '--size', '5'], env);
  expect(unknown.code).toBe(1);
  expect(unknown.stderr.trim().split('\n')).toHaveLength(1);
  const same = await runCli(['volume', 'expand', v.id, '--size', '3', '-o', 'json'], env);
  expect(same.code).toBe(0);
  expect(JSON.parse(same.stdout)).toMatchObject({ expanded: false, volume: { id: v.id, size: 3 } });
  expect(before).not.toEqual(await state(v.id, v.driverVolumeId)); // it did grow once, to 3
  expect(f.storage.storage.catalog.get(v.id).size).toBe(3);
}, 60_000);
