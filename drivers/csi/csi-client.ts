/**
 * A CSI client: the Identity, Controller and Node services over one gRPC channel, each RPC a
 * promise of the decoded reply (the loader options of csi-proto.ts). The CSI driver, the local
 * agent's volume/csi isolator, `polly csi call`, the tests and the bench use it.
 *
 * Each call may carry a deadline and an AbortSignal (a fired signal cancels the call: CANCELLED).
 * The channel reconnects on its own after the plugin restarts, backing off between attempts
 * (`reconnect`); a call made while it is down fails at once with UNAVAILABLE instead of waiting,
 * so the caller's retry rules decide what happens next.
 */
import * as grpc from '@grpc/grpc-js';
import { csiServices } from './csi-proto';
import { CsiEndpoint, grpcAddress } from './csi-endpoint';

// Replies are decoded by the loader into plain objects of the method's response type.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type CsiReply = any;

export interface CsiCallOptions {
  /** Deadline of this call, ms from now (DEADLINE_EXCEEDED after it). */
  deadlineMs?: number;
  /** Cancels the call (CANCELLED) when it fires. */
  signal?: AbortSignal;
}

export type CsiRpc = (request?: Record<string, unknown>, options?: CsiCallOptions) => Promise<CsiReply>;

export interface CsiClient {
  identity: Record<string, CsiRpc>;
  controller: Record<string, CsiRpc>;
  node: Record<string, CsiRpc>;
  close(): void;
}

export interface CsiClientOptions {
  /** Backoff between reconnection attempts, ms (gRPC's exponential backoff from `initialMs` to `maxMs`). */
  reconnect?: { initialMs: number; maxMs: number };
}

type UnaryMethod = (
  request: unknown,
  metadata: grpc.Metadata,
  options: grpc.CallOptions,
  callback: (err: grpc.ServiceError | null, res: CsiReply) => void,
) => grpc.ClientUnaryCall;

function promisify(client: grpc.Client, definition: grpc.ServiceDefinition): Record<string, CsiRpc> {
  const out: Record<string, CsiRpc> = {};
  const methods = client as unknown as Record<string, UnaryMethod>;
  for (const name of Object.keys(definition)) {
    out[name] = (request = {}, options = {}) =>
      new Promise((resolve, reject) => {
        const callOptions: grpc.CallOptions = options.deadlineMs !== undefined ? { deadline: Date.now() + options.deadlineMs } : {};
        const { signal } = options;
        const onAbort = (): void => call.cancel();
        const call = methods[name].call(client, request, new grpc.Metadata(), callOptions, (err, res) => {
          signal?.removeEventListener('abort', onAbort);
          if (err) reject(err);
          else resolve(res);
        });
        if (signal?.aborted) call.cancel();
        else signal?.addEventListener('abort', onAbort, { once: true });
      });
  }
  return out;
}

/** A client for `endpoint` (a unix socket, or TCP with `credentials`). */
export function csiClient(
  endpoint: CsiEndpoint,
  credentials: grpc.ChannelCredentials = grpc.credentials.createInsecure(),
  options: CsiClientOptions = {},
): CsiClient {
  const { clients } = csiServices();
  const address = grpcAddress(endpoint);
  const channelOptions: grpc.ChannelOptions = options.reconnect
    ? { 'grpc.initial_reconnect_backoff_ms': options.reconnect.initialMs, 'grpc.max_reconnect_backoff_ms': options.reconnect.maxMs }
    : {};
  const identity = new clients.Identity(address, credentials, channelOptions);
  const channelOverride = identity.getChannel();
  return {
    identity: promisify(identity, clients.Identity.service),
    controller: promisify(new clients.Controller(address, credentials, { ...channelOptions, channelOverride }), clients.Controller.service),
    node: promisify(new clients.Node(address, credentials, { ...channelOptions, channelOverride }), clients.Node.service),
    close: () => identity.close(),
  };
}
