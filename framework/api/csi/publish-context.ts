/**
 * What ControllerPublishVolume hands the node (the CO passes it on to NodePublishVolume): the node
 * the volume was published to, and how. The node service refuses a publish context made for
 * another node, so a CO mix-up cannot mount a volume where Polly did not publish it.
 */
export const PUBLISH_CONTEXT_NODE = 'polly.io/node';
/** `RW` or `RO`: the claim's mode. */
export const PUBLISH_CONTEXT_MODE = 'polly.io/mode';
export const PUBLISH_CONTEXT_CLAIM = 'polly.io/claim';
