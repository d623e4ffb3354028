/**
 * Quarantined data over the real API: listed for admin and read tokens (never for schedulers),
 * purged only by an admin naming the exact entry (answered with what was deleted, audited as an
 * event), restored as a managed volume with its data.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { VfsDriver } from '../../../../drivers/vfs/vfs-driver';
import { ApiFixture, makeApiFixture, TOKENS } from '../api-fixture';

let f: ApiFixture;
let root: string;

/**
 * A volume removed through Polly whose directory came back (a removal that died half-way): the
 * next start of the root quarantines it. Returns the quarantined entry's ID.
 */
async function leftover(name: string, content: string): Promise<string> {
  const v = await f.storage.storage.catalog.create({ service: 'local', name, size: 1 });
  await f.storage.storage.catalog.remove(v.id);
  const dir = path.join(root, 'volumes', v.driverVolumeId);
  await fs.mkdir(dir);
  await fs.writeFile(path.join(dir, 'data.txt'), content);
  await f.storage.drivers.get('local')!.close?.();
  const other = new VfsDriver({ root }); // another process starting on the same root
  await other.init();
  const entry = (await other.quarantined()).find((q) => q.originalId === v.driverVolumeId)!;
  return entry.id;
}

beforeEach(async () => {
  f = await makeApiFixture();
  root = f.storage.vfsRoot();
});
afterEach(async () => f.dispose());

describe('/v1 quarantine', () => {
  it('lists entries for admin and read tokens, never for scheduler tokens', async () => {
    const id = await leftover('gone', 'precious');
    for (const token of [TOKENS.admin, TOKENS.read]) {
      const all = await f.call('GET', '/v1/quarantine', { token });
      expect(all.status).toBe(200);
      expect(all.body.quarantine).toEqual([
        expect.objectContaining({
          service: 'local',
          id,
          kind: 'volume',
          originalId: 'vfs-000001',
          reason: 'no volume record in the journal',
        }),
      ]);
      const one = await f.call('GET', '/v1/services/local/quarantine', { token });
      expect(one.body).toEqual({ service: 'local', quarantine: all.body.quarantine });
    }
    expect((await f.call('GET', '/v1/quarantine', { token: TOKENS.marathon })).status).toBe(403);
    expect((await f.call('GET', '/v1/services/local/quarantine', { token: TOKENS.marathon })).status).toBe(403);
    expect((await f.call('GET', '/v1/services/nope/quarantine')).status).toBe(404);
  });

  it('purges only on an admin request naming the entry, answers with what it deleted, and audits it', async () => {
    const id = await leftover('gone', 'precious');
    const keep = await leftover('also-gone', 'keep me');
    const [entry] = (await f.call('GET', '/v1/services/local/quarantine')).body.quarantine.filter((q: { id: string }) => q.id === id);
    for (const token of [TOKENS.read, TOKENS.marathon]) {
      expect((await f.call('DELETE', `/v1/services/local/quarantine/${id}`, { token })).status).toBe(403);
    }
    const unknown = await f.call('DELETE', '/v1/services/local/quarantine/not-there');
    expect(unknown.status).toBe(404);
    expect((await f.call('DELETE', `/v1/services/local/quarantine/${encodeURIComponent('../volumes')}`)).status).toBe(404);
    expect(await fs.readFile(path.join(entry.path, 'data.txt'), 'utf8')).toBe('precious');

    const purged = await f.call('DELETE', `/v1/services/local/quarantine/${id}`);
    expect(purged.status).toBe(200);
    expect(purged.body).toEqual({ purged: entry });
    await expect(fs.stat(entry.path)).rejects.toThrow();
    const left = (await f.call('GET', '/v1/quarantine')).body.quarantine;
    expect(left.map((q: { id: string }) => q.id)).toEqual([keep]);
    const audit = f.journal.since().events.filter((e) => e.type === 'quarantine.purged');
    expect(audit).toEqual([expect.objectContaining({ data: expect.objectContaining({ entry, action: 'purge', by: 'ops' }) })]);
  });

  it('restores an entry as a managed volume with its data; a bad name changes nothing', async () => {
    const id = await leftover('gone', 'precious');
    const bad = await f.call('POST', `/v1/services/local/quarantine/${id}/restore`, { body: { name: '' } });
    expect(bad.status).toBe(400);
    expect((await f.call('POST', `/v1/services/local/quarantine/${id}/restore`, { body: { name: 'x' }, token: TOKENS.read })).status).toBe(
      403,
    );
    const restored = await f.call('POST', `/v1/services/local/quarantine/${id}/restore`, { body: { name: 'rescued' } });
    expect(restored.status).toBe(201);
    expect(restored.body).toMatchObject({ name: 'rescued', service: 'local', managed: true });
    expect(restored.headers.get('location')).toBe(`/v1/volumes/${encodeURIComponent(restored.body.id)}`);
    const dir = path.join(root, 'volumes', restored.body.driverVolumeId);
    expect(await fs.readFile(path.join(dir, 'data.txt'), 'utf8')).toBe('precious');
    expect((await f.call('GET', '/v1/quarantine')).body.quarantine).toEqual([]);
    expect(f.journal.since().events.some((e) => e.type === 'quarantine.restored')).toBe(true);
  });
});
