/**
 * Hello Polly over CSI, end to end on the local cluster. The plugin is Polly's own, as real
 * processes: `polly csi controller` and a `polly csi node` per agent host (over one vfs root). The
 * Polly under test has a service `disks` with driver csi and mapping csi; its local agents run the
 * volume/csi isolator with CSIPluginInfo files pointing at their host's node socket.
 *
 * A volume created through CSI in zone-a; an app on node0 writes through the CSI-published path;
 * the app goes (the node unpublishes, the controller unpublishes); the app on node1 reads the file;
 * node1 is marked gone: the claim is fenced, ControllerUnpublishVolume for node1 is called, the app
 * moves within the zone (node0), never to node2 in zone-b. Capacity per zone shows in /v1/offers.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { csiVolumeName } from '../../../drivers/csi/csi-names';
import { encodeVolumeId } from '../../../framework/mesos/local/agent/csi-node-volumes';
import { loadConfig } from '../../../framework/config/config-loader';
import { silentLogger } from '../../../framework/shared/logger';
import { PollyService } from '../../../framework/polly-service';
import { CsiPluginProcesses, startCsiPluginProcesses } from '../../support/csi-plugin-processes';
import { unmountAll } from '../../support/csi-fixture';
import { waitFor } from '../../support/mesos-http';

jest.setTimeout(180_000);

const NODES = [
  // node0's plugin stages volumes (STAGE_UNSTAGE_VOLUME), the others publish directly.
  { nodeId: 'node0', zone: 'zone-a', stage: true },
  { nodeId: 'node1', zone: 'zone-a' },
  { nodeId: 'node2', zone: 'zone-b' },
];

interface TaskView {
  id: string;
  state: string;
  hostname: string;
  agentId: string;
  volumes: Array<{ volumeId?: string }>;
}

let dir: string;
let plugin: CsiPluginProcesses | undefined;
let polly: PollyService | undefined;

async function api<T>(method: string, route: string, body?: unknown): Promise<{ status: number; body: T }> {
  const res = await fetch(`${polly!.apiUrl}${route}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T };
}

const app = (id: string, cmd: string, hostname?: string) => ({
  id,
  cmd,
  cpus: 0.1,
  mem: 32,
  instances: 1,
  ...(hostname ? { constraints: [['hostname', 'LIKE', hostname]] } : {}),
  container: {
    type: 'MESOS',
    volumes: [{ containerPath: 'mystore', mode: 'RW', external: { name: 'hellocsi', provider: 'polly', options: { service: 'disks' } } }],
  },
});

async function runningTask(appId: string): Promise<TaskView | undefined> {
  const { status, body } = await api<{ tasks: TaskView[] }>('GET', `/v1/apps/${appId}`);
  return status === 200 ? body.tasks.find((t) => t.state === 'TASK_RUNNING') : undefined;
}

async function removeApp(appId: string): Promise<void> {
  expect((await api('DELETE', `/v1/apps/${appId}`)).status).toBeLessThan(300);
  await waitFor(async () => (await api('GET', `/v1/apps/${appId}`)).status === 404, 60_000);
}

function stdoutOf(task: TaskView): string {
  const agent = polly!.cluster!.agent(task.agentId);
  const sandbox = agent?.sandboxOf(polly!.scheduler.frameworkId!, task.id);
  try {
    return sandbox ? fs.readFileSync(path.join(sandbox, 'stdout'), 'utf8') : '';
  } catch {
    return '';
  }
}

beforeEach(async () => {
  dir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'polly-csi-e2e-'));
});

afterEach(async () => {
  await polly?.stop().catch(() => undefined);
  polly = undefined;
  await plugin?.stop();
  plugin = undefined;
  unmountAll(dir);
  await fs.promises.rm(dir, { recursive: true, force: true, maxRetries: 5 });
});

it('Hello Polly over CSI: data moves with the volume between agents of its zone, fencing unpublishes the gone agent', async () => {
  plugin = await startCsiPluginProcesses(path.join(dir, 'plugin'), NODES);
  const agentConfigs = path.join(dir, 'agent-csi-plugins');
  plugin.writeAgentConfigs(agentConfigs);
  const empty = path.join(dir, 'empty.yml');
  fs.writeFileSync(empty, '');
  const config = loadConfig({
    env: {},
    file: empty,
    overrides: {
      home: path.join(dir, 'home'),
      'api.port': 0,
      'libstorage.enabled': false,
      'csi.enabled': false,
      'local.port': 0,
      'local.heartbeatIntervalSeconds': 0.2,
      'local.allocationIntervalMs': 50,
      'local.csiPluginConfigDir': agentConfigs,
      'scheduler.pendingRefuseSeconds': 0.2,
      'mesos.declineRefuseSeconds': 1,
      services: [
        {
          name: 'disks',
          driver: 'csi',
          csi: {
            endpoint: `unix://${plugin.controller.socket}`,
            topologyKey: 'topology.polly.io/zone',
            parameters: { service: 'backend' },
          },
        },
      ],
    },
  });
  polly = await PollyService.start({ config, logger: silentLogger });
  const { storage } = polly;
  const controllerCalls = (method: string): Array<Record<string, unknown>> => plugin!.calls(plugin!.controller, `Controller/${method}`);

  // /v1/services shows the plugin; /v1/agents each agent's node ID for it.
  const services = await api<{ services: Array<{ name: string; csi?: { plugin: { name: string; capabilities: string[] } } }> }>(
    'GET',
    '/v1/services',
  );
  expect(services.body.services[0].csi?.plugin).toMatchObject({ name: 'polly.csi.storage' });
  expect(services.body.services[0].csi?.plugin.capabilities).toEqual(
    expect.arrayContaining(['CREATE_DELETE_VOLUME', 'PUBLISH_UNPUBLISH_VOLUME']),
  );
  const agents = await waitFor(async () => {
    const { body } = await api<{ agents: Array<{ hostname: string; agentId: string; csiNodeIds?: Record<string, string> }> }>(
      'GET',
      '/v1/agents',
    );
    return body.agents.length === 3 ? body.agents : undefined;
  }, 20_000);
  for (const a of agents) expect(a.csiNodeIds).toEqual({ 'polly.csi.storage': a.hostname });
  const agentId = (host: string): string => agents.find((a) => a.hostname === host)!.agentId;

  // Capacity per zone, from the plugin's GetCapacity, in the storage offers.
  const offers = await waitFor(async () => {
    const { body } = await api<{ offers: Array<{ zone: string; capacity: Array<{ service: string; availableGiB?: number }> }> }>(
      'GET',
      '/v1/offers?scheduler=polly',
    );
    return body.offers.length === 3 && body.offers.every((o) => o.capacity.some((c) => c.service === 'disks' && (c.availableGiB ?? 0) > 0))
      ? body.offers
      : undefined;
  }, 20_000);
  expect(new Set(offers.map((o) => o.zone))).toEqual(new Set(['zone-a', 'zone-b']));

  // The volume, created through CSI in zone-a.
  const created = await api<{ id: string; availabilityZone: string }>('POST', '/v1/volumes', {
    service: 'disks',
    name: 'hellocsi',
    size: 1,
    availabilityZone: 'zone-a',
    schedulers: ['polly'],
  });
  expect(created.status).toBe(201);
  expect(created.body.availabilityZone).toBe('zone-a');
  const volume = storage.catalog.get(created.body.id);
  expect(controllerCalls('CreateVolume').map((c) => c.name)).toEqual([csiVolumeName('polly-disks-', 'hellocsi')]);
  const dataDir = path.join(plugin.vfsRoot, 'volumes');

  // node0 writes through the published path.
  expect((await api('POST', '/v1/apps', app('temp01', 'echo hello-csi > mystore/myfile && sleep 1000', 'node0'))).status).toBe(201);
  const first = await waitFor(() => runningTask('temp01'), 60_000);
  expect(first.hostname).toBe('node0');
  expect(first.volumes[0].volumeId).toBe(volume.id);
  const node0 = plugin.nodes.get('node0')!;
  expect(plugin.calls(node0, 'Node/NodeStageVolume')).toEqual([expect.objectContaining({ volumeId: volume.driverVolumeId, code: 'OK' })]);
  expect(plugin.calls(node0, 'Node/NodePublishVolume')).toEqual([expect.objectContaining({ volumeId: volume.driverVolumeId, code: 'OK' })]);
  expect(controllerCalls('ControllerPublishVolume')).toEqual([
    expect.objectContaining({ volumeId: volume.driverVolumeId, nodeId: 'node0' }),
  ]);
  // The published target is under node0's work dir, laid out as Mesos lays it out.
  const node0Work = polly.cluster!.agentWorkDir('node0');
  const target = path.join(node0Work, 'csi', 'polly.csi.storage', 'default', 'mounts', encodeVolumeId(volume.driverVolumeId), 'target');
  await waitFor(() => fs.existsSync(path.join(target, 'myfile')), 20_000);
  expect(fs.readFileSync(path.join(target, 'myfile'), 'utf8')).toBe('hello-csi\n');
  expect(fs.existsSync(path.join(node0Work, 'isolators', 'volume', 'csi'))).toBe(true);

  // The app goes: the node unpublishes, then the controller, and the claim is released.
  await removeApp('temp01');
  await waitFor(() => storage.ledger.list({ volumeId: volume.id, live: true }).length === 0, 30_000);
  expect(plugin.calls(node0, 'Node/NodeUnpublishVolume')).toEqual([
    expect.objectContaining({ volumeId: volume.driverVolumeId, code: 'OK' }),
  ]);
  expect(plugin.calls(node0, 'Node/NodeUnstageVolume')).toEqual([expect.objectContaining({ volumeId: volume.driverVolumeId, code: 'OK' })]);
  expect(plugin.calls(plugin.nodes.get('node1')!, 'Node/NodeStageVolume')).toEqual([]);
  await waitFor(() => controllerCalls('ControllerUnpublishVolume').length === 1, 20_000);
  expect(controllerCalls('ControllerUnpublishVolume')[0]).toMatchObject({ nodeId: 'node0' });
  expect(fs.existsSync(target)).toBe(false);
  // In CSI's order: the node's unpublish (the isolator, before the task's last update) before the controller's.
  const at = (l: Record<string, unknown>): number => Date.parse(String(l.timestamp));
  expect(at(plugin.calls(node0, 'Node/NodeUnpublishVolume')[0])).toBeLessThanOrEqual(at(controllerCalls('ControllerUnpublishVolume')[0]));

  // node1 reads what node0 wrote.
  expect((await api('POST', '/v1/apps', app('temp01', 'cat mystore/myfile && sleep 1000', 'node1'))).status).toBe(201);
  const second = await waitFor(() => runningTask('temp01'), 60_000);
  expect(second.hostname).toBe('node1');
  await waitFor(() => stdoutOf(second).includes('hello-csi'), 20_000);
  expect(plugin.calls(plugin.nodes.get('node1')!, 'Node/NodePublishVolume')).toHaveLength(1);

  // node1 is marked gone: the claim is fenced and the plugin unpublishes the volume from node1.
  polly.cluster!.removeAgent(agentId('node1'));
  await waitFor(() => storage.ledger.list({ volumeId: volume.id, live: true }).length === 0, 30_000);
  const fenced = storage.ledger.list({ volumeId: volume.id }).find((c) => c.agentId === agentId('node1') && c.forced);
  expect(fenced).toMatchObject({ state: 'released', forced: true, instanceId: 'node1' });
  expect(controllerCalls('ControllerUnpublishVolume').map((c) => c.nodeId)).toEqual(['node0', 'node1']);

  // Redeployed without the constraint, it moves within the zone: node0, never zone-b's node2.
  await removeApp('temp01');
  expect((await api('POST', '/v1/apps', app('temp01', 'cat mystore/myfile && sleep 1000'))).status).toBe(201);
  const moved = await waitFor(() => runningTask('temp01'), 60_000);
  expect(moved.hostname).toBe('node0');
  await waitFor(() => stdoutOf(moved).includes('hello-csi'), 20_000);
  expect(plugin.calls(plugin.nodes.get('node2')!, 'Node/NodePublishVolume')).toEqual([]);
  expect(controllerCalls('ControllerPublishVolume').map((c) => c.nodeId)).toEqual(['node0', 'node1', 'node0']);
  // The data is where the plugin keeps it, once.
  expect(fs.readdirSync(dataDir)).toHaveLength(1);
});
