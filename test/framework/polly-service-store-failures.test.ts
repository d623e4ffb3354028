/**
 * Store failures are visible: a full disk under POLLY_HOME (a real loop-mounted ext4 image) and a
 * frozen or stopped ZooKeeper (a real server) make writes answer with the cause, `/health/ready`
 * 503 with the reason and `polly_store_write_failures_total` count — and all of it returns to
 * normal by itself once the cause is gone.
 */
import path from 'node:path';
import { silentLogger } from '../../framework/shared/logger';
import { PollyService } from '../../framework/polly-service';
import { LoopFilesystem } from '../support/loop-filesystem';
import { LocalPollyFixture, startLocalPollyFixture } from '../support/local-polly';
import { waitFor } from '../support/mesos-http';
import { ZooKeeperServer } from '../support/zookeeper-server';

interface Answer {
  status: number;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
}

async function call(base: string, method: string, p: string, body?: unknown): Promise<Answer> {
  const res = await fetch(`${base}${p}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as unknown) : undefined };
}

async function failureCount(base: string, backend: string, cause: string): Promise<number> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const m = new RegExp(`^polly_store_write_failures_total\\{backend="${backend}",cause="${cause}"\\} (\\d+)$`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}

const FAST_PROBE = { 'state.writeProbe.intervalMs': 100, 'state.writeProbe.stallMs': 1500 };

describe('a full disk under POLLY_HOME', () => {
  let disk: LoopFilesystem | undefined;
  let fixture: LocalPollyFixture | undefined;
  let service: PollyService | undefined;

  beforeAll(async () => {
    disk = await LoopFilesystem.create(24, 'polly-disk-full-');
    fixture = await startLocalPollyFixture('polly-disk-full-cluster-');
    service = await PollyService.start({
      config: fixture.config({ home: path.join(disk.mountPoint, 'home'), ...FAST_PROBE }),
      logger: silentLogger,
    });
  }, 60_000);
  afterAll(async () => {
    disk?.free();
    await service?.stop().catch(() => undefined);
    await fixture?.dispose().catch(() => undefined);
    await disk?.cleanup();
  });

  it('answers 507 with the cause on both APIs, turns /health/ready 503 and counts; recovers once space is freed', async () => {
    const api = service!.apiUrl;
    const ls = service!.libstorageUrl!;
    await waitFor(async () => (await call(api, 'GET', '/health/ready')).status === 200, 20_000);
    expect((await call(api, 'POST', '/v1/volumes', { service: 'local', name: 'before', size: 1 })).status).toBe(201);
    expect(await failureCount(api, 'leveldb', 'no_space')).toBe(0);

    disk!.fill();
    // The first writes may still fit in blocks the store's files already have; the disk runs out soon.
    let refused: Answer | undefined;
    for (let i = 0; i < 50 && !refused; i++) {
      const r = await call(api, 'POST', '/v1/volumes', { service: 'local', name: `full-${i}`, size: 1, labels: { pad: 'x'.repeat(3000) } });
      if (r.status !== 201) refused = r;
    }
    expect(refused).toBeDefined();
    expect(refused!.status).toBe(507);
    expect(refused!.body.message).toMatch(/cannot write: no space left on device \(.*home.*\)$/);
    expect(refused!.body.details).toMatchObject({ errno: 'ENOSPC' });

    const viaLibStorage = await call(ls, 'POST', '/volumes/local', { name: 'ls-full', size: 1 });
    expect(viaLibStorage.status).toBe(507);
    expect(viaLibStorage.body).toMatchObject({ status: 507, message: expect.stringMatching(/no space left on device/) });

    const notReady = await waitFor(async () => {
      const r = await call(api, 'GET', '/health/ready');
      return r.status === 503 ? r : undefined;
    }, 20_000);
    expect(notReady.body.checks).toMatchObject({ storeOpen: true, storeWritable: false });
    expect(notReady.body.reasons.join('\n')).toMatch(/the state store cannot write: no space left on device/);
    expect(await failureCount(api, 'leveldb', 'no_space')).toBeGreaterThan(0);

    disk!.free();
    await waitFor(async () => (await call(api, 'GET', '/health/ready')).status === 200, 20_000);
    const after = await call(api, 'POST', '/v1/volumes', { service: 'local', name: 'after', size: 1 });
    expect(after.status).toBe(201);
    expect((await call(ls, 'POST', '/volumes/local', { name: 'ls-after', size: 1 })).status).toBe(201);
    const names = ((await call(api, 'GET', '/v1/volumes')).body.volumes as Array<{ name: string }>).map((v) => v.name);
    expect(names).toEqual(expect.arrayContaining(['before', 'after', 'ls-after']));
  });
});

describe('a frozen, then stopped ZooKeeper (state.backend zookeeper)', () => {
  let zk: ZooKeeperServer | undefined;
  let fixture: LocalPollyFixture | undefined;
  let service: PollyService | undefined;

  beforeAll(async () => {
    zk = await ZooKeeperServer.start();
    fixture = await startLocalPollyFixture('polly-zk-ready-');
    service = await PollyService.start({
      config: fixture.config({
        'state.backend': 'zookeeper',
        'state.servers': zk.connectString,
        'state.path': '/polly-ready',
        'state.sessionTimeoutMs': 4000,
        ...FAST_PROBE,
      }),
      logger: silentLogger,
    });
  }, 60_000);
  afterAll(async () => {
    zk?.thaw();
    await service?.stop().catch(() => undefined);
    await fixture?.dispose().catch(() => undefined);
    await zk?.cleanup();
  });

  const ready = (): Promise<Answer> => call(service!.apiUrl, 'GET', '/health/ready');
  const becomes = (status: number): Promise<Answer> =>
    waitFor(async () => {
      const r = await ready();
      return r.status === status ? r : undefined;
    }, 30_000);

  it('turns /health/ready 503 with the reason while ZooKeeper is frozen or down, and 200 again after', async () => {
    await becomes(200);

    zk!.freeze();
    const frozen = await becomes(503);
    expect(frozen.body.checks).toMatchObject({ storeWritable: false });
    expect(frozen.body.reasons.join('\n')).toMatch(/the state store \(zookeeper\) has not finished a write for \d+ s/);
    zk!.thaw();
    await becomes(200);

    await zk!.stop();
    const down = await becomes(503);
    expect(down.body.reasons.join('\n')).toMatch(/ZooKeeper is disconnected|state store \(zookeeper\)/);
    await zk!.startAgain();
    await becomes(200);
    const created = await call(service!.apiUrl, 'POST', '/v1/volumes', { service: 'local', name: 'after-zk', size: 1 });
    expect(created.status).toBe(201);
  });
});
