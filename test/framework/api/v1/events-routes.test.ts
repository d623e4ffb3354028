/** `/v1/events` as server-sent events: live, resumed with Last-Event-ID, filtered for schedulers, ended on close. */
import http from 'node:http';
import { waitFor } from '../../../support/mesos-http';
import { ApiFixture, makeApiFixture, TOKENS } from '../api-fixture';

interface SseClient {
  events: Array<{ id?: string; event?: string; data: any }>; // eslint-disable-line @typescript-eslint/no-explicit-any
  status: number;
  ended: boolean;
  close(): void;
}

function connect(url: string, token: string, lastEventId?: string): Promise<SseClient> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { authorization: `Bearer ${token}`, accept: 'text/event-stream' };
    if (lastEventId) headers['last-event-id'] = lastEventId;
    const req = http.get(`${url}/v1/events`, { headers }, (res) => {
      const client: SseClient = { events: [], status: res.statusCode ?? 0, ended: false, close: () => req.destroy() };
      let buf = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buf += chunk;
        let idx: number;
        while ((idx = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, idx);
          buf = buf.slice(idx + 2);
          const ev: { id?: string; event?: string; data?: string } = {};
          for (const line of block.split('\n')) {
            const m = /^(id|event|data): (.*)$/.exec(line);
            if (m) ev[m[1] as 'id' | 'event' | 'data'] = m[2];
          }
          if (ev.data !== undefined) client.events.push({ id: ev.id, event: ev.event, data: JSON.parse(ev.data) });
        }
      });
      res.on('end', () => (client.ended = true));
      res.on('error', () => (client.ended = true));
      resolve(client);
    });
    req.on('error', reject);
  });
}

describe('GET /v1/events', () => {
  let f: ApiFixture;
  const clients: SseClient[] = [];
  beforeEach(async () => {
    f = await makeApiFixture();
  });
  afterEach(async () => {
    clients.splice(0).forEach((c) => c.close());
    await f.dispose();
  });

  it('streams storage events live and resumes from Last-Event-ID', async () => {
    const live = await connect(f.url, TOKENS.admin);
    clients.push(live);
    expect(live.status).toBe(200);
    const v = (await f.call('POST', '/v1/volumes', { body: { service: 'local', name: 'ev', size: 1 } })).body;
    await f.call('PATCH', `/v1/volumes/${v.id}`, { body: { labels: { a: 'b' } } });
    await waitFor(() => live.events.length >= 2, 5000);
    expect(live.events.map((e) => e.event)).toEqual(['volume.created', 'volume.updated']);
    expect(live.events[0].data.volume.id).toBe(v.id);
    const firstId = live.events[0].id!;

    // a client that saw only the first event gets exactly the rest
    const resumed = await connect(f.url, TOKENS.admin, firstId);
    clients.push(resumed);
    await waitFor(() => resumed.events.length >= 1, 5000);
    expect(resumed.events.map((e) => e.id)).toEqual([live.events[1].id]);
    expect((await f.call('GET', '/v1/events', { headers: { 'last-event-id': 'abc' } })).status).toBe(400);
  });

  it('scheduler tokens see only events about volumes offered to them', async () => {
    const sched = await connect(f.url, TOKENS.marathon);
    clients.push(sched);
    await f.call('POST', '/v1/volumes', { body: { service: 'local', name: 'hidden', size: 1 } });
    await f.call('POST', '/v1/volumes', { body: { service: 'local', name: 'shown', size: 1, schedulers: ['marathon'] } });
    await waitFor(() => sched.events.length >= 1, 5000);
    await new Promise((r) => setTimeout(r, 50));
    expect(sched.events.map((e) => e.data.volume.name)).toEqual(['shown']);
  });

  it('close() ends open streams', async () => {
    const c = await connect(f.url, TOKENS.admin);
    clients.push(c);
    await f.server.close(2000);
    await waitFor(() => c.ended, 5000);
  });
});
