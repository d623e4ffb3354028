/** Reference §4.2 rows 1–14, 23: the HTTP layer of /api/v1/scheduler. */
import { mesos } from '../../../../framework/mesos/generated/mesos';
import { call, post, subscribe, SubscribeRefused, type EventStream } from '../../../support/mesos-http';
import { CallType, EventType, Cap, frameworkInfo, startCluster, stopCluster, subscribed, type Fixture } from './local-cluster-fixture';

let f: Fixture;
beforeEach(async () => {
  f = await startCluster({ agents: [] });
});
afterEach(async () => {
  await stopCluster(f);
});

async function refused(p: Promise<EventStream>): Promise<SubscribeRefused> {
  try {
    const s = await p;
    s.close();
  } catch (err) {
    if (err instanceof SubscribeRefused) return err;
    throw err;
  }
  throw new Error('expected SUBSCRIBE to be refused');
}

describe('HTTP validation', () => {
  test('GET gives 405 with Allow: POST (#11)', async () => {
    const r = await post(f.cluster.url, '/api/v1/scheduler', '', {}, 'GET');
    expect(r.status).toBe(405);
    expect(r.headers.allow).toBe('POST');
  });

  test('missing Content-Type gives 400 (#2)', async () => {
    const r = await post(f.cluster.url, '/api/v1/scheduler', '{}', {});
    expect(r.status).toBe(400);
    expect(r.text).toBe("Expecting 'Content-Type' to be present");
  });

  test.each(['application/unknown-media-type', 'application/json; charset=utf-8'])('Content-Type %s gives 415 (#5)', async (ct) => {
    const r = await post(f.cluster.url, '/api/v1/scheduler', '{}', { 'Content-Type': ct });
    expect(r.status).toBe(415);
    expect(r.text).toBe("Expecting 'Content-Type' of application/json or application/x-protobuf");
  });

  test('valid JSON without a type gives 400 (#3)', async () => {
    const r = await post(f.cluster.url, '/api/v1/scheduler', '{"string":"valid_json"}', { 'Content-Type': 'application/json' });
    expect(r.status).toBe(400);
    expect(r.text).toBe("Failed to validate scheduler::Call: Expecting 'type' to be present");
  });

  test('malformed bodies give 400 (#4)', async () => {
    const json = await post(f.cluster.url, '/api/v1/scheduler', 'MALFORMED_CONTENT', { 'Content-Type': 'application/json' });
    expect(json.status).toBe(400);
    expect(json.text).toMatch(/^Failed to parse body into JSON: /);
    const pb = await post(f.cluster.url, '/api/v1/scheduler', Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f]), { 'Content-Type': 'application/x-protobuf' });
    expect(pb.status).toBe(400);
    expect(pb.text).toBe('Failed to parse body into Call protobuf');
  });

  test('401 without credentials when auth is on (#1)', async () => {
    await stopCluster(f);
    f = await startCluster({ agents: [], credentials: [{ principal: 'polly', secret: 's3cret' }] });
    const r = await call(f.cluster.url, { type: CallType.SUBSCRIBE, subscribe: { framework_info: frameworkInfo() } });
    expect(r.status).toBe(401);
    expect(r.headers['www-authenticate']).toBe('Basic realm="mesos-master-scheduler"');
    const auth = `Basic ${Buffer.from('polly:s3cret').toString('base64')}`;
    const s = await subscribe(f.cluster.url, frameworkInfo({ principal: 'polly' }), { headers: { Authorization: auth } });
    f.streams.push(s);
    expect((await s.next(() => true)).type).toBe(EventType.SUBSCRIBED);
  });

  test('UNKNOWN call type gives 501', async () => {
    const { stream, frameworkId } = await subscribed(f);
    const r = await call(f.cluster.url, { type: CallType.UNKNOWN, framework_id: { value: frameworkId } }, { streamId: stream.streamId });
    expect(r.status).toBe(501);
  });
});

describe.each(['json', 'protobuf'] as const)('SUBSCRIBE (%s)', (format) => {
  test('200 chunked with a stream ID, SUBSCRIBED then HEARTBEATs (#6)', async () => {
    const stream = await subscribe(f.cluster.url, frameworkInfo(), { format });
    f.streams.push(stream);
    expect(stream.status).toBe(200);
    expect(stream.headers['transfer-encoding']).toBe('chunked');
    expect(stream.headers['content-type']).toBe(format === 'json' ? 'application/json' : 'application/x-protobuf');
    expect(stream.streamId).not.toBe('');
    const first = await stream.next(() => true);
    expect(first.type).toBe(EventType.SUBSCRIBED);
    expect(first.subscribed?.framework_id?.value).toMatch(new RegExp(`^${f.cluster.masterId}-0000$`));
    expect(first.subscribed?.heartbeat_interval_seconds).toBe(0.2);
    const info = first.subscribed?.master_info;
    expect(info?.id).toBe(f.cluster.masterId);
    expect(info?.ip).toBe(16777343);
    expect(info?.version).toBe('1.11.0');
    expect((await stream.next(() => true)).type).toBe(EventType.HEARTBEAT);
    expect((await stream.next(() => true)).type).toBe(EventType.HEARTBEAT);
  });

  test('an invalid role gives 200 and one ERROR, then the stream closes (#7)', async () => {
    const stream = await subscribe(f.cluster.url, frameworkInfo({ roles: ['/test/test1'] }), { format });
    f.streams.push(stream);
    expect(stream.status).toBe(200);
    const first = await stream.next(() => true);
    expect(first.type).toBe(EventType.ERROR);
    expect(first.error?.message).toContain("'FrameworkInfo.roles' contains invalid role");
    await stream.closed();
  });

  test('failover_timeout 1e17 gives ERROR (#23)', async () => {
    const stream = await subscribe(f.cluster.url, frameworkInfo({ failover_timeout: 1e17 }), { format });
    f.streams.push(stream);
    expect((await stream.next(() => true)).type).toBe(EventType.ERROR);
    await stream.closed();
  });
});

describe('SUBSCRIBE rules', () => {
  test('a Mesos-Stream-Id on SUBSCRIBE gives 400 (#8)', async () => {
    const err = await refused(subscribe(f.cluster.url, frameworkInfo(), { streamId: 'abc' }));
    expect(err.result.status).toBe(400);
    expect(err.result.text).toBe("Subscribe calls should not include the 'Mesos-Stream-Id' header");
  });

  test('re-SUBSCRIBE keeps the framework ID; the old stream gets ERROR and closes (#9)', async () => {
    const first = await subscribed(f, frameworkInfo({ failover_timeout: 60 }));
    const again = await subscribed(f, frameworkInfo({ failover_timeout: 60, id: { value: first.frameworkId } }));
    expect(again.frameworkId).toBe(first.frameworkId);
    expect(again.stream.streamId).not.toBe(first.stream.streamId);
    expect((await again.stream.next(() => true)).type).toBe(EventType.HEARTBEAT);
    const err = await first.stream.nextOfType(EventType.ERROR);
    expect(err.error?.message).toBe('Framework failed over');
    await first.stream.closed();
  });

  test('Accept negotiation (#10)', async () => {
    const bad = await refused(subscribe(f.cluster.url, frameworkInfo(), { accept: 'foo' }));
    expect(bad.result.status).toBe(406);
    expect(bad.result.text).toBe("Expecting 'Accept' to allow 'application/x-protobuf' or 'application/json'");
    for (const accept of [null, '*/*']) {
      const s = await subscribe(f.cluster.url, frameworkInfo(), { accept, format: 'protobuf' });
      f.streams.push(s);
      expect(s.headers['content-type']).toBe('application/json');
    }
    const pb = await subscribe(f.cluster.url, frameworkInfo(), { accept: 'application/x-protobuf', format: 'json' });
    f.streams.push(pb);
    expect(pb.headers['content-type']).toBe('application/x-protobuf');
    expect((await pb.next(() => true)).type).toBe(EventType.SUBSCRIBED);
  });

  test('role and roles with MULTI_ROLE, duplicates, non-MULTI_ROLE roles give ERROR', async () => {
    const cases: mesos.v1.IFrameworkInfo[] = [
      frameworkInfo({ role: 'a' }),
      frameworkInfo({ roles: ['a', 'a'] }),
      { user: 'u', name: 'n', roles: ['a'] },
    ];
    for (const info of cases) {
      const s = await subscribe(f.cluster.url, info);
      f.streams.push(s);
      expect((await s.next(() => true)).type).toBe(EventType.ERROR);
      await s.closed();
    }
  });

  test('suppressed roles outside the roles give ERROR', async () => {
    const s = await subscribe(f.cluster.url, frameworkInfo(), { suppressedRoles: ['other'] });
    f.streams.push(s);
    expect((await s.next(() => true)).type).toBe(EventType.ERROR);
  });
});

describe('non-SUBSCRIBE calls', () => {
  test('TEARDOWN without Mesos-Stream-Id gives 400 (#12)', async () => {
    const { frameworkId } = await subscribed(f);
    const r = await call(f.cluster.url, { type: CallType.TEARDOWN, framework_id: { value: frameworkId } });
    expect(r.status).toBe(400);
    expect(r.text).toBe("All non-subscribe calls should include the 'Mesos-Stream-Id' header");
  });

  test('TEARDOWN with the old stream ID after re-SUBSCRIBE gives 400 (#13)', async () => {
    const first = await subscribed(f, frameworkInfo({ failover_timeout: 60 }));
    const again = await subscribed(f, frameworkInfo({ failover_timeout: 60, id: { value: first.frameworkId } }));
    const r = await call(f.cluster.url, { type: CallType.TEARDOWN, framework_id: { value: first.frameworkId } }, { streamId: first.stream.streamId });
    expect(r.status).toBe(400);
    expect(r.text).toBe(
      `The stream ID '${first.stream.streamId}' included in this request didn't match the stream ID currently associated with framework ID ${first.frameworkId}`,
    );
    const ok = await call(f.cluster.url, { type: CallType.TEARDOWN, framework_id: { value: first.frameworkId } }, { streamId: again.stream.streamId });
    expect(ok.status).toBe(202);
    expect(ok.text).toBe('');
  });

  test.each(['json', 'protobuf'] as const)('ACKNOWLEDGE with a bad uuid gives 400 (#14, %s)', async (format) => {
    const { stream, frameworkId } = await subscribed(f);
    const r = await call(
      f.cluster.url,
      {
        type: CallType.ACKNOWLEDGE,
        framework_id: { value: frameworkId },
        acknowledge: { agent_id: { value: 'a' }, task_id: { value: 't' }, uuid: Buffer.from('bad-uuid') },
      },
      { streamId: stream.streamId, format },
    );
    expect(r.status).toBe(400);
    expect(r.text).toBe('Failed to validate scheduler::Call: Not a valid UUID');
  });

  test('unknown framework gives 400, disconnected gives 403', async () => {
    const unknown = await call(f.cluster.url, { type: CallType.REVIVE, framework_id: { value: 'nope' } }, { streamId: 'x' });
    expect(unknown.status).toBe(400);
    expect(unknown.text).toBe('Framework cannot be found');
    const { stream, frameworkId } = await subscribed(f, frameworkInfo({ failover_timeout: 60 }));
    stream.close();
    await new Promise((r) => setTimeout(r, 100));
    const r = await call(f.cluster.url, { type: CallType.REVIVE, framework_id: { value: frameworkId } }, { streamId: stream.streamId });
    expect(r.status).toBe(403);
    expect(r.text).toBe('Framework is not subscribed');
  });

  test('missing sub-message and framework_id give 400', async () => {
    const { stream, frameworkId } = await subscribed(f);
    const noAccept = await call(f.cluster.url, { type: CallType.ACCEPT, framework_id: { value: frameworkId } }, { streamId: stream.streamId });
    expect(noAccept.text).toBe("Failed to validate scheduler::Call: Expecting 'accept' to be present");
    const noId = await call(f.cluster.url, { type: CallType.REVIVE });
    expect(noId.text).toBe("Failed to validate scheduler::Call: Expecting 'framework_id' to be present");
  });

  test('UPDATE_FRAMEWORK answers 200', async () => {
    const { stream, frameworkId } = await subscribed(f);
    const r = await call(
      f.cluster.url,
      {
        type: CallType.UPDATE_FRAMEWORK,
        framework_id: { value: frameworkId },
        update_framework: { framework_info: frameworkInfo({ id: { value: frameworkId }, webui_url: 'http://127.0.0.1:7978/ui' }) },
      },
      { streamId: stream.streamId },
    );
    expect(r.status).toBe(200);
    const state = await post(f.cluster.url, '/master/state', '', {}, 'GET');
    expect(JSON.parse(state.text).frameworks[0].webui_url).toBe('http://127.0.0.1:7978/ui');
  });

  test('/master/api/v1/scheduler is the same endpoint', async () => {
    const r = await post(f.cluster.url, '/master/api/v1/scheduler', '{}', {});
    expect(r.status).toBe(400);
  });

  test('not leading: 307 to the leader, or 503', async () => {
    f.cluster.setLeading(false, 'http://10.0.0.9:5050');
    const r = await post(f.cluster.url, '/api/v1/scheduler', '{}', { 'Content-Type': 'application/json' });
    expect(r.status).toBe(307);
    expect(r.headers.location).toBe('//10.0.0.9:5050/api/v1/scheduler');
    f.cluster.setLeading(false);
    const r2 = await post(f.cluster.url, '/api/v1/scheduler', '{}', { 'Content-Type': 'application/json' });
    expect(r2.status).toBe(503);
    expect(r2.text).toBe('No leader elected');
  });
});

void Cap;
