import { byId, decodePageToken, encodePageToken, page } from '../../../../../framework/api/csi/controller/page-token';
import { AbortedError } from '../../../../../framework/errors/aborted-error';

const ids = ['local.vfs-000001', 'local.vfs-000002', 'local.vfs-000003', 'local.vfs-000004', 'local.vfs-000005'];

describe('page tokens', () => {
  it('round-trip any ID', () => {
    for (const id of [...ids, 'ü.%41', 'x']) expect(decodePageToken(encodePageToken(id))).toBe(id);
    expect(decodePageToken('')).toBeUndefined();
  });

  it.each(['invalid-token', 'p1.', 'p1.!!', 'p2.bG9jYWw', 'p1.bG9jYWw=', ' p1.bG9jYWw'])('refuse %j with ABORTED', (token) => {
    expect(() => decodePageToken(token)).toThrow(AbortedError);
  });

  it('pages through in order, and the last page has no next token', () => {
    const seen: string[] = [];
    let token = '';
    let pages = 0;
    do {
      const { items, next } = page(ids, (x) => x, 2, token);
      expect(items.length).toBeLessThanOrEqual(2);
      seen.push(...items);
      token = next;
      pages++;
    } while (token !== '');
    expect(seen).toEqual(ids);
    expect(pages).toBe(3);
    expect(page(ids, (x) => x, 0, '')).toEqual({ items: ids, next: '' });
    expect(page(ids, (x) => x, 5, '')).toEqual({ items: ids, next: '' });
  });

  it('continues after the token even when that entry was deleted meanwhile', () => {
    const token = encodePageToken('local.vfs-000002');
    const without = ids.filter((x) => x !== 'local.vfs-000002');
    expect(page(without, (x) => x, 10, token).items).toEqual(ids.slice(2));
  });

  it('refuses a negative max_entries', () => {
    expect(() => page(ids, (x) => x, -1, '')).toThrow('max_entries must not be negative');
  });

  it('sorts byte-wise', () => {
    expect(['b', 'B', 'a'].sort(byId((x) => x))).toEqual(['B', 'a', 'b']);
  });
});
