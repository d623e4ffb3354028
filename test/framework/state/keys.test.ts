import { InvalidStoreKeyError } from '../../../framework/state/store';
import {
  claimByVolumeKey,
  claimKey,
  claimsByVolumePrefix,
  idFromKey,
  intentKey,
  keySegment,
  profileUsedKey,
  volumeKey,
  volumeNameKey,
} from '../../../framework/state/keys';

describe('store key layout', () => {
  it('builds the documented keys', () => {
    expect(volumeKey('v-1')).toBe('volumes/v-1');
    expect(volumeNameKey('local', 'My-Data')).toBe('volume-names/local/my-data');
    expect(claimKey('c1')).toBe('claims/c1');
    expect(claimByVolumeKey('v-1', 'c1')).toBe('claims-by-volume/v-1/c1');
    expect(claimsByVolumePrefix('v-1')).toBe('claims-by-volume/v-1/');
    expect(intentKey('i1')).toBe('intents/i1');
    expect(profileUsedKey('local', 'default')).toBe('profiles-used/local/default');
    expect(idFromKey('claims-by-volume/v-1/c1')).toBe('c1');
  });

  it.each(['', '.', '..', 'a/b', '../x', 'a\u0000', 'a\nb', 'x'.repeat(256)])('refuses segment %j', (segment) => {
    expect(() => keySegment(segment)).toThrow(InvalidStoreKeyError);
    expect(() => volumeKey(segment)).toThrow(InvalidStoreKeyError);
    expect(() => claimByVolumeKey('v', segment)).toThrow(InvalidStoreKeyError);
  });
});
