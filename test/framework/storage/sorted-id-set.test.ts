import fc from 'fast-check';
import { SortedIdSet } from '../../../framework/storage/sorted-id-set';

/** What the set must equal: the model's IDs, sorted, after the cursor. */
function expected(model: Set<string>, after?: string): string[] {
  return [...model].filter((id) => after === undefined || id > after).sort();
}

describe('SortedIdSet', () => {
  it('adds, deletes and lists after a cursor exactly as a sorted Set would (random operations)', () => {
    const id = fc.stringMatching(/^[a-c.%0-9]{0,4}$/);
    const op = fc.oneof(
      fc.record({ kind: fc.constant('add' as const), id }),
      fc.record({ kind: fc.constant('delete' as const), id }),
      fc.record({ kind: fc.constant('after' as const), id: fc.option(id, { nil: undefined }) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 300 }), (ops) => {
        const set = new SortedIdSet();
        const model = new Set<string>();
        for (const o of ops) {
          if (o.kind === 'add') {
            const fresh = !model.has(o.id);
            model.add(o.id);
            expect(set.add(o.id)).toBe(fresh);
          } else if (o.kind === 'delete') expect(set.delete(o.id)).toBe(model.delete(o.id));
          else expect([...set.after(o.id)]).toEqual(expected(model, o.id));
          expect(set.size).toBe(model.size);
        }
        for (const v of model) expect(set.has(v)).toBe(true);
        expect([...set.after()]).toEqual(expected(model));
      }),
    );
  });

  it('stays ordered across many chunk splits and empties, in any insertion order', () => {
    // Deterministic shuffle: thousands of IDs so chunks split (past 1,024) and empty out.
    let seed = 7;
    const random = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const ids = Array.from({ length: 20_000 }, (_, i) => `svc.vol-${i}`);
    const shuffled = [...ids].sort(() => random() - 0.5);
    const set = new SortedIdSet();
    for (const id of shuffled) set.add(id);
    const model = new Set(ids);
    expect([...set.after()]).toEqual(expected(model));
    // Appending in order (the start-up load) and deleting long runs.
    for (let i = 20_000; i < 25_000; i++) {
      set.add(`svc.vol-z${String(i).padStart(6, '0')}`);
      model.add(`svc.vol-z${String(i).padStart(6, '0')}`);
    }
    for (const id of ids.slice(0, 15_000)) {
      set.delete(id);
      model.delete(id);
    }
    expect(set.size).toBe(model.size);
    expect([...set.after()]).toEqual(expected(model));
    for (const cursor of ['', 'svc.vol-5', 'svc.vol-19999', 'svc.vol-z', 'svc.vol-z024999', '~']) {
      expect([...set.after(cursor)]).toEqual(expected(model, cursor));
    }
    set.clear();
    expect(set.size).toBe(0);
    expect([...set.after()]).toEqual([]);
    expect(set.delete('svc.vol-1')).toBe(false);
    expect(set.has('svc.vol-1')).toBe(false);
  });
});
