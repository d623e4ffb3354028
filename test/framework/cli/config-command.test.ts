/** `polly config check|show` through the real binary, and deploy/ documenting every key. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { configKeys, loadConfig } from '../../../framework/config/config-loader';
import { maskSecrets, MASK } from '../../../framework/cli/config-command';
import { runCli } from './run-cli';

const ROOT = path.resolve(__dirname, '../../..');

describe('polly config', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'polly-config-'));
  });
  afterEach(async () => {
    await fs.promises.rm(dir, { recursive: true, force: true });
  });
  const write = (name: string, text: string): string => {
    const p = path.join(dir, name);
    fs.writeFileSync(p, text);
    return p;
  };

  it('check prints OK for a good file and every error naming its key (exit 1) for a bad one', async () => {
    let r = await runCli(['config', 'check', '--config', write('ok.yml', 'master: local\napi:\n  port: 0\n')]);
    expect(r).toEqual({ code: 0, stdout: 'OK\n', stderr: '' });
    r = await runCli(['config', 'check', '--config', write('bad.yml', 'mesos:\n  failoverTimeoutSeconds: -1\napi:\n  colour: red\n')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^polly: mesos\.failoverTimeoutSeconds must be >= 0$/m);
    expect(r.stderr).toMatch(/^polly: api\.colour is not a known configuration key$/m);
    r = await runCli(['config', 'check', '--config', write('open.yml', 'api:\n  host: 0.0.0.0\n  auth: "off"\n')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/api\.auth is off but the API listens on 0\.0\.0\.0/);
    r = await runCli(['config', 'check', '--config', path.join(dir, 'missing.yml')]);
    expect(r.code).toBe(1);
  });

  it('show prints the effective config as YAML with tokens and the Mesos secret masked', async () => {
    const file = write(
      's.yml',
      "mesos:\n  principal: polly\n  secret: hunter2\napi:\n  tokens:\n    - { name: ops, token: 'super-secret-token-123456', scope: admin }\n",
    );
    const r = await runCli(['config', 'show', '--config', file], { POLLY_LOG_LEVEL: 'debug' });
    expect(r.code).toBe(0);
    expect(r.stdout).not.toMatch(/hunter2|super-secret/);
    const shown = YAML.parse(r.stdout);
    expect(shown.mesos.secret).toBe(MASK);
    expect(shown.api.tokens).toEqual([{ name: 'ops', token: MASK, scope: 'admin' }]);
    expect(shown.log.level).toBe('debug');
    expect(maskSecrets(loadConfig({ file: write('e.yml', ''), env: {} })).mesos.secret).toBe('');
  });

  it('deploy/config.yml is valid and sets every configuration key', () => {
    const file = path.join(ROOT, 'deploy/config.yml');
    const doc = YAML.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
    for (const { key } of configKeys()) {
      const value = key.split('.').reduce<unknown>((node, part) => (node as Record<string, unknown> | undefined)?.[part], doc);
      expect({ key, present: value !== undefined }).toEqual({ key, present: true });
    }
    // every key of a service and a profile is documented too
    const service = (doc.services as Array<Record<string, unknown>>)[0];
    expect(Object.keys(service).sort()).toEqual(['driver', 'mapping', 'name', 'profiles', 'timeoutMs', 'vfs'].sort());
    expect(fs.readFileSync(file, 'utf8')).toMatch(/dockerVolumeDriver:/);
    const profile = (service.profiles as Array<Record<string, unknown>>)[0];
    expect(Object.keys(profile).sort()).toEqual(['active', 'encrypted', 'fsType', 'iops', 'maxSizeGiB', 'minSizeGiB', 'name', 'type']);
    expect(() => loadConfig({ file, env: {} })).not.toThrow();
  });

  it('deploy/marathon/polly.json runs Polly with a health check on /health; the systemd unit runs polly start', () => {
    const app = JSON.parse(fs.readFileSync(path.join(ROOT, 'deploy/marathon/polly.json'), 'utf8'));
    expect(app.cmd).toMatch(/polly\.js start/);
    expect(app.healthChecks[0]).toMatchObject({ path: '/health' });
    expect(app.env.POLLY_API_AUTH).toBe('on');
    const unit = fs.readFileSync(path.join(ROOT, 'deploy/polly.service'), 'utf8');
    expect(unit).toMatch(/^ExecStart=.*polly\.js start --config \/etc\/polly\/config\.yml$/m);
    expect(unit).toMatch(/^KillSignal=SIGTERM$/m);
  });
});
