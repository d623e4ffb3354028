/** Schema pieces shared by the admin and v1 bodies. */
import { Type } from '@sinclair/typebox';

/** Label and field keys: 1-255 printable characters, never `__proto__` (the catalog checks again). */
export const KEY_NAMES = { minLength: 1, maxLength: 255, pattern: '^(?!__proto__$)[^\\u0000-\\u001f\\u007f-\\u009f]+$' };

export const SchedulerName = Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._:@-]{0,254}$' });
export const Schedulers = Type.Array(SchedulerName, { maxItems: 256 });
export const LabelKey = Type.String(KEY_NAMES);
/** Labels and fields: at most 64 printable keys with values of at most 4096 characters. */
export const StringMap = Type.Record(Type.String(), Type.String({ maxLength: 4096 }), { maxProperties: 64, propertyNames: KEY_NAMES });
export const IdText = Type.String({ minLength: 1, maxLength: 255, pattern: '^[^\\u0000-\\u001f\\u007f]+$' });
