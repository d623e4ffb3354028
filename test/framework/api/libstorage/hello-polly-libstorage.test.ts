/**
 * The classic Hello Polly as REX-Ray drives it: two REX-Ray agents of service `local` (instances
 * node0 and node1) share `hellopersistence` through Polly's libStorage API, with the requests the
 * stock client sends for `docker volume create --driver rexray --opt size=1` and Docker's
 * Mount/Unmount (test/support/rexray-client.ts): one writer at a time, and the data moves with
 * the volume.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { dockerCreateBody, MASK, RexrayClient, VFS_NEXT_DEVICE } from '../../../support/rexray-client';
import { LsFixture, makeLsFixture } from './libstorage-fixture';

let f: LsFixture;
beforeEach(async () => {
  f = await makeLsFixture();
});
afterEach(async () => f.dispose());

/** Docker's Mount through REX-Ray's integration driver: inspect by name, attach when available, inspect again. */
async function mount(client: RexrayClient, name: string): Promise<{ status: number; id?: string; message?: string }> {
  const found = await client.inspectByName(name, MASK.mount);
  if (found.status !== 200) return { status: found.status, message: found.body?.message };
  if (found.body.attachmentState === 3) {
    const attached = await client.attach(found.body.id);
    if (attached.status !== 200) return { status: attached.status, message: attached.body?.message };
  }
  const after = await client.inspect(found.body.id, MASK.attachedToMe);
  const mine = (after.body.attachments ?? []).find((a: { instanceID: { id: string } }) => a.instanceID.id === client.instanceId);
  expect(mine).toMatchObject({ deviceName: VFS_NEXT_DEVICE });
  return { status: 200, id: found.body.id };
}

/** Docker's Unmount: inspect (attached to me), then detach. */
async function unmount(client: RexrayClient, name: string): Promise<number> {
  const found = await client.inspectByName(name, MASK.attachedToMe);
  expect(found.status).toBe(200);
  return (await client.detach(found.body.id)).status;
}

it('node0 creates (size 1, REX-Ray default fields) and mounts hellopersistence; node1 waits; after the unmount node1 reads the file', async () => {
  const node0 = new RexrayClient(f.address, 'node0', 'local');
  const node1 = new RexrayClient(f.address, 'node1', 'local');
  expect((await node0.login()).status).toBe(200);
  expect((await node1.login()).status).toBe(200);
  expect([node0.instanceId, node1.instanceId]).toEqual(['node0', 'node1']);

  // docker volume create --driver rexray --opt size=1 --name hellopersistence
  const created = await node0.create(dockerCreateBody('hellopersistence', { size: '1' }));
  expect(created.status).toBe(201);
  expect(created.body).toMatchObject({ name: 'hellopersistence', size: 1, attachmentState: 3 });
  const record = f.storage.storage.catalog.findByName('local', 'hellopersistence')!;
  expect(record).toMatchObject({ size: 1, schedulers: ['local'] });
  expect(record.type === undefined || record.type !== '').toBe(true);

  // docker run -v hellopersistence:/data on node0: Mount, then the task writes through the vfs path.
  const m0 = await mount(node0, 'hellopersistence');
  expect(m0.status).toBe(200);
  const driver = f.storage.storage.registry.get('local').driver;
  const dir = driver.hostPath!({ id: record.driverVolumeId, name: record.name, size: 1, fields: {}, attachments: [] });
  await fs.writeFile(path.join(dir, 'myfile'), 'hello\n');

  // node1: the volume is node0's. Mount does not see it (mask 31), and its implicit create is refused.
  const m1 = await mount(node1, 'hellopersistence');
  expect(m1.status).toBe(404);
  expect((await node1.create(dockerCreateBody('hellopersistence', {}))).status).toBe(409);
  const refused = await node1.attach(m0.id!);
  expect(refused.status).toBe(409);
  expect(refused.body.message).toMatch(/already attached/);

  // The task on node0 ends: Unmount detaches.
  expect(await unmount(node0, 'hellopersistence')).toBe(205);

  // Now node1 mounts it and reads what node0 wrote.
  const again = await mount(node1, 'hellopersistence');
  expect(again.status).toBe(200);
  expect(await fs.readFile(path.join(dir, 'myfile'), 'utf8')).toBe('hello\n');

  // The ledger saw it all: one released claim for node0, one attached for node1.
  const claims = f.storage.storage.ledger.list({ volumeId: record.id });
  expect(claims.map((c) => [c.agentId, c.state]).sort()).toEqual([
    ['node0', 'released'],
    ['node1', 'attached'],
  ]);
});
