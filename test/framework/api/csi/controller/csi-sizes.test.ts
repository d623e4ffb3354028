import { chooseSize, GIB, rangeInGib, sizeFits } from '../../../../../framework/api/csi/controller/csi-sizes';
import { OutOfRangeError } from '../../../../../framework/errors/out-of-range-error';
import { ValidationError } from '../../../../../framework/errors/validation-error';

const range = (required: number | string, limit: number | string = 0) => ({ required_bytes: String(required), limit_bytes: String(limit) });

describe('CSI sizes in whole GiB', () => {
  it('rounds the required size up and the limit down', () => {
    expect(rangeInGib(range(1))).toEqual({ required: 1 });
    expect(rangeInGib(range(GIB))).toEqual({ required: 1 });
    expect(rangeInGib(range(GIB + 1))).toEqual({ required: 2 });
    expect(rangeInGib(range(0, 3 * GIB - 1))).toEqual({ limit: 2 });
    expect(rangeInGib(null)).toEqual({});
  });

  it('picks the required size within the bounds, or the preferred one clamped into the range', () => {
    const bounds = { min: 1, max: 100 };
    expect(chooseSize(range(10 * GIB), bounds, 16, 'p')).toBe(10);
    expect(chooseSize(null, bounds, 16, 'p')).toBe(16);
    expect(chooseSize(range(0, 4 * GIB), bounds, 16, 'p')).toBe(4);
    expect(chooseSize(range(GIB), { min: 5, max: 100 }, 16, 'p')).toBe(5);
  });

  it('is OUT_OF_RANGE when no whole GiB fits the range and the bounds, naming them', () => {
    expect(() => chooseSize(range(200 * GIB), { min: 1, max: 100 }, 16, 'profile "small"')).toThrow(OutOfRangeError);
    expect(() => chooseSize(range(1, 1024 ** 2), { min: 1, max: 100 }, 16, 'p')).toThrow(/allows 1-100 GiB/);
    expect(() => chooseSize(range(0, 2 * GIB), { min: 5, max: 100 }, 16, 'p')).toThrow(OutOfRangeError);
    expect(() => rangeInGib(range(2 * GIB, GIB))).toThrow(OutOfRangeError);
  });

  it('refuses negative and non-numeric byte counts', () => {
    expect(() => rangeInGib(range(-1))).toThrow(ValidationError);
    expect(() => rangeInGib(range('abc'))).toThrow(ValidationError);
  });

  it('tells whether an existing size fits a range', () => {
    expect(sizeFits(range(10 * GIB), 10)).toBe(true);
    expect(sizeFits(range(10 * GIB, 10 * GIB), 10)).toBe(true);
    expect(sizeFits(range(20 * GIB, 20 * GIB), 10)).toBe(false);
    expect(sizeFits(range(0, 5 * GIB), 10)).toBe(false);
    expect(sizeFits(null, 10)).toBe(true);
  });
});
