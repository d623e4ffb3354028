/** `polly start` as an operator runs it: a refused start is one line on stderr and exit 1; `--init` is offered. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LevelStore } from '../../../framework/state/level-store';
import { openInstallation } from '../../../framework/state/open-installation';
import { snapshotDir } from '../../support/dir-snapshot';
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
