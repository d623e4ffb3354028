/**
 * CSI conformance, publications: ControllerPublishVolume is a claim for the calling scheduler on
 * the agent the node ID names, ControllerUnpublishVolume its release; single writer, shared
 * readers, attach limits, zones, unknown nodes, idempotency and ABORTED while a call for the same
 * volume is in flight.
 */
import type { StorageDriver } from '../../../../../drivers/storage-driver';
import { codeOf, MOUNT_SNW } from '../../../../support/csi-client';
import { CsiFixture, expectRefused, makeCsiFixture } from '../../../../support/csi-fixture';

const mode = (m: string) => ({ mount: {}, access_mode: { mode: m } });

/** Holds every volumeAttach until released (a slow backend); `arrived` resolves when one is held. */
class Gate {
  private held: Promise<void> | undefined;
  private open: (() => void) | undefined;
  private onArrival: (() => void) | undefined;
  arrived: Promise<void> = Promise.resolve();
  close(): void {
    this.held = new Promise((resolve) => (this.open = resolve));
    this.arrived = new Promise((resolve) => (this.onArrival = resolve));
  }
  release(): void {
    this.open?.();
    this.held = undefined;
  }
  wrap(driver: StorageDriver): StorageDriver {
    return new Proxy(driver, {
      get: (target, property) => {
        const value = (target as unknown as Record<string | symbol, unknown>)[property];
        if (property === 'volumeAttach') {
          return async (...args: Parameters<StorageDriver['volumeAttach']>) => {
            if (this.held) this.onArrival?.();
            await this.held;
            return target.volumeAttach(...args);
          };
        }
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
  }
}

describe('CSI controller: publications', () => {
  let f: CsiFixture;
  const gate = new Gate();

  beforeEach(async () => {
    f = await makeCsiFixture({
      overrides: {
        'csi.nodes': [
          { id: 'node-a', zone: 'zone-a' },
          { id: 'node-b', zone: 'zone-a' },
          { id: 'node-c', zone: 'zone-c' },
        ],
      },
      wrap: (driver) => gate.wrap(driver),
    });
  });

  afterEach(async () => {
    gate.release();
    await f.dispose();
  });

  const refused = (call: Promise<unknown>, code: string, message?: RegExp) => expectRefused(f, call, code, message);
  const volume = async (name: string, extra: Record<string, unknown> = {}) =>
    (await f.client.controller.CreateVolume({ name, volume_capabilities: [MOUNT_SNW], ...extra })).volume.volume_id as string;
  const publish = (volume_id: string, node_id: string, extra: Record<string, unknown> = {}) =>
    f.client.controller.ControllerPublishVolume({ volume_id, node_id, volume_capability: MOUNT_SNW, ...extra });

  it('claims the volume RW for the caller on the node, and says so in the publish context', async () => {
    const id = await volume('data');
    const { publish_context } = await publish(id, 'node-a');
    const [claim] = f.storage.ledger.list({ volumeId: id, live: true });
    expect(claim).toMatchObject({
      scheduler: 'csi',
      taskId: 'csi:node-a',
      agentId: 'csi-node:node-a',
      instanceId: 'node-a',
      mode: 'RW',
      state: 'attached',
    });
    expect(publish_context).toEqual({ 'polly.io/node': 'node-a', 'polly.io/mode': 'RW', 'polly.io/claim': claim.id });
    const attachments = (await f.storage.registry.get('local').driver.volumeInspect('vfs-000001')).attachments;
    expect(attachments.map((a) => [a.instanceId.id, a.readOnly])).toEqual([['node-a', false]]);
    expect(f.storage.catalog.get(id).status).toBe('attached');
  });

  it('is idempotent: publishing again to the same node in the same mode is the same publication', async () => {
    const id = await volume('again');
    const first = await publish(id, 'node-a');
    for (let i = 0; i < 5; i++) expect(await publish(id, 'node-a')).toEqual(first);
    expect(f.storage.ledger.list({ volumeId: id })).toHaveLength(1);
  });

  it('is ALREADY_EXISTS for the same node in another mode', async () => {
    const id = await volume('modes');
    await publish(id, 'node-a');
    await refused(publish(id, 'node-a', { readonly: true }), 'ALREADY_EXISTS', /already published to node node-a read-write/);
  });

  it('is FAILED_PRECONDITION naming the holder when another node holds it for writing', async () => {
    const id = await volume('single');
    const { publish_context } = await publish(id, 'node-a');
    const message = await refused(publish(id, 'node-b'), 'FAILED_PRECONDITION');
    expect(message).toContain(
      `published to node node-a (RW, claim ${publish_context['polly.io/claim']}, agent csi-node:node-a, scheduler csi)`,
    );
    await refused(
      publish(id, 'node-b', { readonly: true, volume_capability: mode('MULTI_NODE_READER_ONLY') }),
      'FAILED_PRECONDITION',
      /node node-a/,
    );
  });

  it('lets readers share a MULTI_NODE_READER_ONLY volume, and keeps a writer out while they read', async () => {
    const id = await volume('shared', { volume_capabilities: [mode('MULTI_NODE_READER_ONLY')] });
    await publish(id, 'node-a', { readonly: true, volume_capability: mode('MULTI_NODE_READER_ONLY') });
    const b = await publish(id, 'node-b', { volume_capability: mode('MULTI_NODE_READER_ONLY') });
    expect(b.publish_context['polly.io/mode']).toBe('RO');
    expect(f.storage.ledger.list({ volumeId: id, live: true }).map((c) => c.mode)).toEqual(['RO', 'RO']);
    await refused(publish(id, 'node-c', { volume_capability: mode('MULTI_NODE_SINGLE_WRITER') }), 'FAILED_PRECONDITION');
  });

  it('publishes a SINGLE_NODE_READER_ONLY volume on one node only', async () => {
    const id = await volume('one-reader', { volume_capabilities: [mode('SINGLE_NODE_READER_ONLY')] });
    await publish(id, 'node-a', { volume_capability: mode('SINGLE_NODE_READER_ONLY') });
    await refused(publish(id, 'node-b', { volume_capability: mode('SINGLE_NODE_READER_ONLY') }), 'FAILED_PRECONDITION', /node node-a \(RO/);
  });

  it('is NOT_FOUND for an unknown volume or a node Polly does not know, saying how to make it known', async () => {
    const id = await volume('lonely');
    await refused(publish('local.vfs-999999', 'node-a'), 'NOT_FOUND');
    await refused(publish('fake-vol-id-1', 'node-a'), 'NOT_FOUND');
    await refused(publish(id, 'fake-node-id-1'), 'NOT_FOUND', /add it to csi.nodes/);
  });

  it('names every missing field (INVALID_ARGUMENT)', async () => {
    await refused(
      f.client.controller.ControllerPublishVolume({}),
      'INVALID_ARGUMENT',
      /volume_id is required; node_id is required; volume_capability is required/,
    );
    await refused(
      publish('local.vfs-000001', 'node-a', { volume_capability: mode('MULTI_NODE_MULTI_WRITER') }),
      'INVALID_ARGUMENT',
      /one writer/,
    );
  });

  it("is RESOURCE_EXHAUSTED at the service's attach limit on the node", async () => {
    const ids = [];
    for (let i = 0; i < 3; i++) ids.push(await volume(`lim-${i}`, { parameters: { service: 'limited' } }));
    await publish(ids[0], 'node-a');
    await publish(ids[1], 'node-a');
    await refused(publish(ids[2], 'node-a'), 'RESOURCE_EXHAUSTED', /limit \(2\); unpublish one first/);
    await publish(ids[2], 'node-b'); // another node has room
    await publish(ids[0], 'node-a'); // republishing is no new attachment
    await f.client.controller.ControllerUnpublishVolume({ volume_id: ids[1], node_id: 'node-a' });
    await f.client.controller.ControllerUnpublishVolume({ volume_id: ids[2], node_id: 'node-b' });
    await publish(ids[2], 'node-a');
  });

  it('keeps a zoned volume to nodes of its zone', async () => {
    const id = await volume('zoned', { accessibility_requirements: { requisite: [{ segments: { 'topology.polly.io/zone': 'zone-a' } }] } });
    await refused(publish(id, 'node-c'), 'FAILED_PRECONDITION', /zone zone-a and node node-c in zone zone-c/);
    await publish(id, 'node-b');
  });

  it('keeps volumes not offered to the caller out of reach', async () => {
    const theirs = await f.storage.catalog.create({ service: 'local', name: 'theirs', size: 1, schedulers: ['marathon'] });
    await refused(publish(theirs.id, 'node-a'), 'PERMISSION_DENIED', /not offered to scheduler "csi"/);
  });

  it('unpublishes by releasing the claim, idempotently, from one node or from all', async () => {
    const id = await volume('leaving', { volume_capabilities: [mode('MULTI_NODE_READER_ONLY')] });
    const ro = { volume_capability: mode('MULTI_NODE_READER_ONLY') };
    await publish(id, 'node-a', ro);
    await publish(id, 'node-b', ro);
    await f.client.controller.ControllerUnpublishVolume({ volume_id: id, node_id: 'node-a' });
    expect(f.storage.ledger.list({ volumeId: id, live: true }).map((c) => c.instanceId)).toEqual(['node-b']);
    const released = f.storage.ledger.list({ volumeId: id, state: 'released' });
    expect(released).toHaveLength(1);
    expect(released[0].reason).toBe('CSI ControllerUnpublishVolume from node node-a');
    await f.client.controller.ControllerUnpublishVolume({ volume_id: id, node_id: 'node-a' });
    await f.client.controller.ControllerUnpublishVolume({ volume_id: id });
    expect(f.storage.ledger.list({ volumeId: id, live: true })).toHaveLength(0);
    expect((await f.storage.registry.get('local').driver.volumeInspect('vfs-000001')).attachments).toEqual([]);
    await f.client.controller.ControllerUnpublishVolume({ volume_id: id });
    await f.client.controller.ControllerUnpublishVolume({ volume_id: 'local.vfs-777777', node_id: 'node-a' });
    await f.client.controller.ControllerUnpublishVolume({ volume_id: 'fake-vol-id', node_id: 'fake-node' });
    await refused(f.client.controller.ControllerUnpublishVolume({}), 'INVALID_ARGUMENT', /volume_id is required/);
  });

  it('is ABORTED while another call for the same volume is in flight, and fine once it is done', async () => {
    const id = await volume('busy');
    gate.close();
    const slow = publish(id, 'node-a');
    // The publish is waiting on the backend; a second call for the volume must not interleave.
    await gate.arrived;
    expect(await codeOf(f.client.controller.ControllerUnpublishVolume({ volume_id: id, node_id: 'node-a' }))).toMatchObject({
      code: 'ABORTED',
      message: expect.stringMatching(
        /ControllerPublishVolume is still in progress for volume\/local.vfs-000001; retry ControllerUnpublishVolume/,
      ),
    });
    expect(await codeOf(f.client.controller.DeleteVolume({ volume_id: id }))).toMatchObject({ code: 'ABORTED' });
    gate.release();
    await slow;
    await f.client.controller.ControllerUnpublishVolume({ volume_id: id, node_id: 'node-a' });
    await f.client.controller.DeleteVolume({ volume_id: id });
  });
});
