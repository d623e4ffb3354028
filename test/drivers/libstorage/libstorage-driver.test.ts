/** drivers/libstorage against a scripted HTTP server: error mapping, timeouts, aborts, retries, headers. */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { LibStorageDriver } from '../../../drivers/libstorage/libstorage-driver';
import { errorForStatus, parseEndpoint } from '../../../drivers/libstorage/libstorage-http';
import {
  formatInstanceIdHeader,
  parseInstanceIdHeader,
  parseLocalDevicesHeader,
  parseTransactionHeader,
} from '../../../drivers/libstorage/instance-id-header';
import { cliCreateBody, fromSnapshotBody } from '../../support/rexray-client';

type Reply = { status: number; body?: unknown; delayMs?: number };
interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

let server: http.Server;
let url: string;
let replies: Array<(req: Seen) => Reply>;
let seen: Seen[];
const SERVICE_INFO = { name: 'ebs', driver: { name: 'ebs', type: 'block' } };

beforeEach(async () => {
  replies = [];
  seen = [];
  server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const s: Seen = { method: req.method!, url: req.url!, headers: req.headers, body: Buffer.concat(chunks).toString() };
      seen.push(s);
      const next = replies.shift();
      const reply = next ? next(s) : { status: 200, body: SERVICE_INFO };
      const send = (): void => {
        res.statusCode = reply.status;
        res.setHeader('Content-Type', 'application/json');
        res.end(reply.body === undefined ? '' : JSON.stringify(reply.body));
      };
      if (reply.delayMs) setTimeout(send, reply.delayMs).unref();
      else send();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterEach(async () => {
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
});

async function driver(extra: Partial<ConstructorParameters<typeof LibStorageDriver>[0]> = {}): Promise<LibStorageDriver> {
  const d = new LibStorageDriver({ host: url, service: 'ebs', timeoutMs: 500, retryDelayMs: 1, ...extra });
  await d.init();
  return d;
}

const volume = (id: string, attachments: unknown[] = []) => ({ id, name: `n-${id}`, size: 4, type: 'gp2', attachments });

describe('errors', () => {
  it.each([
    [404, 'resource not found', 'NOT_FOUND'],
    [409, 'conflict', 'CONFLICT'],
    [400, 'validate req schema: validation error', 'INVALID'],
    [401, 'invalid security token', 'INVALID'],
    [501, 'not implemented', 'NOT_IMPLEMENTED'],
    [500, 'volume name already exists', 'CONFLICT'],
    [500, 'volume already attached to a host', 'CONFLICT'],
    [500, 'not implemented', 'NOT_IMPLEMENTED'],
    [500, 'validate req schema: validation error: "#" must have property "name"', 'INVALID'],
    [500, 'resource not found', 'NOT_FOUND'],
    [500, 'AWS throttled', 'TRANSIENT'],
    [503, 'unavailable', 'TRANSIENT'],
    [408, 'task timeout', 'TRANSIENT'],
  ])('%i %s → %s', (status, message, code) => {
    expect(errorForStatus(status, { message, status }, 'op').code).toBe(code);
  });

  it('maps HTTP answers to typed driver errors end to end', async () => {
    const d = await driver();
    replies.push(() => ({ status: 404, body: { message: 'resource not found', status: 404, error: { resourceID: 'v' } } }));
    await expect(d.volumeInspect('v')).rejects.toMatchObject({ name: 'DriverNotFoundError' });
    replies.push(() => ({ status: 500, body: { message: 'volume name already exists', status: 500 } }));
    await expect(d.volumeCreate('x', { size: 1 })).rejects.toMatchObject({ name: 'DriverConflictError' });
    replies.push(() => ({ status: 400, body: { message: 'bad', status: 400 } }));
    await expect(d.volumeCreate('x', { size: 1 })).rejects.toMatchObject({ name: 'DriverInvalidError' });
    replies.push(() => ({ status: 502 }));
    await expect(d.volumeCreate('x', { size: 1 })).rejects.toMatchObject({ name: 'DriverTransientError' });
    // Not found by name is "absent", not an error.
    replies.push(() => ({ status: 404, body: { message: 'resource not found', status: 404 } }));
    expect(await d.volumeInspectByName('x')).toBeUndefined();
    expect(seen.at(-1)!.url).toBe('/volumes/ebs/x?byName&attachments=1');
  });

  it('a connection refused is transient', async () => {
    const d = new LibStorageDriver({ host: 'http://127.0.0.1:1', service: 'ebs', timeoutMs: 500, readRetries: 0 });
    await expect(d.init()).rejects.toMatchObject({ name: 'DriverTransientError' });
  });
});

describe('timeouts, aborts and retries', () => {
  it('times out (transient) and honours the caller signal (AbortError)', async () => {
    const d = await driver({ timeoutMs: 50, readRetries: 0 });
    replies.push(() => ({ status: 200, body: volume('v'), delayMs: 2000 }));
    await expect(d.volumeInspect('v')).rejects.toMatchObject({ name: 'DriverTransientError', details: { timedOut: true } });
    const slow = await driver({ timeoutMs: 5000 });
    replies.push(() => ({ status: 200, body: volume('v'), delayMs: 2000 }));
    const controller = new AbortController();
    const pending = slow.volumeInspect('v', { signal: controller.signal });
    controller.abort(new Error('shutdown'));
    await expect(pending).rejects.toMatchObject({ name: 'AbortError' });
    const already = new AbortController();
    already.abort();
    await expect(slow.volumes({ signal: already.signal })).rejects.toMatchObject({ name: 'AbortError' });
  });

  it('retries reads on transient failures, never mutations', async () => {
    const d = await driver({ readRetries: 2 });
    const before = seen.length;
    replies.push(
      () => ({ status: 503 }),
      () => ({ status: 503 }),
      () => ({ status: 200, body: { v1: volume('v1') } }),
    );
    expect((await d.volumes()).map((v) => v.id)).toEqual(['v1']);
    expect(seen.length - before).toBe(3);

    const mark = seen.length;
    replies.push(
      () => ({ status: 503 }),
      () => ({ status: 201, body: volume('v2') }),
    );
    await expect(d.volumeCreate('v2', { size: 1 })).rejects.toMatchObject({ name: 'DriverTransientError' });
    expect(seen.length - mark).toBe(1);
    replies.length = 0;
  });
});

describe('requests', () => {
  it('attaches with the instance-ID header and is idempotent; detaches only when attached', async () => {
    const d = await driver();
    replies.push(
      () => ({ status: 200, body: volume('v') }),
      () => ({
        status: 200,
        body: {
          volume: volume('v', [
            { deviceName: '/dev/xvdf', instanceID: { id: 'i-1', driver: 'ebs', service: 'ebs' }, status: 'attached', volumeID: 'v' },
          ]),
          attachToken: '/dev/xvdf',
        },
      }),
    );
    const r = await d.volumeAttach('v', { id: 'i-1' }, { force: true });
    expect(r.attachToken).toBe('/dev/xvdf');
    expect(r.volume.attachments[0]).toMatchObject({ instanceId: { id: 'i-1' }, deviceName: '/dev/xvdf' });
    const attach = seen.at(-1)!;
    expect(attach.method).toBe('POST');
    expect(attach.url).toBe('/volumes/ebs/v?attach');
    expect(attach.headers['libstorage-instanceid']).toBe('ebs:ebs=i-1');
    expect(parseTransactionHeader(String(attach.headers['libstorage-tx']))).toMatchObject({ id: expect.any(String) });
    expect(JSON.parse(attach.body)).toEqual({ force: true });

    // Already attached to that instance: no attach request.
    const attached = volume('v', [
      { deviceName: '/dev/xvdf', instanceID: { id: 'I-1', driver: 'ebs', service: 'ebs' }, status: 'attached', volumeID: 'v' },
    ]);
    replies.push(() => ({ status: 200, body: attached }));
    const n = seen.length;
    await d.volumeAttach('v', { id: 'i-1' });
    expect(seen.length - n).toBe(1);

    // Detach: 205 with null → re-inspected; not attached → no detach request.
    replies.push(
      () => ({ status: 200, body: attached }),
      () => ({ status: 205, body: null }),
      () => ({ status: 200, body: volume('v') }),
    );
    expect((await d.volumeDetach('v', { id: 'i-1' })).attachments).toEqual([]);
    expect(seen.at(-2)!.url).toBe('/volumes/ebs/v?detach');
    replies.push(() => ({ status: 200, body: volume('v') }));
    const m = seen.length;
    await d.volumeDetach('v', { id: 'i-1' });
    expect(seen.length - m).toBe(1);
  });

  it('sends create, copy, snapshot, remove and bearer tokens as libStorage expects', async () => {
    const d = await driver({ token: 'jwt-abc' });
    replies.push(() => ({ status: 201, body: volume('v9') }));
    await d.volumeCreate('data', { size: 8, type: 'gp2', iops: 100, availabilityZone: 'us-1a', encrypted: true, fields: { team: 'a' } });
    const create = seen.at(-1)!;
    expect(create.headers.authorization).toBe('Bearer jwt-abc');
    expect(JSON.parse(create.body)).toEqual({
      name: 'data',
      size: 8,
      type: 'gp2',
      iops: 100,
      availabilityZone: 'us-1a',
      encrypted: true,
      opts: { team: 'a' },
    });
    replies.push(() => ({ status: 201, body: volume('v10') }));
    await d.volumeCopy('v9', 'copy');
    expect([seen.at(-1)!.url, JSON.parse(seen.at(-1)!.body)]).toEqual(['/volumes/ebs/v9?copy', { volumeName: 'copy' }]);
    replies.push(() => ({ status: 201, body: { id: 's1', name: 'snap', volumeID: 'v9', startTime: 1500000000 } }));
    const snap = await d.volumeSnapshot('v9', 'snap');
    expect(snap).toMatchObject({ id: 's1', volumeId: 'v9', startTime: '2017-07-14T02:40:00.000Z' });
    replies.push(() => ({ status: 204 }));
    await d.volumeRemove('v9', { force: true });
    expect([seen.at(-1)!.method, seen.at(-1)!.url]).toEqual(['DELETE', '/volumes/ebs/v9?force']);
    await expect(d.volumeCreate('../bad', {})).rejects.toMatchObject({ name: 'DriverInvalidError' });
    expect(d.type()).toBe('block');
  });

  it('sends bodies byte for byte as the stock REX-Ray client does (zero values, Go field order) and a Libstorage-Tx on every request', async () => {
    const d = await driver();
    expect(parseTransactionHeader(String(seen.at(-1)!.headers['libstorage-tx']))).toMatchObject({ id: expect.any(String) });
    replies.push(() => ({ status: 201, body: volume('v1') }));
    await d.volumeCreate('data', { size: 1 });
    expect(seen.at(-1)!.body).toBe(cliCreateBody('data', { size: 1 }));
    expect(seen.at(-1)!.headers['content-type']).toBe('application/json');
    replies.push(() => ({ status: 201, body: volume('v2') }));
    await d.volumeCreate('zoned', { size: 2, availabilityZone: 'us-1a', type: 'gp2', iops: 100 });
    expect(seen.at(-1)!.body).toBe(cliCreateBody('zoned', { size: 2, availabilityZone: 'us-1a', type: 'gp2', iops: 100 }));
    replies.push(() => ({ status: 201, body: volume('v3') }));
    await d.volumeCreateFromSnapshot('s1', 'restored', {});
    expect([seen.at(-1)!.url, seen.at(-1)!.body]).toEqual(['/snapshots/ebs/s1?create', fromSnapshotBody('restored')]);
    replies.push(() => ({ status: 201, body: { id: 's2', name: 'copied', volumeID: 'v1', startTime: 1500000000 } }));
    expect(await d.snapshotCopy('s1', 'copied')).toMatchObject({ id: 's2', name: 'copied', volumeId: 'v1' });
    expect([seen.at(-1)!.url, seen.at(-1)!.body]).toEqual(['/snapshots/ebs/s1?copy', '{"snapshotName":"copied","destinationID":""}']);
    replies.push(() => ({ status: 200, body: {} }));
    await d.volumes();
    expect(parseTransactionHeader(String(seen.at(-1)!.headers['libstorage-tx']))).toMatchObject({ id: expect.any(String) });
  });
});

describe('headers and endpoints', () => {
  it('round-trips instance IDs (fields, metadata) and parses local devices', () => {
    const h = formatInstanceIdHeader({
      driver: 'vfs',
      service: 'local',
      id: 'host-a',
      fields: { region: 'east', zone: '2' },
      metadata: 'host-a',
    });
    expect(parseInstanceIdHeader(h)).toMatchObject({
      driver: 'vfs',
      service: 'local',
      id: 'host-a',
      fields: { region: 'east', zone: '2' },
      metadata: 'host-a',
    });
    expect(parseInstanceIdHeader('VFS=,,' + Buffer.from('"h"').toString('base64'))).toMatchObject({ driver: 'vfs', id: '', metadata: 'h' });
    expect(() => parseInstanceIdHeader('garbage')).toThrow('invalid InstanceID');
    expect(parseLocalDevicesHeader('ebs=')).toEqual({ driver: 'ebs', devices: {} });
    expect(parseLocalDevicesHeader('vfs=/dev/xvda::/,/dev/xvdb::/mnt')).toEqual({
      driver: 'vfs',
      devices: { '/dev/xvda': '/', '/dev/xvdb': '/mnt' },
    });
  });

  it('accepts http(s)://, tcp:// and unix:// hosts', () => {
    expect(parseEndpoint('tcp://127.0.0.1:7981')).toEqual({ protocol: 'http:', hostname: '127.0.0.1', port: 7981 });
    expect(parseEndpoint('https://polly:443')).toEqual({ protocol: 'https:', hostname: 'polly', port: 443 });
    expect(parseEndpoint('unix:///var/run/polly/ls.sock')).toEqual({ protocol: 'http:', socketPath: '/var/run/polly/ls.sock' });
  });
});
