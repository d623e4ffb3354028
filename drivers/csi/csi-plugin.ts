/**
 * One CSI plugin's controller side, as the CSI driver talks to it: the gRPC connection (a unix
 * socket, or TCP with TLS), what the plugin says about itself (name, version, capabilities,
 * readiness), and every call with its deadline, the caller's AbortSignal and the plugin's status
 * translated into a typed driver error (csi-errors.ts). Nothing here logs a request: requests can
 * carry secrets.
 */
import fs from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { DriverInvalidError, DriverTransientError } from '../errors';
import { sleep, throwIfAborted } from '../abort';
import { csiClient, CsiClient, CsiReply } from './csi-client';
import { CsiEndpoint, formatCsiEndpoint, parseCsiEndpoint } from './csi-endpoint';
import { fromGrpcError } from './csi-errors';

export type PluginCapabilityName = 'CONTROLLER_SERVICE' | 'VOLUME_ACCESSIBILITY_CONSTRAINTS' | 'GROUP_CONTROLLER_SERVICE' | string;

export type ControllerCapabilityName =
  | 'CREATE_DELETE_VOLUME'
  | 'PUBLISH_UNPUBLISH_VOLUME'
  | 'LIST_VOLUMES'
  | 'GET_CAPACITY'
  | 'CREATE_DELETE_SNAPSHOT'
  | 'LIST_SNAPSHOTS'
  | 'CLONE_VOLUME'
  | 'PUBLISH_READONLY'
  | 'EXPAND_VOLUME'
  | 'LIST_VOLUMES_PUBLISHED_NODES'
  | 'VOLUME_CONDITION'
  | 'GET_VOLUME'
  | 'GET_SNAPSHOT'
  | 'MODIFY_VOLUME'
  | string;

/** What the plugin said about itself at start. */
export interface PluginFacts {
  name: string;
  version: string;
  manifest: Record<string, string>;
  pluginCapabilities: ReadonlySet<PluginCapabilityName>;
  controllerCapabilities: ReadonlySet<ControllerCapabilityName>;
  /** The online/offline volume expansion the plugin supports, if any. */
  expansion?: string;
}

export interface CsiTlsFiles {
  /** CA certificates (PEM) that sign the plugin's certificate. */
  caFile: string;
  /** A client certificate and key, for plugins that authenticate callers (Polly's own: its CN is the scheduler). */
  certFile?: string;
  keyFile?: string;
}

export interface CsiPluginOptions {
  endpoint: string;
  tls?: CsiTlsFiles;
  /** Deadline of each call, ms. */
  callTimeoutMs: number;
  /** Backoff between reconnection attempts after the plugin went away. */
  reconnect?: { initialMs: number; maxMs: number };
}

export type CsiServiceName = 'identity' | 'controller';

export class CsiPlugin {
  readonly endpoint: CsiEndpoint;
  private client: CsiClient | undefined;
  private facts: PluginFacts | undefined;

  constructor(private readonly options: CsiPluginOptions) {
    this.endpoint = parseCsiEndpoint(options.endpoint, 'csi.endpoint');
    if (this.endpoint.kind === 'tcp' && !options.tls) {
      throw new DriverInvalidError(
        `csi.endpoint ${formatCsiEndpoint(this.endpoint)} is TCP: set csi.tls.caFile (and a client certificate if the plugin asks for one); ` +
          'Polly does not send secrets over an unencrypted connection',
      );
    }
  }

  /** The plugin as it described itself (after `discover`). */
  get described(): PluginFacts | undefined {
    return this.facts;
  }

  get address(): string {
    return formatCsiEndpoint(this.endpoint);
  }

  /** The plugin's name for messages: its own once known, else its endpoint. */
  get label(): string {
    return this.facts?.name ?? this.address;
  }

  /**
   * Asks the plugin who it is and what it can do, waiting (within `signal`) until Probe says it is
   * ready: a plugin that is starting answers UNAVAILABLE or ready=false for a while.
   */
  async discover(signal?: AbortSignal): Promise<PluginFacts> {
    for (let attempt = 0; ; attempt++) {
      try {
        const probe = await this.call('identity', 'Probe', {}, 'Probe', signal);
        if (probe?.ready && probe.ready.value === false) {
          throw new DriverTransientError(`CSI plugin ${this.address} is not ready yet (Probe: ready=false)`);
        }
        break;
      } catch (err) {
        if (!(err instanceof DriverTransientError) || (err as Error).name === 'AbortError') throw err;
        throwIfAborted(signal, `waiting for CSI plugin ${this.address}`);
        await sleep(Math.min(2000, 100 * 2 ** Math.min(attempt, 5)), signal, `waiting for CSI plugin ${this.address}`);
      }
    }
    const info = await this.call('identity', 'GetPluginInfo', {}, 'GetPluginInfo', signal);
    const plugin = await this.call('identity', 'GetPluginCapabilities', {}, 'GetPluginCapabilities', signal);
    const pluginCapabilities = new Set<string>();
    let expansion: string | undefined;
    for (const c of plugin?.capabilities ?? []) {
      if (c?.service?.type) pluginCapabilities.add(c.service.type);
      if (c?.volume_expansion?.type) expansion = c.volume_expansion.type;
    }
    const controllerCapabilities = new Set<string>();
    if (pluginCapabilities.has('CONTROLLER_SERVICE')) {
      const controller = await this.call('controller', 'ControllerGetCapabilities', {}, 'ControllerGetCapabilities', signal);
      for (const c of controller?.capabilities ?? []) if (c?.rpc?.type) controllerCapabilities.add(c.rpc.type);
    }
    this.facts = {
      name: String(info?.name ?? ''),
      version: String(info?.vendor_version ?? ''),
      manifest: { ...(info?.manifest ?? {}) },
      pluginCapabilities,
      controllerCapabilities,
      ...(expansion ? { expansion } : {}),
    };
    return this.facts;
  }

  can(capability: ControllerCapabilityName): boolean {
    return this.facts?.controllerCapabilities.has(capability) === true;
  }

  /** One RPC: a typed driver error when it fails (the plugin's "maybe" codes as DriverTransientError). */
  async call(
    service: CsiServiceName,
    rpc: string,
    request: Record<string, unknown>,
    what: string,
    signal?: AbortSignal,
  ): Promise<CsiReply> {
    throwIfAborted(signal, what);
    const client = this.connect();
    try {
      return await client[service][rpc](request, { deadlineMs: this.options.callTimeoutMs, ...(signal ? { signal } : {}) });
    } catch (err) {
      throw fromGrpcError(err, what, this.label, signal);
    }
  }

  close(): void {
    this.client?.close();
    this.client = undefined;
  }

  private connect(): CsiClient {
    if (!this.client) {
      const reconnect = this.options.reconnect ?? { initialMs: 100, maxMs: 5000 };
      this.client = csiClient(this.endpoint, this.credentials(), { reconnect });
    }
    return this.client;
  }

  private credentials(): grpc.ChannelCredentials {
    const tls = this.options.tls;
    if (this.endpoint.kind === 'unix' || !tls) return grpc.credentials.createInsecure();
    const read = (file: string, key: string): Buffer => {
      try {
        return fs.readFileSync(file);
      } catch (err) {
        throw new DriverInvalidError(`Cannot read ${key} ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
      }
    };
    const ca = read(tls.caFile, 'csi.tls.caFile');
    const key = tls.keyFile ? read(tls.keyFile, 'csi.tls.keyFile') : null;
    const cert = tls.certFile ? read(tls.certFile, 'csi.tls.certFile') : null;
    return grpc.credentials.createSsl(ca, key, cert);
  }
}
