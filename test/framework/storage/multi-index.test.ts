import { MultiIndex } from '../../../framework/storage/multi-index';

describe('MultiIndex', () => {
  it('files one or many IDs under a key, and forgets a key when its last ID goes', () => {
    const index = new MultiIndex();
    index.add('v1', 'c1');
    index.add('v1', 'c1'); // idempotent
    expect([...index.get('v1')]).toEqual(['c1']);
    expect(index.count('v1')).toBe(1);
    index.add('v1', 'c2');
    index.add('v1', 'c3');
    expect([...index.get('v1')].sort()).toEqual(['c1', 'c2', 'c3']);
    index.remove('v1', 'c2');
    index.remove('v1', 'c1');
    expect([...index.get('v1')]).toEqual(['c3']);
    expect(index.count('v1')).toBe(1);
    index.add('v1', 'c4');
    expect(index.count('v1')).toBe(2);
    index.remove('v1', 'c3');
    index.remove('v1', 'c4');
    expect(index.has('v1')).toBe(false);
    expect([...index.get('v1')]).toEqual([]);
    expect(index.count('v1')).toBe(0);
  });

  it('ignores undefined keys and removals of IDs it does not hold', () => {
    const index = new MultiIndex();
    index.add(undefined, 'c1');
    index.remove(undefined, 'c1');
    index.add('t1', 'c1');
    index.remove('t1', 'other');
    index.remove('t2', 'c1');
    expect([...index.keys()]).toEqual(['t1']);
    index.clear();
    expect([...index.keys()]).toEqual([]);
  });
});
