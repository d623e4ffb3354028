import { AgentRegistry } from '../../../framework/scheduler/agent-registry';
import { StorageOfferBook } from '../../../framework/scheduler/storage-offers';
import { Fixture, makeFixture } from '../storage/storage-fixture';
import { offer } from './offer-fixtures';

describe('StorageOfferBook', () => {
  let f: Fixture;
  let agents: AgentRegistry;
  let book: StorageOfferBook;

  beforeEach(async () => {
    f = await makeFixture();
    agents = new AgentRegistry();
    agents.observeOffer(offer('A0', 'node0', 'zone-a'));
    agents.observeOffer(offer('A2', 'node2', 'zone-b'));
  });

  afterEach(async () => {
    book?.stop();
    await f.dispose();
  });

  const names = (scheduler: string, agentId: string) => book.list({ scheduler, agentId })[0].volumes.map((v) => v.name).sort();

  it('offers volumes by ACL and zone, hides held ones, and rescinds offers whose facts change', async () => {
    const { catalog, ledger } = f.storage;
    await catalog.create({ service: 'local', name: 'a-vol', size: 1, schedulers: ['polly'], availabilityZone: 'zone-a' });
    await catalog.create({ service: 'local', name: 'anywhere', size: 1, schedulers: ['polly', 'marathon'] });
    book = new StorageOfferBook({ storage: f.storage, agents });
    book.start();
    await catalog.create({ service: 'local', name: 'b-vol', size: 1, schedulers: ['polly'], availabilityZone: 'zone-b' });
    expect(names('polly', 'A0')).toEqual(['a-vol', 'anywhere']);
    expect(names('polly', 'A2')).toEqual(['anywhere', 'b-vol']);
    expect(names('marathon', 'A0')).toEqual(['anywhere']);
    const before = book.list({ scheduler: 'polly', agentId: 'A0' })[0];
    expect(before.id).toMatch(/^polly-A0-\d+$/);
    expect(before.capacity[0]).toMatchObject({ service: 'local', profile: 'default', mapping: 'hostPath' });
    expect(book.list({ scheduler: 'polly', agentId: 'A0' })[0].id).toBe(before.id);

    const rescinded: string[] = [];
    book.on('offer.rescinded', (e) => rescinded.push(e.offerId));
    const aVol = catalog.findByName('local', 'a-vol')!;
    const claim = await ledger.claim({ volumeId: aVol.id, scheduler: 'polly', agentId: 'A0', instanceId: 'node0', taskId: 't1' });
    expect(rescinded).toContain(before.id);
    expect(book.isAttachable(aVol.id, 'polly', { zone: 'zone-a' })).toBe(false);
    expect(names('polly', 'A0')).toEqual(['anywhere']);
    const after = book.list({ scheduler: 'polly', agentId: 'A0' })[0];
    expect(after.id).not.toBe(before.id);
    // The zone-b offer did not depend on a zone-a volume: untouched.
    expect(rescinded.filter((id) => id.startsWith('polly-A2-'))).toEqual([]);
    await ledger.release(claim.id);
    expect(names('polly', 'A0')).toEqual(['a-vol', 'anywhere']);
    await catalog.revoke(aVol.id, ['polly']);
    expect(names('polly', 'A0')).toEqual(['anywhere']);
  });

  it('at start files only what is attachable; an offered-to change moves a volume between schedulers and rescinds both offers', async () => {
    const { catalog, ledger } = f.storage;
    const held = await catalog.create({ service: 'local', name: 'held', size: 1, schedulers: ['polly'], availabilityZone: 'zone-a' });
    const free = await catalog.create({ service: 'local', name: 'free', size: 1, schedulers: ['polly'], availabilityZone: 'zone-a' });
    const claim = await ledger.claim({ volumeId: held.id, scheduler: 'polly', agentId: 'A0', instanceId: 'node0', taskId: 't1' });
    book = new StorageOfferBook({ storage: f.storage, agents });
    book.start();
    expect(names('polly', 'A0')).toEqual(['free']);
    expect(book.isAttachable(held.id, 'polly', { zone: 'zone-a' })).toBe(false);
    expect(book.isAttachable(free.id, 'polly', { zone: 'zone-a' })).toBe(true);
    expect(book.isAttachable(free.id, 'polly', { zone: 'zone-b' })).toBe(false);
    const pollyOffer = book.list({ scheduler: 'polly', agentId: 'A0' })[0].id;
    const marathonOffer = book.list({ scheduler: 'marathon', agentId: 'A0' })[0].id;
    const rescinded: string[] = [];
    book.on('offer.rescinded', (e) => rescinded.push(e.offerId));
    await catalog.offer(free.id, ['marathon']);
    expect(rescinded).toEqual([pollyOffer, marathonOffer]);
    expect(names('marathon', 'A0')).toEqual(['free']);
    await catalog.revoke(free.id, ['polly']);
    expect(names('polly', 'A0')).toEqual([]);
    expect(book.isAttachable(free.id, 'marathon', { zone: 'zone-a' })).toBe(true);
    // A label changes no bucket: nothing is rescinded, the offer keeps its ID.
    const kept = book.list({ scheduler: 'marathon', agentId: 'A0' })[0].id;
    rescinded.length = 0;
    await catalog.setLabels(free.id, { tier: 'gold' });
    expect(rescinded).toEqual([]);
    expect(book.list({ scheduler: 'marathon', agentId: 'A0' })[0].id).toBe(kept);
    await ledger.release(claim.id);
    expect(names('polly', 'A0')).toEqual(['held']);
    await catalog.remove(free.id);
    expect(names('marathon', 'A0')).toEqual([]);
    expect(book.isAttachable(free.id, 'marathon', { zone: 'zone-a' })).toBe(false);
  });

  it('lists only active agents', async () => {
    book = new StorageOfferBook({ storage: f.storage, agents });
    book.start();
    agents.markLost('A2', 'FAILURE');
    expect(book.list({ scheduler: 'polly' }).map((o) => o.agentId)).toEqual(['A0']);
  });

  it('offers a volume accessible from a list of zones (a regional CSI disk) only on agents in those zones', async () => {
    agents.observeOffer(offer('A3', 'node3', 'zone-c'));
    const regional = await f.storage.catalog.create({ service: 'local', name: 'regional', size: 1, schedulers: ['polly'], fields: { 'csi.zones': 'zone-a,zone-b' } });
    await f.storage.catalog.create({ service: 'local', name: 'anywhere', size: 1, schedulers: ['polly'] });
    book = new StorageOfferBook({ storage: f.storage, agents });
    book.start();
    expect(names('polly', 'A0')).toEqual(['anywhere', 'regional']);
    expect(names('polly', 'A2')).toEqual(['anywhere', 'regional']);
    expect(names('polly', 'A3')).toEqual(['anywhere']);
    expect(book.isAttachable(regional.id, 'polly', { zone: 'zone-b' })).toBe(true);
    expect(book.isAttachable(regional.id, 'polly', { zone: 'zone-c' })).toBe(false);
    expect(book.isAttachable(regional.id, 'polly', {})).toBe(false);
  });
});
