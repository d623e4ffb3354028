/**
 * Wire-contract checks for Polly's Mesos v1 protos (proto/mesos/v1/**).
 * The generated code comes from `npm run proto` (scripts/gen-proto.js).
 */
import { Reader } from 'protobufjs/minimal';
import { mesos } from '../../framework/mesos/generated/mesos';

const v1 = mesos.v1;
const sched = mesos.v1.scheduler;
const master = mesos.v1.master;

/** The conversion options Polly uses for Mesos JSON. */
const JSON_OPTS = { enums: String, bytes: String, longs: Number, json: true };

/** Top-level field numbers (in wire order) of an encoded message. */
function fieldNumbers(bytes: Uint8Array): number[] {
  const reader = Reader.create(bytes);
  const out: number[] = [];
  while (reader.pos < reader.len) {
    const tag = reader.uint32();
    out.push(tag >>> 3);
    reader.skipType(tag & 7);
  }
  return out;
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}

function jsonRoundTrip<T>(
  type: {
    fromObject(o: { [k: string]: unknown }): T;
    encode(m: T): { finish(): Uint8Array };
    decode(b: Uint8Array): T;
    toObject(m: T, o: object): { [k: string]: unknown };
  },
  json: { [k: string]: unknown },
): { [k: string]: unknown } {
  const bytes = type.encode(type.fromObject(json)).finish();
  return type.toObject(type.decode(bytes), JSON_OPTS);
}

describe('scheduler Call', () => {
  it('encodes Call{type: TEARDOWN} as exactly 0x10 0x02', () => {
    const bytes = sched.Call.encode(sched.Call.fromObject({ type: 'TEARDOWN' })).finish();
    expect(hex(bytes)).toBe('1002');
    expect(sched.Call.Type.TEARDOWN).toBe(2);
  });

  it('hand-computed bytes for REVIVE with a role (type 5, field 15)', () => {
    const call = sched.Call.fromObject({ type: 'REVIVE', revive: { roles: ['a'] } });
    // 10 05 | 7a 03 (field 15, LEN 3) | 0a 01 61 (roles = "a")
    expect(hex(sched.Call.encode(call).finish())).toBe('10057a030a0161');
  });

  it('has the full Call.Type enum with Mesos numbers', () => {
    expect({ ...sched.Call.Type }).toEqual({
      UNKNOWN: 0,
      SUBSCRIBE: 1,
      TEARDOWN: 2,
      ACCEPT: 3,
      DECLINE: 4,
      ACCEPT_INVERSE_OFFERS: 13,
      DECLINE_INVERSE_OFFERS: 14,
      REVIVE: 5,
      KILL: 6,
      SHUTDOWN: 7,
      ACKNOWLEDGE: 8,
      ACKNOWLEDGE_OPERATION_STATUS: 15,
      RECONCILE: 9,
      RECONCILE_OPERATIONS: 16,
      MESSAGE: 10,
      REQUEST: 11,
      SUPPRESS: 12,
      UPDATE_FRAMEWORK: 17,
    });
  });

  // Type value vs. the field number of the matching sub-message.
  const mismatched: Array<[string, number, string, number, object]> = [
    ['REVIVE', 5, 'revive', 15, {}],
    ['SUPPRESS', 12, 'suppress', 16, {}],
    [
      'ACKNOWLEDGE_OPERATION_STATUS',
      15,
      'acknowledge_operation_status',
      17,
      { agent_id: { value: 'S0' }, uuid: 'AAEC', operation_id: { value: 'op-1' } },
    ],
    ['RECONCILE_OPERATIONS', 16, 'reconcile_operations', 18, {}],
    ['UPDATE_FRAMEWORK', 17, 'update_framework', 19, { framework_info: { user: 'u', name: 'polly' } }],
  ];

  it.each(mismatched)('%s = %d but its payload %s is field %d', (type, typeNum, field, fieldNum, payload) => {
    expect((sched.Call.Type as unknown as Record<string, number>)[type]).toBe(typeNum);
    const call = sched.Call.fromObject({ type, [field]: payload });
    const bytes = sched.Call.encode(call).finish();
    expect(fieldNumbers(bytes)).toEqual([2, fieldNum]);
    expect(bytes[1]).toBe(typeNum);
    const back = sched.Call.toObject(sched.Call.decode(bytes), JSON_OPTS);
    expect(back.type).toBe(type);
    expect(back[field]).toBeDefined();
  });

  it('uses multi-byte tags for fields >= 16 (SUPPRESS -> 0x82 0x01)', () => {
    const bytes = sched.Call.encode(sched.Call.fromObject({ type: 'SUPPRESS', suppress: {} })).finish();
    expect(hex(bytes)).toBe('100c820100');
  });

  it('keeps the other Call payload field numbers', () => {
    const expected: Array<[string, number]> = [
      ['subscribe', 3],
      ['accept', 4],
      ['decline', 5],
      ['kill', 6],
      ['shutdown', 7],
      ['acknowledge', 8],
      ['reconcile', 9],
      ['message', 10],
      ['request', 11],
      ['accept_inverse_offers', 13],
      ['decline_inverse_offers', 14],
    ];
    const payloads: Record<string, object> = {
      subscribe: { framework_info: { user: 'u', name: 'n' } },
      kill: { task_id: { value: 't' } },
      shutdown: { executor_id: { value: 'e' }, agent_id: { value: 'a' } },
      acknowledge: { agent_id: { value: 'a' }, task_id: { value: 't' }, uuid: 'AA==' },
      message: { agent_id: { value: 'a' }, executor_id: { value: 'e' }, data: 'AA==' },
    };
    for (const [field, num] of expected) {
      const bytes = sched.Call.encode(sched.Call.fromObject({ [field]: payloads[field] ?? {} })).finish();
      expect([field, fieldNumbers(bytes)]).toEqual([field, [num]]);
    }
  });

  it('round-trips the Appendix B storage ACCEPT unchanged', () => {
    const reservations = [{ type: 'DYNAMIC', role: 'storage', principal: 'polly' }];
    const volume = {
      name: 'disk',
      type: 'SCALAR',
      scalar: { value: 64 },
      allocation_info: { role: 'storage' },
      reservations,
      disk: { persistence: { id: 'pv-1', principal: 'polly' }, volume: { container_path: 'data', mode: 'RW' } },
    };
    const accept = {
      framework_id: { value: '<fw>' },
      type: 'ACCEPT',
      accept: {
        offer_ids: [{ value: '<masterId>-O7' }],
        operations: [
          {
            type: 'RESERVE',
            reserve: {
              resources: [
                { name: 'disk', type: 'SCALAR', scalar: { value: 64 }, allocation_info: { role: 'storage' }, reservations },
              ],
            },
          },
          { type: 'CREATE', id: { value: 'op-1' }, create: { volumes: [volume] } },
          {
            type: 'LAUNCH',
            launch: {
              task_infos: [
                {
                  name: 'db',
                  task_id: { value: 'db-1' },
                  agent_id: { value: '<masterId>-S0' },
                  command: { value: 'run-db' },
                  resources: [
                    { name: 'cpus', type: 'SCALAR', scalar: { value: 0.5 }, allocation_info: { role: 'storage' } },
                    { name: 'mem', type: 'SCALAR', scalar: { value: 256 }, allocation_info: { role: 'storage' } },
                    volume,
                  ],
                  container: {
                    type: 'MESOS',
                    volumes: [
                      {
                        container_path: 'ext',
                        mode: 'RW',
                        source: { type: 'DOCKER_VOLUME', docker_volume: { driver: 'rexray', name: 'pg-ext-1' } },
                      },
                    ],
                  },
                },
              ],
            },
          },
        ],
        filters: { refuse_seconds: 5 },
      },
    };
    const json = JSON.parse(JSON.stringify(accept));
    expect(jsonRoundTrip(sched.Call, json)).toEqual(json);
  });

  it('rejects decoding a payload that lacks a required field', () => {
    // Call{kill: {}}: field 6, LEN 0 -> Kill without the required task_id.
    expect(() => sched.Call.decode(Uint8Array.from([0x32, 0x00]))).toThrow(/missing required 'task_id'/);
  });
});

describe('scheduler Event', () => {
  it('has the full Event.Type enum with Mesos numbers', () => {
    expect({ ...sched.Event.Type }).toEqual({
      UNKNOWN: 0,
      SUBSCRIBED: 1,
      OFFERS: 2,
      INVERSE_OFFERS: 9,
      RESCIND: 3,
      RESCIND_INVERSE_OFFER: 10,
      UPDATE: 4,
      UPDATE_OPERATION_STATUS: 11,
      MESSAGE: 5,
      FAILURE: 6,
      ERROR: 7,
      HEARTBEAT: 8,
    });
  });

  it('encodes HEARTBEAT as 0x08 0x08 and ERROR with error=8', () => {
    expect(hex(sched.Event.encode(sched.Event.fromObject({ type: 'HEARTBEAT' })).finish())).toBe('0808');
    const err = sched.Event.fromObject({ type: 'ERROR', error: { message: 'x' } });
    // 08 07 | 42 03 (field 8, LEN 3) | 0a 01 78
    expect(hex(sched.Event.encode(err).finish())).toBe('080742030a0178');
  });

  it('round-trips SUBSCRIBED, UPDATE (with uuid) and UPDATE_OPERATION_STATUS', () => {
    const events = [
      {
        type: 'SUBSCRIBED',
        subscribed: {
          framework_id: { value: 'fw-1' },
          heartbeat_interval_seconds: 15,
          master_info: { id: 'm', ip: 16777343, port: 5050, hostname: 'localhost' },
        },
      },
      {
        type: 'UPDATE',
        update: {
          status: {
            task_id: { value: 'db-1' },
            state: 'TASK_RUNNING',
            source: 'SOURCE_EXECUTOR',
            reason: 'REASON_TASK_HEALTH_CHECK_STATUS_UPDATED',
            agent_id: { value: 'S0' },
            timestamp: 1700000000.5,
            uuid: 'AAECAwQFBgcICQoLDA0ODw==',
          },
        },
      },
      {
        type: 'UPDATE_OPERATION_STATUS',
        update_operation_status: {
          status: {
            operation_id: { value: 'op-1' },
            state: 'OPERATION_FINISHED',
            uuid: { value: 'AAECAwQFBgcICQoLDA0ODw==' },
            agent_id: { value: 'S0' },
          },
        },
      },
    ];
    for (const ev of events) expect(jsonRoundTrip(sched.Event, ev)).toEqual(ev);
  });
});

describe('mesos.v1 types', () => {
  it('has the TaskState numbers of Mesos (STAGING first)', () => {
    expect({ ...v1.TaskState }).toEqual({
      TASK_STAGING: 6,
      TASK_STARTING: 0,
      TASK_RUNNING: 1,
      TASK_KILLING: 8,
      TASK_FINISHED: 2,
      TASK_FAILED: 3,
      TASK_KILLED: 4,
      TASK_ERROR: 7,
      TASK_LOST: 5,
      TASK_DROPPED: 9,
      TASK_UNREACHABLE: 10,
      TASK_GONE: 11,
      TASK_GONE_BY_OPERATOR: 12,
      TASK_UNKNOWN: 13,
    });
    expect(Object.keys(v1.TaskState)[0]).toBe('TASK_STAGING');
  });

  it('Volume.Mode has no 0 value', () => {
    expect({ ...v1.Volume.Mode }).toEqual({ RW: 1, RO: 2 });
    expect(Object.values(v1.Volume.Mode)).not.toContain(0);
  });

  it('Offer.Operation.Type matches Mesos', () => {
    expect({ ...v1.Offer.Operation.Type }).toEqual({
      UNKNOWN: 0,
      LAUNCH: 1,
      LAUNCH_GROUP: 6,
      RESERVE: 2,
      UNRESERVE: 3,
      CREATE: 4,
      DESTROY: 5,
      GROW_VOLUME: 11,
      SHRINK_VOLUME: 12,
      CREATE_DISK: 13,
      DESTROY_DISK: 14,
    });
  });

  it('Filters.refuse_seconds defaults to 5 on the prototype only', () => {
    const f = v1.Filters.decode(new Uint8Array(0));
    expect(f.refuse_seconds).toBe(5);
    expect(Object.prototype.hasOwnProperty.call(f, 'refuse_seconds')).toBe(false);
    expect(v1.Filters.prototype.refuse_seconds).toBe(5);
    expect(v1.Filters.toObject(f, JSON_OPTS)).toEqual({});
  });

  it('does not emit the deprecated role default', () => {
    const fi = v1.FrameworkInfo.decode(
      v1.FrameworkInfo.encode(v1.FrameworkInfo.fromObject({ user: 'u', name: 'n', roles: ['storage'] })).finish(),
    );
    expect(fi.role).toBe('*');
    expect(v1.FrameworkInfo.toObject(fi, JSON_OPTS)).toEqual({ user: 'u', name: 'n', roles: ['storage'] });
  });

  it('keeps "Infinity" in TaskInfo.limits', () => {
    const task = {
      name: 't',
      task_id: { value: 't-1' },
      agent_id: { value: 'S0' },
      limits: { cpus: { value: 'Infinity' }, mem: { value: 512 } },
    };
    const back = jsonRoundTrip(v1.TaskInfo, task);
    expect(back).toEqual(task);
    expect(JSON.parse(JSON.stringify(back)).limits.cpus.value).toBe('Infinity');
  });

  it('decodes 64-bit integers as plain numbers', () => {
    const t = v1.TimeInfo.decode(v1.TimeInfo.encode({ nanoseconds: 1_700_000_000_000_000 }).finish());
    expect(typeof t.nanoseconds).toBe('number');
    expect(t.nanoseconds).toBe(1_700_000_000_000_000);
    const r = v1.Value.Range.decode(v1.Value.Range.encode({ begin: 31000, end: 32000 }).finish());
    expect(r).toMatchObject({ begin: 31000, end: 32000 });
  });

  it('Attribute keeps set = 6 and text = 5', () => {
    const set = v1.Attribute.encode(v1.Attribute.fromObject({ name: 'a', type: 'SET', set: { item: ['x'] } })).finish();
    expect(fieldNumbers(set)).toEqual([1, 2, 6]);
    const text = v1.Attribute.encode(v1.Attribute.fromObject({ name: 'a', type: 'TEXT', text: { value: 'x' } })).finish();
    expect(fieldNumbers(text)).toEqual([1, 2, 5]);
  });

  it('round-trips offer constraints in SUBSCRIBE', () => {
    const call = {
      type: 'SUBSCRIBE',
      subscribe: {
        framework_info: { user: 'root', name: 'polly', roles: ['storage'], capabilities: [{ type: 'MULTI_ROLE' }] },
        suppressed_roles: ['storage'],
        offer_constraints: {
          role_constraints: {
            storage: {
              groups: [
                {
                  attribute_constraints: [
                    { selector: { attribute_name: 'rack' }, predicate: { text_equals: { value: 'r1' } } },
                    { selector: { pseudoattribute_type: 'HOSTNAME' }, predicate: { exists: {} } },
                  ],
                },
              ],
            },
          },
        },
      },
    };
    expect(jsonRoundTrip(sched.Call, call)).toEqual(call);
  });
});

describe('operator API (mesos.v1.master)', () => {
  it('Response.Type numbers differ from Call.Type', () => {
    expect(master.Call.Type.GET_STATE).toBe(9);
    expect(master.Response.Type.GET_STATE).toBe(8);
    expect(master.Call.Type.GET_FRAMEWORKS).toBe(11);
    expect(master.Response.Type.GET_FRAMEWORKS).toBe(10);
    expect(master.Call.Type.GET_TASKS).toBe(13);
    expect(master.Response.Type.GET_TASKS).toBe(12);
    expect(master.Call.Type.GET_OPERATIONS).toBe(33);
    expect(master.Response.Type.GET_OPERATIONS).toBe(19);
    expect(master.Call.Type.SUBSCRIBE).toBe(18);
    expect(hex(master.Call.encode(master.Call.fromObject({ type: 'GET_STATE' })).finish())).toBe('0809');
    expect(hex(master.Response.encode(master.Response.fromObject({ type: 'GET_STATE' })).finish())).toBe('0808');
  });

  it('has every Call.Type value', () => {
    expect(Object.keys(master.Call.Type)).toHaveLength(40);
    expect(master.Call.Type).toMatchObject({
      GET_HEALTH: 1,
      GET_VERSION: 3,
      GET_MASTER: 17,
      TEARDOWN: 31,
      MARK_AGENT_GONE: 32,
      GROW_VOLUME: 34,
      SHRINK_VOLUME: 35,
      UPDATE_QUOTA: 36,
      DRAIN_AGENT: 37,
      DEACTIVATE_AGENT: 38,
      REACTIVATE_AGENT: 39,
    });
  });

  it('has the operator Event.Type values', () => {
    expect({ ...master.Event.Type }).toEqual({
      UNKNOWN: 0,
      SUBSCRIBED: 1,
      TASK_ADDED: 2,
      TASK_UPDATED: 3,
      AGENT_ADDED: 4,
      AGENT_REMOVED: 5,
      FRAMEWORK_ADDED: 6,
      FRAMEWORK_UPDATED: 7,
      FRAMEWORK_REMOVED: 8,
      HEARTBEAT: 9,
    });
  });

  it('round-trips a GET_STATE response and a SUBSCRIBED event', () => {
    const framework = {
      framework_info: { user: 'root', name: 'polly', webui_url: 'http://polly:8080/', hostname: 'polly' },
      active: true,
      connected: true,
      recovered: false,
      registered_time: { nanoseconds: 1700000000000000 },
    };
    const getState = {
      get_tasks: {
        tasks: [
          {
            name: 'db',
            task_id: { value: 'db-1' },
            framework_id: { value: 'fw-1' },
            agent_id: { value: 'S0' },
            state: 'TASK_RUNNING',
          },
        ],
      },
      get_frameworks: { frameworks: [framework] },
      get_agents: {
        agents: [{ agent_info: { hostname: 'agent-0', port: 5051 }, active: true, version: '1.11.0' }],
      },
    };
    const resp = { type: 'GET_STATE', get_state: getState };
    expect(jsonRoundTrip(master.Response, resp)).toEqual(resp);

    const ev = { type: 'SUBSCRIBED', subscribed: { get_state: getState, heartbeat_interval_seconds: 15 } };
    expect(jsonRoundTrip(master.Event, ev)).toEqual(ev);
    const added = { type: 'FRAMEWORK_ADDED', framework_added: { framework } };
    expect(jsonRoundTrip(master.Event, added)).toEqual(added);
  });

  it('round-trips GET_HEALTH, GET_VERSION and GET_MASTER responses', () => {
    const responses = [
      { type: 'GET_HEALTH', get_health: { healthy: true } },
      { type: 'GET_VERSION', get_version: { version_info: { version: '1.11.0', git_tag: '1.11.0' } } },
      {
        type: 'GET_MASTER',
        get_master: {
          master_info: { id: 'm', ip: 16777343, port: 5050, address: { ip: '127.0.0.1', port: 5050 } },
          start_time: 1700000000.25,
          elected_time: 1700000001.5,
        },
      },
    ];
    for (const r of responses) expect(jsonRoundTrip(master.Response, r)).toEqual(r);
  });
});
