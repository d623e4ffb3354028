import { NotImplementedError } from './not-implemented-error';

/**
 * The volume's backend cannot grow volumes (its driver has no expansion, or the CSI plugin behind
 * it has no EXPAND_VOLUME): 501 over HTTP like any "cannot do this at all". Over CSI Polly may
 * still advertise EXPAND_VOLUME for its other services, so for this one volume it is a failed
 * precondition, not an unimplemented RPC (to-grpc-status.ts).
 */
export class ExpansionUnsupportedError extends NotImplementedError {
  override name = 'ExpansionUnsupportedError';
  override readonly code: string = 'EXPANSION_UNSUPPORTED';
}
