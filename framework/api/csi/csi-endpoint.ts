/**
 * CSI endpoints for Polly's own listeners and tools: the parsing lives with the CSI client
 * (drivers/csi/csi-endpoint.ts); here a bad endpoint is a ValidationError naming its key.
 */
import { readCsiEndpoint } from '../../../drivers/csi/csi-endpoint';
import type { CsiEndpoint } from '../../../drivers/csi/csi-endpoint';
import { ValidationError } from '../../errors/validation-error';

export { formatCsiEndpoint, grpcAddress, MAX_SOCKET_PATH_BYTES } from '../../../drivers/csi/csi-endpoint';
export type { CsiEndpoint } from '../../../drivers/csi/csi-endpoint';

export function parseCsiEndpoint(value: string, what = 'endpoint'): CsiEndpoint {
  const read = readCsiEndpoint(value, what);
  if ('problem' in read) throw ValidationError.field(what, read.problem);
  return read.endpoint;
}
