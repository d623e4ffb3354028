/** The `polly volume` commands take a volume's name as well as its ID (the real CLI against a real API). */
import { ApiFixture, makeApiFixture, TOKENS } from '../api/api-fixture';
import { runCli } from './run-cli';

describe('polly volume commands by name', () => {
  let f: ApiFixture;
  let env: Record<string, string>;
  beforeEach(async () => {
    f = await makeApiFixture({
      storage: {
        services: [
          { name: 'local', driver: 'vfs' },
          { name: 'other', driver: 'vfs' },
        ],
      },
    });
    env = { POLLY_API: f.url, POLLY_TOKEN: TOKENS.admin };
  });
  afterEach(async () => f.dispose());

  it('get, label, unlabel, offer, revoke and rm take a name; the ID still works', async () => {
    const v = (await f.call('POST', '/v1/volumes', { body: { service: 'local', name: 'hellopersistence', size: 1 } })).body;
    let r = await runCli(['volume', 'get', 'hellopersistence', '-o', 'json'], env);
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toMatchObject({ id: v.id, name: 'hellopersistence' });
    // Names compare case-insensitively, as the catalog keeps them unique.
    expect(JSON.parse((await runCli(['volume', 'get', 'HelloPersistence', '-o', 'json'], env)).stdout).id).toBe(v.id);
    expect(JSON.parse((await runCli(['volume', 'get', v.id, '-o', 'json'], env)).stdout).id).toBe(v.id);

    r = await runCli(['volume', 'label', 'hellopersistence', 'tier=gold', '-o', 'json'], env);
    expect(JSON.parse(r.stdout).labels).toEqual({ tier: 'gold' });
    r = await runCli(['volume', 'unlabel', 'hellopersistence', 'tier', '-o', 'json'], env);
    expect(JSON.parse(r.stdout).labels).toEqual({});
    r = await runCli(['volume', 'offer', 'hellopersistence', 'polly', '-o', 'json'], env);
    expect(JSON.parse(r.stdout).schedulers).toEqual(['polly']);
    r = await runCli(['volume', 'revoke', 'hellopersistence', 'polly', '-o', 'json'], env);
    expect(JSON.parse(r.stdout).schedulers).toEqual([]);
    r = await runCli(['volume', 'rm', 'hellopersistence'], env);
    expect(r).toEqual({ code: 0, stdout: `removed ${v.id}\n`, stderr: '' });
    expect((await f.call('GET', `/v1/volumes/${v.id}`)).status).toBe(404);
  });

  it('an unknown name is "not found" (exit 1); a name in several services needs the ID (exit 2); nothing changes', async () => {
    let r = await runCli(['volume', 'get', 'nothere'], env);
    expect(r).toEqual({ code: 1, stdout: '', stderr: 'polly: Volume "nothere" not found\n' });
    r = await runCli(['volume', 'rm', 'local.nothere'], env);
    expect(r).toEqual({ code: 1, stdout: '', stderr: 'polly: Volume "local.nothere" not found\n' });

    const a = (await f.call('POST', '/v1/volumes', { body: { service: 'local', name: 'twice', size: 1 } })).body;
    const b = (await f.call('POST', '/v1/volumes', { body: { service: 'other', name: 'twice', size: 1 } })).body;
    r = await runCli(['volume', 'rm', 'twice'], env);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(`polly: Volume name "twice" is used by 2 volumes (${[a.id, b.id].sort().join(', ')}); give the ID\n`);
    expect((await f.call('GET', '/v1/volumes?name=twice')).body.volumes).toHaveLength(2);
    r = await runCli(['volume', 'rm', b.id], env);
    expect(r.code).toBe(0);
    expect(JSON.parse((await runCli(['volume', 'get', 'twice', '-o', 'json'], env)).stdout).id).toBe(a.id);
  });
});
