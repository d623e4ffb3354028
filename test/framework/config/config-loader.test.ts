import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, configKeys, envNameOf, loadConfig } from '../../../framework/config/config-loader';

describe('loadConfig', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'polly-config-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  const write = (text: string): string => {
    const file = path.join(dir, 'config.yml');
    fs.writeFileSync(file, text);
    return file;
  };

  it('gives laptop defaults with no file and no environment', () => {
    const config = loadConfig({ env: {}, file: write('') });
    expect(config.master).toBe('local');
    expect(config.home).toBe(path.join(os.homedir(), '.polly'));
    expect(config.api).toMatchObject({ host: '127.0.0.1', port: 7978 });
    expect(config.mesos.failoverTimeoutSeconds).toBe(604800);
    expect(config.mesos.roles).toEqual(['polly']);
    expect(config.mesos.format).toBe('protobuf');
  });

  it('layers file, then environment, then flags', () => {
    const file = write('master: http://m1:5050\nmesos:\n  failoverTimeoutSeconds: 60\n  roles: [a, b]\napi:\n  port: 8000\n');
    const config = loadConfig({
      file,
      env: { POLLY_MESOS_FAILOVER_TIMEOUT_SECONDS: '120', POLLY_MESOS_ROLES: 'x,y', POLLY_HOME: dir },
      overrides: { master: 'local' },
    });
    expect(config.master).toBe('local');
    expect(config.mesos.failoverTimeoutSeconds).toBe(120);
    expect(config.mesos.roles).toEqual(['x', 'y']);
    expect(config.api.port).toBe(8000);
    expect(config.home).toBe(dir);
  });

  it('names the key in validation errors', () => {
    const file = write('mesos:\n  failoverTimeoutSeconds: -1\n');
    expect(() => loadConfig({ file, env: {} })).toThrow(/mesos\.failoverTimeoutSeconds must be >= 0/);
    expect(() => loadConfig({ file: write('api:\n  port: lots\n'), env: {} })).toThrow(/api\.port must be integer/);
    expect(() => loadConfig({ file: write('mesos:\n  colour: blue\n'), env: {} })).toThrow(/mesos\.colour is not a known configuration key/);
    expect(() => loadConfig({ file: write('log:\n  level: chatty\n'), env: {} })).toThrow(ConfigError);
  });

  it('refuses a leader timeout shorter than three heartbeats, naming both keys', () => {
    const file = write('state:\n  backend: zookeeper\n  leaderHeartbeatMs: 1000\n  leaderTimeoutMs: 2000\n');
    expect(() => loadConfig({ file, env: {} })).toThrow(/state\.leaderTimeoutMs \(2000\) must be 0 or at least 3 times state\.leaderHeartbeatMs \(1000\)/);
    expect(loadConfig({ file, env: { POLLY_STATE_LEADER_TIMEOUT_MS: '0' } }).state.leaderTimeoutMs).toBe(0);
    expect(loadConfig({ file: write(''), env: {} }).state).toMatchObject({ sessionTimeoutMs: 10000, leaderHeartbeatMs: 500, leaderTimeoutMs: 3000 });
  });

  it('rejects unreadable and malformed files with one clear line', () => {
    expect(() => loadConfig({ file: path.join(dir, 'missing.yml'), env: {} })).toThrow(/Cannot read config file .*ENOENT/);
    expect(() => loadConfig({ file: write('master: [unclosed\n'), env: {} })).toThrow(/not valid YAML/);
    expect(() => loadConfig({ file: write('- a\n- b\n'), env: {} })).toThrow(/mapping/);
  });

  it('maps Docker volume drivers to services: rexray and polly by default, key=value pairs or JSON from the environment', () => {
    expect(loadConfig({ env: {}, file: write('') }).scheduler.volumeDrivers).toEqual({ rexray: 'local', polly: 'local' });
    expect(loadConfig({ env: { POLLY_SCHEDULER_VOLUME_DRIVERS: 'rexray=local, pxd=portworx' }, file: write('') }).scheduler.volumeDrivers).toEqual({ rexray: 'local', pxd: 'portworx' });
    expect(loadConfig({ env: { POLLY_SCHEDULER_VOLUME_DRIVERS: '{"datera":"fast"}' }, file: write('') }).scheduler.volumeDrivers).toEqual({ datera: 'fast' });
    expect(() => loadConfig({ env: { POLLY_SCHEDULER_VOLUME_DRIVERS: 'pxd' }, file: write('') })).toThrow(ConfigError);
    expect(loadConfig({ env: {}, file: write('local:\n  imageTasks: host\n') }).local.imageTasks).toBe('host');
  });

  it('maps every key to a POLLY_ environment name', () => {
    expect(envNameOf('mesos.failoverTimeoutSeconds')).toBe('POLLY_MESOS_FAILOVER_TIMEOUT_SECONDS');
    expect(envNameOf('home')).toBe('POLLY_HOME');
    const names = configKeys().map((k) => k.env);
    expect(new Set(names).size).toBe(names.length);
    expect(names).toContain('POLLY_API_PORT');
  });
});
