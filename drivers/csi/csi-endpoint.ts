/**
 * CSI endpoints as COs write them (`CSI_ENDPOINT`, `--endpoint`, a Mesos CSIPluginEndpoint):
 * `unix:///abs/path.sock` (or a bare absolute path), or `tcp://host:port`. Parsed once, with a
 * message that says what is wrong.
 */
import path from 'node:path';
import { DriverInvalidError } from '../errors';

export type CsiEndpoint = { kind: 'unix'; path: string } | { kind: 'tcp'; host: string; port: number };

/** Linux's limit for a unix socket path (sun_path is 108 bytes including the terminating NUL). */
export const MAX_SOCKET_PATH_BYTES = 107;

/** The endpoint, or what is wrong with it (a sentence naming `what`). */
export function readCsiEndpoint(value: string, what = 'endpoint'): { endpoint: CsiEndpoint } | { problem: string } {
  const bad = (why: string): { problem: string } => ({
    problem: `${what} ${JSON.stringify(value)} ${why} (expected unix:///path/to/csi.sock or tcp://host:port)`,
  });
  if (typeof value !== 'string' || value.trim() === '') return bad('is empty');
  const text = value.trim();
  if (text.startsWith('unix:') || text.startsWith('/')) {
    const p = text.startsWith('unix://') ? text.slice('unix://'.length) : text.startsWith('unix:') ? text.slice('unix:'.length) : text;
    if (!path.isAbsolute(p)) return bad('does not name an absolute socket path');
    if (Buffer.byteLength(p) > MAX_SOCKET_PATH_BYTES) {
      return bad(`is longer than the ${MAX_SOCKET_PATH_BYTES} bytes a unix socket path may have; choose a shorter path`);
    }
    return { endpoint: { kind: 'unix', path: path.normalize(p) } };
  }
  const tcp = /^tcp:\/\/(\[[^\]]+\]|[^:/]+):(\d{1,5})\/?$/.exec(text);
  if (tcp) {
    const port = Number(tcp[2]);
    if (port > 65535) return bad('has a port above 65535');
    return { endpoint: { kind: 'tcp', host: tcp[1].replace(/^\[|\]$/g, ''), port } };
  }
  return bad('is not a unix or tcp endpoint');
}

/** The endpoint; DriverInvalidError naming `what` when it is not one. */
export function parseCsiEndpoint(value: string, what = 'endpoint'): CsiEndpoint {
  const read = readCsiEndpoint(value, what);
  if ('problem' in read) throw new DriverInvalidError(read.problem, { field: what });
  return read.endpoint;
}

/** The endpoint as gRPC addresses it. */
export function grpcAddress(endpoint: CsiEndpoint): string {
  if (endpoint.kind === 'unix') return `unix://${endpoint.path}`;
  return endpoint.host.includes(':') ? `[${endpoint.host}]:${endpoint.port}` : `${endpoint.host}:${endpoint.port}`;
}

export function formatCsiEndpoint(endpoint: CsiEndpoint): string {
  return endpoint.kind === 'unix' ? `unix://${endpoint.path}` : `tcp://${grpcAddress(endpoint)}`;
}
