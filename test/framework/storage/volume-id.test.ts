import { ValidationError } from '../../../framework/errors';
import { encodeDriverVolumeId, formatVolumeId, isVolumeId, parseVolumeId } from '../../../framework/storage/volume-id';

describe('Polly volume IDs', () => {
  const driverIds = [
    'vfs-000001',
    'vol-0abc',
    'a.b.c',
    '.',
    '..',
    'a/b/../c',
    'with space',
    'percent%41',
    'tilde~under_score-dash',
    'ünïcödé-名前',
    'emoji-😀',
    'x'.repeat(200),
  ];

  test.each(driverIds)('round-trips %j', (driverVolumeId) => {
    for (const service of ['local', 'ebs-east', 'a']) {
      const id = formatVolumeId(service, driverVolumeId);
      expect(id.startsWith(`${service}.`)).toBe(true);
      // URL-safe and one path segment: only unreserved characters and %XX escapes after the service.
      expect(id.slice(service.length + 1)).toMatch(/^(?:[A-Za-z0-9_~-]|%[0-9A-F]{2})+$/);
      expect(encodeURIComponent(id.slice(service.length + 1))).toBe(id.slice(service.length + 1).replace(/%/g, '%25'));
      expect(parseVolumeId(id)).toEqual({ service, driverVolumeId });
      expect(isVolumeId(id)).toBe(true);
    }
  });

  test('the first dot separates service and driver ID, and dots in the driver ID are encoded', () => {
    expect(formatVolumeId('ebs-east', 'my.vol-1')).toBe('ebs-east.my%2Evol-1');
    expect(parseVolumeId('ebs-east.my%2Evol-1')).toEqual({ service: 'ebs-east', driverVolumeId: 'my.vol-1' });
  });

  test('distinct (service, driver ID) pairs give distinct IDs', () => {
    const pairs: Array<[string, string]> = [
      ['a', 'b-c'],
      ['a-b', 'c'],
      ['a', 'b.c'],
      ['a', 'b%2Ec'],
      ['a', 'B'],
      ['a', 'b'],
    ];
    const ids = pairs.map(([s, d]) => formatVolumeId(s, d));
    expect(new Set(ids).size).toBe(pairs.length);
  });

  test.each([
    ['', 'empty'],
    ['local', 'no dot'],
    ['local.', 'empty driver ID'],
    ['Local.x', 'upper-case service'],
    ['1local.x', 'service starting with a digit'],
    ['local.a.b', 'unencoded dot'],
    ['local.a/b', 'unencoded slash'],
    ['local.a b', 'unencoded space'],
    ['local.%41', 'over-encoded character'],
    ['local.%2e', 'lower-case hex'],
    ['local.%ZZ', 'bad escape'],
    ['local.%C3', 'truncated UTF-8'],
    [`local.${'x'.repeat(300)}`, 'too long'],
  ])('refuses %j (%s)', (id) => {
    expect(() => parseVolumeId(id)).toThrow(ValidationError);
    expect(isVolumeId(id)).toBe(false);
  });

  test('refuses bad services and driver IDs when formatting', () => {
    expect(() => formatVolumeId('Bad', 'x')).toThrow(ValidationError);
    expect(() => formatVolumeId('has.dot', 'x')).toThrow(ValidationError);
    expect(() => formatVolumeId('local', '')).toThrow(ValidationError);
    expect(() => formatVolumeId('local', '/'.repeat(100))).toThrow(ValidationError);
  });

  test('encodes multi-byte characters byte by byte', () => {
    expect(encodeDriverVolumeId('é')).toBe('%C3%A9');
  });
});
