/**
 * `polly csi controller` and `polly csi node` as an operator runs them: endpoints from --endpoint or
 * CSI_ENDPOINT, a whole volume lifecycle through both (real bind mount), metrics, a clean SIGTERM,
 * and one-line refusals for what they cannot do.
 */
import { ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { loadConfig } from '../../../framework/config/config-loader';
import { CsiClient, csiClient, MOUNT_SNW } from '../../support/csi-client';
import { mountsUnder, unmountAll } from '../../support/csi-fixture';
import { runCli } from './run-cli';

const ROOT = path.resolve(__dirname, '../../..');

jest.setTimeout(60000);

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

describe('polly csi', () => {
  let dir: string;
  const children: ChildProcess[] = [];
  const clients: CsiClient[] = [];

  beforeEach(async () => {
    dir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'polly-csi-cli-'));
  });

  afterEach(async () => {
    for (const c of clients.splice(0)) c.close();
    unmountAll(dir);
    for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await fs.promises.rm(dir, { recursive: true, force: true });
  });

  /** Starts `polly csi <args>` from source and resolves once `socket` accepts connections. */
  async function serve(
    args: string[],
    socket: string,
    env: Record<string, string> = {},
  ): Promise<{ child: ChildProcess; output: () => string }> {
    const child = spawn(
      process.execPath,
      ['-r', path.join(ROOT, 'test/support/register-ts.js'), path.join(ROOT, 'framework/cli/polly-cli.ts'), 'csi', ...args],
      {
        cwd: ROOT,
        env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    children.push(child);
    let output = '';
    child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    for (;;) {
      if (child.exitCode !== null) throw new Error(`polly csi ${args[0]} exited ${child.exitCode}: ${output}`);
      const up = await new Promise<boolean>((resolve) => {
        const s = net.connect(socket, () => {
          s.destroy();
          resolve(true);
        });
        s.on('error', () => resolve(false));
      });
      if (up) return { child, output: () => output };
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  const exitOf = (child: ChildProcess) => new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

  it("runs a volume's whole life through the standalone controller and a node service, and stops cleanly", async () => {
    const home = path.join(dir, 'home');
    const config = path.join(dir, 'config.yml');
    fs.writeFileSync(
      config,
      YAML.stringify({ home, log: { level: 'warn', format: 'json' }, csi: { nodes: [{ id: 'host-1', zone: 'zone-a' }] } }),
    );
    const controllerSocket = path.join(dir, 'controller.sock');
    const nodeSocket = path.join(dir, 'node.sock');
    const port = await freePort();
    const controller = await serve(
      ['controller', '--config', config, '--endpoint', `unix://${controllerSocket}`, '--metrics', `127.0.0.1:${port}`],
      controllerSocket,
    );
    const node = await serve(['node', '--config', config, '--node-id', 'host-1', '--zone', 'zone-a'], nodeSocket, {
      CSI_ENDPOINT: `unix://${nodeSocket}`,
    });
    const c = csiClient(controllerSocket);
    const n = csiClient(nodeSocket);
    clients.push(c, n);

    const info = await n.node.NodeGetInfo({});
    expect(info).toMatchObject({ node_id: 'host-1', accessible_topology: { segments: { 'topology.polly.io/zone': 'zone-a' } } });
    const { volume } = await c.controller.CreateVolume({
      name: 'cli-vol',
      volume_capabilities: [MOUNT_SNW],
      accessibility_requirements: { requisite: [info.accessible_topology] },
    });
    const { publish_context } = await c.controller.ControllerPublishVolume({
      volume_id: volume.volume_id,
      node_id: 'host-1',
      volume_capability: MOUNT_SNW,
    });
    const target = path.join(dir, 'pod', 'mount');
    fs.mkdirSync(path.dirname(target));
    await n.node.NodePublishVolume({ volume_id: volume.volume_id, target_path: target, volume_capability: MOUNT_SNW, publish_context });
    fs.writeFileSync(path.join(target, 'file'), 'through the CLI');
    expect(fs.readFileSync(path.join(home, 'vfs', 'local', 'volumes', 'vfs-000001', 'file'), 'utf8')).toBe('through the CLI');
    await n.node.NodeUnpublishVolume({ volume_id: volume.volume_id, target_path: target });
    expect(mountsUnder(dir)).toEqual([]);
    await c.controller.ControllerUnpublishVolume({ volume_id: volume.volume_id, node_id: 'host-1' });
    await c.controller.DeleteVolume({ volume_id: volume.volume_id });

    // `polly csi call`: one method, the reply as JSON; a refusal is one line with its code, exit 1.
    const called = await runCli(['csi', 'call', '--endpoint', `unix://${controllerSocket}`, 'Identity/GetPluginInfo']);
    expect(called.code).toBe(0);
    expect(JSON.parse(called.stdout)).toMatchObject({ name: 'polly.csi.storage', manifest: { role: 'controller' } });
    const refused = await runCli(['csi', 'call', 'ControllerGetVolume', '{"volume_id":"local.vfs-000404"}'], {
      CSI_ENDPOINT: `unix://${controllerSocket}`,
    });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toBe('polly: NOT_FOUND: Volume "local.vfs-000404" does not exist\n');
    const unknown = await runCli(['csi', 'call', '--endpoint', `unix://${controllerSocket}`, 'Controller/Frobnicate']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/^polly: Unknown CSI method "Controller\/Frobnicate"/);

    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    expect(metrics).toContain('polly_csi_rpc_duration_seconds_count{service="controller",method="DeleteVolume",code="OK"} 1');
    expect(metrics).toContain('polly_driver_call_duration_seconds');

    const stopped = [exitOf(controller.child), exitOf(node.child)];
    controller.child.kill('SIGTERM');
    node.child.kill('SIGTERM');
    expect(await Promise.all(stopped)).toEqual([0, 0]);
    expect(fs.existsSync(controllerSocket)).toBe(false);
    expect(fs.existsSync(nodeSocket)).toBe(false);
  });

  it('refuses a bad endpoint and a ZooKeeper state in one line each (exit 2)', async () => {
    const bad = await runCli(['csi', 'node', '--home', path.join(dir, 'home'), '--endpoint', 'http://nowhere:1']);
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim().split('\n')).toEqual([
      expect.stringMatching(/^polly: --endpoint "http:\/\/nowhere:1" is not a unix or tcp endpoint/),
    ]);
    const zk = await runCli(['csi', 'controller', '--home', path.join(dir, 'home')], {
      POLLY_STATE_BACKEND: 'zookeeper',
      POLLY_STATE_SERVERS: '127.0.0.1:1',
    });
    expect(zk.code).toBe(2);
    expect(zk.stderr).toMatch(/^polly: polly csi controller serves an embedded \(leveldb\) state only/);
    expect(fs.existsSync(path.join(dir, 'home'))).toBe(false);
  });

  it('documents its flags', async () => {
    const help = await runCli(['csi', 'node', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout.replace(/\s+/g, ' ')).toContain(
      '--endpoint <endpoint> where to serve CSI: unix:///path/to/csi.sock (env CSI_ENDPOINT)',
    );
    expect(help.stdout).toMatch(/--node-id <id>/);
  });

  it('ships deploy examples that agree with the defaults: plugin name, commands, sockets', () => {
    const plugin = loadConfig({ env: {}, file: '/dev/null' }).csi.pluginName;
    const docs = YAML.parseAllDocuments(fs.readFileSync(path.join(ROOT, 'deploy/csi/kubernetes/polly-csi.yaml'), 'utf8')).map((d) =>
      d.toJSON(),
    );
    const byKind = (kind: string) => docs.find((d) => d.kind === kind);
    expect(byKind('CSIDriver').metadata.name).toBe(plugin);
    expect(byKind('CSIDriver').spec.attachRequired).toBe(true);
    expect(byKind('StorageClass').provisioner).toBe(plugin);
    expect(byKind('VolumeSnapshotClass').driver).toBe(plugin);
    const configMapFile = path.join(dir, 'k8s.yml');
    fs.writeFileSync(configMapFile, byKind('ConfigMap').data['config.yml']);
    expect(loadConfig({ env: {}, file: configMapFile }).csi).toMatchObject({ scheduler: 'kubernetes', socket: '/csi/csi.sock' });
    expect(byKind('DaemonSet').spec.template.spec.containers[0].args.slice(0, 2)).toEqual(['csi', 'node']);
    expect(byKind('Deployment').spec.template.spec.containers[0].args.slice(0, 2)).toEqual(['csi', 'controller']);
    const nodeUnit = fs.readFileSync(path.join(ROOT, 'deploy/csi/polly-csi-node.service'), 'utf8');
    expect(nodeUnit).toMatch(
      /^ExecStart=.*polly\.js csi node --config \/etc\/polly\/config\.yml --endpoint unix:\/\/\/run\/polly-csi\/node\.sock$/m,
    );
    expect(nodeUnit).toMatch(/^User=root$/m);
    expect(fs.readFileSync(path.join(ROOT, 'deploy/csi/polly-csi-controller.service'), 'utf8')).toMatch(
      /^ExecStart=.*polly\.js csi controller /m,
    );
    const mesos = JSON.parse(fs.readFileSync(path.join(ROOT, 'deploy/csi/mesos/polly.json'), 'utf8'));
    expect(mesos).toMatchObject({ type: plugin, endpoints: [{ csi_service: 'NODE_SERVICE', endpoint: '/run/polly-csi/node.sock' }] });
    for (const [file, type] of [
      ['polly-csi-node.nomad.hcl', 'node'],
      ['polly-csi-controller.nomad.hcl', 'controller'],
    ]) {
      expect(fs.readFileSync(path.join(ROOT, 'deploy/csi/nomad', file), 'utf8')).toMatch(
        new RegExp(`csi_plugin \\{[^}]*id\\s+= "polly"[^}]*type\\s+= "${type}"`),
      );
    }
  });
});
