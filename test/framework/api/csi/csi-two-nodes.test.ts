/**
 * Two "nodes" (two node services with their own node IDs and sockets on this machine) compete for
 * one read-write volume: exactly one gets it published, the other is FAILED_PRECONDITION naming the
 * holder, at the controller and at its own node service; once the holder lets go, the other gets
 * the volume with the holder's data.
 */
import fs from 'node:fs';
import path from 'node:path';
import { codeOf, MOUNT_SNW } from '../../../support/csi-client';
import { CsiFixture, makeCsiFixture, mountsUnder } from '../../../support/csi-fixture';

describe('two nodes competing for one RW volume', () => {
  let f: CsiFixture;

  beforeEach(async () => {
    f = await makeCsiFixture({ overrides: { 'csi.nodes': [{ id: 'node-a' }, { id: 'node-b' }] } });
  });

  afterEach(async () => {
    await f.dispose();
  });

  /** ControllerPublishVolume, retried while another call for the volume is in flight (as a CO does on ABORTED). */
  async function publish(
    volume_id: string,
    node_id: string,
  ): Promise<{ ok: true; context: Record<string, string> } | { ok: false; code: string; message: string }> {
    for (;;) {
      try {
        const { publish_context } = await f.client.controller.ControllerPublishVolume({ volume_id, node_id, volume_capability: MOUNT_SNW });
        return { ok: true, context: publish_context };
      } catch (err) {
        const refusal = await codeOf(Promise.reject(err));
        if (refusal.code !== 'ABORTED') return { ok: false, ...refusal };
        await new Promise((resolve) => setImmediate(resolve));
      }
    }
  }

  it('publishes to exactly one; the other is refused naming the holder, and gets it (with the data) once it is free', async () => {
    const a = await f.startNode('node-a');
    const b = await f.startNode('node-b');
    const nodes = { 'node-a': a, 'node-b': b };
    const { volume } = await f.client.controller.CreateVolume({ name: 'contended', volume_capabilities: [MOUNT_SNW] });
    const id = volume.volume_id as string;

    const [ra, rb] = await Promise.all([publish(id, 'node-a'), publish(id, 'node-b')]);
    const winners = [ra, rb].filter((r) => r.ok);
    expect(winners).toHaveLength(1);
    const winnerId = ra.ok ? 'node-a' : 'node-b';
    const loserId = ra.ok ? 'node-b' : 'node-a';
    const winner = nodes[winnerId];
    const loser = nodes[loserId];
    const lost = (ra.ok ? rb : ra) as { code: string; message: string };
    expect(lost.code).toBe('FAILED_PRECONDITION');
    expect(lost.message).toContain(`published to node ${winnerId} (RW`);
    const context = (winners[0] as { context: Record<string, string> }).context;

    // The winner's node mounts it and writes.
    const winnerTarget = path.join(f.targetDir(`${winnerId}-pod`), 'mount');
    await winner.client.node.NodePublishVolume({
      volume_id: id,
      target_path: winnerTarget,
      volume_capability: MOUNT_SNW,
      publish_context: context,
    });
    fs.writeFileSync(path.join(winnerTarget, 'owner.txt'), winnerId);

    // The loser's node refuses the winner's publication (a CO mix-up), and mounts nothing.
    const loserTarget = path.join(f.targetDir(`${loserId}-pod`), 'mount');
    expect(
      await codeOf(
        loser.client.node.NodePublishVolume({
          volume_id: id,
          target_path: loserTarget,
          volume_capability: MOUNT_SNW,
          publish_context: context,
        }),
      ),
    ).toMatchObject({
      code: 'FAILED_PRECONDITION',
      message: expect.stringContaining(`published to node ${winnerId}, not to this node (${loserId})`),
    });
    expect(mountsUnder(f.dir)).toEqual([winnerTarget]);
    expect(f.storage.ledger.list({ volumeId: id, live: true }).map((c) => c.instanceId)).toEqual([winnerId]);

    // Still refused while held; free once the winner unpublishes (node, then controller).
    expect(await publish(id, loserId)).toMatchObject({ ok: false, code: 'FAILED_PRECONDITION' });
    await winner.client.node.NodeUnpublishVolume({ volume_id: id, target_path: winnerTarget });
    await f.client.controller.ControllerUnpublishVolume({ volume_id: id, node_id: winnerId });
    const second = await publish(id, loserId);
    expect(second.ok).toBe(true);
    await loser.client.node.NodePublishVolume({
      volume_id: id,
      target_path: loserTarget,
      volume_capability: MOUNT_SNW,
      publish_context: (second as { context: Record<string, string> }).context,
    });
    expect(fs.readFileSync(path.join(loserTarget, 'owner.txt'), 'utf8')).toBe(winnerId);
    expect(f.storage.ledger.list({ volumeId: id, live: true }).map((c) => c.instanceId)).toEqual([loserId]);
  });
});
