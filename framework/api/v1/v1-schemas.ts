/** Request bodies of the v1 API: one typebox schema each gives the validation and the TypeScript type. */
import { Static, Type } from '@sinclair/typebox';
import { IdText, KEY_NAMES, SchedulerName, Schedulers, StringMap } from '../schema-parts';

export const VolumeCreateSchema = Type.Object(
  {
    service: Type.String({ minLength: 1, maxLength: 63 }),
    name: Type.String({ minLength: 1, maxLength: 255 }),
    profile: Type.Optional(Type.String({ minLength: 1, maxLength: 63 })),
    /** GiB. */
    size: Type.Optional(Type.Integer({ minimum: 1, maximum: 1048576 })),
    type: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
    iops: Type.Optional(Type.Integer({ minimum: 1, maximum: 10000000 })),
    fsType: Type.Optional(Type.String({ minLength: 1, maxLength: 32 })),
    encrypted: Type.Optional(Type.Boolean()),
    availabilityZone: Type.Optional(Type.String({ minLength: 1, maxLength: 255 })),
    schedulers: Type.Optional(Schedulers),
    labels: Type.Optional(StringMap),
    fields: Type.Optional(StringMap),
  },
  { additionalProperties: false },
);
export type VolumeCreate = Static<typeof VolumeCreateSchema>;

/**
 * `labels` is a JSON merge patch (a null value removes the key); `schedulers` replaces the list;
 * `offer` / `revoke` add or remove schedulers without knowing the current list.
 */
export const VolumePatchSchema = Type.Object(
  {
    labels: Type.Optional(
      Type.Record(Type.String(), Type.Union([Type.String({ maxLength: 4096 }), Type.Null()]), {
        maxProperties: 64,
        propertyNames: KEY_NAMES,
      }),
    ),
    schedulers: Type.Optional(Schedulers),
    offer: Type.Optional(Schedulers),
    revoke: Type.Optional(Schedulers),
  },
  { additionalProperties: false, minProperties: 1 },
);
export type VolumePatch = Static<typeof VolumePatchSchema>;

/** `POST /v1/volumes/:id/expand`: the size to grow to, GiB (65,536 is the most any driver takes). */
export const VolumeExpandSchema = Type.Object({ size: Type.Integer({ minimum: 1, maximum: 65536 }) }, { additionalProperties: false });
export type VolumeExpand = Static<typeof VolumeExpandSchema>;

export const SnapshotCreateSchema = Type.Object({ name: Type.String({ minLength: 1, maxLength: 255 }) }, { additionalProperties: false });
export type SnapshotCreate = Static<typeof SnapshotCreateSchema>;

export const ClaimCreateSchema = Type.Object(
  {
    volumeId: IdText,
    agentId: IdText,
    /** How the backend knows the agent (libStorage instance ID); default: the agent ID. */
    instanceId: Type.Optional(IdText),
    mode: Type.Optional(Type.Union([Type.Literal('RW'), Type.Literal('RO')])),
    /** For admin tokens: claim on behalf of this scheduler (its ACL applies). Scheduler tokens claim as themselves. */
    scheduler: Type.Optional(SchedulerName),
    frameworkId: Type.Optional(IdText),
    taskId: Type.Optional(IdText),
  },
  { additionalProperties: false },
);
export type ClaimCreate = Static<typeof ClaimCreateSchema>;

export const ClaimReleaseSchema = Type.Object(
  {
    /** Force-release (operators only): detach even if the holder may be alive; needs a reason. */
    force: Type.Optional(Type.Boolean()),
    reason: Type.Optional(Type.String({ maxLength: 1024 })),
  },
  { additionalProperties: false },
);
export type ClaimRelease = Static<typeof ClaimReleaseSchema>;
