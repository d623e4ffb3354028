/** Polly's CSI client lives with the CSI driver (drivers/csi/csi-client.ts); `polly csi call` and tools use it from here. */
export { csiClient } from '../../../drivers/csi/csi-client';
export type { CsiCallOptions, CsiClient, CsiReply, CsiRpc } from '../../../drivers/csi/csi-client';
