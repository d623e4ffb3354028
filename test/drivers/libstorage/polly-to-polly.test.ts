/**
 * Polly to Polly: Polly B's service `remote` uses drivers/libstorage pointed at Polly A's libStorage
 * API (A: vfs service `local`). The whole claim flow runs through B; A's catalog and ledger show it.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { iid, LsFixture, makeLsFixture, makeRemoteFixture } from '../../framework/api/libstorage/libstorage-fixture';
import { cliCreateBody, fromSnapshotBody, RecordedRequest } from '../../support/rexray-client';
import type { Fixture } from '../../framework/storage/storage-fixture';

let a: LsFixture;
let b: Fixture;

beforeEach(async () => {
  a = await makeLsFixture();
  b = await makeRemoteFixture(a.address.url);
});
afterEach(async () => {
  await b.dispose();
  await a.dispose();
});

it('create, claim (attach), release (detach) and remove through B land in A', async () => {
  const bs = b.storage;
  const as = a.storage.storage;
  expect(bs.registry.get('remote').driver.type()).toBe('object');

  // Create through B: A creates it through its libStorage API, offered to A's service `local`.
  const vol = await bs.catalog.create({ service: 'remote', name: 'shared', size: 2, scheduler: 'marathon', labels: { app: 'web' } });
  const onA = as.catalog.findByName('local', 'shared')!;
  expect(onA).toMatchObject({ size: 2, schedulers: ['local'], status: 'available' });
  expect(vol.driverVolumeId).toBe(onA.driverVolumeId);
  expect(vol.schedulers).toEqual(['marathon']);

  // Claim through B for a task on agent node0: A records an attached claim for instance node0.
  const claim = await bs.ledger.claim({
    volumeId: vol.id,
    scheduler: 'marathon',
    taskId: 'web.1',
    agentId: 'agent-0',
    instanceId: 'node0',
  });
  expect(claim.state).toBe('attached');
  const aClaims = as.ledger.list({ volumeId: onA.id, live: true });
  expect(aClaims).toHaveLength(1);
  expect(aClaims[0]).toMatchObject({ instanceId: 'node0', agentId: 'node0', scheduler: 'local', state: 'attached' });
  expect(as.catalog.get(onA.id).status).toBe('attached');

  // A second writer is refused by B's own ledger; and on A, another instance cannot take it either.
  await expect(bs.ledger.claim({ volumeId: vol.id, scheduler: 'marathon', agentId: 'agent-1', instanceId: 'node1' })).rejects.toMatchObject(
    { status: 409 },
  );
  expect((await a.call('POST', `/volumes/local/${onA.driverVolumeId}?attach`, { headers: iid('node1') })).status).toBe(409);

  // B sees A's attachment through the driver.
  const dv = await bs.registry.get('remote').driver.volumeInspect(vol.driverVolumeId);
  expect(dv.attachments.map((x) => x.instanceId.id)).toEqual(['node0']);

  // Release through B: A's claim is released.
  const released = await bs.ledger.release(claim.id, { reason: 'task finished' });
  expect(released.state).toBe('released');
  expect(as.ledger.list({ volumeId: onA.id, live: true })).toHaveLength(0);
  expect(as.catalog.get(onA.id).status).toBe('available');

  // Claim again from another agent, release, then remove through B: gone on A.
  const second = await bs.ledger.claim({ volumeId: vol.id, scheduler: 'marathon', agentId: 'agent-1', instanceId: 'node1' });
  expect(as.ledger.list({ volumeId: onA.id, live: true })[0]?.instanceId).toBe('node1');
  await bs.ledger.release(second.id);
  await bs.catalog.remove(vol.id);
  expect(as.catalog.findByName('local', 'shared')).toBeUndefined();
  expect(bs.catalog.find(vol.id)).toBeUndefined();

  // A name taken on A is a conflict for B.
  await a.call('POST', '/volumes/local', { body: { name: 'taken', size: 1 } });
  await expect(bs.catalog.create({ service: 'remote', name: 'taken', size: 1 })).rejects.toMatchObject({ status: 409 });
});

it('snapshots and copies through B', async () => {
  const bs = b.storage;
  const vol = await bs.catalog.create({ service: 'remote', name: 'src', size: 1 });
  const driver = bs.registry.get('remote').driver;
  const snap = await driver.volumeSnapshot(vol.driverVolumeId, 'snap');
  expect((await driver.snapshots()).map((s) => s.id)).toEqual([snap.id]);
  expect((await driver.snapshotInspect(snap.id)).volumeId).toBe(vol.driverVolumeId);
  const restored = await driver.volumeCreateFromSnapshot(snap.id, 'restored', {});
  const copy = await driver.volumeCopy(vol.driverVolumeId, 'copied');
  expect((await driver.volumes()).map((v) => v.name).sort()).toEqual(['copied', 'restored', 'src']);
  expect((await driver.volumeInspectByName('RESTORED'))?.id).toBe(restored.id);
  expect(await driver.volumeInspectByName('nope')).toBeUndefined();
  await driver.snapshotRemove(snap.id);
  await expect(driver.snapshotInspect(snap.id)).rejects.toMatchObject({ code: 'NOT_FOUND' });
  await driver.volumeRemove(copy.id);
  await expect(driver.volumeInspect(copy.id)).rejects.toMatchObject({ code: 'NOT_FOUND' });
  const inst = await driver.instanceInspect({ id: 'node3' });
  expect(inst.instanceId).toMatchObject({ id: 'node3', driver: 'vfs', service: 'local' });
});

describe('with the bodies the stock REX-Ray client sends', () => {
  let proxy: http.Server;
  let seen: RecordedRequest[];
  let c: Fixture;

  /** B → recording proxy → A: what A receives from B's libstorage driver. */
  beforeEach(async () => {
    seen = [];
    proxy = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        seen.push({ method: req.method!, url: req.url!, headers: req.headers, body });
        const upstream = http.request(
          { host: a.address.host, port: a.address.port, method: req.method, path: req.url, headers: req.headers, agent: false },
          (up) => {
            res.writeHead(up.statusCode ?? 502, up.headers);
            up.pipe(res);
          },
        );
        upstream.on('error', () => res.destroy());
        upstream.end(body);
      });
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    const port = (proxy.address() as AddressInfo).port;
    c = await makeRemoteFixture(`tcp://127.0.0.1:${port}`);
  });
  afterEach(async () => {
    await c.dispose();
    proxy.closeAllConnections();
    await new Promise<void>((resolve) => proxy.close(() => resolve()));
  });

  it('creates with zero values for what was not given, from a snapshot likewise, and A accepts them', async () => {
    const vol = await c.storage.catalog.create({ service: 'remote', name: 'plain', size: 1 });
    const create = seen.find((r) => r.method === 'POST' && r.url === '/volumes/local')!;
    expect(create.body).toBe(cliCreateBody('plain', { size: 1 }));
    expect(JSON.parse(create.body)).toMatchObject({ type: '', iops: 0, availabilityZone: '', encrypted: false });
    expect(a.storage.storage.catalog.findByName('local', 'plain')).toMatchObject({ size: 1 });
    expect(a.storage.storage.catalog.findByName('local', 'plain')?.availabilityZone).toBeUndefined();

    const driver = c.registry.get('remote').driver;
    const snap = await driver.volumeSnapshot(vol.driverVolumeId, 'snap');
    const restored = await driver.volumeCreateFromSnapshot(snap.id, 'restored', {});
    expect(seen.find((r) => r.url === `/snapshots/local/${snap.id}?create`)!.body).toBe(fromSnapshotBody('restored'));
    expect(restored.size).toBe(1);
    const copy = await driver.snapshotCopy!(snap.id, 'snap-copy');
    expect(copy).toMatchObject({ name: 'snap-copy', volumeId: vol.driverVolumeId });
    expect(seen.every((r) => typeof r.headers['libstorage-tx'] === 'string')).toBe(true);
  });
});
