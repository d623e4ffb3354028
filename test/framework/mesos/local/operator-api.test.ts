/** The operator API (/api/v1), /master/state for the web UI, and crash handling. */
import { mesos } from '../../../../framework/mesos/generated/mesos';
import { MessageCodec, MEDIA_TYPES } from '../../../../framework/mesos/codec';
import { RecordIoDecoder } from '../../../../framework/mesos/recordio';
import { call, post } from '../../../support/mesos-http';
import http from 'node:http';
import { CallType, EventType, TaskState, frameworkInfo, startCluster, stopCluster, subscribed, type Fixture } from './local-cluster-fixture';

const MCall = mesos.v1.master.Call;
const MResponse = mesos.v1.master.Response;

let f: Fixture;
beforeEach(async () => {
  f = await startCluster();
});
afterEach(async () => {
  await stopCluster(f);
});

async function operator(message: mesos.v1.master.ICall, format: 'json' | 'protobuf' = 'json'): Promise<mesos.v1.master.Response> {
  const body = new MessageCodec(MCall, format).encode(message);
  const r = await post(f.cluster.url, '/api/v1', body, { 'Content-Type': MEDIA_TYPES[format], Accept: MEDIA_TYPES[format] });
  expect(r.status).toBe(200);
  return new MessageCodec(MResponse, format).decode(r.body);
}

test.each(['json', 'protobuf'] as const)('GET_STATE / GET_FRAMEWORKS / GET_AGENTS / GET_MASTER use the Response enum (%s)', async (format) => {
  const { frameworkId } = await subscribed(f, frameworkInfo({ webui_url: 'http://127.0.0.1:7978/ui', hostname: 'polly-host' }));
  const state = await operator({ type: MCall.Type.GET_STATE }, format);
  expect(state.type).toBe(MResponse.Type.GET_STATE);
  expect(state.get_state?.get_frameworks?.frameworks?.[0].framework_info?.id?.value).toBe(frameworkId);
  expect(state.get_state?.get_agents?.agents?.[0].agent_info?.hostname).toBe('node0');
  const frameworks = await operator({ type: MCall.Type.GET_FRAMEWORKS }, format);
  expect(frameworks.type).toBe(MResponse.Type.GET_FRAMEWORKS);
  expect(frameworks.get_frameworks?.frameworks?.[0].framework_info?.webui_url).toBe('http://127.0.0.1:7978/ui');
  expect(frameworks.get_frameworks?.frameworks?.[0].connected).toBe(true);
  const agents = await operator({ type: MCall.Type.GET_AGENTS }, format);
  expect(agents.get_agents?.agents).toHaveLength(1);
  const master = await operator({ type: MCall.Type.GET_MASTER }, format);
  expect(master.get_master?.master_info?.id).toBe(f.cluster.masterId);
  expect((await operator({ type: MCall.Type.GET_HEALTH }, format)).get_health?.healthy).toBe(true);
  expect((await operator({ type: MCall.Type.GET_VERSION }, format)).get_version?.version_info?.version).toBe('1.11.0');
});

test('operator SUBSCRIBE: SUBSCRIBED with state, then FRAMEWORK_ADDED', async () => {
  const body = new MessageCodec(MCall, 'json').encode({ type: MCall.Type.SUBSCRIBE });
  const events: mesos.v1.master.Event[] = [];
  const decoder = new RecordIoDecoder();
  const codec = new MessageCodec(mesos.v1.master.Event, 'json');
  const u = new URL('/api/v1', f.cluster.url);
  const req = http.request({ method: 'POST', host: u.hostname, port: u.port, path: u.pathname, headers: { 'Content-Type': 'application/json', Accept: 'application/json' } }, (res) => {
    res.on('data', (c: Buffer) => {
      for (const r of decoder.push(c)) events.push(codec.decode(r));
    });
  });
  req.end(body);
  const until = async (pred: () => boolean): Promise<void> => {
    for (let i = 0; i < 250 && !pred(); i++) await new Promise((r) => setTimeout(r, 20));
    expect(pred()).toBe(true);
  };
  await until(() => events.length > 0);
  expect(events[0].type).toBe(mesos.v1.master.Event.Type.SUBSCRIBED);
  expect(events[0].subscribed?.get_state?.get_agents?.agents).toHaveLength(1);
  await subscribed(f);
  await until(() => events.some((e) => e.type === mesos.v1.master.Event.Type.FRAMEWORK_ADDED));
  req.destroy();
});

test('/master/state and /state with jsonp, as the web UI reads them', async () => {
  const { frameworkId } = await subscribed(f, frameworkInfo({ webui_url: 'http://127.0.0.1:7978/ui', hostname: 'polly-host' }));
  const r = await post(f.cluster.url, '/master/state?jsonp=JSON_CALLBACK', '', {}, 'GET');
  expect(r.text.startsWith('JSON_CALLBACK(')).toBe(true);
  const state = JSON.parse((await post(f.cluster.url, '/state', '', {}, 'GET')).text);
  const fw = state.frameworks[0];
  expect(fw).toMatchObject({ id: frameworkId, name: 'conformance', hostname: 'polly-host', webui_url: 'http://127.0.0.1:7978/ui', active: true, connected: true, roles: ['storage'] });
  expect(fw.capabilities).toEqual(['MULTI_ROLE', 'RESERVATION_REFINEMENT']);
  expect(state.slaves[0]).toMatchObject({ hostname: 'node0', active: true, attributes: { zone: 'zone-a' } });
  expect(state.slaves[0].resources.cpus).toBe(2);
  expect(state.slaves[0].domain.fault_domain.zone.name).toBe('zone-a');
});

test('a crashed agent becomes unreachable: TASK_LOST for a non-partition-aware framework', async () => {
  const { stream, frameworkId } = await subscribed(f);
  const offer = (await stream.nextOfType(EventType.OFFERS)).offers!.offers![0];
  const agentId = offer.agent_id!.value;
  await call(
    f.cluster.url,
    {
      type: CallType.ACCEPT,
      framework_id: { value: frameworkId },
      accept: {
        offer_ids: [offer.id!],
        operations: [
          {
            type: mesos.v1.Offer.Operation.Type.LAUNCH,
            launch: {
              task_infos: [
                { name: 't', task_id: { value: 't' }, agent_id: { value: agentId }, command: { value: 'sleep 30' }, resources: [{ name: 'cpus', type: 0, scalar: { value: 0.1 } }] },
              ],
            },
          },
        ],
      },
    },
    { streamId: stream.streamId },
  );
  f.cluster.crashAgent(agentId);
  const lost = await stream.next((e) => e.type === EventType.UPDATE && e.update!.status!.state === TaskState.TASK_LOST);
  expect(lost.update!.status!.reason).toBe(mesos.v1.TaskStatus.Reason.REASON_AGENT_REMOVED);
  expect((await stream.nextOfType(EventType.FAILURE)).failure?.agent_id?.value).toBe(agentId);
});
