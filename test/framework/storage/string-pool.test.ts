import { MAX_POOLED_LENGTH, StringPool } from '../../../framework/storage/string-pool';

/** A string equal to `s` but built at run time (not the literal's interned copy). */
const copy = (s: string): string => JSON.parse(JSON.stringify(`${s}#`)).slice(0, -1) as string;

describe('StringPool', () => {
  test('intern returns the first string seen for every equal one; undefined passes through', () => {
    const pool = new StringPool();
    const first = copy('agent-0001-of-a-long-id');
    expect(pool.intern(first)).toBe(first);
    const again = copy('agent-0001-of-a-long-id');
    expect(pool.intern(again)).toBe(first);
    expect(pool.intern(undefined)).toBeUndefined();
  });

  test('is bounded: once full, new strings come back as they are', () => {
    const pool = new StringPool(2);
    const [a, b, c] = ['agent-aaaaaaaa', 'agent-bbbbbbbb', 'agent-cccccccc'];
    pool.intern(a);
    pool.intern(b);
    expect(pool.size).toBe(2);
    const c2 = copy(c);
    expect(pool.intern(c2)).toBe(c2);
    expect(pool.size).toBe(2);
    expect(pool.intern(copy(a))).toBe(a);
  });

  test('leaves strings V8 already shares (10 characters or fewer) out of the pool', () => {
    const pool = new StringPool();
    expect(pool.intern('attached')).toBe('attached');
    expect(pool.size).toBe(0);
  });

  test('does not pool long strings', () => {
    const pool = new StringPool();
    pool.intern('x'.repeat(MAX_POOLED_LENGTH + 1));
    expect(pool.size).toBe(0);
  });

  test('internList shares one frozen list per distinct content, never mixing different lists', () => {
    const pool = new StringPool();
    const one = pool.internList(['marathon', 'polly']);
    expect(Object.isFrozen(one)).toBe(true);
    expect(pool.internList([copy('marathon'), copy('polly')])).toBe(one);
    const other = pool.internList(['polly', 'marathon']);
    expect(other).not.toBe(one);
    expect(other).toEqual(['polly', 'marathon']);
    // Ambiguous joins stay distinct.
    expect(pool.internList([''])).toEqual(['']);
    expect(pool.internList(['', ''])).toEqual(['', '']);
    expect(pool.internList(['a\u0000b'])).toEqual(['a\u0000b']);
    expect(pool.internList(['a', 'b'])).toEqual(['a', 'b']);
    expect(pool.internList([])).toEqual([]);
    // The list handed in is not the one kept: changing it later changes nothing pooled.
    const input = ['x', 'y'];
    const pooled = pool.internList(input);
    input.push('z');
    expect(pool.internList(['x', 'y'])).toBe(pooled);
    expect(pooled).toEqual(['x', 'y']);
  });
});
