/**
 * Property-based fuzzing of the admin API: 5,000 random, often malformed requests. Invariants: no
 * 5xx, the server keeps answering, every error has the `{message, status}` shape, and the state
 * afterwards is exactly the state before plus the effects of the requests that succeeded (a model
 * applies only those).
 */
import fc from 'fast-check';
import { ApiFixture, makeApiFixture } from '../api-fixture';

interface ModelVolume {
  name: string;
  schedulers: string[];
  labels: Record<string, string>;
}

type Req = { method: string; path: string; body?: unknown; raw?: string; contentType?: string };

const names = fc.constantFrom(
  'alpha',
  'Alpha',
  'beta',
  'gamma',
  'delta',
  'eps',
  'zeta',
  'eta',
  'theta',
  'iota',
  '',
  '..',
  'a/b',
  'x'.repeat(300),
  'ok-name',
  'ünïcode',
);
const schedulerNames = fc.constantFrom('marathon', 'chronos', 'aurora', 'polly', 'bad name', '', '-x', 'a'.repeat(300), 'k8s:ns');
const labelKeys = fc.constantFrom('app', 'tier', 'env', 'owner', '', '__proto__', 'constructor', 'a\u0001b', 'k'.repeat(300), 'toString');
const labelValues = fc.oneof(
  fc.constantFrom('web', 'db', '', 'x'.repeat(5000)),
  fc.string({ maxLength: 8 }),
  fc.integer(),
  fc.constant(null),
);
const labels = fc.dictionary(labelKeys, labelValues, { maxKeys: 5 });
const sizes = fc.oneof(fc.constantFrom(1, 2, 3, 0, -1, 1.5, 2_000_000, '1', null), fc.constant(undefined));

function requests(ids: () => string[]): fc.Arbitrary<Req> {
  const volumeId = fc.oneof(
    { weight: 4, arbitrary: fc.integer({ min: 0, max: 1000 }).map((i) => ids()[i % Math.max(1, ids().length)] ?? 'local.none') },
    { weight: 1, arbitrary: fc.constantFrom('local.none', 'nodot', 'local.%41', 'other.x', '', 'local.' + 'a'.repeat(300), 'LOCAL.x') },
  );
  const create = fc.record(
    {
      service: fc.constantFrom('local', 'local', 'local', 'nope', ''),
      name: names,
      size: sizes,
      volumeType: fc.constantFrom('', 'gold', undefined),
      iops: fc.constantFrom(0, 100, -5, undefined),
      availabilityZone: fc.constantFrom('', 'zone-a', undefined),
      schedulers: fc.array(schedulerNames, { maxLength: 3 }),
      labels,
      fields: fc.dictionary(fc.constantFrom('tier', 'x', ''), fc.constantFrom('gold', 'silver'), { maxKeys: 2 }),
      extra: fc.constantFrom(undefined, 'surprise'),
    },
    { requiredKeys: ['service', 'name'] },
  );
  return fc.oneof(
    { weight: 3, arbitrary: create.map((body) => ({ method: 'POST', path: '/admin/volumes', body })) },
    {
      weight: 2,
      arbitrary: fc
        .tuple(fc.constantFrom('/admin/volumeoffer', '/admin/volumeofferrevoke'), volumeId, fc.array(schedulerNames, { maxLength: 3 }))
        .map(([path, volumeID, schedulers]) => ({ method: 'POST', path, body: { volumeID, schedulers } })),
    },
    {
      weight: 2,
      arbitrary: fc
        .tuple(volumeId, labels)
        .map(([volumeID, l]) => ({ method: 'POST', path: '/admin/volumelabel', body: { volumeID, labels: l } })),
    },
    {
      weight: 2,
      arbitrary: fc
        .tuple(volumeId, fc.array(fc.oneof(labelKeys, fc.integer()), { maxLength: 3 }))
        .map(([volumeID, l]) => ({ method: 'POST', path: '/admin/volumelabelsremove', body: { volumeID, labels: l } })),
    },
    { weight: 1, arbitrary: volumeId.map((id) => ({ method: 'DELETE', path: `/admin/volumes/${encodeURIComponent(id)}` })) },
    { weight: 2, arbitrary: volumeId.map((id) => ({ method: 'GET', path: `/admin/volumes/${encodeURIComponent(id)}` })) },
    {
      weight: 1,
      arbitrary: fc
        .tuple(
          fc.constantFrom('/admin/volumes', '/admin/volumesall'),
          fc.constantFrom('', '?size=1', '?serviceName=local', '?iops=x', '?tier=gold', '?a=1&a=2', '?%zz=1'),
        )
        .map(([p, q]) => ({ method: 'GET', path: p + q })),
    },
    // malformed bodies, wrong types, wrong methods, unknown routes
    {
      weight: 2,
      arbitrary: fc
        .tuple(
          fc.constantFrom(
            '/admin/volumes',
            '/admin/volumeoffer',
            '/admin/volumelabel',
            '/admin/volumelabelsremove',
            '/admin/volumeofferrevoke',
          ),
          fc.oneof(
            fc.string({ maxLength: 40 }),
            fc.constantFrom('{', '[]', 'null', '1', '"x"', '{"volumeID":', '{"__proto__":{"x":1}}', '\u0000'),
          ),
        )
        .map(([path, raw]) => ({ method: 'POST', path, raw })),
    },
    {
      weight: 1,
      arbitrary: fc
        .tuple(
          fc.constantFrom('/admin/volumes', '/admin/volumelabel'),
          fc.constantFrom('text/plain', 'application/xml', 'multipart/form-data', 'application/json; charset=utf-16'),
        )
        .map(([path, contentType]) => ({ method: 'POST', path, raw: '{"service":"local","name":"ct"}', contentType })),
    },
    {
      weight: 1,
      arbitrary: fc
        .tuple(
          fc.constantFrom('PUT', 'PATCH', 'DELETE', 'GET', 'POST'),
          fc.constantFrom(
            '/admin/version',
            '/admin/volumeoffer',
            '/admin/volumesall',
            '/admin/x',
            '/admin/volumes/a/b',
            '/admin',
            '/admin/volumes/%',
          ),
        )
        .map(([method, path]) => ({ method, path })),
    },
  );
}

describe('admin API fuzz', () => {
  let f: ApiFixture;
  beforeAll(async () => {
    f = await makeApiFixture();
  });
  afterAll(async () => {
    await f.dispose();
  });

  const snapshot = async (): Promise<Record<string, ModelVolume>> => {
    const res = await f.call('GET', '/admin/volumes');
    expect(res.status).toBe(200);
    const out: Record<string, ModelVolume> = {};
    for (const v of res.body as Array<{ volumeid: string; name: string; schedulers: string[]; labels: Record<string, string> }>) {
      out[v.volumeid] = { name: v.name, schedulers: [...v.schedulers].sort(), labels: v.labels };
    }
    return out;
  };

  it('5,000 random requests: no 5xx, and state = before + exactly the successful requests', async () => {
    const model = new Map<string, ModelVolume>();
    let total = 0;
    const statuses = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          requests(() => [...model.keys()]),
          { minLength: 1000, maxLength: 1000 },
        ),
        async (reqs) => {
          const before = await snapshot();
          expect(before).toEqual(
            Object.fromEntries([...model.entries()].map(([k, v]) => [k, { ...v, schedulers: [...v.schedulers].sort() }])),
          );
          for (const r of reqs) {
            total++;
            const headers: Record<string, string> = {};
            if (r.contentType) headers['content-type'] = r.contentType;
            const res = await f.call(r.method, r.path, { body: r.body, raw: r.raw, headers });
            statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
            if (res.status >= 500) throw new Error(`5xx for ${r.method} ${r.path} ${JSON.stringify(r.body ?? r.raw)}: ${res.text}`);
            if (res.status >= 400) {
              if (r.method !== 'HEAD') expect(res.body).toMatchObject({ status: res.status, message: expect.any(String) });
              continue;
            }
            const body = r.body as Record<string, unknown>;
            if (r.method === 'POST' && r.path === '/admin/volumes' && res.status === 201) {
              model.set(res.body.volumeid, {
                name: res.body.name,
                schedulers: [...new Set(body.schedulers as string[])],
                labels: { ...(body.labels as Record<string, string>) },
              });
            } else if (r.path === '/admin/volumeoffer') {
              const m = model.get(body.volumeID as string)!;
              m.schedulers = [...new Set([...m.schedulers, ...(body.schedulers as string[])])];
            } else if (r.path === '/admin/volumeofferrevoke') {
              const m = model.get(body.volumeID as string)!;
              m.schedulers = m.schedulers.filter((s) => !(body.schedulers as string[]).includes(s));
            } else if (r.path === '/admin/volumelabel') {
              Object.assign(model.get(body.volumeID as string)!.labels, body.labels);
            } else if (r.path === '/admin/volumelabelsremove') {
              for (const k of body.labels as string[]) delete model.get(body.volumeID as string)!.labels[k];
            } else if (r.method === 'DELETE' && res.status === 204) {
              model.delete(decodeURIComponent(r.path.slice('/admin/volumes/'.length)));
            }
            if (res.body && typeof res.body === 'object' && 'volumeid' in res.body && model.has(res.body.volumeid) && r.method === 'POST') {
              const m = model.get(res.body.volumeid)!;
              expect({ schedulers: [...res.body.schedulers].sort(), labels: res.body.labels }).toEqual({
                schedulers: [...m.schedulers].sort(),
                labels: m.labels,
              });
            }
          }
          const after = await snapshot();
          expect(after).toEqual(
            Object.fromEntries([...model.entries()].map(([k, v]) => [k, { ...v, schedulers: [...v.schedulers].sort() }])),
          );
        },
      ),
      { numRuns: 5, endOnFailure: true },
    );
    expect(total).toBeGreaterThanOrEqual(5000);
    // the fuzzer reached successes and every kind of refusal
    for (const s of [200, 201, 204, 400, 404, 405, 409, 415]) expect(statuses.get(s) ?? 0).toBeGreaterThan(0);
  }, 300_000);
});
