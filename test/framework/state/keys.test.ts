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
import { nameKey } from '../../../drivers/name-rules';

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

  it('keys volume names as the drivers compare them: NFC, then lower case', () => {
    const composed = '\u00c4rger'; // Ä as one code point
    const decomposed = 'A\u0308rger'; // A + combining diaeresis
    expect(composed).not.toBe(decomposed);
    expect(volumeNameKey('local', decomposed)).toBe(volumeNameKey('local', composed));
    expect(volumeNameKey('local', decomposed.toUpperCase())).toBe('volume-names/local/\u00e4rger');
    for (const name of [composed, decomposed, 'A\u030aNGSTR\u00d6M', 'Stra\u00dfe', '\u212bngstr\u00f6m']) {
      expect(volumeNameKey('local', name)).toBe(`volume-names/local/${nameKey(name)}`);
    }
  });

  it.each(['', '.', '..', 'a/b', '../x', 'a\u0000', 'a\nb', 'x'.repeat(256)])('refuses segment %j', (segment) => {
    expect(() => keySegment(segment)).toThrow(InvalidStoreKeyError);
    expect(() => volumeKey(segment)).toThrow(InvalidStoreKeyError);
    expect(() => claimByVolumeKey('v', segment)).toThrow(InvalidStoreKeyError);
  });
});
