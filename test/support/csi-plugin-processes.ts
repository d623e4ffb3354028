/**
 * Polly's own CSI plugin as real processes, the way an operator runs a plugin beside Mesos: one
 * `polly csi controller` and one `polly csi node` per agent host (node ID = the agent's host name,
 * its zone, `requirePublishContext: false` for Mesos' isolator), all over one vfs root, each on its
 * own unix socket, from dist/ (`npm run build` first; `npm test` builds). Every line they log is
 * kept (JSON), so a test can see the calls a plugin served. `stop` ends them (SIGTERM, then
 * SIGKILL), unmounts whatever is still mounted under the directory.
 */
import { ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { csiClient } from './csi-client';
import { unmountAll } from './csi-fixture';
import { waitFor } from './mesos-http';

const ROOT = path.resolve(__dirname, '../..');
const POLLY = path.join(ROOT, 'bin', 'polly.js');

export interface PluginNode {
  nodeId: string;
  zone: string;
  /** This node stages volumes (csi.node.stageVolumes, set through its environment). */
  stage?: boolean;
}

export interface PluginProcess {
  name: string;
  socket: string;
  child: ChildProcess;
  /** Every JSON log line so far. */
  logs: Array<Record<string, unknown>>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export interface CsiPluginProcesses {
  dir: string;
  configFile: string;
  vfsRoot: string;
  controller: PluginProcess;
  nodes: Map<string, PluginProcess>;
  /** The NODE_SERVICE socket of a host. */
  nodeSocket(nodeId: string): string;
  /** The CSI calls (`Node/NodePublishVolume`...) a process served, in order. */
  calls(p: PluginProcess, method?: string): Array<Record<string, unknown>>;
  /** Kills the controller (SIGKILL) and starts it again on the same state. */
  restartController(signal?: NodeJS.Signals): Promise<void>;
  /** Writes the agents' CSIPluginInfo files: `<dir>/<host>/polly.json` with the host's node socket. */
  writeAgentConfigs(dir: string): void;
  stop(): Promise<void>;
}

function startProcess(name: string, args: string[], socket: string, env: Record<string, string> = {}): PluginProcess {
  const child = spawn(process.execPath, [POLLY, ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, POLLY_CRASH_POINT: '', ...env },
  });
  const logs: Array<Record<string, unknown>> = [];
  let buffer = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    buffer += d;
    let nl: number;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      try {
        logs.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        logs.push({ message: line });
      }
    }
  });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => {
      if (code !== 0 && signal === null && stderr) logs.push({ message: `stderr: ${stderr}` });
      resolve({ code, signal });
    }),
  );
  return { name, socket, child, logs, exited };
}

async function ready(p: PluginProcess): Promise<void> {
  const client = csiClient(p.socket);
  try {
    await waitFor(async () => {
      if (p.child.exitCode !== null) throw new Error(`${p.name} exited (${p.child.exitCode}): ${JSON.stringify(p.logs.slice(-5))}`);
      try {
        const probe = await client.identity.Probe({});
        return probe.ready?.value === true;
      } catch {
        return false;
      }
    }, 30000);
  } finally {
    client.close();
  }
}

async function stopProcess(p: PluginProcess): Promise<void> {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return;
  p.child.kill('SIGTERM');
  const timer = setTimeout(() => p.child.kill('SIGKILL'), 10000);
  await p.exited;
  clearTimeout(timer);
}

export async function startCsiPluginProcesses(dir: string, nodes: readonly PluginNode[]): Promise<CsiPluginProcesses> {
  fs.mkdirSync(dir, { recursive: true });
  const vfsRoot = path.join(dir, 'vfs');
  const configFile = path.join(dir, 'plugin.yml');
  fs.writeFileSync(
    configFile,
    YAML.stringify({
      home: path.join(dir, 'home'),
      log: { level: 'info', format: 'json' },
      services: [{ name: 'backend', driver: 'vfs', vfs: { root: vfsRoot } }],
      csi: { nodes: nodes.map((n) => ({ id: n.nodeId, zone: n.zone })), node: { requirePublishContext: false } },
    }),
  );
  const controllerSocket = path.join(dir, 'controller.sock');
  const nodeSocket = (nodeId: string): string => path.join(dir, `${nodeId}.sock`);
  const startController = (): PluginProcess =>
    startProcess('controller', ['csi', 'controller', '--config', configFile, '--endpoint', `unix://${controllerSocket}`], controllerSocket);
  const handle: CsiPluginProcesses = {
    dir,
    configFile,
    vfsRoot,
    controller: startController(),
    nodes: new Map(),
    nodeSocket,
    calls: (p, method) =>
      p.logs.filter(
        (l) =>
          typeof l.method === 'string' &&
          (l.message === 'CSI call' || l.message === 'CSI call refused') &&
          (method === undefined || l.method === method),
      ),
    restartController: async (signal = 'SIGKILL') => {
      handle.controller.child.kill(signal);
      await handle.controller.exited;
      handle.controller = startController();
      await ready(handle.controller);
    },
    writeAgentConfigs: (configDir) => {
      for (const n of nodes) {
        fs.mkdirSync(path.join(configDir, n.nodeId), { recursive: true });
        fs.writeFileSync(
          path.join(configDir, n.nodeId, 'polly.json'),
          JSON.stringify({
            type: 'polly.csi.storage',
            endpoints: [{ csi_service: 'NODE_SERVICE', endpoint: `unix://${nodeSocket(n.nodeId)}` }],
          }),
        );
      }
    },
    stop: async () => {
      await Promise.all([handle.controller, ...handle.nodes.values()].map(stopProcess));
      unmountAll(dir);
    },
  };
  for (const n of nodes) {
    handle.nodes.set(
      n.nodeId,
      startProcess(
        `node ${n.nodeId}`,
        ['csi', 'node', '--config', configFile, '--endpoint', `unix://${nodeSocket(n.nodeId)}`, '--node-id', n.nodeId, '--zone', n.zone],
        nodeSocket(n.nodeId),
        n.stage ? { POLLY_CSI_NODE_STAGE_VOLUMES: 'true' } : {},
      ),
    );
  }
  try {
    await Promise.all([handle.controller, ...handle.nodes.values()].map(ready));
  } catch (err) {
    await handle.stop();
    throw err;
  }
  return handle;
}
