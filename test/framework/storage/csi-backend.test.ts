/**
 * A CSI plugin as a Polly storage service: Polly B's service `disks` uses drivers/csi against
 * Polly A's CSI controller (A: vfs service `local`, nodes n1, n2 in zone-a, n3 in zone-b). Volumes
 * created, claimed, released and removed through B's storage core land in A; B's recovery settles an
 * interrupted create by its deterministic name and never forgets or deletes what the plugin has.
 */
import { csiVolumeName } from '../../../drivers/csi/csi-names';
import { CsiFixture, makeCsiFixture } from '../../support/csi-fixture';
import { Fixture, makeFixture } from './storage-fixture';

const ZONE_KEY = 'topology.polly.io/zone';
let a: CsiFixture;
let b: Fixture;

function csiService(endpoint: string) {
  return {
    name: 'disks',
    driver: 'csi' as const,
    csi: { endpoint: `unix://${endpoint}`, topologyKey: ZONE_KEY, parameters: { service: 'local' } },
    profiles: [{ name: 'default' }, { name: 'fast', type: 'ssd' }],
  };
}

beforeEach(async () => {
  a = await makeCsiFixture({
    overrides: {
      'csi.nodes': [
        { id: 'n1', zone: 'zone-a' },
        { id: 'n2', zone: 'zone-a' },
        { id: 'n3', zone: 'zone-b' },
      ],
    },
  });
  b = await makeFixture({ services: [csiService(a.controllerSocket)] });
});

afterEach(async () => {
  await b?.dispose();
  await a?.dispose();
});

it('create, claim, release and remove through B land in the plugin, in the volume zone', async () => {
  const bs = b.storage;
  expect(bs.registry.get('disks').definition).toMatchObject({ mapping: 'csi', csi: { namePrefix: 'polly-disks-' } });
  const vol = await bs.catalog.create({ service: 'disks', name: 'web-data', size: 2, availabilityZone: 'zone-a', scheduler: 'polly' });
  const onA = a.storage.catalog.findByName('local', 'polly-disks-web-data')!;
  expect(vol).toMatchObject({ driverVolumeId: onA.id, availabilityZone: 'zone-a', size: 2, profile: 'default', managed: true });
  expect(vol.fields).toMatchObject({ 'csi.context/name': 'polly-disks-web-data', 'csi.context/service': 'local' });

  const claim = await bs.ledger.claim({ volumeId: vol.id, scheduler: 'polly', taskId: 't1', agentId: 'agent-1', instanceId: 'n1' });
  expect(claim.state).toBe('attached');
  expect(a.storage.ledger.list({ volumeId: onA.id, live: true }).map((c) => c.instanceId)).toEqual(['n1']);
  await bs.ledger.release(claim.id, { reason: 'task finished' });
  expect(a.storage.ledger.list({ volumeId: onA.id, live: true })).toEqual([]);

  // Fencing: a forced release unpublishes from the gone node; the next claim publishes elsewhere in the zone.
  const held = await bs.ledger.claim({ volumeId: vol.id, scheduler: 'polly', taskId: 't2', agentId: 'agent-2', instanceId: 'n2' });
  await bs.ledger.forceRelease(held.id, 'fenced: agent-2 gone', 'polly');
  expect(a.storage.ledger.list({ volumeId: onA.id, live: true })).toEqual([]);
  const moved = await bs.ledger.claim({ volumeId: vol.id, scheduler: 'polly', taskId: 't3', agentId: 'agent-1', instanceId: 'n1' });
  expect(a.storage.ledger.list({ volumeId: onA.id, live: true }).map((c) => c.instanceId)).toEqual(['n1']);
  await bs.ledger.release(moved.id);

  await bs.catalog.remove(vol.id);
  expect(a.storage.catalog.findByName('local', 'polly-disks-web-data')).toBeUndefined();
});

it('recovery finishes a create interrupted before or after it reached the plugin, never leaving one the catalog does not know', async () => {
  const create = { size: 1, availabilityZone: 'zone-b', profile: 'fast', type: 'ssd' };
  // Intent written, plugin never called (a crash right after the intent).
  await b.storage.intents.begin({
    kind: 'create',
    key: 'never-called',
    service: 'disks',
    payload: { name: 'never-called', create, profile: 'fast', labels: {}, schedulers: ['polly'] },
  });
  // Intent written and the plugin made it (a crash before the answer was recorded).
  const made = await b.registry.get('disks').driver.volumeCreate('made-it', create);
  await b.storage.intents.begin({
    kind: 'create',
    key: 'made-it',
    service: 'disks',
    payload: { name: 'made-it', create, profile: 'fast', labels: {}, schedulers: ['polly'] },
  });
  await b.close();
  b = await makeFixture({ dir: b.dir, services: [csiService(a.controllerSocket)], start: false });
  const report = await b.storage.start();
  expect(report).toMatchObject({ intentsFinished: 2, intentsLeftOpen: 0 });
  expect(await b.storage.intents.pending()).toEqual([]);
  for (const name of ['never-called', 'made-it']) {
    const record = b.storage.catalog.findByName('disks', name);
    expect(record).toMatchObject({ managed: true, availabilityZone: 'zone-b', schedulers: ['polly'], profile: 'fast' });
    expect(a.storage.catalog.findByName('local', csiVolumeName('polly-disks-', name))?.id).toBe(record!.driverVolumeId);
  }
  expect(b.storage.catalog.findByName('disks', 'made-it')!.driverVolumeId).toBe(made.id);
  // Catalog = plugin: one volume each, nothing extra on either side.
  expect(a.storage.catalog.size).toBe(2);
  expect(b.storage.catalog.size).toBe(2);
});

it('a volume the plugin lost is reported missing, never forgotten; claims and attachments agree after recovery', async () => {
  const vol = await b.storage.catalog.create({ service: 'disks', name: 'kept', size: 1, scheduler: 'polly' });
  const claim = await b.storage.ledger.claim({ volumeId: vol.id, scheduler: 'polly', taskId: 't', agentId: 'agent-1', instanceId: 'n1' });
  let report = await b.storage.recovery.recover();
  expect(report).toMatchObject({ claimsRepaired: 0, volumesCorrected: 0, unexplainedAttachments: 0, missingVolumes: 0 });
  // Polly A's operator removes the volume behind B's back (released first: A refuses to remove a held volume).
  for (const c of a.storage.ledger.list({ volumeId: vol.driverVolumeId, live: true })) await a.storage.ledger.release(c.id);
  await a.storage.catalog.remove(vol.driverVolumeId);
  report = await b.storage.recovery.recover();
  expect(report.missingVolumes).toBe(1);
  expect(b.storage.catalog.get(vol.id).status).toBe('missing');
  expect(b.storage.ledger.get(claim.id).state).toBe('attached');
});

it('expand through B grows the plugin volume (online, while claimed); recovery settles an expand the catalog missed', async () => {
  const bs = b.storage;
  expect(bs.expander.expansionOf('disks')).toBe('online');
  const vol = await bs.catalog.create({ service: 'disks', name: 'grow-data', size: 2, scheduler: 'polly' });
  const onA = a.storage.catalog.findByName('local', 'polly-disks-grow-data')!;
  const claim = await bs.ledger.claim({ volumeId: vol.id, scheduler: 'polly', taskId: 't1', agentId: 'agent-1', instanceId: 'n1' });
  expect((await bs.expander.expand(vol.id, 4)).volume.size).toBe(4);
  expect(a.storage.catalog.get(onA.id).size).toBe(4);
  await bs.ledger.release(claim.id);

  // The plugin grew it but B crashed before recording it: the open intent is settled from the plugin's size.
  await b.registry.get('disks').driver.volumeExpand!(vol.driverVolumeId, 7);
  await bs.intents.begin({
    kind: 'expand',
    key: vol.id,
    service: 'disks',
    volumeId: vol.id,
    payload: { driverVolumeId: vol.driverVolumeId, fromSize: 4, toSize: 7 },
  });
  const report = await bs.recovery.recover();
  expect(report.intentsFinished).toBe(1);
  expect(bs.catalog.get(vol.id).size).toBe(7);
  expect(a.storage.catalog.get(onA.id).size).toBe(7);
  expect(await bs.intents.pending()).toEqual([]);
});
