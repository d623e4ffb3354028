/**
 * The CSI Identity service, the same on the controller and on every node (the spec wants one set of
 * plugin capabilities whatever an instance serves): the plugin's name and version, its
 * capabilities, and readiness. Probe says "not ready" (a successful reply with ready=false) while
 * Polly is recovering its storage state or is not the leader, and FAILED_PRECONDITION when a
 * dependency is missing (e.g. a node service that cannot mount).
 */
import { POLLY_VERSION } from '../../version';
import { PreconditionFailedError } from '../../errors/precondition-failed-error';
import { CSI_SPEC_VERSION } from './csi-proto';
import type { CsiMethods } from './csi-server';

export interface IdentityOptions {
  pluginName: string;
  /** `controller` or `node`: reported in the manifest. */
  role: 'controller' | 'node';
  /** Readiness: false while starting or recovering; a thrown error is a missing dependency. */
  ready(): boolean | Promise<boolean>;
  /** A missing dependency, described for the operator (Probe answers FAILED_PRECONDITION with it). */
  unhealthy?(): string | undefined | Promise<string | undefined>;
  /** The plugin's VolumeExpansion capability, when it can grow volumes (absent: it cannot). */
  volumeExpansion?(): 'ONLINE' | 'OFFLINE' | undefined;
}

export function identityMethods(options: IdentityOptions): CsiMethods {
  return {
    GetPluginInfo: {
      handle: () => ({
        name: options.pluginName,
        vendor_version: POLLY_VERSION,
        manifest: { 'csi-spec': CSI_SPEC_VERSION, polly: POLLY_VERSION, role: options.role },
      }),
    },
    GetPluginCapabilities: {
      handle: () => {
        const expansion = options.volumeExpansion?.();
        return {
          capabilities: [
            { service: { type: 'CONTROLLER_SERVICE' } },
            { service: { type: 'VOLUME_ACCESSIBILITY_CONSTRAINTS' } },
            ...(expansion ? [{ volume_expansion: { type: expansion } }] : []),
          ],
        };
      },
    },
    Probe: {
      handle: async () => {
        const problem = await options.unhealthy?.();
        if (problem) throw new PreconditionFailedError(problem);
        return { ready: { value: await options.ready() } };
      },
    },
  };
}
