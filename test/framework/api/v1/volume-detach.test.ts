/**
 * A volume attached to an instance no claim accounts for, over the real API and the real `polly`
 * binary: shown on the volume as `foreignAttachments`, announced as `volume.unexplained-attachment`,
 * never detached by Polly, detached only by an admin's `POST /v1/volumes/:id/detach` (`polly volume
 * detach VOLUME --instance ID --reason TEXT`), audited as `volume.audit`.
 */
import { runCli } from '../../cli/run-cli';
import { ApiFixture, makeApiFixture, TOKENS } from '../api-fixture';

let f: ApiFixture;

beforeEach(async () => {
  f = await makeApiFixture();
});
afterEach(async () => f.dispose());

/** A volume attached RW to `rogue` behind Polly's back, found by a reconciliation pass. */
async function rogueVolume(name: string): Promise<{ id: string; driverVolumeId: string }> {
  const v = await f.storage.storage.catalog.create({ service: 'local', name, size: 1, scheduler: 'marathon' });
  await f.storage.drivers.get('local')!.volumeAttach(v.driverVolumeId, { id: 'rogue' });
  await f.storage.storage.recovery.recover();
  return v;
}

const attachedTo = async (driverVolumeId: string): Promise<string[]> =>
  (await f.storage.drivers.get('local')!.volumeInspect(driverVolumeId)).attachments.map((a) => a.instanceId.id);

it('shows the attachment, refuses bad input and non-admins with nothing changed, detaches for an admin and audits it', async () => {
  const v = await rogueVolume('shared');
  const path = `/v1/volumes/${encodeURIComponent(v.id)}`;
  const shown = await f.call('GET', path, { token: TOKENS.read });
  expect(shown.body.foreignAttachments).toEqual([
    { instanceId: 'rogue', readOnly: false, attachedAt: expect.any(String), foundAt: expect.any(String) },
  ]);
  expect(f.journal.since().events.filter((e) => e.type === 'volume.unexplained-attachment')).toEqual([
    expect.objectContaining({ data: expect.objectContaining({ attachment: expect.objectContaining({ instanceId: 'rogue' }) }) }),
  ]);

  for (const token of [TOKENS.read, TOKENS.marathon]) {
    expect((await f.call('POST', `${path}/detach`, { token, body: { instanceId: 'rogue', reason: 'r' } })).status).toBe(403);
  }
  const bad = await f.call('POST', `${path}/detach`, { body: { instance: 'rogue' } });
  expect(bad.status).toBe(400);
  expect(bad.body.message).toMatch(/instance is not a known field.*instanceId must be.*A reason is required/);
  expect((await f.call('POST', `${path}/detach`, { body: ['rogue'] })).status).toBe(400);
  expect((await f.call('POST', `${path}/detach`, { body: { instanceId: 'elsewhere', reason: 'r' } })).status).toBe(404);
  expect((await f.call('POST', '/v1/volumes/local.vfs-009999/detach', { body: { instanceId: 'rogue', reason: 'r' } })).status).toBe(404);
  expect(await attachedTo(v.driverVolumeId)).toEqual(['rogue']);
  expect((await f.call('GET', path)).body).toEqual(shown.body);

  const done = await f.call('POST', `${path}/detach`, { body: { instanceId: 'rogue', reason: 'old host, wiped' } });
  expect(done.status).toBe(200);
  expect(done.body.detached).toEqual({ instanceId: 'rogue', readOnly: false });
  expect(done.body.volume.foreignAttachments).toBeUndefined();
  expect(await attachedTo(v.driverVolumeId)).toEqual([]);
  expect(f.journal.since().events.filter((e) => e.type === 'volume.audit')).toEqual([
    expect.objectContaining({
      data: expect.objectContaining({ action: 'detach', instanceId: 'rogue', reason: 'old host, wiped', by: 'ops' }),
    }),
  ]);
});

it('polly volume detach: shows the attachment in `volume get`, needs --instance and --reason, detaches', async () => {
  const v = await rogueVolume('cli');
  const env = { POLLY_API: f.url, POLLY_TOKEN: TOKENS.admin };
  const got = await runCli(['volume', 'get', v.id], env);
  expect(got.code).toBe(0);
  expect(got.stdout).toMatch(/Unexplained attachments:\s+rogue\(RW,no claim,found /);

  const missing = await runCli(['volume', 'detach', v.id, '--instance', 'rogue'], env);
  expect(missing.code).toBe(2);
  const reader = await runCli(['volume', 'detach', v.id, '--instance', 'rogue', '--reason', 'r'], { ...env, POLLY_TOKEN: TOKENS.read });
  expect(reader.code).toBe(1);
  expect(reader.stderr.trim().split('\n')).toHaveLength(1);
  expect(await attachedTo(v.driverVolumeId)).toEqual(['rogue']);

  const r = await runCli(['volume', 'detach', v.id, '--instance', 'rogue', '--reason', 'host gone'], env);
  expect(r).toEqual({ code: 0, stdout: `detached ${v.id} from rogue\n`, stderr: '' });
  expect(await attachedTo(v.driverVolumeId)).toEqual([]);
}, 60_000);
