/**
 * Polly's CSI v1 definitions (proto/csi/v1/csi.proto), loaded once with @grpc/proto-loader (over
 * protobufjs, Polly's one protobuf runtime) into gRPC service definitions. Messages arrive as plain
 * objects in the shape of csi-messages.ts: snake_case names, 64-bit integers as decimal strings,
 * enums as their names, every scalar, list and map present (defaults filled in), unset messages null.
 */
import fs from 'node:fs';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

/** The CSI specification release Polly's definitions and behaviour follow. */
export const CSI_SPEC_VERSION = '1.12.0';

const PROTO_FILE = path.join('proto', 'csi', 'v1', 'csi.proto');

/** proto/ sits at the repository (or package) root, above drivers/ from source and from dist/. */
function findProtoFile(): string {
  let dir = __dirname;
  for (let i = 0; i < 6; i++) {
    const candidate = path.join(dir, PROTO_FILE);
    if (fs.existsSync(candidate)) return candidate;
    dir = path.dirname(dir);
  }
  throw new Error(`CSI definitions not found: no ${PROTO_FILE} above ${__dirname}`);
}

export const LOADER_OPTIONS: protoLoader.Options = {
  keepCase: true,
  longs: String,
  enums: String,
  defaults: true,
  arrays: true,
  objects: true,
  oneofs: true,
};

export interface CsiServiceDefinitions {
  identity: grpc.ServiceDefinition;
  controller: grpc.ServiceDefinition;
  node: grpc.ServiceDefinition;
  /** Client constructors, for tests, tools and the bench. */
  clients: {
    Identity: grpc.ServiceClientConstructor;
    Controller: grpc.ServiceClientConstructor;
    Node: grpc.ServiceClientConstructor;
  };
}

let loaded: CsiServiceDefinitions | undefined;

export function csiServices(): CsiServiceDefinitions {
  if (!loaded) {
    const definition = protoLoader.loadSync(findProtoFile(), LOADER_OPTIONS);
    const pkg = grpc.loadPackageDefinition(definition) as unknown as {
      csi: { v1: Record<'Identity' | 'Controller' | 'Node', grpc.ServiceClientConstructor> };
    };
    const { Identity, Controller, Node } = pkg.csi.v1;
    loaded = {
      identity: Identity.service,
      controller: Controller.service,
      node: Node.service,
      clients: { Identity, Controller, Node },
    };
  }
  return loaded;
}
