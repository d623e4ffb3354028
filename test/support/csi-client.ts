/**
 * A CSI client for tests, tools and the bench: the three services over one gRPC channel, each RPC
 * as a promise of the decoded reply (the same loader options as the server: snake_case, int64 as
 * strings, enums by name). `expectCode` turns a refusal into its gRPC code name.
 */
import * as grpc from '@grpc/grpc-js';
import { csiServices } from '../../framework/api/csi/csi-proto';
import { grpcCodeName } from '../../framework/errors/to-grpc-status';

// Replies are decoded by the loader into plain objects of the method's response type.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Reply = any;

export type CsiRpc = (request?: Record<string, unknown>) => Promise<Reply>;

export interface CsiClient {
  identity: Record<string, CsiRpc>;
  controller: Record<string, CsiRpc>;
  node: Record<string, CsiRpc>;
  close(): void;
}

function promisify(client: grpc.Client, definition: grpc.ServiceDefinition): Record<string, CsiRpc> {
  const out: Record<string, CsiRpc> = {};
  for (const name of Object.keys(definition)) {
    out[name] = (request = {}) =>
      new Promise((resolve, reject) => {
        (client as unknown as Record<string, (r: unknown, cb: (err: grpc.ServiceError | null, res: Reply) => void) => void>)[name](
          request,
          (err, res) => (err ? reject(err) : resolve(res)),
        );
      });
  }
  return out;
}

/** `endpoint`: `unix:///path.sock` (or a bare path) or `host:port` with `credentials`. */
export function csiClient(endpoint: string, credentials: grpc.ChannelCredentials = grpc.credentials.createInsecure()): CsiClient {
  const { clients } = csiServices();
  const address = endpoint.startsWith('/') ? `unix://${endpoint}` : endpoint.replace(/^tcp:\/\//, '');
  const identity = new clients.Identity(address, credentials);
  const channelOverride = identity.getChannel();
  const controller = new clients.Controller(address, credentials, { channelOverride });
  const node = new clients.Node(address, credentials, { channelOverride });
  return {
    identity: promisify(identity, clients.Identity.service),
    controller: promisify(controller, clients.Controller.service),
    node: promisify(node, clients.Node.service),
    close: () => identity.close(),
  };
}

/** The gRPC code name of a refused call (throws if the call succeeded). */
export async function codeOf(call: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await call;
  } catch (err) {
    const e = err as grpc.ServiceError;
    return { code: grpcCodeName(e.code), message: e.details };
  }
  throw new Error('expected the call to fail, it succeeded');
}

export const MOUNT_SNW = { mount: {}, access_mode: { mode: 'SINGLE_NODE_WRITER' } };
export const GIB = 1024 ** 3;
