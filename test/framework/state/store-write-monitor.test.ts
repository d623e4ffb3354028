/** StoreWriteMonitor over a real LevelStore: what counts as a failure, stalls, the probe, the causes. */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { DiskError, InsufficientStorageError, StoreWriteError, ValidationError } from '../../../framework/errors';
import { LevelStore } from '../../../framework/state/level-store';
import { StoreClosedError } from '../../../framework/state/store';
import { storeFailureCause, StoreFailureCause, StoreWriteMonitor, WRITE_PROBE_KEY } from '../../../framework/state/store-write-monitor';
import { StoreFencedError } from '../../../framework/state/zookeeper/zookeeper-store';
import { ZkUnavailableError } from '../../../framework/shared/zookeeper/zk-session';
import { waitFor } from '../../support/mesos-http';

describe('StoreWriteMonitor', () => {
  let dir: string;
  let raw: LevelStore;
  let monitor: StoreWriteMonitor;
  let failures: StoreFailureCause[];
  let clock: number;

  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'polly-store-monitor-'));
    raw = new LevelStore(path.join(dir, 'state'), { sync: false });
    await raw.open();
    failures = [];
    clock = 1_000_000;
    monitor = new StoreWriteMonitor({
      backend: 'leveldb',
      intervalMs: 100,
      stallMs: 5_000,
      onFailure: (cause) => failures.push(cause),
      now: () => clock,
    });
  });
  afterEach(async () => {
    await monitor.stop();
    await raw.close();
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('counts real failures only: a lost compare-and-set or a bad key is the store answering', async () => {
    const store = monitor.observe(raw);
    await store.put('volumes/a', 1);
    await expect(store.putIfVersion('volumes/a', 2, 7)).rejects.toMatchObject({ code: 'STORE_CONFLICT' });
    await expect(store.put('/bad/', 1)).rejects.toBeInstanceOf(ValidationError);
    expect(monitor.status()).toEqual({ writable: true });
    expect(failures).toEqual([]);
  });

  it('is not writable after a failed write, with the reason, until a write succeeds again', async () => {
    const store = monitor.observe(raw);
    await raw.close();
    await expect(store.put('volumes/a', 1)).rejects.toBeInstanceOf(StoreClosedError);
    expect(monitor.status()).toEqual({ writable: false, reason: 'the state store (leveldb) cannot write: The state store is not open' });
    expect(failures).toEqual(['closed']);
    await raw.open();
    await store.batch([{ type: 'put', key: 'volumes/b', value: 2 }]);
    expect(monitor.status()).toEqual({ writable: true });
  });

  it('is not writable while a write has been waiting longer than stallMs', async () => {
    const store = monitor.observe(raw);
    const write = store.put('volumes/slow', 1);
    clock += 6_000;
    expect(monitor.status()).toEqual({ writable: false, reason: 'the state store (leveldb) has not finished a write for 6 s' });
    await write;
    expect(monitor.status()).toEqual({ writable: true });
  });

  it('probes by itself when idle or failing, and reports a broken connection first', async () => {
    let down: string | undefined = 'ZooKeeper is disconnected';
    const probing = new StoreWriteMonitor({ backend: 'leveldb', intervalMs: 100, connection: () => down });
    const store = probing.observe(raw);
    try {
      expect(probing.status()).toEqual({ writable: false, reason: 'ZooKeeper is disconnected' });
      down = undefined;
      probing.start();
      // Idle for intervalMs: the probe writes its key.
      await waitFor(async () => (await raw.get(WRITE_PROBE_KEY)) !== undefined, 10_000);
      // A failure clears by itself once the store writes again (the probe, not a caller).
      await raw.close();
      await expect(store.put('volumes/x', 1)).rejects.toBeInstanceOf(StoreClosedError);
      expect(probing.status().writable).toBe(false);
      await raw.open();
      await waitFor(() => probing.status().writable, 10_000);
    } finally {
      await probing.stop();
    }
  });

  it('labels failures by cause', () => {
    const enospc = Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', path: '/x' });
    const level = Object.assign(new Error('IO error: /s/000003.log: Disk quota exceeded'), { code: 'LEVEL_IO_ERROR' });
    const cases: Array<[unknown, StoreFailureCause]> = [
      [new InsufficientStorageError('full', {}, { cause: enospc }), 'no_space'],
      [level, 'quota'],
      [new DiskError('ro', {}, { cause: Object.assign(new Error('EROFS'), { code: 'EROFS' }) }), 'read_only'],
      [new ZkUnavailableError('ZooKeeper operation timed out'), 'unavailable'],
      [new StoreFencedError('no longer the leader'), 'fenced'],
      [new StoreClosedError(), 'closed'],
      [new StoreWriteError('the state store cannot write: boom'), 'backend'],
      [new Error('something else'), 'other'],
    ];
    for (const [err, cause] of cases) expect([String(err), storeFailureCause(err)]).toEqual([String(err), cause]);
  });
});
