/** Polly's CSI definitions are loaded where the CSI client lives (drivers/csi/csi-proto.ts). */
export { CSI_SPEC_VERSION, csiServices, LOADER_OPTIONS } from '../../../drivers/csi/csi-proto';
export type { CsiServiceDefinitions } from '../../../drivers/csi/csi-proto';
