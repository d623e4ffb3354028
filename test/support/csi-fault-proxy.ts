/**
 * A gRPC proxy in front of a real CSI plugin that injects the faults a real network and a real
 * plugin produce: for a method, the next call can be answered with a status without reaching the
 * plugin (`before`), or forwarded, performed by the plugin, and its answer replaced by a status
 * (`after`: the plugin did it, the caller never hears), optionally running an action first (a
 * plugin restart). `hideVolumeContext` drops the volume context from ListVolumes replies: a plugin
 * that cannot be searched by name. Every request is recorded (method and name/volume ID only).
 */
import * as grpc from '@grpc/grpc-js';
import { csiClient, CsiClient } from '../../drivers/csi/csi-client';
import { csiServices } from '../../drivers/csi/csi-proto';
import { GRPC_CODES, GrpcCodeName } from '../../drivers/csi/csi-errors';

export interface Fault {
  when: 'before' | 'after';
  code: GrpcCodeName;
  /** Runs before the status is sent (e.g. restart the plugin). */
  action?: () => Promise<void>;
}

export interface FaultProxy {
  socket: string;
  /** Faults for the next calls of `method` (e.g. `CreateVolume`), in order. */
  inject(method: string, ...faults: Fault[]): void;
  /** The requests seen: method and the name or volume ID they carried. */
  requests: Array<{ method: string; name?: string; volumeId?: string; nodeId?: string }>;
  hideVolumeContext: boolean;
  close(): Promise<void>;
}

export async function startFaultProxy(socket: string, pluginSocket: string): Promise<FaultProxy> {
  const services = csiServices();
  const upstream: CsiClient = csiClient({ kind: 'unix', path: pluginSocket }, undefined, { reconnect: { initialMs: 50, maxMs: 200 } });
  const faults = new Map<string, Fault[]>();
  const proxy: FaultProxy = {
    socket,
    inject: (method, ...more) => faults.set(method, [...(faults.get(method) ?? []), ...more]),
    requests: [],
    hideVolumeContext: false,
    close: async () => {
      upstream.close();
      await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
    },
  };
  const server = new grpc.Server();
  const serve = (service: 'identity' | 'controller' | 'node', definition: grpc.ServiceDefinition): void => {
    const implementation: grpc.UntypedServiceImplementation = {};
    for (const method of Object.keys(definition)) {
      implementation[method] = (call: grpc.ServerUnaryCall<Record<string, unknown>, unknown>, callback: grpc.sendUnaryData<unknown>) => {
        void (async () => {
          const request = call.request;
          proxy.requests.push({
            method,
            ...(typeof request.name === 'string' && request.name ? { name: request.name } : {}),
            ...(typeof request.volume_id === 'string' && request.volume_id ? { volumeId: request.volume_id } : {}),
            ...(typeof request.node_id === 'string' && request.node_id ? { nodeId: request.node_id } : {}),
          });
          const fault = faults.get(method)?.shift();
          const fail = async (f: Fault): Promise<void> => {
            await f.action?.();
            callback({ code: GRPC_CODES.indexOf(f.code), details: `injected ${f.code}` } as grpc.ServiceError, null);
          };
          if (fault?.when === 'before') return fail(fault);
          let reply: Record<string, unknown>;
          try {
            reply = await upstream[service][method](request);
          } catch (err) {
            callback(err as grpc.ServiceError, null);
            return;
          }
          if (fault) return fail(fault);
          if (method === 'ListVolumes' && proxy.hideVolumeContext) {
            for (const e of (reply.entries as Array<{ volume: { volume_context: unknown } }>) ?? []) e.volume.volume_context = {};
          }
          callback(null, reply);
        })();
      };
    }
    server.addService(definition, implementation);
  };
  serve('identity', services.identity);
  serve('controller', services.controller);
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(`unix://${socket}`, grpc.ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())),
  );
  return proxy;
}
