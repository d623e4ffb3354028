/**
 * Header-level behaviour of the transport against plain loopback HTTP servers (the scheduler and
 * operator suites cover it against the local cluster).
 */
import * as http from 'node:http';
import { AddressInfo } from 'node:net';
import { MesosHttpTransport } from '../../../../framework/mesos/http/mesos-http-transport';
import {
  BadRequestError,
  NetworkError,
  NotSubscribedError,
  RedirectError,
  ServiceUnavailableError,
  UnauthorizedError,
} from '../../../../framework/mesos/http/mesos-http-error';
import { StaticMasterDetector } from '../../../../framework/mesos/master-detector';

interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

type Handler = (req: http.IncomingMessage, res: http.ServerResponse, seen: Seen) => void;

const servers: http.Server[] = [];
const transports: MesosHttpTransport[] = [];

async function serve(handler: Handler): Promise<{ url: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const s = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks) };
      seen.push(s);
      handler(req, res, s);
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

function transport(urls: string[], extra: Partial<ConstructorParameters<typeof MesosHttpTransport>[0]> = {}): {
  t: MesosHttpTransport;
  detector: StaticMasterDetector;
} {
  const detector = new StaticMasterDetector(urls);
  const t = new MesosHttpTransport({ detector, path: 'api/v1/scheduler', unavailableBackoff: { minMs: 1, maxMs: 5 }, ...extra });
  transports.push(t);
  return { t, detector };
}

afterEach(async () => {
  for (const t of transports.splice(0)) t.close();
  await Promise.all(
    servers.splice(0).map(
      (s) =>
        new Promise<void>((resolve) => {
          s.closeAllConnections();
          s.close(() => resolve());
        }),
    ),
  );
});

describe('MesosHttpTransport', () => {
  it('POSTs with the exact Content-Type, Accept and basic auth', async () => {
    const master = await serve((_req, res) => {
      res.writeHead(202);
      res.end();
    });
    const { t } = transport([master.url], { credentials: { principal: 'polly', secret: 's3cret' } });
    const answer = await t.post({ body: Buffer.from('{}'), contentType: 'application/json', accept: 'application/x-protobuf' });
    expect(answer.status).toBe(202);
    const [req] = master.seen;
    expect(req.method).toBe('POST');
    expect(req.url).toBe('/api/v1/scheduler');
    expect(req.headers['content-type']).toBe('application/json');
    expect(req.headers['accept']).toBe('application/x-protobuf');
    expect(req.headers['content-length']).toBe('2');
    expect(req.headers['authorization']).toBe('Basic ' + Buffer.from('polly:s3cret').toString('base64'));
    expect(req.body.toString()).toBe('{}');
  });

  it('follows a protocol-relative 307 and remembers the leader', async () => {
    const leader = await serve((_req, res) => {
      res.writeHead(202);
      res.end();
    });
    const follower = await serve((_req, res) => {
      res.writeHead(307, { Location: `//${new URL(leader.url).host}/api/v1/scheduler` });
      res.end();
    });
    const { t, detector } = transport([follower.url]);
    const answer = await t.post({ body: Buffer.from('x'), contentType: 'application/x-protobuf' });
    expect(answer.master.href).toBe(leader.url + '/');
    expect((await detector.current()).href).toBe(leader.url + '/');
    expect(leader.seen[0].body.toString()).toBe('x');
    expect(leader.seen[0].headers['content-type']).toBe('application/x-protobuf');
    await t.post({ body: Buffer.from('y'), contentType: 'application/x-protobuf' });
    expect(follower.seen).toHaveLength(1);
    expect(leader.seen).toHaveLength(2);
  });

  it('gives up after a bounded number of redirects', async () => {
    const loop = await serve((req, res) => {
      res.writeHead(307, { Location: `//${req.headers.host}/api/v1/scheduler` });
      res.end();
    });
    const { t } = transport([loop.url], { maxRedirects: 3 });
    await expect(t.post({ body: Buffer.from('x'), contentType: 'application/json' })).rejects.toBeInstanceOf(RedirectError);
    expect(loop.seen).toHaveLength(4);
  });

  it('retries 503 with backoff, then succeeds or gives up', async () => {
    let unavailable = 2;
    const master = await serve((_req, res) => {
      if (unavailable-- > 0) {
        res.writeHead(503);
        res.end('No leader elected');
      } else {
        res.writeHead(202);
        res.end();
      }
    });
    const { t } = transport([master.url]);
    expect((await t.post({ body: Buffer.from('x'), contentType: 'application/json' })).status).toBe(202);
    expect(master.seen).toHaveLength(3);

    unavailable = 100;
    const err = await t.post({ body: Buffer.from('x'), contentType: 'application/json' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ServiceUnavailableError);
    expect((err as ServiceUnavailableError).temporary).toBe(true);
    expect((err as ServiceUnavailableError).body).toBe('No leader elected');
    expect(master.seen).toHaveLength(3 + 4);
  });

  it('with unavailableRetries 0, a 503 goes straight to the caller, for calls and streams alike', async () => {
    const master = await serve((_req, res) => {
      res.writeHead(503);
      res.end('Master has not finished recovery');
    });
    const { t } = transport([master.url], { unavailableRetries: 0 });
    const err = await t.post({ body: Buffer.from('x'), contentType: 'application/json' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ServiceUnavailableError);
    expect(master.seen).toHaveLength(1);
    const streamErr = await t
      .openStream({ body: Buffer.from('s'), contentType: 'application/json', accept: 'application/json' })
      .catch((e: unknown) => e);
    expect(streamErr).toBeInstanceOf(ServiceUnavailableError);
    expect((streamErr as ServiceUnavailableError).body).toBe('Master has not finished recovery');
    expect(master.seen).toHaveLength(2);
  });

  it('maps statuses to typed errors', async () => {
    const answers: [number, string][] = [
      [400, 'Failed to validate scheduler::Call: Not a valid UUID'],
      [401, ''],
      [403, 'Framework is not subscribed'],
    ];
    const master = await serve((_req, res) => {
      const [status, body] = answers.shift()!;
      res.writeHead(status);
      res.end(body);
    });
    const { t } = transport([master.url]);
    const req = { body: Buffer.from('x'), contentType: 'application/json' };
    const bad = await t.post(req).catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(BadRequestError);
    expect((bad as BadRequestError).message).toMatch(/Not a valid UUID/);
    expect((bad as BadRequestError).temporary).toBe(false);
    await expect(t.post(req)).rejects.toBeInstanceOf(UnauthorizedError);
    const notSubscribed = await t.post(req).catch((e: unknown) => e);
    expect(notSubscribed).toBeInstanceOf(NotSubscribedError);
    expect((notSubscribed as NotSubscribedError).temporary).toBe(true);
  });

  it('reports an unreachable master as a temporary NetworkError and rotates', async () => {
    const dead = await serve(() => undefined);
    const deadUrl = dead.url;
    await new Promise<void>((resolve) => servers.pop()!.close(() => resolve()));
    const alive = await serve((_req, res) => {
      res.writeHead(202);
      res.end();
    });
    const { t, detector } = transport([deadUrl, alive.url]);
    const err = await t.post({ body: Buffer.from('x'), contentType: 'application/json' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NetworkError);
    expect((err as NetworkError).temporary).toBe(true);
    expect((await detector.current()).href).toBe(alive.url + '/');
    expect((await t.post({ body: Buffer.from('x'), contentType: 'application/json' })).status).toBe(202);
  });

  it('opens a stream on a connection of its own', async () => {
    let streamRes: http.ServerResponse | undefined;
    const master = await serve((req, res) => {
      if (req.headers['accept'] === 'application/x-protobuf') {
        res.writeHead(200, { 'Content-Type': 'application/x-protobuf', 'Mesos-Stream-Id': 'sid' });
        res.write('3\nabc');
        streamRes = res;
      } else {
        res.writeHead(202);
        res.end();
      }
    });
    const { t } = transport([master.url]);
    const stream = await t.openStream({ body: Buffer.from('s'), contentType: 'application/x-protobuf', accept: 'application/x-protobuf' });
    expect(stream.headers['mesos-stream-id']).toBe('sid');
    const first = await new Promise<Buffer>((resolve) => stream.body.once('data', resolve));
    expect(first.toString()).toBe('3\nabc');
    await t.post({ body: Buffer.from('c'), contentType: 'application/x-protobuf' });
    expect(master.seen[1].headers['connection']).not.toBe('close');
    expect(master.seen[0].headers['connection']).toBe('close');
    stream.close();
    streamRes?.end();
  });
});
