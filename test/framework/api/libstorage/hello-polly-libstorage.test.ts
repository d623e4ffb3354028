/**
 * The Hello Polly two-node flow at the libStorage level: two REX-Ray-style clients of service
 * `local` (instances node0 and node1) share one volume, one writer at a time, and the data moves
 * with the volume.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { LsFixture, makeLsFixture } from './libstorage-fixture';

let f: LsFixture;
beforeEach(async () => {
  f = await makeLsFixture();
});
afterEach(async () => f.dispose());

/** A client as a stock vfs executor behaves: metadata first, then the cached instance ID. */
function client(hostname: string) {
  let instanceId: string | undefined;
  const header = (): Record<string, string> => ({
    'Libstorage-Instanceid': instanceId ? `vfs:local=${instanceId}` : `vfs=,,${Buffer.from(JSON.stringify(hostname)).toString('base64')}`,
  });
  return {
    async login(): Promise<void> {
      const r = await f.call('GET', '/services/local?instance', { headers: header() });
      expect(r.status).toBe(200);
      instanceId = r.body.instance.instanceID.id;
    },
    call: (method: string, p: string, body?: unknown) => f.call(method, p, { headers: header(), ...(body !== undefined ? { body } : {}) }),
  };
}

it('node0 creates and attaches hellopersistence; node1 waits; after the detach node1 sees the files', async () => {
  const node0 = client('node0');
  const node1 = client('node1');
  await node0.login();
  await node1.login();

  const created = await node0.call('POST', '/volumes/local', { name: 'hellopersistence', size: 1 });
  expect(created.status).toBe(201);
  const id = created.body.id as string;

  const a0 = await node0.call('POST', `/volumes/local/${id}?attach`, { nextDeviceName: '/dev/xvdb' });
  expect(a0.status).toBe(200);
  // REX-Ray re-inspects with mask 15 and needs its own attachment with a device name.
  const check = await node0.call('GET', `/volumes/local/${id}?attachments=15`);
  expect(check.body.attachmentState).toBe(2);
  expect(check.body.attachments).toEqual([
    expect.objectContaining({ deviceName: '/dev/xvdb', instanceID: expect.objectContaining({ id: 'node0' }) }),
  ]);

  // node0 writes through the vfs host path (what the task on node0 mounts).
  const record = f.storage.storage.catalog.findByName('local', 'hellopersistence')!;
  const driver = f.storage.storage.registry.get('local').driver;
  const dir = driver.hostPath!({ id: record.driverVolumeId, name: record.name, size: 1, fields: {}, attachments: [] });
  await fs.writeFile(path.join(dir, 'hello.txt'), 'written on node0\n');

  // node1: the volume is node0's. Mount (mask 31) does not even see it; attach is refused.
  expect((await node1.call('GET', `/volumes/local/${id}?attachments=31`)).status).toBe(404);
  expect((await node1.call('GET', `/volumes/local/${id}?attachments=1`)).body.attachmentState).toBe(4);
  const refused = await node1.call('POST', `/volumes/local/${id}?attach`, { nextDeviceName: '/dev/xvdb' });
  expect(refused.status).toBe(409);
  expect(refused.body.message).toMatch(/already attached/);

  const d0 = await node0.call('POST', `/volumes/local/${id}?detach`, {});
  expect(d0.status).toBe(205);
  expect(d0.body.attachmentState).toBe(3);

  const a1 = await node1.call('POST', `/volumes/local/${id}?attach`, { nextDeviceName: '/dev/xvdb' });
  expect(a1.status).toBe(200);
  expect(a1.body.volume.attachments.map((a: { instanceID: { id: string } }) => a.instanceID.id)).toEqual(['node1']);
  expect(await fs.readFile(path.join(dir, 'hello.txt'), 'utf8')).toBe('written on node0\n');

  // The ledger saw it all: one released claim for node0, one attached for node1.
  const claims = f.storage.storage.ledger.list({ volumeId: record.id });
  expect(claims.map((c) => [c.agentId, c.state]).sort()).toEqual([
    ['node0', 'released'],
    ['node1', 'attached'],
  ]);
});
