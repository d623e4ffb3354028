/**
 * Polly's libStorage API driven with request bodies and headers exactly as the stock REX-Ray
 * client sends them (test/support/rexray-client.ts): create (CLI and Docker shapes, zero values for
 * what the user left out), create from a snapshot, attach, a forced attach of a fenced holder,
 * detach and remove. Zero values mean "not given"; explicit values are still validated.
 */
import type { ClaimAuditEvent } from '../../../../framework/storage/storage-events';
import { cliCreateBody, dockerCreateBody, fromSnapshotBody, MASK, RexrayClient, VFS_NEXT_DEVICE } from '../../../support/rexray-client';
import { LsFixture, makeLsFixture } from './libstorage-fixture';

let f: LsFixture;
/** Agents the (test) scheduler knows are gone. */
const gone = new Set<string>();

beforeEach(async () => {
  gone.clear();
  f = await makeLsFixture({
    services: [{ name: 'local', driver: 'vfs', profiles: [{ name: 'default', type: 'standard', iops: 100 }] }],
    preempt: { fencedBecause: (claim) => (gone.has(claim.agentId) ? `agent ${claim.agentId} is gone (test)` : undefined) },
  });
});
afterEach(async () => f.dispose());

async function loggedIn(hostname: string): Promise<RexrayClient> {
  const client = new RexrayClient(f.address, hostname, 'local');
  expect((await client.login()).status).toBe(200);
  return client;
}

describe('create', () => {
  it('`rexray volume create data --size 1` (every field, zeros for the rest) creates with the profile defaults', async () => {
    const node0 = await loggedIn('node0');
    const body = cliCreateBody('data', { size: 1 });
    expect(JSON.parse(body)).toEqual({ name: 'data', availabilityZone: '', encrypted: false, iops: 0, size: 1, type: '' });
    const r = await node0.create(body);
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({ name: 'data', size: 1, type: 'standard', iops: 100, attachmentState: 3 });
    expect(r.body.availabilityZone).toBeUndefined();
    expect(r.body.encrypted).toBeUndefined();
    const record = f.storage.storage.catalog.findByName('local', 'data')!;
    expect(record).toMatchObject({ size: 1, type: 'standard', iops: 100, encrypted: false, schedulers: ['local'] });
    expect(record.availabilityZone).toBeUndefined();
  });

  it('Docker `--opt size=1` (integration defaults, options as opts) creates a 1 GiB volume', async () => {
    const node0 = await loggedIn('node0');
    const r = await node0.create(dockerCreateBody('hellopersistence', { size: '1' }));
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({ name: 'hellopersistence', size: 1 });
    expect(f.storage.storage.catalog.findByName('local', 'hellopersistence')?.fields).toMatchObject({ size: '1' });
  });

  it('given values are used and validated: a zone, a type, IOPS; bad ones are 400 and create nothing', async () => {
    const node0 = await loggedIn('node0');
    const given = await node0.create(cliCreateBody('zoned', { size: 2, availabilityZone: 'zone-a', type: 'standard', iops: 100 }));
    expect(given.status).toBe(201);
    expect(given.body).toMatchObject({ size: 2, availabilityZone: 'zone-a', type: 'standard', iops: 100 });
    const before = f.storage.storage.catalog.list().length;
    for (const bad of [
      cliCreateBody('bad1', { size: -1 }),
      cliCreateBody('bad2', { size: 1, iops: -5 }),
      cliCreateBody('bad3', { size: 1, type: 'x\u0007' }),
      cliCreateBody('bad4', { size: 1, availabilityZone: 'z'.repeat(300) }),
      cliCreateBody('bad5', { size: 1.5 }),
    ]) {
      const r = await node0.create(bad);
      expect(r.status).toBe(400);
      expect(typeof r.body.message).toBe('string');
    }
    expect(f.storage.storage.catalog.list()).toHaveLength(before);
  });
});

it('create, snapshot, create from the snapshot, attach, forced attach of a fenced holder, detach and remove', async () => {
  const node0 = await loggedIn('node0');
  const node1 = await loggedIn('node1');
  const audits: ClaimAuditEvent[] = [];
  f.storage.storage.events.on('claim.audit', (e) => audits.push(e));

  const created = await node0.create(cliCreateBody('data', { size: 1 }));
  expect(created.status).toBe(201);
  const id = created.body.id as string;

  // `rexray snapshot create` and a volume from it, sent with the client's zero values (size 0: the snapshot's).
  const snap = await node0.snapshot(id, 'nightly');
  expect(snap.status).toBe(201);
  const restored = await node0.createFromSnapshot(snap.body.id, fromSnapshotBody('restored'));
  expect(restored.status).toBe(201);
  expect(restored.body).toMatchObject({ name: 'restored', size: 1 });
  expect((await node0.createFromSnapshot(snap.body.id, fromSnapshotBody('bad', { size: -1 }))).status).toBe(400);

  // `rexray volume attach data`: list (mine or available), attach with the executor's next device.
  expect(Object.keys((await node0.volumes(MASK.mineOrAvailable)).body).sort()).toEqual([id, restored.body.id].sort());
  const attached = await node0.attach(id);
  expect(attached.status).toBe(200);
  expect(attached.body.attachToken).toBe(VFS_NEXT_DEVICE);
  expect((await node0.inspect(id, MASK.attachedToMe)).body.attachmentState).toBe(2);

  // node1 with preempt (Docker Mount, preempt: true): sees it held elsewhere; force is refused while node0 may still write.
  expect((await node1.inspect(id, MASK.mountPreempt)).body.attachmentState).toBe(4);
  expect((await node1.attach(id)).status).toBe(409);
  const notGone = await node1.attach(id, true);
  expect(notGone.status).toBe(409);
  expect(notGone.body.message).toMatch(/not known to be gone/);

  // Once node0 is known to be gone, the forced attach takes the volume, audited.
  gone.add('node0');
  const preempted = await node1.attach(id, true);
  expect(preempted.status).toBe(200);
  expect(preempted.body.volume.attachments.map((a: { instanceID: { id: string } }) => a.instanceID.id)).toEqual(['node1']);
  expect(audits).toHaveLength(1);
  expect(audits[0]!.action).toBe('force-release');
  expect(audits[0]!.claim).toMatchObject({ instanceId: 'node0', state: 'released', forced: true });
  expect(audits[0]!.reason).toBe(
    'preempted through the libStorage API by instance node1 (no auth): the holder is gone (agent node0 is gone (test))',
  );

  // `rexray volume detach data` (attached only), then `rexray volume rm data`.
  expect(Object.keys((await node1.volumes(MASK.attachedOnly)).body)).toEqual([id]);
  const detached = await node1.detach(id);
  expect(detached.status).toBe(205);
  expect(detached.body.attachmentState).toBe(3);
  const removed = await node1.remove(id);
  expect(removed.status).toBe(204);
  expect(f.storage.storage.catalog.findByName('local', 'data')).toBeUndefined();
  expect(f.storage.storage.ledger.list({ live: true })).toEqual([]);
});

it('force never preempts a volume labelled polly.preempt=deny, even from a fenced holder', async () => {
  const node0 = await loggedIn('node0');
  const node1 = await loggedIn('node1');
  const id = (await node0.create(cliCreateBody('kept', { size: 1 }))).body.id as string;
  expect((await node0.attach(id)).status).toBe(200);
  await f.storage.storage.catalog.setLabels(`local.${id}`, { 'polly.preempt': 'deny' });
  gone.add('node0');
  const r = await node1.attach(id, true);
  expect(r.status).toBe(409);
  expect(r.body.message).toMatch(/polly\.preempt=deny/);
  expect(f.storage.storage.ledger.list({ live: true }).map((c) => c.instanceId)).toEqual(['node0']);
});
