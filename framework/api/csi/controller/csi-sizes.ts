/**
 * CSI sizes are bytes; Polly's are whole GiB. A capacity range becomes the smallest whole number of
 * GiB that satisfies it, or OUT_OF_RANGE naming the bounds when none does.
 */
import { OutOfRangeError } from '../../../errors/out-of-range-error';
import { ValidationError } from '../../../errors/validation-error';
import type { CapacityRange } from '../csi-messages';

export const GIB = 1024 ** 3;
const BIG_GIB = BigInt(GIB);

export function gibToBytes(gib: number): number {
  return gib * GIB;
}

export interface SizeBounds {
  /** GiB. */
  min: number;
  /** GiB. */
  max: number;
}

/** Bytes as a BigInt (int64 arrives as a decimal string); INVALID_ARGUMENT when negative or not a number. */
export function parseBytes(value: string | number | undefined, field: string): bigint {
  if (value === undefined || value === '' || value === 0) return 0n;
  let bytes: bigint;
  try {
    bytes = BigInt(value);
  } catch {
    throw ValidationError.field(field, `${field} must be a whole number of bytes`);
  }
  if (bytes < 0n) throw ValidationError.field(field, `${field} must not be negative`);
  return bytes;
}

/** The requested range in GiB: required rounded up, limit rounded down (undefined when unset). */
export function rangeInGib(range: CapacityRange | null): { required?: number; limit?: number } {
  if (!range) return {};
  const required = parseBytes(range.required_bytes, 'capacity_range.required_bytes');
  const limit = parseBytes(range.limit_bytes, 'capacity_range.limit_bytes');
  const out: { required?: number; limit?: number } = {};
  if (required > 0n) out.required = toSafeNumber((required + BIG_GIB - 1n) / BIG_GIB);
  if (limit > 0n) out.limit = toSafeNumber(limit / BIG_GIB);
  if (required > 0n && limit > 0n && limit < required) {
    throw new OutOfRangeError(`capacity_range.limit_bytes (${limit}) is below required_bytes (${required})`);
  }
  return out;
}

function toSafeNumber(n: bigint): number {
  return n > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(n);
}

/**
 * The size (GiB) for a new volume: the range's required size (at least `bounds.min`), else
 * `preferred` clamped into the range, never outside `bounds`. OUT_OF_RANGE when the range and the
 * bounds do not meet.
 */
export function chooseSize(range: CapacityRange | null, bounds: SizeBounds, preferred: number, where: string): number {
  const { required, limit } = rangeInGib(range);
  const low = Math.max(required ?? 1, bounds.min);
  const high = Math.min(limit ?? Number.MAX_SAFE_INTEGER, bounds.max);
  if (low > high) {
    const asked = `${required !== undefined ? `at least ${required} GiB` : ''}${required !== undefined && limit !== undefined ? ' and ' : ''}${
      limit !== undefined ? `at most ${limit} GiB` : ''
    }`;
    throw new OutOfRangeError(
      `The capacity range asks for ${asked || 'a size'} but ${where} allows ${bounds.min}-${bounds.max} GiB in whole GiB; ask for a size in that range`,
      { min: bounds.min, max: bounds.max },
    );
  }
  if (required !== undefined) return low;
  return Math.min(Math.max(preferred, low), high);
}

/** Whether an existing volume of `sizeGib` satisfies the range (CreateVolume idempotency). */
export function sizeFits(range: CapacityRange | null, sizeGib: number): boolean {
  if (!range) return true;
  const bytes = BigInt(sizeGib) * BIG_GIB;
  const required = parseBytes(range.required_bytes, 'capacity_range.required_bytes');
  const limit = parseBytes(range.limit_bytes, 'capacity_range.limit_bytes');
  return bytes >= required && (limit === 0n || bytes <= limit);
}
