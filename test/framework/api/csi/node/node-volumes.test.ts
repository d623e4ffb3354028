import path from 'node:path';
import { parseMountInfo } from '../../../../../framework/api/csi/node/mount-table';
import { NodeVolumes } from '../../../../../framework/api/csi/node/node-volumes';
import { loadConfig } from '../../../../../framework/config/config-loader';

describe('where a node finds a volume', () => {
  const config = loadConfig({
    env: {},
    file: '/dev/null',
    overrides: {
      home: '/srv/polly',
      services: [
        { name: 'local', driver: 'vfs' },
        { name: 'shared', driver: 'vfs', vfs: { root: '/mnt/nfs/polly' } },
        { name: 'relative', driver: 'vfs', vfs: { root: 'data' } },
        {
          name: 'ebs',
          driver: 'libstorage',
          mapping: 'dockerVolume',
          dockerVolumeDriver: 'rexray',
          libstorage: { host: 'http://ls:7979', service: 'ebs' },
        },
      ],
    },
  });
  const volumes = new NodeVolumes(config.services, config.home);

  it('finds vfs volumes under the root the server uses (default, absolute, relative to home)', () => {
    expect(volumes.locate('local.vfs-000001')).toEqual({
      kind: 'dir',
      service: 'local',
      dir: path.join('/srv/polly/vfs/local/volumes/vfs-000001'),
    });
    expect(volumes.locate('shared.vfs-000123')).toEqual({ kind: 'dir', service: 'shared', dir: '/mnt/nfs/polly/volumes/vfs-000123' });
    expect(volumes.locate('relative.vfs-000002')).toMatchObject({ dir: '/srv/polly/data/volumes/vfs-000002' });
  });

  it('never builds a path from anything but a vfs volume ID', () => {
    expect(volumes.locate('local.vfs-000001%2F..%2F..')).toMatchObject({ kind: 'unknown' });
    expect(volumes.locate('local.snapshots')).toMatchObject({ kind: 'unknown' });
    expect(volumes.locate('../etc')).toMatchObject({ kind: 'unknown' });
    expect(volumes.locate('other.vfs-000001')).toMatchObject({ kind: 'unknown', why: expect.stringContaining('does not have') });
  });

  it('says why a service whose volumes are no host directories cannot be node-published', () => {
    expect(volumes.locate('ebs.vol-0abc')).toMatchObject({
      kind: 'not-node-publishable',
      why: expect.stringMatching(/driver libstorage.*cannot publish/),
    });
  });

  it('reads the mount table, escaped paths included', () => {
    const text = [
      '22 27 0:21 / /proc rw,relatime - proc proc rw',
      '46 27 254:0 /tmp/a /tmp/with\\040space ro,nosuid,relatime - ext4 /dev/vda rw',
      '',
    ].join('\n');
    expect(parseMountInfo(text)).toEqual([
      { mountPoint: '/proc', options: ['rw', 'relatime'] },
      { mountPoint: '/tmp/with space', options: ['ro', 'nosuid', 'relatime'] },
    ]);
  });
});
