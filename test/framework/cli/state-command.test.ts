import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { exportState, importState } from '../../../framework/storage/backup/export-lines';
import { ValidationError } from '../../../framework/errors/validation-error';
import { LevelStore } from '../../../framework/state/level-store';
import { ZookeeperStore } from '../../../framework/state/zookeeper/zookeeper-store';
import { useZooKeeperServer } from '../../support/zookeeper-server';

describe('polly state export / import', () => {
  const server = useZooKeeperServer();
  let dir: string;
  beforeEach(async () => {
    dir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'polly-state-cmd-'));
  });
  afterEach(async () => {
    await fs.promises.rm(dir, { recursive: true, force: true });
  });

  it('moves every key from LevelDB to ZooKeeper and back, and refuses a non-empty target without force', async () => {
    const level = new LevelStore(path.join(dir, 'state'));
    await level.open();
    const entries: Array<[string, unknown]> = [
      ['framework/id', { value: 'fw-1' }],
      ['volumes/v1', { id: 'v1', size: 1 }],
      ['claims/c1', { id: 'c1', volumeId: 'v1' }],
      ['claims-by-volume/v1/c1', true],
      ['meta/schema-version', 1],
    ];
    for (const [k, v] of entries) await level.put(k, v);
    const dump = new PassThrough();
    const chunks: Buffer[] = [];
    dump.on('data', (c: Buffer) => chunks.push(c));
    expect(await exportState(level, dump)).toBe(5);
    dump.end();
    const text = Buffer.concat(chunks).toString('utf8');
    expect(text.trim().split('\n')).toHaveLength(5);

    const zk = new ZookeeperStore({ servers: server().connectString, root: '/polly-migrate' });
    await zk.open();
    expect(await importState(zk, PassThrough.from([text]))).toBe(5);
    for (const [k, v] of entries) expect(await zk.get(k)).toEqual(v);
    await expect(importState(zk, PassThrough.from([text]))).rejects.toBeInstanceOf(ValidationError);
    expect(await importState(zk, PassThrough.from([text]), { force: true })).toBe(5);

    // And back into an empty LevelDB.
    const back = new PassThrough();
    const out: Buffer[] = [];
    back.on('data', (c: Buffer) => out.push(c));
    await exportState(zk, back);
    back.end();
    const level2 = new LevelStore(path.join(dir, 'state2'));
    await level2.open();
    await importState(level2, PassThrough.from([Buffer.concat(out).toString('utf8')]));
    const copied: Array<[string, unknown]> = [];
    for await (const e of level2.scan('')) copied.push(e);
    expect(copied).toEqual([...entries].sort((a, b) => (a[0] < b[0] ? -1 : 1)));
    await Promise.all([level.close(), level2.close(), zk.close()]);
  }, 60_000);
});
