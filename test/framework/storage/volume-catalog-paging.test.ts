import { ValidationError } from '../../../framework/errors';
import { VolumeCatalog, VolumeFilter, VolumePage } from '../../../framework/storage/volume-catalog';
import { Fixture, makeFixture } from './storage-fixture';

/** Every page of `read` from the start, following `next`; fails on a page past `max`. */
async function allPages(read: (after?: string) => VolumePage | Promise<VolumePage>, max = 100): Promise<VolumePage[]> {
  const pages: VolumePage[] = [];
  let after: string | undefined;
  do {
    const page = await read(after);
    pages.push(page);
    after = page.next;
    expect(pages.length).toBeLessThan(max);
  } while (after !== undefined);
  return pages;
}

const ids = (pages: VolumePage[]): string[] => pages.flatMap((p) => p.volumes.map((v) => v.id));
const sorted = (list: string[]): string[] => [...list].sort();

describe('VolumeCatalog paging', () => {
  let fx: Fixture;
  let catalog: VolumeCatalog;

  beforeAll(async () => {
    fx = await makeFixture();
    catalog = fx.storage.catalog;
    // 60 volumes: every one offered to `polly`, a few to `rare`; three zones and some zoneless; labels on every third.
    await Promise.all(
      Array.from({ length: 60 }, (_, i) =>
        catalog.create({
          service: 'local',
          name: `vol-${i}`,
          size: 1,
          schedulers: i % 20 === 3 ? ['polly', 'rare'] : ['polly'],
          ...(i % 4 === 0 ? {} : { availabilityZone: `zone-${i % 3}` }),
          ...(i % 3 === 0 ? { labels: { tier: 'gold' } } : {}),
        }),
      ),
    );
  });

  afterAll(async () => {
    await fx.dispose();
  });

  const filters: Array<[string, VolumeFilter]> = [
    ['no filter', {}],
    ['a broad scheduler (walks the ID order)', { scheduler: 'polly' }],
    ['a rare scheduler (sorts its few candidates)', { scheduler: 'rare' }],
    ['a zone', { zone: 'zone-1' }],
    ['a label (no index)', { labels: { tier: 'gold' } }],
    ['a name', { service: 'local', name: 'VOL-7' }],
    ['nothing matches', { scheduler: 'nobody' }],
  ];

  test.each(filters)('pages of %s hold exactly list(filter), in ID order, each volume once', async (_, filter) => {
    const expected = sorted(catalog.list(filter).map((v) => v.id));
    for (const limit of [1, 2, 7, 60, 100]) {
      const pages = await allPages((after) => catalog.page(filter, after === undefined ? { limit } : { limit, after }));
      expect(ids(pages)).toEqual(expected);
      for (const page of pages.slice(0, -1)) {
        expect(page.volumes).toHaveLength(limit);
        expect(page.next).toBe(page.volumes[limit - 1].id);
      }
      expect(pages[pages.length - 1].next).toBeUndefined();
    }
  });

  test('a page starts after its cursor even when the cursor volume is gone, and sees volumes created ahead of it', async () => {
    const first = catalog.page({}, { limit: 10 });
    const cursor = first.next!;
    await catalog.remove(cursor);
    const late = await catalog.create({ service: 'local', name: 'late-comer', size: 1 });
    const rest = await allPages((after) => catalog.page({}, { limit: 10, after: after ?? cursor }));
    const seen = [...ids([first]), ...ids(rest)];
    expect(new Set(seen).size).toBe(seen.length);
    expect(ids(rest).every((id) => id > cursor)).toBe(true);
    expect(seen.includes(late.id)).toBe(late.id > cursor);
    await catalog.remove(late.id);
  });

  test('pageAll merges the unmanaged volumes of the backend into the ID order', async () => {
    const driver = fx.drivers.get('local')!;
    const outside = await Promise.all(['outside-a', 'outside-b', 'outside-c'].map((name) => driver.volumeCreate(name, { size: 1 })));
    try {
      const expected = sorted((await catalog.listAll()).map((v) => v.id));
      expect(expected).toHaveLength(catalog.size + 3);
      for (const limit of [1, 4, 100]) {
        const pages = await allPages((after) => catalog.pageAll({}, after === undefined ? { limit } : { limit, after }));
        expect(ids(pages)).toEqual(expected);
      }
      // A scheduler or label filter never includes unmanaged volumes (they are offered to nobody).
      expect(ids(await allPages((after) => catalog.pageAll({ scheduler: 'polly' }, { limit: 25, ...(after ? { after } : {}) })))).toEqual(
        sorted(catalog.list({ scheduler: 'polly' }).map((v) => v.id)),
      );
    } finally {
      for (const dv of outside) await driver.volumeRemove(dv.id);
    }
  });

  test('a bad page request is refused naming every problem', () => {
    let err: unknown;
    try {
      catalog.page({}, { limit: 0, after: '' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as ValidationError).details?.problems).toEqual([
      { field: 'limit', message: expect.stringMatching(/limit must be a whole number from 1 to 10000/) },
      { field: 'after', message: expect.stringMatching(/after must be/) },
    ]);
    expect(() => catalog.page({}, { limit: 10_001 })).toThrow(ValidationError);
    expect(() => catalog.page({}, { limit: 1.5 })).toThrow(ValidationError);
  });
});
