/** `polly config check|show` through the real binary, and deploy/ documenting every key. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { configKeys, loadConfig } from '../../../framework/config/config-loader';
import { maskSecrets, MASK } from '../../../framework/cli/config-command';
import { makeCertificate } from '../../support/tls-files';
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

  it('check names every referenced file that is missing or unusable, with its key, all at once; OK for good ones', async () => {
    const { certFile, keyFile } = makeCertificate(dir, 'api');
    const secret = write('jwt.secret', 'a-secret-of-thirty-two-characters\n');
    const good = write(
      'good.yml',
      YAML.stringify({
        api: { tls: { certFile, keyFile } },
        mesos: { tls: { caFile: certFile } },
        libstorage: { tls: { certFile, keyFile }, jwt: { secretFile: secret } },
      }),
    );
    expect(await runCli(['config', 'check', '--config', good])).toEqual({ code: 0, stdout: 'OK\n', stderr: '' });

    const missing = path.join(dir, 'nope');
    const garbage = write('garbage.pem', 'hello\n');
    const bad = write(
      'bad.yml',
      YAML.stringify({
        api: { tls: { certFile: garbage, keyFile } },
        mesos: { tls: { caFile: path.join(missing, 'ca.pem') } },
        libstorage: { jwt: { secretFile: path.join(missing, 'jwt.secret') } },
      }),
    );
    const r = await runCli(['config', 'check', '--config', bad]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr.split('\n').filter(Boolean)).toEqual([
      `polly: api.tls.certFile: ${garbage} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`,
      `polly: mesos.tls.caFile: file ${path.join(missing, 'ca.pem')} does not exist`,
      `polly: libstorage.jwt.secretFile: file ${path.join(missing, 'jwt.secret')} does not exist`,
    ]);
  });

  it('check refuses a libStorage JWT section with neither secret nor secretFile, and an open libStorage API off loopback', async () => {
    const r = await runCli([
      'config',
      'check',
      '--config',
      write('ls.yml', YAML.stringify({ libstorage: { host: '0.0.0.0', jwt: { algorithm: 'HS256' } } })),
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr.split('\n').filter(Boolean)).toEqual(['polly: libstorage.jwt needs a secret or a secretFile']);
    const open = await runCli(['config', 'check', '--config', write('open-ls.yml', YAML.stringify({ libstorage: { host: '0.0.0.0' } }))]);
    expect(open.code).toBe(1);
    expect(open.stderr).toMatch(/^polly: libstorage.host is 0\.0\.0\.0, which is not a loopback address, and the libStorage API has no authentication/);
  });

  it('check refuses libstorage.instances without auth, with the open host in the same run', async () => {
    const file = write('bound.yml', YAML.stringify({ libstorage: { host: '0.0.0.0', instances: { local: { agent0: ['node0'] } } } }));
    const r = await runCli(['config', 'check', '--config', file]);
    expect(r.code).toBe(1);
    const lines = r.stderr.split('\n').filter(Boolean);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^polly: libstorage\.instances binds token subjects to instance IDs, but the libStorage API has no authentication/);
    expect(lines[1]).toMatch(/^polly: libstorage\.host is 0\.0\.0\.0/);
    const withJwt = write('bound-jwt.yml', YAML.stringify({ libstorage: { jwt: { secret: 'jwt-secret-0123456789' }, instances: { local: { agent0: ['node0'] } } } }));
    expect((await runCli(['config', 'check', '--config', withJwt])).code).toBe(0);
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

  it('show masks the libStorage JWT secret and the libStorage services\' tokens too', async () => {
    const file = write(
      'ls-secrets.yml',
      YAML.stringify({
        libstorage: { jwt: { secret: 'jwt-secret-0123456789' } },
        services: [{ name: 'remote', driver: 'libstorage', libstorage: { host: 'tcp://10.0.0.1:7979', service: 'ebs', token: 'remote-token-abc' } }],
      }),
    );
    const r = await runCli(['config', 'show', '--config', file]);
    expect(r.code).toBe(0);
    expect(r.stdout).not.toMatch(/jwt-secret-0123456789|remote-token-abc/);
    const shown = YAML.parse(r.stdout);
    expect(shown.libstorage.jwt.secret).toBe(MASK);
    expect(shown.services[0].libstorage.token).toBe(MASK);
    const csi = maskSecrets(loadConfig({ env: {}, file: path.join(ROOT, 'deploy/config.yml'), overrides: { services: [{ name: 'd', driver: 'csi', csi: { endpoint: 'unix:///p.sock', secrets: { password: 'hunter2-plugin' } } }] } }));
    expect(csi.services[0].csi?.secrets).toEqual({ password: MASK });
  });

  it('check names every problem of a csi service at once: the publish-context plugin under mapping csi, TCP without TLS, a csi mapping on vfs', async () => {
    const bad = write(
      'csi.yml',
      YAML.stringify({
        services: [
          { name: 'needs-context', driver: 'csi', csi: { endpoint: 'unix:///run/plugin.sock', nodeNeedsPublishContext: true } },
          { name: 'plain-tcp', driver: 'csi', mapping: 'dockerVolume', dockerVolumeDriver: 'x', csi: { endpoint: 'tcp://10.0.0.1:9000' } },
          { name: 'dirs', driver: 'vfs', mapping: 'csi' },
          { name: 'blocky', driver: 'csi', csi: { endpoint: 'unix:///run/b.sock', accessType: 'block', fsType: 'ext4', profiles: { gold: {} } } },
        ],
      }),
    );
    const r = await runCli(['config', 'check', '--config', bad]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /^polly: services\[0\]\.csi\.nodeNeedsPublishContext: Service "needs-context": its CSI plugin's node service needs ControllerPublishVolume's publish_context .*Mesos' volume\/csi isolator, which calls the node service without one \(Volume\.Source\.CSIVolume\.StaticProvisioning has no publish_context field\)/m,
    );
    expect(r.stderr).toMatch(/^polly: services\[1\]\.csi\.tls: Service "plain-tcp": csi\.endpoint is TCP: set csi\.tls\.caFile/m);
    expect(r.stderr).toMatch(/^polly: services\[2\]\.mapping: Service "dirs" maps volumes as Mesos CSI volumes \(mapping csi\), which needs driver csi/m);
    expect(r.stderr).toMatch(/^polly: services\[3\]\.csi\.fsType: .*block access/m);
    expect(r.stderr).toMatch(/^polly: services\[3\]\.csi\.profiles: Service "blocky": csi\.profiles names "gold", which is not a profile of the service$/m);
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
