/**
 * The session state machine on its own, against a loopback HTTP server that records requests.
 */
import * as http from 'node:http';
import { AddressInfo } from 'node:net';
import { MessageCodec } from '../../../../framework/mesos/codec';
import { mesos } from '../../../../framework/mesos/generated/mesos';
import { NotSubscribedError, UnexpectedResponseError } from '../../../../framework/mesos/http/mesos-http-error';
import { MesosHttpTransport } from '../../../../framework/mesos/http/mesos-http-transport';
import { StaticMasterDetector } from '../../../../framework/mesos/master-detector';
import { SchedulerSession, SessionStateError } from '../../../../framework/mesos/scheduler/scheduler-session';

const Call = mesos.v1.scheduler.Call;
const codec = new MessageCodec(Call, 'protobuf');

let server: http.Server;
let transport: MesosHttpTransport;
const seen: { headers: http.IncomingHttpHeaders; call: mesos.v1.scheduler.Call }[] = [];
const openStreams: http.ServerResponse[] = [];
let streamContentType = 'application/x-protobuf';

beforeEach(async () => {
  seen.length = 0;
  streamContentType = 'application/x-protobuf';
  server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const call = codec.decode(Buffer.concat(chunks));
      seen.push({ headers: req.headers, call });
      if (call.type === Call.Type.SUBSCRIBE) {
        res.writeHead(200, { 'Content-Type': streamContentType, 'Mesos-Stream-Id': 'stream-1' });
        res.flushHeaders();
        openStreams.push(res);
      } else {
        res.writeHead(202);
        res.end();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  transport = new MesosHttpTransport({
    detector: new StaticMasterDetector([`http://127.0.0.1:${(server.address() as AddressInfo).port}`]),
    path: 'api/v1/scheduler',
  });
});

afterEach(async () => {
  for (const res of openStreams.splice(0)) res.end();
  transport.close();
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

const subscribe: mesos.v1.scheduler.ICall = { type: Call.Type.SUBSCRIBE, subscribe: { framework_info: { user: 'u', name: 'n' } } };

describe('SchedulerSession', () => {
  it('accepts only SUBSCRIBE while disconnected', async () => {
    const session = new SchedulerSession(transport, codec, 'application/x-protobuf');
    expect(session.name).toBe('disconnected');
    await expect(session.call({ type: Call.Type.REVIVE })).rejects.toBeInstanceOf(NotSubscribedError);
    await expect(session.subscribe({ type: Call.Type.TEARDOWN })).rejects.toBeInstanceOf(SessionStateError);
    expect(seen).toHaveLength(0);
  });

  it('subscribing → subscribed stamps framework_id and Mesos-Stream-Id on every call', async () => {
    const session = new SchedulerSession(transport, codec, 'application/x-protobuf');
    await session.subscribe(subscribe);
    expect(session.name).toBe('subscribing');
    expect(session.streamId).toBe('stream-1');
    expect(seen[0].headers['accept']).toBe('application/x-protobuf');
    expect(seen[0].headers['mesos-stream-id']).toBeUndefined();
    await expect(session.call({ type: Call.Type.REVIVE })).rejects.toBeInstanceOf(NotSubscribedError);
    await expect(session.subscribe(subscribe)).rejects.toBeInstanceOf(SessionStateError);

    session.subscribed('fw-0000');
    expect(session.name).toBe('subscribed');
    await session.call({ type: Call.Type.REVIVE, revive: {} });
    expect(seen[1].headers['mesos-stream-id']).toBe('stream-1');
    expect(seen[1].headers['content-type']).toBe('application/x-protobuf');
    expect(seen[1].call.framework_id?.value).toBe('fw-0000');

    session.disconnect();
    expect(session.name).toBe('disconnected');
    expect(session.streamId).toBeUndefined();
    await expect(session.call({ type: Call.Type.REVIVE })).rejects.toBeInstanceOf(NotSubscribedError);

    session.stop();
    expect(session.name).toBe('stopped');
    await expect(session.subscribe(subscribe)).rejects.toBeInstanceOf(SessionStateError);
  });

  it('refuses a stream in the wrong media type and goes back to disconnected', async () => {
    streamContentType = 'application/json';
    const session = new SchedulerSession(transport, codec, 'application/x-protobuf');
    await expect(session.subscribe(subscribe)).rejects.toBeInstanceOf(UnexpectedResponseError);
    expect(session.name).toBe('disconnected');
  });
});
