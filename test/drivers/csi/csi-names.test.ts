import { csiSnapshotName, csiVolumeName, MAX_CSI_NAME_BYTES } from '../../../drivers/csi/csi-names';

describe('CSI names', () => {
  it('are a pure function of the prefix and the case-insensitive name, readable when plain', () => {
    expect(csiVolumeName('polly-disks-', 'data1')).toBe('polly-disks-data1');
    expect(csiVolumeName('polly-disks-', 'DATA1')).toBe('polly-disks-data1');
    expect(csiVolumeName('polly-disks-', 'my data/ü')).toMatch(/^polly-disks-my-data-[0-9a-f]{16}$/);
    expect(csiVolumeName('polly-disks-', 'my data/ü')).toBe(csiVolumeName('polly-disks-', 'MY DATA/Ü'));
    expect(csiVolumeName('polly-disks-', 'my data')).not.toBe(csiVolumeName('polly-disks-', 'my-data'));
  });

  it('never exceed 128 bytes', () => {
    const long = 'x'.repeat(255);
    expect(Buffer.byteLength(csiVolumeName('polly-disks-', long))).toBeLessThanOrEqual(MAX_CSI_NAME_BYTES);
    expect(csiVolumeName('polly-disks-', long)).not.toBe(csiVolumeName('polly-disks-', `${long.slice(1)}y`));
    expect(Buffer.byteLength(csiSnapshotName('polly-disks-', 'v'.repeat(200), long))).toBeLessThanOrEqual(MAX_CSI_NAME_BYTES);
  });

  it('name a snapshot by its volume and name (CSI snapshot names are plugin-wide)', () => {
    expect(csiSnapshotName('p-', 'vol-1', 'nightly')).toMatch(/^p-snap-nightly-[0-9a-f]{16}$/);
    expect(csiSnapshotName('p-', 'vol-1', 'nightly')).not.toBe(csiSnapshotName('p-', 'vol-2', 'nightly'));
    expect(csiSnapshotName('p-', 'vol-1', 'Nightly')).toBe(csiSnapshotName('p-', 'vol-1', 'nightly'));
  });
});
