/**
 * Finished claims are kept for a while and then pruned, from memory and from the store; live
 * claims and claims an open intent names are never pruned.
 */
import type { ClaimRecord, ClaimState } from '../../../framework/storage/claim-record';
import { ClaimRetention, selectPrunable } from '../../../framework/storage/claim-retention';
import type { VolumeRecord } from '../../../framework/storage/volume-record';
import { Fixture, makeFixture, storeKeys } from './storage-fixture';

const DAY = 24 * 3600 * 1000;
const T0 = Date.parse('2026-01-10T00:00:00.000Z');

function claimAt(id: string, state: ClaimState, daysAgo: number): Pick<ClaimRecord, 'id' | 'state' | 'updatedAt'> {
  return { id, state, updatedAt: new Date(T0 - daysAgo * DAY).toISOString() };
}

describe('selectPrunable', () => {
  const claims = [
    claimAt('old-released', 'released', 10),
    claimAt('old-failed', 'failed', 9),
    claimAt('old-live', 'attached', 30),
    claimAt('old-releasing', 'releasing', 30),
    claimAt('new-released', 'released', 1),
    claimAt('newest-released', 'released', 0),
  ];

  test('finished claims older than the age limit go, oldest first; live ones never', () => {
    expect(selectPrunable(claims, { maxAgeMs: 7 * DAY, maxKept: 100 }, T0)).toEqual(['old-released', 'old-failed']);
  });

  test('beyond the count limit the oldest finished claims go, whatever their age', () => {
    expect(selectPrunable(claims, { maxAgeMs: 365 * DAY, maxKept: 1 }, T0)).toEqual(['old-released', 'old-failed', 'new-released']);
    expect(selectPrunable(claims, { maxAgeMs: 365 * DAY, maxKept: 0 }, T0)).toHaveLength(4);
    expect(selectPrunable(claims, { maxAgeMs: 365 * DAY, maxKept: 4 }, T0)).toEqual([]);
  });

  test('protected claims (named by an open intent) are kept', () => {
    expect(selectPrunable(claims, { maxAgeMs: 7 * DAY, maxKept: 100 }, T0, new Set(['old-released']))).toEqual(['old-failed']);
  });

  test('an unreadable timestamp counts as oldest', () => {
    const odd = [{ id: 'odd', state: 'released' as const, updatedAt: 'not a date' }, claimAt('fresh', 'released', 0)];
    expect(selectPrunable(odd, { maxAgeMs: 7 * DAY, maxKept: 100 }, T0)).toEqual(['odd']);
  });
});

describe('ClaimRetention on a real store', () => {
  let fx: Fixture;
  let volume: VolumeRecord;

  const cycle = async (task: string): Promise<ClaimRecord> => {
    const claim = await fx.storage.ledger.claim({ volumeId: volume.id, scheduler: 'marathon', agentId: 'a1', instanceId: 'host-a1', taskId: task });
    return fx.storage.ledger.release(claim.id);
  };

  beforeEach(async () => {
    fx = await makeFixture();
    volume = await fx.storage.catalog.create({ service: 'local', name: 'vol', size: 1, schedulers: ['marathon'] });
  });

  afterEach(async () => {
    await fx.dispose();
  });

  test('prunes finished claims from memory and the store (claim and volume index), keeps the live one, survives a restart', async () => {
    const released = [await cycle('t1'), await cycle('t2'), await cycle('t3')];
    const live = await fx.storage.ledger.claim({ volumeId: volume.id, scheduler: 'marathon', agentId: 'a2', instanceId: 'host-a2', taskId: 't4' });
    const retention = new ClaimRetention({ ledger: fx.storage.ledger, intents: fx.storage.intents, maxAgeMs: DAY, maxKept: 100, intervalMs: DAY, firstRunDelayMs: DAY });

    // Within the age limit: nothing goes.
    expect(await retention.prune(Date.now())).toEqual({ pruned: 0, kept: 3 });
    // Eight days later: every finished claim goes.
    expect(await retention.prune(Date.now() + 8 * DAY)).toEqual({ pruned: 3, kept: 0 });

    expect(fx.storage.ledger.list().map((c) => c.id)).toEqual([live.id]);
    const keys = await storeKeys(fx.store);
    for (const c of released) {
      expect(keys).not.toContain(`claims/${c.id}`);
      expect(keys).not.toContain(`claims-by-volume/${volume.id}/${c.id}`);
    }
    expect(keys).toContain(`claims/${live.id}`);
    expect(keys).toContain(`claims-by-volume/${volume.id}/${live.id}`);

    await fx.close();
    fx = await makeFixture({ dir: fx.dir });
    expect(fx.storage.ledger.list().map((c) => [c.id, c.state])).toEqual([[live.id, 'attached']]);
  });

  test('keeps the newest finished claims up to the count limit', async () => {
    const released: ClaimRecord[] = [];
    for (let i = 0; i < 4; i++) released.push(await cycle(`t${i}`));
    const retention = new ClaimRetention({ ledger: fx.storage.ledger, intents: fx.storage.intents, maxAgeMs: 365 * DAY, maxKept: 2, intervalMs: DAY, firstRunDelayMs: DAY });
    expect(await retention.prune()).toEqual({ pruned: 2, kept: 2 });
    expect(fx.storage.ledger.list().map((c) => c.id).sort()).toEqual(released.slice(2).map((c) => c.id).sort());
  });

  test('a finished claim named by an open intent is kept until the intent is resolved', async () => {
    const released = await cycle('t1');
    const intent = await fx.storage.intents.begin({
      kind: 'detach',
      key: released.id,
      service: 'local',
      volumeId: volume.id,
      claimId: released.id,
      payload: {},
    });
    const retention = new ClaimRetention({ ledger: fx.storage.ledger, intents: fx.storage.intents, maxAgeMs: 0, maxKept: 0, intervalMs: DAY, firstRunDelayMs: DAY });
    expect(await retention.prune(Date.now() + DAY)).toEqual({ pruned: 0, kept: 1 });
    await fx.storage.intents.resolve(intent.id);
    expect(await retention.prune(Date.now() + DAY)).toEqual({ pruned: 1, kept: 0 });
  });

  test('the storage service prunes after start (then periodically) with its configured policy', async () => {
    await cycle('t1');
    await cycle('t2');
    await fx.close();
    fx = await makeFixture({ dir: fx.dir, claimRetention: { maxAgeMs: 365 * DAY, maxKept: 1, intervalMs: DAY, firstRunDelayMs: 0 } });
    // The first pass runs in the background after start: wait for it (bounded).
    for (let i = 0; i < 200 && fx.storage.ledger.size > 1; i++) await new Promise((r) => setTimeout(r, 10));
    expect(fx.storage.ledger.list().map((c) => c.taskId)).toEqual(['t2']);
  });
});
