/**
 * gRPC faults between Polly and a CSI plugin: Polly's own plugin as a real process (`polly csi
 * controller`), behind a proxy that answers UNAVAILABLE, DEADLINE_EXCEEDED or ABORTED after the
 * plugin did the work (the answer is lost), before it did, or after restarting the plugin mid-call.
 * The plugin cannot be searched by name here (the proxy hides volume contexts), so every "maybe"
 * is settled by the same request again: every CreateVolume carries the same name, and the plugin
 * ends with one volume, one publication, or none, as asked.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { csiVolumeName } from '../../../drivers/csi/csi-names';
import { csiClient, CsiClient } from '../../support/csi-client';
import { CsiPluginProcesses, startCsiPluginProcesses } from '../../support/csi-plugin-processes';
import { FaultProxy, startFaultProxy } from '../../support/csi-fault-proxy';
import { Fixture, makeFixture } from './storage-fixture';

jest.setTimeout(120_000);

let dir: string;
let plugin: CsiPluginProcesses;
let proxy: FaultProxy;
let polly: Fixture;
let direct: CsiClient;

beforeAll(async () => {
  dir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'polly-csi-faults-'));
  plugin = await startCsiPluginProcesses(path.join(dir, 'plugin'), [{ nodeId: 'n1', zone: 'zone-a' }]);
  proxy = await startFaultProxy(path.join(dir, 'proxy.sock'), plugin.controller.socket);
  proxy.hideVolumeContext = true;
  polly = await makeFixture({
    services: [
      {
        name: 'disks',
        driver: 'csi',
        csi: { endpoint: `unix://${proxy.socket}`, topologyKey: 'topology.polly.io/zone', parameters: { service: 'backend' } },
      },
    ],
    retry: { attempts: 4, baseDelayMs: 1, maxDelayMs: 5 },
  });
  direct = csiClient(plugin.controller.socket);
});

afterAll(async () => {
  direct?.close();
  await polly?.dispose();
  await proxy?.close();
  await plugin?.stop();
  await fs.promises.rm(dir, { recursive: true, force: true });
});

/** The plugin's volumes named like Polly's volume `name` (asked directly, not through the proxy). */
async function onPlugin(name: string): Promise<Array<{ volume: { volume_id: string }; status: { published_node_ids: string[] } }>> {
  const { entries } = await direct.controller.ListVolumes({});
  return entries.filter(
    (e: { volume: { volume_context: { name: string } } }) => e.volume.volume_context.name === csiVolumeName('polly-disks-', name),
  );
}

const createRequests = (name: string) =>
  proxy.requests.filter((r) => r.method === 'CreateVolume' && r.name === csiVolumeName('polly-disks-', name));

it.each([
  [
    'the plugin restarted mid-call (UNAVAILABLE)',
    'restarted',
    [{ when: 'after', code: 'UNAVAILABLE', action: () => plugin.restartController() }],
  ],
  ['DEADLINE_EXCEEDED after the plugin made it', 'deadline', [{ when: 'after', code: 'DEADLINE_EXCEEDED' }]],
  [
    'ABORTED, then UNAVAILABLE before it reached the plugin',
    'aborted',
    [
      { when: 'after', code: 'ABORTED' },
      { when: 'before', code: 'UNAVAILABLE' },
    ],
  ],
] as const)('CreateVolume answered %s: retried under the same name, one volume', async (_what, name, faults) => {
  proxy.inject('CreateVolume', ...faults.map((f) => ({ ...f })));
  const volume = await polly.storage.catalog.create({ service: 'disks', name, size: 1, availabilityZone: 'zone-a', scheduler: 'polly' });
  const requests = createRequests(name);
  expect(requests.length).toBe(faults.length + 1);
  expect(new Set(requests.map((r) => r.name))).toEqual(new Set([csiVolumeName('polly-disks-', name)]));
  const found = await onPlugin(name);
  expect(found.map((e) => e.volume.volume_id)).toEqual([volume.driverVolumeId]);
  expect(await polly.storage.intents.pending()).toEqual([]);
});

it('publish, unpublish and delete answered "maybe" after the plugin did them: one publication, then none, then no volume', async () => {
  const volume = await polly.storage.catalog.create({
    service: 'disks',
    name: 'moves',
    size: 1,
    availabilityZone: 'zone-a',
    scheduler: 'polly',
  });
  proxy.inject('ControllerPublishVolume', { when: 'after', code: 'DEADLINE_EXCEEDED' });
  const claim = await polly.storage.ledger.claim({ volumeId: volume.id, scheduler: 'polly', taskId: 't', agentId: 'a1', instanceId: 'n1' });
  expect(claim.state).toBe('attached');
  expect((await onPlugin('moves'))[0].status.published_node_ids).toEqual(['n1']);

  proxy.inject('ControllerUnpublishVolume', { when: 'after', code: 'ABORTED' });
  expect((await polly.storage.ledger.release(claim.id)).state).toBe('released');
  expect((await onPlugin('moves'))[0].status.published_node_ids).toEqual([]);

  proxy.inject('DeleteVolume', { when: 'after', code: 'UNAVAILABLE', action: () => plugin.restartController() });
  await polly.storage.catalog.remove(volume.id);
  expect(await onPlugin('moves')).toEqual([]);
  expect(polly.storage.catalog.find(volume.id)).toBeUndefined();
  expect(proxy.requests.filter((r) => r.method === 'DeleteVolume' && r.volumeId === volume.driverVolumeId)).toHaveLength(2);
});

it('expand answered "maybe" after the plugin grew it (the plugin restarted mid-call): retried, grown once, the catalog has the size', async () => {
  const volume = await polly.storage.catalog.create({
    service: 'disks',
    name: 'grows',
    size: 1,
    availabilityZone: 'zone-a',
    scheduler: 'polly',
  });
  // Polly's plugin (a real `polly csi controller` over vfs) grows volumes while published.
  expect(polly.storage.expander.expansionOf('disks')).toBe('online');
  proxy.inject('ControllerExpandVolume', { when: 'after', code: 'UNAVAILABLE', action: () => plugin.restartController() });
  const grown = await polly.storage.expander.expand(volume.id, 3);
  expect(grown).toMatchObject({ expanded: true, volume: { size: 3 } });
  const { volume: onPluginNow } = await direct.controller.ControllerGetVolume({ volume_id: volume.driverVolumeId });
  expect(onPluginNow.capacity_bytes).toBe(String(3 * 1024 ** 3));
  expect(proxy.requests.filter((r) => r.method === 'ControllerExpandVolume' && r.volumeId === volume.driverVolumeId)).toHaveLength(2);
  expect(await polly.storage.intents.pending()).toEqual([]);
  // The same size again reaches nobody: nothing to grow.
  expect((await polly.storage.expander.expand(volume.id, 3)).expanded).toBe(false);
  expect(proxy.requests.filter((r) => r.method === 'ControllerExpandVolume')).toHaveLength(2);
});
