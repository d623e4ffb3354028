/**
 * Polly's libStorage API on port 0 over a real StorageService (LevelDB + vfs in a temp dir), and a
 * small node:http client (fetch drops the body libStorage sends with 205).
 */
import { RawResponse, rawRequest } from '../../../support/raw-http';
import { SignJWT } from 'jose';
import type { ApiAuth } from '../../../../framework/api/auth/api-auth';
import type { LibStorageConfig } from '../../../../framework/config/config-schema';
import type { PreemptPolicy } from '../../../../framework/api/libstorage/libstorage-backend';
import { createLibStorageServer, LibStorageAddress, LibStorageServer } from '../../../../framework/api/libstorage/libstorage-server';
import type { ServiceInput } from '../../../../framework/storage/service-registry';
import { Fixture, makeFixture } from '../../storage/storage-fixture';

export const JWT_SECRET = 'libstorage-test-secret-0123456789';

export interface LsCallOptions {
  body?: unknown;
  raw?: string;
  headers?: Record<string, string | string[]>;
  token?: string;
}

export type LsResult = RawResponse;

export interface LsFixture {
  storage: Fixture;
  server: LibStorageServer;
  address: LibStorageAddress;
  call(method: string, path: string, options?: LsCallOptions): Promise<LsResult>;
  dispose(): Promise<void>;
}

export function lsConfig(extra: Partial<LibStorageConfig> = {}): LibStorageConfig {
  return { enabled: true, host: '127.0.0.1', port: 0, socket: '', instances: {}, ...extra };
}

export async function makeLsFixture(
  options: { config?: Partial<LibStorageConfig>; services?: ServiceInput[]; preempt?: PreemptPolicy; apiAuth?: ApiAuth } = {},
): Promise<LsFixture> {
  const storage = await makeFixture(options.services ? { services: options.services } : {});
  let server: LibStorageServer;
  let address: LibStorageAddress;
  try {
    server = createLibStorageServer({
      storage: storage.storage,
      config: lsConfig(options.config),
      serverName: 'test-server-00',
      ...(options.preempt ? { preempt: options.preempt } : {}),
      ...(options.apiAuth ? { apiAuth: options.apiAuth } : {}),
    });
    address = await server.listen();
  } catch (err) {
    // A refused config (ConfigError) or a failed listen: nothing may be left behind.
    await storage.dispose();
    throw err;
  }
  return {
    storage,
    server,
    address,
    call: (method, path, o = {}) => lsCall(address, method, path, o),
    async dispose() {
      await server.close(2000);
      await storage.dispose();
    },
  };
}

/**
 * Polly B: a storage fixture whose service `remote` is drivers/libstorage pointed at `host` (Polly A's
 * libStorage API, or a proxy in front of it) serving A's service `local`.
 */
export function makeRemoteFixture(host: string): Promise<Fixture> {
  return makeFixture({
    services: [
      {
        name: 'remote',
        driver: 'libstorage',
        mapping: 'dockerVolume',
        dockerVolumeDriver: 'rexray',
        libstorage: { host, service: 'local', timeoutMs: 5000 },
      },
    ],
  });
}

export function lsCall(address: LibStorageAddress, method: string, path: string, o: LsCallOptions = {}): Promise<LsResult> {
  const headers: Record<string, string | string[]> = { ...(o.headers ?? {}) };
  let payload: string | undefined;
  if (o.raw !== undefined) payload = o.raw;
  else if (o.body !== undefined) payload = JSON.stringify(o.body);
  if (payload !== undefined) headers['content-type'] = 'application/json';
  if (o.token) headers.authorization = `Bearer ${o.token}`;
  return rawRequest(address, method, path, headers, payload);
}

/** `vfs=<id>`: the header a stock vfs executor sends once it knows its instance ID. */
export function iid(id: string, service?: string): Record<string, string> {
  return { 'Libstorage-Instanceid': service ? `vfs:${service}=${id}` : `vfs=${id}` };
}

export async function signToken(
  subject: string,
  options: { secret?: string; expiresIn?: string | number; nbf?: boolean } = {},
): Promise<string> {
  const jwt = new SignJWT({})
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(subject)
    .setIssuedAt()
    .setExpirationTime(options.expiresIn ?? '1h');
  if (options.nbf !== false) jwt.setNotBefore('0s');
  return jwt.sign(new TextEncoder().encode(options.secret ?? JWT_SECRET));
}
