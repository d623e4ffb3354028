/**
 * A real API server on port 0 over a real StorageService (LevelDB + vfs in a temp dir), with tokens
 * for every scope. `call()` is a small fetch wrapper returning status, headers and parsed JSON.
 */
import { createApiAuth } from '../../../framework/api/auth/api-auth';
import { ApiServer, BoundAddress, createApiServer, MountedRouter } from '../../../framework/api/api-server';
import { EventJournal } from '../../../framework/api/event-journal';
import { PollyMetrics } from '../../../framework/api/metrics/polly-metrics';
import { feedStorageEvents } from '../../../framework/api/storage-event-feed';
import type { Readiness } from '../../../framework/api/health-routes';
import { Fixture, FixtureOptions, makeFixture } from '../storage/storage-fixture';

export const TOKENS = {
  admin: 'admin-token-0123456789abcdef',
  read: 'read-token-0123456789abcdef',
  marathon: 'marathon-token-0123456789abcdef',
  other: 'other-token-0123456789abcdef',
};

export interface ApiFixture {
  storage: Fixture;
  server: ApiServer;
  address: BoundAddress;
  url: string;
  journal: EventJournal;
  metrics: PollyMetrics;
  readiness: Readiness;
  call(method: string, path: string, options?: CallOptions): Promise<CallResult>;
  dispose(): Promise<void>;
}

export interface CallOptions {
  token?: string | null;
  body?: unknown;
  /** Sent as-is (malformed JSON tests). */
  raw?: string;
  headers?: Record<string, string>;
}

export interface CallResult {
  status: number;
  headers: Headers;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  text: string;
}

export async function makeApiFixture(
  options: { auth?: 'on' | 'off' | 'auto'; routers?: MountedRouter[]; journalSize?: number; storage?: FixtureOptions } = {},
): Promise<ApiFixture> {
  const storage = await makeFixture(options.storage);
  const journal = new EventJournal(options.journalSize ?? 1000);
  const stopFeed = feedStorageEvents(storage.storage.events, journal);
  const metrics = new PollyMetrics({ defaultMetrics: false });
  metrics.attachSources({
    claimsByState: () => {
      const counts: Record<string, number> = {};
      for (const c of storage.storage.ledger.list()) counts[c.state] = (counts[c.state] ?? 0) + 1;
      return counts;
    },
    pendingIntents: async () => (await storage.storage.intents.pending()).length,
  });
  const readiness: Readiness = { storeOpen: true, subscribed: true };
  const auth = createApiAuth({
    host: '127.0.0.1',
    auth: options.auth ?? 'on',
    tokens: [
      { name: 'ops', token: TOKENS.admin, scope: 'admin' },
      { name: 'viewer', token: TOKENS.read, scope: 'read' },
      { name: 'marathon', token: TOKENS.marathon, scope: 'scheduler:marathon' },
      { name: 'other', token: TOKENS.other, scope: 'scheduler:other' },
    ],
  });
  const server = createApiServer({
    storage: storage.storage,
    auth,
    readiness: () => ({ ...readiness }),
    metrics,
    events: journal,
    routers: options.routers,
    bodyLimitBytes: 64 * 1024,
  });
  const address = await server.listen({ host: '127.0.0.1', port: 0 });
  const url = address.url;
  return {
    storage,
    server,
    address,
    url,
    journal,
    metrics,
    readiness,
    async call(method, path, o = {}) {
      const headers: Record<string, string> = { ...(o.headers ?? {}) };
      const token = o.token === undefined ? TOKENS.admin : o.token;
      if (token !== null) headers.authorization = `Bearer ${token}`;
      let body: string | undefined;
      if (o.raw !== undefined) body = o.raw;
      else if (o.body !== undefined) body = JSON.stringify(o.body);
      if (body !== undefined && !Object.keys(headers).some((h) => h.toLowerCase() === 'content-type'))
        headers['content-type'] = 'application/json';
      const res = await fetch(`${url}${path}`, { method, headers, body });
      const text = await res.text();
      let parsed: unknown;
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        parsed = undefined;
      }
      return { status: res.status, headers: res.headers, body: parsed, text };
    },
    async dispose() {
      await server.close(2000);
      stopFeed();
      await storage.dispose();
    },
  };
}
