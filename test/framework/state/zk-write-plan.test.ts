/**
 * Deciding a ZooKeeper store write on known znode states (planWrite), and the bounded memory of
 * those states (KnownNodes).
 */
import { KnownNodes } from '../../../framework/state/zookeeper/known-nodes';
import { ABSENT, KnownNode } from '../../../framework/state/zookeeper/node-header';
import { planWrite } from '../../../framework/state/zookeeper/zk-write-plan';
import type { BatchOperation } from '../../../framework/state/store';

const raw = (v: unknown): Buffer => Buffer.from(JSON.stringify(v));

function plan(operations: BatchOperation[], known: Record<string, KnownNode>): ReturnType<typeof planWrite> {
  const encoded = operations.map((op) => (op.type === 'put' ? raw(op.value) : undefined));
  return planWrite(operations, encoded, (key) => known[key] ?? ABSENT);
}

describe('planWrite', () => {
  const key3: KnownNode = { zkVersion: 7, numChildren: 0, version: 3 };

  it('a put on an existing key becomes version + 1, on the znode version it was decided on', () => {
    const p = plan([{ type: 'put', key: 'k/a', value: 1 }], { 'k/a': key3 });
    expect(p).toMatchObject({
      outcome: 'write',
      lastVersion: 4,
      unverified: [],
      targets: [{ key: 'k/a', kind: 'put', version: 4, known: key3 }],
    });
  });

  it('a compare-and-set that does not hold is a conflict naming the key and both versions', () => {
    const p = plan([{ type: 'put', key: 'k/a', value: 1, expectVersion: 2 }], { 'k/a': key3 });
    expect(p.outcome).toBe('conflict');
    expect(p.outcome === 'conflict' && p.error).toMatchObject({ key: 'k/a', expectedVersion: 2, actualVersion: 3 });
  });

  it('operations on one key see each other, in order', () => {
    const p = plan(
      [
        { type: 'put', key: 'k/a', value: 1, expectVersion: 3 },
        { type: 'put', key: 'k/a', value: 2, expectVersion: 4 },
        { type: 'del', key: 'k/a', expectVersion: 5 },
      ],
      { 'k/a': key3 },
    );
    expect(p).toMatchObject({ outcome: 'write', lastVersion: 0, targets: [{ key: 'k/a', kind: 'delete' }] });
    expect(p.outcome === 'write' && p.changes.map((c) => c.version)).toEqual([4, 5, 0]);
  });

  it('deleting a key that is not there commits nothing and leaves the decision unverified', () => {
    expect(plan([{ type: 'del', key: 'k/none' }], {})).toEqual({
      outcome: 'write',
      targets: [],
      changes: [],
      lastVersion: 0,
      unverified: ['k/none'],
    });
  });

  it('a delete of nothing beside a put: only the put commits, the delete is unverified', () => {
    const p = plan(
      [
        { type: 'put', key: 'k/a', value: 1 },
        { type: 'del', key: 'k/none' },
      ],
      {},
    );
    expect(p).toMatchObject({
      outcome: 'write',
      unverified: ['k/none'],
      targets: [{ key: 'k/a', kind: 'put', version: 1, known: ABSENT }],
    });
  });

  it('an expected absence that changes nothing is still checked by the multi', () => {
    const p = plan(
      [
        { type: 'put', key: 'k/a', value: 1 },
        { type: 'del', key: 'k/none', expectVersion: 0 },
      ],
      {},
    );
    expect(p).toMatchObject({
      unverified: [],
      targets: [
        { key: 'k/a', kind: 'put' },
        { key: 'k/none', kind: 'assertAbsent' },
      ],
    });
  });

  it('a parent-only znode is not a key: a put makes version 1 on its znode version', () => {
    const parent: KnownNode = { zkVersion: 2, numChildren: 3, version: 0 };
    expect(plan([{ type: 'put', key: 'k', value: 1, expectVersion: 0 }], { k: parent })).toMatchObject({
      targets: [{ key: 'k', kind: 'put', version: 1, known: parent }],
    });
  });
});

describe('KnownNodes', () => {
  it('forgets the least recently used entry beyond its capacity', () => {
    const known = new KnownNodes(2);
    const node = (v: number): KnownNode => ({ zkVersion: v, numChildren: 0, version: v });
    known.set('a', node(1));
    known.set('b', node(2));
    expect(known.get('a')).toEqual(node(1)); // a is now the most recent
    known.set('c', node(3));
    expect(known.get('b')).toBeUndefined();
    expect(known.get('a')).toEqual(node(1));
    expect(known.get('c')).toEqual(node(3));
    expect(known.size).toBe(2);
    known.forget('a');
    expect(known.get('a')).toBeUndefined();
  });
});
