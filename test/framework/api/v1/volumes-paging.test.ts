/** `/v1/volumes` paging (limit, after → next) and the streamed full list, over real HTTP. */
import { formatVolumeId } from '../../../../framework/storage/volume-id';
import { ApiFixture, makeApiFixture, TOKENS } from '../api-fixture';

interface Listed {
  volumes: Array<{ id: string; schedulers: string[] }>;
  next?: string;
}

describe('/v1/volumes paging', () => {
  let f: ApiFixture;
  beforeAll(async () => {
    f = await makeApiFixture();
    const { catalog } = f.storage.storage;
    // 1,100 volumes: more than one chunk of the streamed list. Every fifth is offered to marathon.
    for (let i = 0; i < 1100; i += 100) {
      await Promise.all(
        Array.from({ length: 100 }, (_, j) =>
          catalog.create({ service: 'local', name: `v-${i + j}`, size: 1, schedulers: (i + j) % 5 === 0 ? ['marathon'] : [] }),
        ),
      );
    }
  });
  afterAll(async () => {
    await f.dispose();
  });

  /** Follows `next` from the first page; every page but the last is full. */
  async function pages(query: string, limit: number, token?: string): Promise<string[]> {
    const seen: string[] = [];
    let after: string | undefined;
    for (let n = 0; n < 2000; n++) {
      const res = await f.call(
        'GET',
        `/v1/volumes?${query}limit=${limit}${after === undefined ? '' : `&after=${encodeURIComponent(after)}`}`,
        {
          token,
        },
      );
      expect(res.status).toBe(200);
      const body = res.body as Listed;
      seen.push(...body.volumes.map((v) => v.id));
      if (body.next === undefined) return seen;
      expect(body.volumes).toHaveLength(limit);
      expect(body.next).toBe(body.volumes[limit - 1].id);
      after = body.next;
    }
    throw new Error('paging did not end');
  }

  it('pages through every volume in ID order, each once; the full list is the same volumes, streamed', async () => {
    const all = await f.call('GET', '/v1/volumes');
    expect(all.status).toBe(200);
    expect(all.headers.get('content-type')).toMatch(/^application\/json/);
    expect(all.headers.get('content-length')).toBeNull(); // written in chunks, not built as one string
    const everything = (all.body as Listed).volumes;
    expect(everything).toHaveLength(1100);
    expect(everything[0]).toEqual(f.storage.storage.catalog.get(everything[0].id));
    const ids = everything.map((v) => v.id).sort();
    expect(await pages('', 250)).toEqual(ids);
    expect(await pages('', 1100)).toEqual(ids);
  });

  it('filters and the scheduler scope apply to pages', async () => {
    const offered = f.storage.storage.catalog
      .list({ scheduler: 'marathon' })
      .map((v) => v.id)
      .sort();
    expect(offered).toHaveLength(220);
    expect(await pages('scheduler=marathon&', 30)).toEqual(offered);
    // A scheduler token sees only what is offered to it, page by page too.
    expect(await pages('', 50, TOKENS.marathon)).toEqual(offered);
    expect(await pages('name=V-17&service=local&', 5)).toEqual([f.storage.storage.catalog.findByName('local', 'v-17')!.id]);
  });

  it('after alone pages with the default size; all=true merges unmanaged volumes into the order', async () => {
    const first = (await f.call('GET', '/v1/volumes?limit=1')).body as Listed;
    const rest = (await f.call('GET', `/v1/volumes?after=${encodeURIComponent(first.next!)}`)).body as Listed;
    expect(rest.volumes).toHaveLength(1000);
    expect(rest.volumes[0].id > first.next!).toBe(true);

    const driver = f.storage.drivers.get('local')!;
    const outside = await driver.volumeCreate('outside', { size: 1 });
    try {
      const withUnmanaged = await pages('all=true&', 400);
      expect(withUnmanaged).toHaveLength(1101);
      expect(withUnmanaged).toEqual([...withUnmanaged].sort());
      expect(withUnmanaged.filter((id) => id === formatVolumeId('local', outside.id))).toHaveLength(1);
    } finally {
      await driver.volumeRemove(outside.id);
    }
  });

  it('bad paging parameters: one 400 naming every problem, alongside the filters', async () => {
    const res = await f.call('GET', '/v1/volumes?limit=0&after=&status=bogus');
    expect(res.status).toBe(400);
    expect(res.body.details.problems.map((p: { field: string }) => p.field).sort()).toEqual(['after', 'limit', 'status']);
    for (const limit of ['10001', 'ten', '-1', '1.5', '']) {
      const bad = await f.call('GET', `/v1/volumes?limit=${limit}`);
      expect(bad.status).toBe(400);
      expect(bad.body.message).toMatch(/limit must be a whole number from 1 to 10000/);
    }
    expect((await f.call('GET', '/v1/volumes?limit=1&limit=2')).status).toBe(400);
  });
});
