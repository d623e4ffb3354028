/** The CSI messages as Polly handles them: defined beside the CSI client (drivers/csi/csi-messages.ts). */
export * from '../../../drivers/csi/csi-messages';
