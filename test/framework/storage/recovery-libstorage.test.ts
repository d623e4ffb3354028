/**
 * The libstorage driver under the same rule as vfs: a backend's volumes are never removed because a
 * record is missing. Polly B uses Polly A's libStorage API as its backend (real HTTP, real vfs under
 * A). After B restarts with records that disagree with the backend — a backend volume B does not
 * manage, a managed volume the backend lost, a create intent whose volume the backend has — B's
 * recovery removes nothing on the backend, registers what it created, marks the lost volume
 * missing and leaves its live claim live.
 */
import { FaultInjector } from './faulty-driver';
import { Fixture, makeFixture } from './storage-fixture';
import { LsFixture, makeLsFixture } from '../api/libstorage/libstorage-fixture';
import { IntentLog } from '../../../framework/storage/intent-log';

let upstream: LsFixture | undefined;
let downstream: Fixture | undefined;

afterEach(async () => {
  await downstream?.dispose();
  await upstream?.dispose();
  downstream = upstream = undefined;
});

it('recovery over a libStorage backend removes no backend volume because a record is missing', async () => {
  upstream = await makeLsFixture();
  const a = upstream.storage.storage;
  const known = await a.catalog.create({ service: 'local', name: 'known', size: 1, scheduler: 'local' });
  const extra = await a.catalog.create({ service: 'local', name: 'extra', size: 1, scheduler: 'local' });
  const lost = await a.catalog.create({ service: 'local', name: 'lost', size: 1, scheduler: 'local' });
  const services = [
    {
      name: 'remote',
      driver: 'libstorage' as const,
      mapping: 'dockerVolume' as const,
      dockerVolumeDriver: 'rexray',
      libstorage: { host: `http://127.0.0.1:${upstream.address.port}`, service: 'local', timeoutMs: 5000 },
    },
  ];

  // B manages `known` and `lost` and claims `lost`; it began creating `pending` when it "crashed".
  const first = await makeFixture({ services });
  downstream = first;
  const b = first.storage;
  const knownB = await b.catalog.register('remote', known.driverVolumeId, { schedulers: ['m'] });
  const lostB = await b.catalog.register('remote', lost.driverVolumeId, { schedulers: ['m'] });
  const claim = await b.ledger.claim({ volumeId: lostB.id, scheduler: 'm', agentId: 'agent-1', instanceId: 'node0', taskId: 't1' });
  await new IntentLog(first.store).begin({
    kind: 'create',
    key: 'pending',
    service: 'remote',
    payload: { name: 'pending', schedulers: ['m'] },
  });
  const pending = await a.catalog.create({ service: 'local', name: 'pending', size: 1, scheduler: 'local' });
  await first.close();

  // Meanwhile the backend loses `lost` (its claim released there, then removed).
  for (const c of a.ledger.list({ volumeId: lost.id, live: true })) await a.ledger.forceRelease(c.id, 'test: the backend loses the volume');
  await a.catalog.remove(lost.id);

  const injector = new FaultInjector();
  downstream = await makeFixture({ dir: first.dir, services, start: false, wrap: (d) => injector.wrap(d) });
  const report = await downstream.storage.start();
  const again = await downstream.storage.recovery.recover();

  // Nothing was removed on the backend by B: no remove call, and the backend still has every volume it had.
  expect(injector.calls.filter((c) => c.op === 'volumeRemove')).toEqual([]);
  expect(
    a.catalog
      .list({ service: 'local' })
      .map((v) => v.name)
      .sort(),
  ).toEqual(['extra', 'known', 'pending']);
  // B: the created volume is registered, the lost one is missing with its claim still live, the extra one is unmanaged.
  expect(report).toMatchObject({ intentsFinished: 1, missingVolumes: 1, claimsOnMissingVolumes: 1 });
  expect(again).toMatchObject({ missingVolumes: 1, claimsOnMissingVolumes: 1 });
  const { catalog, ledger } = downstream.storage;
  expect(catalog.findByName('remote', 'pending')).toMatchObject({ managed: true, driverVolumeId: pending.driverVolumeId });
  expect(catalog.get(knownB.id).status).toBe('available');
  expect(catalog.get(lostB.id).status).toBe('missing');
  expect(ledger.get(claim.id).state).toBe('attached');
  expect((await catalog.listUnmanaged('remote')).map((v) => v.driverVolumeId)).toEqual([extra.driverVolumeId]);
});
