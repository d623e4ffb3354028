/**
 * Volume-bound apps: the Marathon app definition subset of DESIGN §3, as one typebox schema that
 * gives both the TypeScript type and the ajv validation. `parseAppSpec` turns a Marathon JSON body
 * into a normalised spec (id without the leading `/`, defaults applied) or throws a ValidationError
 * naming the field (e.g. `container.volumes[0].external.name`).
 */
import { Static, Type } from '@sinclair/typebox';
import Ajv, { ErrorObject } from 'ajv';
import { nameProblem } from '../../drivers/name-rules';
import { ValidationError } from '../errors/validation-error';
import { constraintProblem } from './constraints';

export const MAX_INSTANCES = 1000;
export const MAX_VOLUMES_PER_APP = 32;
export const INSTANCE_PLACEHOLDER = '{{instance}}';

/** One path segment of an app ID, as Marathon allows it. */
const ID_SEGMENT = '(?:[a-z0-9]|[a-z0-9][a-z0-9-]*[a-z0-9])(?:\\.(?:[a-z0-9]|[a-z0-9][a-z0-9-]*[a-z0-9]))*';
export const APP_ID_PATTERN = new RegExp(`^/?${ID_SEGMENT}(?:/${ID_SEGMENT})*$`);

const Printable = (max: number) => Type.String({ minLength: 1, maxLength: max, pattern: '^[^\\u0000-\\u001f\\u007f]*$' });
const StringMap = Type.Record(Type.String({ minLength: 1, maxLength: 255 }), Type.String({ maxLength: 4096 }), { maxProperties: 64 });

const ExternalSchema = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 255 }),
    provider: Type.Union([Type.Literal('dvdi'), Type.Literal('polly')]),
    /** GiB, for volumes Polly creates. */
    size: Type.Optional(Type.Integer({ minimum: 1, maximum: 1048576 })),
    options: Type.Optional(StringMap),
  },
  { additionalProperties: false },
);

const VolumeSchema = Type.Object(
  {
    containerPath: Type.String({ minLength: 1, maxLength: 1024, pattern: '^[^\\u0000-\\u001f\\u007f]*$' }),
    mode: Type.Union([Type.Literal('RW'), Type.Literal('RO')], { default: 'RW' }),
    external: ExternalSchema,
  },
  { additionalProperties: false },
);

const ConstraintSchema = Type.Union([
  Type.Tuple([Printable(255), Printable(32)]),
  Type.Tuple([Printable(255), Printable(32), Type.String({ maxLength: 1024 })]),
]);

export const AppSpecSchema = Type.Object(
  {
    id: Type.String({ minLength: 1, maxLength: 200, pattern: APP_ID_PATTERN.source }),
    cmd: Type.Optional(Type.String({ minLength: 1, maxLength: 65536 })),
    args: Type.Optional(Type.Array(Type.String({ maxLength: 65536 }), { maxItems: 1000 })),
    cpus: Type.Number({ exclusiveMinimum: 0, maximum: 1024, default: 1 }),
    mem: Type.Number({ minimum: 0, maximum: 16777216, default: 128 }),
    disk: Type.Number({ minimum: 0, maximum: 1073741824, default: 0 }),
    instances: Type.Integer({ minimum: 0, maximum: MAX_INSTANCES, default: 1 }),
    env: Type.Optional(StringMap),
    labels: Type.Optional(StringMap),
    constraints: Type.Optional(Type.Array(ConstraintSchema, { maxItems: 32 })),
    container: Type.Optional(
      Type.Object(
        {
          type: Type.Union([Type.Literal('MESOS'), Type.Literal('DOCKER')], { default: 'MESOS' }),
          docker: Type.Optional(Type.Object({ image: Printable(1024) }, { additionalProperties: true })),
          volumes: Type.Array(VolumeSchema, { maxItems: MAX_VOLUMES_PER_APP, default: [] }),
        },
        { additionalProperties: false },
      ),
    ),
    /** `{}` pins each instance to its agent through a labelled dynamic reservation. */
    residency: Type.Optional(Type.Object({}, { additionalProperties: true })),
    upgradeStrategy: Type.Optional(
      Type.Object(
        {
          minimumHealthCapacity: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
          maximumOverCapacity: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
        },
        { additionalProperties: false },
      ),
    ),
    backoffSeconds: Type.Optional(Type.Number({ minimum: 0, maximum: 3600 })),
    backoffFactor: Type.Optional(Type.Number({ minimum: 1, maximum: 100 })),
    maxLaunchDelaySeconds: Type.Optional(Type.Number({ minimum: 0, maximum: 86400 })),
  },
  { additionalProperties: false },
);

export type AppSpec = Static<typeof AppSpecSchema>;
export type AppVolumeSpec = Static<typeof VolumeSchema>;

const ajv = new Ajv({ useDefaults: true, allErrors: false, strict: false });
const validate = ajv.compile<AppSpec>(AppSpecSchema);

/** `/container/volumes/0/external/name` → `container.volumes[0].external.name`. */
function fieldOf(error: ErrorObject): string {
  let out = '';
  for (const part of error.instancePath.split('/').slice(1)) out += /^\d+$/.test(part) ? `[${part}]` : out ? `.${part}` : part;
  if (error.keyword === 'required') {
    const missing = String((error.params as { missingProperty?: string }).missingProperty);
    return out ? `${out}.${missing}` : missing;
  }
  if (error.keyword === 'additionalProperties') {
    const extra = String((error.params as { additionalProperty?: string }).additionalProperty);
    return out ? `${out}.${extra}` : extra;
  }
  return out || '(body)';
}

function messageOf(error: ErrorObject, field: string): string {
  switch (error.keyword) {
    case 'required':
      return `${field} is required`;
    case 'additionalProperties':
      return `${field} is not a supported app field`;
    case 'pattern':
      return field === 'id' ? `id must be an app ID like /group/app (lower-case letters, digits, '-', '.')` : `${field} has invalid characters`;
    default:
      return `${field} ${error.message ?? 'is invalid'}`;
  }
}

/** Normalises an app ID: Marathon writes `/group/app`, Polly stores `group/app`. */
export function normaliseAppId(id: string): string {
  return id.startsWith('/') ? id.slice(1) : id;
}

/** Throws ValidationError unless `id` is an app ID; returns it normalised. */
export function checkAppId(id: unknown): string {
  if (typeof id !== 'string' || id.length > 200 || !APP_ID_PATTERN.test(id)) {
    throw ValidationError.field('id', `Invalid app ID ${JSON.stringify(String(id).slice(0, 100))}`);
  }
  return normaliseAppId(id);
}

/** The volume name for instance `i` (per-instance volumes use `{{instance}}`). */
export function volumeNameFor(volume: Pick<AppVolumeSpec, 'external'>, instance: number): string {
  return volume.external.name.split(INSTANCE_PLACEHOLDER).join(String(instance));
}

/** Why `instances` instances of the app cannot run (several sharing one RW volume), or undefined. */
export function instancesProblem(spec: AppSpec, instances: number): { field: string; message: string } | undefined {
  if (instances <= 1) return undefined;
  for (const [i, volume] of (spec.container?.volumes ?? []).entries()) {
    if (volume.mode !== 'RW' || volume.external.name.includes(INSTANCE_PLACEHOLDER)) continue;
    const where = `container.volumes[${i}].external.name`;
    return { field: where, message: `${where}: ${instances} instances cannot share one RW volume; use ${INSTANCE_PLACEHOLDER} in the name` };
  }
  return undefined;
}

/** Validates and normalises a Marathon app body. Never mutates `body`. */
export function parseAppSpec(body: unknown): AppSpec {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new ValidationError('The app definition must be a JSON object');
  const spec = structuredClone(body) as AppSpec;
  if (!validate(spec)) {
    const error = validate.errors![0];
    const field = fieldOf(error);
    throw ValidationError.field(field, messageOf(error, field));
  }
  spec.id = normaliseAppId(spec.id);
  if (spec.cmd === undefined && (spec.args === undefined || spec.args.length === 0) && spec.container?.docker === undefined) {
    throw ValidationError.field('cmd', 'An app needs cmd, args or a docker image');
  }
  if (spec.container?.type === 'DOCKER' && !spec.container.docker) {
    throw ValidationError.field('container.docker.image', 'A DOCKER container needs docker.image');
  }
  const seenPaths = new Set<string>();
  for (const [i, volume] of (spec.container?.volumes ?? []).entries()) {
    const where = `container.volumes[${i}]`;
    const problem = nameProblem(volumeNameFor(volume, 0));
    if (problem) throw ValidationError.field(`${where}.external.name`, `${where}.external.name: invalid volume name: ${problem}`);
    const options = volume.external.options ?? {};
    if (volume.external.provider === 'dvdi' && !options['dvdi/driver']) {
      throw ValidationError.field(`${where}.external.options`, `${where}.external.options["dvdi/driver"] is required for provider dvdi`);
    }
    if (options.iops !== undefined && !/^[1-9][0-9]{0,7}$/.test(options.iops)) {
      throw ValidationError.field(`${where}.external.options.iops`, `${where}.external.options.iops must be a positive integer`);
    }
    const segments = volume.containerPath.split('/');
    if (segments.includes('..')) throw ValidationError.field(`${where}.containerPath`, `${where}.containerPath must not contain ".."`);
    if (seenPaths.has(volume.containerPath)) throw ValidationError.field(`${where}.containerPath`, `${where}.containerPath is used twice`);
    seenPaths.add(volume.containerPath);
  }
  const shared = instancesProblem(spec, spec.instances);
  if (shared) throw ValidationError.field(shared.field, shared.message);
  for (const [i, c] of (spec.constraints ?? []).entries()) {
    const problem = constraintProblem(c);
    if (problem) throw ValidationError.field(`constraints[${i}]`, `constraints[${i}]: ${problem}`);
  }
  return spec;
}
