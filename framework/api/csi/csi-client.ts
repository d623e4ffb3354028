/**
 * A CSI client: the Identity, Controller and Node services over one gRPC channel, each RPC a
 * promise of the decoded reply (the loader options of csi-proto.ts). `polly csi call`, the tests
 * and the bench use it.
 */
import * as grpc from '@grpc/grpc-js';
import { csiServices } from './csi-proto';
import { CsiEndpoint, grpcAddress } from './csi-endpoint';

// Replies are decoded by the loader into plain objects of the method's response type.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type CsiReply = any;

export type CsiRpc = (request?: Record<string, unknown>) => Promise<CsiReply>;

export interface CsiClient {
  identity: Record<string, CsiRpc>;
  controller: Record<string, CsiRpc>;
  node: Record<string, CsiRpc>;
  close(): void;
}

function promisify(client: grpc.Client, definition: grpc.ServiceDefinition): Record<string, CsiRpc> {
  const out: Record<string, CsiRpc> = {};
  const methods = client as unknown as Record<string, (r: unknown, cb: (err: grpc.ServiceError | null, res: CsiReply) => void) => void>;
  for (const name of Object.keys(definition)) {
    out[name] = (request = {}) =>
      new Promise((resolve, reject) => methods[name](request, (err, res) => (err ? reject(err) : resolve(res))));
  }
  return out;
}

/** A client for `endpoint` (a unix socket, or TCP with `credentials`). */
export function csiClient(endpoint: CsiEndpoint, credentials: grpc.ChannelCredentials = grpc.credentials.createInsecure()): CsiClient {
  const { clients } = csiServices();
  const address = grpcAddress(endpoint);
  const identity = new clients.Identity(address, credentials);
  const channelOverride = identity.getChannel();
  return {
    identity: promisify(identity, clients.Identity.service),
    controller: promisify(new clients.Controller(address, credentials, { channelOverride }), clients.Controller.service),
    node: promisify(new clients.Node(address, credentials, { channelOverride }), clients.Node.service),
    close: () => identity.close(),
  };
}
