/**
 * Shares equal strings (and equal string lists) among the records held in memory. JSON.parse
 * makes a new string for every occurrence longer than 10 characters (shorter ones V8 shares by
 * itself), and a new array for every list: 100,000 loaded volumes hold 100,000 copies of
 * ["marathon", "polly"], 50,000 claims as many copies of their agents' IDs (Mesos agent IDs are
 * ~40 characters). Pooling those fields of loaded records saves their copies.
 *
 * Bounded: once full, new values are returned as they are (still correct, just not shared), so a
 * field of unexpectedly high cardinality cannot grow the pool without limit. The bound leaves room
 * for the agent and instance IDs of 10,000 agents several times over (~5 MiB when full). Strings are immutable
 * and pooled lists are frozen, so sharing is invisible to callers.
 */
export const MAX_POOLED = 100_000;
/** Longer strings are not worth a pool entry (and are unlikely to repeat). */
export const MAX_POOLED_LENGTH = 128;

/** Parsed strings this short are shared by V8 already (its JSON parser internalises them). */
const V8_SHARED_LENGTH = 10;

const EMPTY: readonly string[] = Object.freeze([]);

export class StringPool {
  private readonly strings = new Map<string, string>();
  private readonly lists = new Map<string, readonly string[]>();
  private lastList: readonly string[] | undefined;

  constructor(private readonly max: number = MAX_POOLED) {}

  get size(): number {
    return this.strings.size + this.lists.size;
  }

  /** The pooled string equal to `value` (pooling it if there is room). */
  intern<T extends string | undefined>(value: T): T {
    // V8's JSON.parse already shares (internalises) strings of up to 10 characters: skip the lookup.
    if (value === undefined || value.length <= V8_SHARED_LENGTH || value.length > MAX_POOLED_LENGTH) return value;
    const have = this.strings.get(value);
    if (have !== undefined) return have as T;
    if (this.strings.size < this.max) this.strings.set(value, value);
    return value;
  }

  /** A frozen list equal to `values`, shared with every other equal list (elements pooled too). */
  internList(values: readonly string[]): readonly string[] {
    if (values.length === 0) return EMPTY;
    // Records loaded one after another mostly carry the same list: compared before any key is built.
    const last = this.lastList;
    if (last !== undefined && sameList(last, values)) return last;
    for (const v of values) {
      // A list with a long or NUL-holding element is not pooled (the key must be unambiguous).
      if (v.length > MAX_POOLED_LENGTH || v.includes('\u0000')) return Object.freeze(values.map((s) => this.intern(s)));
    }
    const key = `${values.length}\u0000${values.join('\u0000')}`;
    const have = this.lists.get(key);
    if (have !== undefined) return (this.lastList = have);
    const list = Object.freeze(values.map((s) => this.intern(s)));
    if (this.lists.size < this.max) this.lists.set(key, (this.lastList = list));
    return list;
  }
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * The pool shared by the catalog and the ledger (one process, one set of agents and schedulers:
 * a claim and the attachment it made share their agent and instance IDs).
 */
export const sharedStrings = new StringPool();
