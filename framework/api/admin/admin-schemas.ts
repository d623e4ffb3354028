/** Bodies of the original Polly admin routes (field names as the original `polly` client sends them). */
import { Static, Type } from '@sinclair/typebox';
import { LabelKey, Schedulers, StringMap } from '../schema-parts';

/** Any non-empty string: an ID that cannot name a volume is a 404 like any other unknown one (bounded all the same). */
const VolumeId = Type.String({ minLength: 1, maxLength: 4096 });

export const AdminVolumeCreateSchema = Type.Object(
  {
    service: Type.String({ minLength: 1, maxLength: 63 }),
    name: Type.String({ minLength: 1, maxLength: 255 }),
    volumeType: Type.Optional(Type.String({ maxLength: 128 })),
    /** GiB. */
    size: Type.Optional(Type.Integer({ minimum: 1, maximum: 1048576 })),
    /** 0 = not set (the original client sends 0 for "none"). */
    iops: Type.Optional(Type.Integer({ minimum: 0, maximum: 10000000 })),
    availabilityZone: Type.Optional(Type.String({ maxLength: 255 })),
    schedulers: Type.Optional(Schedulers),
    labels: Type.Optional(StringMap),
    fields: Type.Optional(StringMap),
  },
  { additionalProperties: false },
);
export type AdminVolumeCreate = Static<typeof AdminVolumeCreateSchema>;

export const VolumeOfferSchema = Type.Object({ volumeID: VolumeId, schedulers: Schedulers }, { additionalProperties: false });
export type VolumeOffer = Static<typeof VolumeOfferSchema>;

export const VolumeLabelSchema = Type.Object({ volumeID: VolumeId, labels: StringMap }, { additionalProperties: false });
export type VolumeLabel = Static<typeof VolumeLabelSchema>;

export const VolumeLabelsRemoveSchema = Type.Object(
  { volumeID: VolumeId, labels: Type.Array(LabelKey, { maxItems: 64 }) },
  { additionalProperties: false },
);
export type VolumeLabelsRemove = Static<typeof VolumeLabelsRemoveSchema>;
