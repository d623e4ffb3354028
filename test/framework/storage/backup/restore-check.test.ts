/**
 * The import's consistency check: a backend's exported metadata against the store it is restored
 * with — root, sequence, installation, catalog volumes — every problem at once.
 */
import type { BackendMetadataSummary } from '../../../../drivers/storage-driver';
import { restoreProblems, RestoreView } from '../../../../framework/storage/backup/restore-check';

const summary = (over: Partial<BackendMetadataSummary['mark']> = {}, volumeIds = ['vfs-000001', 'vfs-000002']): BackendMetadataSummary => ({
  mark: { rootId: 'root-1', sequence: 10, installationId: 'inst-1', location: '/srv/vfs', ...over },
  volumeIds,
});

const volume = (id: string, extra: Record<string, unknown> = {}) => ({
  id: `local.${id}`,
  service: 'local',
  name: `n-${id}`,
  driverVolumeId: id,
  managed: true,
  status: 'available',
  ...extra,
});

function view(): RestoreView {
  const v = new RestoreView();
  v.add('meta/installation', { id: 'inst-1', createdAt: 'then' });
  v.add('backends/local', { rootId: 'root-1', sequence: 10, location: '/srv/vfs', checkedAt: 'then' });
  v.add('volumes/local.vfs-000001', volume('vfs-000001'));
  v.add('volumes/local.vfs-000002', volume('vfs-000002'));
  v.add('claims/c1', { id: 'c1' });
  return v;
}

test('metadata that matches the store (or is newer) has no problems', () => {
  expect(restoreProblems(view(), [{ service: 'local', summary: summary() }])).toEqual([]);
  expect(
    restoreProblems(view(), [{ service: 'local', summary: summary({ sequence: 12 }, ['vfs-000001', 'vfs-000002', 'vfs-000003']) }]),
  ).toEqual([]);
  // No record and no marker yet (an export from before marks): only the volumes count.
  const bare = new RestoreView();
  bare.add('volumes/local.vfs-000001', volume('vfs-000001'));
  expect(restoreProblems(bare, [{ service: 'local', summary: summary({ installationId: undefined }) }])).toEqual([]);
});

test('an older journal, another installation and missing catalog volumes are all reported at once', () => {
  const v = view();
  for (let i = 3; i <= 25; i++)
    v.add(`volumes/local.vfs-0000${String(i).padStart(2, '0')}`, volume(`vfs-0000${String(i).padStart(2, '0')}`));
  const problems = restoreProblems(v, [{ service: 'local', summary: summary({ sequence: 9, installationId: 'inst-2' }, ['vfs-000001']) }]);
  expect(problems).toHaveLength(3);
  expect(problems[0]).toMatch(/Service "local": .*sequence 9.* is older than the store's record of it \(sequence 10, then\)/);
  expect(problems[1]).toMatch(/belongs to installation inst-2, the store to installation inst-1/);
  expect(problems[2]).toMatch(/lacks 24 volumes the catalog manages: n-vfs-000002 \(vfs-000002\), .* and 4 more\./);
});

test('another root than the store records is reported; volumes being removed, missing or unmanaged are not expected', () => {
  const v = view();
  v.add('volumes/local.vfs-000002', volume('vfs-000002', { status: 'removing' }));
  v.add('volumes/local.vfs-000007', volume('vfs-000007', { status: 'missing' }));
  v.add('volumes/local.vfs-000008', volume('vfs-000008', { managed: false }));
  v.add('volumes/other.x', { ...volume('x'), service: 'other' });
  const problems = restoreProblems(v, [{ service: 'local', summary: summary({ rootId: 'root-9' }, ['vfs-000001']) }]);
  expect(problems).toEqual([expect.stringMatching(/is another root than the one the store records \(root-1\)/)]);
});

test('later keys win (the export over the target store with --force)', () => {
  const v = view();
  v.add('volumes/local.vfs-000003', volume('vfs-000003'));
  expect(restoreProblems(v, [{ service: 'local', summary: summary() }])).toHaveLength(1);
  v.add('volumes/local.vfs-000003', volume('vfs-000003', { status: 'removing' }));
  v.add('backends/local', { rootId: 'root-1', sequence: 3 });
  expect(restoreProblems(v, [{ service: 'local', summary: summary({ sequence: 4 }) }])).toEqual([]);
});
