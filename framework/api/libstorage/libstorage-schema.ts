/**
 * Request-body validation with the libStorage JSON schema's request definitions (copied from
 * reference/libstorage/libstorage.schema.json, Apache-2.0; draft-04 there, draft-07-compatible as
 * written here). Every request definition has `additionalProperties: false`. A failure is a 400 in
 * libStorage's error shape (upstream answers 500: a bug, fixed here on purpose).
 */
import Ajv, { ErrorObject, ValidateFunction } from 'ajv';
import type {
  LsSnapshotCopyRequest,
  LsVolumeAttachRequest,
  LsVolumeCopyRequest,
  LsVolumeCreateRequest,
  LsVolumeDetachRequest,
  LsVolumeSnapshotRequest,
} from '../../../drivers/libstorage/libstorage-wire';
import { LibStorageError } from './libstorage-error';
import { MAX_JSON_DEPTH, nestsDeeperThan } from '../json-depth';

const opts = { $ref: 'libstorage#/definitions/opts' };

/** The definitions this API validates, as in the reference schema. */
export const LIBSTORAGE_REQUEST_SCHEMA = {
  $id: 'libstorage',
  definitions: {
    opts: {
      type: 'object',
      description: 'Opts are additional properties that can be defined for POST requests.',
      patternProperties: {
        '^.+$': {
          anyOf: [
            { type: 'array' },
            { type: 'boolean' },
            { type: 'integer' },
            { type: 'number' },
            { type: 'null' },
            { type: 'string' },
            { $ref: '#/definitions/opts' },
          ],
        },
      },
      additionalProperties: true,
    },
    volumeCreateRequest: {
      type: 'object',
      properties: {
        name: { type: 'string' },
        availabilityZone: { type: 'string' },
        encrypted: { type: 'boolean' },
        encryptionKey: { type: 'string' },
        iops: { type: 'number' },
        size: { type: 'number' },
        type: { type: 'string' },
        opts,
      },
      required: ['name'],
      additionalProperties: false,
    },
    volumeCopyRequest: {
      type: 'object',
      properties: { volumeName: { type: 'string' }, opts },
      required: ['volumeName'],
      additionalProperties: false,
    },
    volumeSnapshotRequest: {
      type: 'object',
      properties: { snapshotName: { type: 'string' }, opts },
      required: ['snapshotName'],
      additionalProperties: false,
    },
    volumeAttachRequest: {
      type: 'object',
      properties: { nextDeviceName: { type: 'string' }, force: { type: 'boolean' }, opts },
      additionalProperties: false,
    },
    volumeDetachRequest: {
      type: 'object',
      properties: { force: { type: 'boolean' }, opts },
      additionalProperties: false,
    },
    snapshotCopyRequest: {
      type: 'object',
      properties: { snapshotName: { type: 'string' }, destinationID: { type: 'string' }, opts },
      required: ['snapshotName', 'destinationID'],
      additionalProperties: false,
    },
  },
} as const;

export interface RequestBodies {
  volumeCreateRequest: LsVolumeCreateRequest;
  volumeCopyRequest: LsVolumeCopyRequest;
  volumeSnapshotRequest: LsVolumeSnapshotRequest;
  volumeAttachRequest: LsVolumeAttachRequest;
  volumeDetachRequest: LsVolumeDetachRequest;
  snapshotCopyRequest: LsSnapshotCopyRequest;
}

export type RequestDefinition = keyof RequestBodies;

const ajv = new Ajv({ allErrors: false, strict: false });
ajv.addSchema(LIBSTORAGE_REQUEST_SCHEMA);
const validators = new Map<RequestDefinition, ValidateFunction>();

function validatorFor(definition: RequestDefinition): ValidateFunction {
  let v = validators.get(definition);
  if (!v) {
    v = ajv.compile({ $ref: `libstorage#/definitions/${definition}` });
    validators.set(definition, v);
  }
  return v;
}

/** Upstream's wording: `"#" must have property "name"`, `"#/size" must be number`… */
function describe(error: ErrorObject): string {
  const where = `#${error.instancePath}`;
  switch (error.keyword) {
    case 'required':
      return `"${where}" must have property "${String((error.params as { missingProperty: string }).missingProperty)}"`;
    case 'additionalProperties':
      return `"${where}" has unknown property "${String((error.params as { additionalProperty: string }).additionalProperty)}"`;
    default:
      return `"${where}" ${error.message ?? 'is invalid'}`;
  }
}

/**
 * Parses and validates a raw request body. `optional` definitions (attach, detach) accept an empty
 * body as `{}`; the others require one.
 */
export function validateRequestBody<D extends RequestDefinition>(definition: D, raw: string, optional = false): RequestBodies[D] {
  let body: unknown;
  if (raw.trim() === '') {
    if (!optional) throw LibStorageError.badRequest('validate req schema: validation error: request body is empty');
    body = {};
  } else {
    try {
      body = JSON.parse(raw) as unknown;
    } catch {
      throw LibStorageError.badRequest('validate req schema: validation error: request body is not JSON');
    }
    if (nestsDeeperThan(body)) {
      throw LibStorageError.badRequest(`validate req schema: validation error: request body nests deeper than ${MAX_JSON_DEPTH} levels`);
    }
  }
  const validate = validatorFor(definition);
  if (!validate(body)) {
    const message = `validate req schema: validation error: ${describe(validate.errors![0]!)}`;
    throw LibStorageError.badRequest(message);
  }
  return body as RequestBodies[D];
}
