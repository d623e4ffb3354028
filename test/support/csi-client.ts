/**
 * Polly's CSI client (framework/api/csi/csi-client.ts) for tests and the bench: `csiClient` takes a
 * socket path, a `unix://` or `tcp://` endpoint; `codeOf` turns a refusal into its gRPC code name.
 */
import type * as grpc from '@grpc/grpc-js';
import { CsiClient, csiClient as clientFor, CsiReply } from '../../framework/api/csi/csi-client';
import { parseCsiEndpoint } from '../../framework/api/csi/csi-endpoint';
import { grpcCodeName } from '../../framework/errors/to-grpc-status';

export type { CsiClient, CsiRpc } from '../../framework/api/csi/csi-client';
export type Reply = CsiReply;

export function csiClient(endpoint: string, credentials?: grpc.ChannelCredentials): CsiClient {
  return clientFor(parseCsiEndpoint(endpoint), credentials);
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
