/**
 * CSI endpoints as COs write them (`CSI_ENDPOINT`, `--endpoint`): `unix:///abs/path.sock` (or a
 * bare absolute path), or `tcp://host:port`. Parsed once, with a message that says what is wrong.
 */
import path from 'node:path';
import { ValidationError } from '../../errors/validation-error';

export type CsiEndpoint = { kind: 'unix'; path: string } | { kind: 'tcp'; host: string; port: number };

/** Linux's limit for a unix socket path (sun_path is 108 bytes including the terminating NUL). */
export const MAX_SOCKET_PATH_BYTES = 107;

export function parseCsiEndpoint(value: string, what = 'endpoint'): CsiEndpoint {
  const bad = (why: string): ValidationError =>
    ValidationError.field(what, `${what} ${JSON.stringify(value)} ${why} (expected unix:///path/to/csi.sock or tcp://host:port)`);
  if (typeof value !== 'string' || value.trim() === '') throw bad('is empty');
  const text = value.trim();
  if (text.startsWith('unix:') || text.startsWith('/')) {
    const p = text.startsWith('unix://') ? text.slice('unix://'.length) : text.startsWith('unix:') ? text.slice('unix:'.length) : text;
    if (!path.isAbsolute(p)) throw bad('does not name an absolute socket path');
    if (Buffer.byteLength(p) > MAX_SOCKET_PATH_BYTES) {
      throw bad(`is longer than the ${MAX_SOCKET_PATH_BYTES} bytes a unix socket path may have; choose a shorter path`);
    }
    return { kind: 'unix', path: path.normalize(p) };
  }
  const tcp = /^tcp:\/\/(\[[^\]]+\]|[^:/]+):(\d{1,5})\/?$/.exec(text);
  if (tcp) {
    const port = Number(tcp[2]);
    if (port > 65535) throw bad('has a port above 65535');
    return { kind: 'tcp', host: tcp[1].replace(/^\[|\]$/g, ''), port };
  }
  throw bad('is not a unix or tcp endpoint');
}

/** The endpoint as gRPC addresses it. */
export function grpcAddress(endpoint: CsiEndpoint): string {
  if (endpoint.kind === 'unix') return `unix://${endpoint.path}`;
  return endpoint.host.includes(':') ? `[${endpoint.host}]:${endpoint.port}` : `${endpoint.host}:${endpoint.port}`;
}

export function formatCsiEndpoint(endpoint: CsiEndpoint): string {
  return endpoint.kind === 'unix' ? `unix://${endpoint.path}` : `tcp://${grpcAddress(endpoint)}`;
}
