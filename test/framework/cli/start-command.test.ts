/** `polly start` as an operator runs it: a refused start is one line on stderr and exit 1; `--init` is offered. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LevelStore } from '../../../framework/state/level-store';
import { openInstallation } from '../../../framework/state/open-installation';
import YAML from 'yaml';
import { snapshotDir } from '../../support/dir-snapshot';
import { makeCertificate } from '../../support/tls-files';
import { runCli } from './run-cli';

describe('polly start', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'polly-start-cmd-'));
  });
  afterEach(async () => {
    await fs.promises.rm(dir, { recursive: true, force: true });
  });

  it('offers --init', async () => {
    const help = await runCli(['start', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/--init\s+start a new, empty installation knowingly/);
  });

  it('checks the configuration before anything else: one line per problem, exit 1, no home, store or listener made', async () => {
    const home = path.join(dir, 'home');
    const { certFile } = makeCertificate(dir, 'api');
    const other = makeCertificate(dir, 'other');
    const missing = path.join(dir, 'missing');
    const config = path.join(dir, 'config.yml');
    fs.writeFileSync(
      config,
      YAML.stringify({
        home,
        master: 'local',
        api: { port: 0, tls: { certFile, keyFile: other.keyFile } },
        mesos: { tls: { caFile: path.join(missing, 'ca.pem') } },
        libstorage: { port: 0, jwt: { secretFile: path.join(missing, 'jwt.secret') } },
      }),
    );
    const result = await runCli(['start', '--config', config, '--log-level', 'info']);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr.split('\n').filter(Boolean)).toEqual([
      `polly: api.tls: ${other.keyFile} is not the private key of the certificate in ${certFile}`,
      `polly: mesos.tls.caFile: file ${path.join(missing, 'ca.pem')} does not exist`,
      `polly: libstorage.jwt.secretFile: file ${path.join(missing, 'jwt.secret')} does not exist`,
    ]);
    // Nothing was started: the home (where the store lives, made before any listener) was never created.
    expect(fs.existsSync(home)).toBe(false);
  });

  it('reports every schema problem on a line of its own', async () => {
    const home = path.join(dir, 'home');
    const config = path.join(dir, 'config.yml');
    fs.writeFileSync(config, YAML.stringify({ home, mesos: { failoverTimeoutSeconds: -1 }, api: { colour: 'red' } }));
    const result = await runCli(['start', '--config', config]);
    expect(result.code).toBe(1);
    expect(result.stderr.split('\n').filter(Boolean).sort()).toEqual([
      'polly: api.colour is not a known configuration key',
      'polly: mesos.failoverTimeoutSeconds must be >= 0',
    ]);
    expect(fs.existsSync(home)).toBe(false);
  });

  it('refuses a home whose state lost its CURRENT file: one line naming the path, exit 1, files unchanged', async () => {
    const home = path.join(dir, 'home');
    const store = new LevelStore(path.join(home, 'state'));
    await openInstallation(store, { home });
    await store.put('volumes/local~v1', { id: 'local~v1' });
    await store.close();
    fs.unlinkSync(path.join(home, 'state', 'CURRENT'));
    const before = snapshotDir(home);

    const result = await runCli(['start', '--home', home, '--master', 'local', '--api-port', '0', '--log-level', 'error']);
    expect(result.code).toBe(1);
    const lines = result.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^polly: Refusing to start: the LevelDB state store at .* holds files .* but no CURRENT file/);
    expect(lines[0]).toContain(path.join(home, 'state'));
    expect(snapshotDir(home)).toEqual(before);
  });
});
