/**
 * CSI node IDs are Mesos agents' host names: a volume published through CSI to an agent is claimed
 * on that agent, so when Mesos says the agent is gone, Polly's fencing force-releases the CSI
 * publication like any claim there, and another node can have the volume.
 */
import { startCsiController, RunningCsiController } from '../../../../framework/api/csi/start-csi-controller';
import { loadConfig } from '../../../../framework/config/config-loader';
import { codeOf, CsiClient, csiClient, MOUNT_SNW } from '../../../support/csi-client';
import { waitFor } from '../../../support/mesos-http';
import { E2E, runningTask, startE2E } from '../../scheduler/scheduler-fixture';

jest.setTimeout(60000);

describe('CSI publications and fencing', () => {
  let e: E2E | undefined;
  let csi: RunningCsiController | undefined;
  let client: CsiClient | undefined;

  afterEach(async () => {
    client?.close();
    await csi?.stop(0);
    await e?.stop();
    e = undefined;
    csi = undefined;
    client = undefined;
  });

  it('claims on the Mesos agent the node ID names, and releases the claim when Mesos removes the agent', async () => {
    e = await startE2E();
    const e2e = e;
    csi = await startCsiController(
      { storage: e2e.storage.storage, home: e2e.storage.home, agents: () => e2e.polly.agents },
      loadConfig({ env: {}, file: '/dev/null' }).csi,
    );
    client = csiClient(csi.endpoints[0].replace('unix://', ''));
    // A task of Polly's on node0: how Mesos tells Polly that an agent is gone (TASK_GONE_BY_OPERATOR).
    await e2e.polly.api.createApp({
      id: 'resident',
      cmd: 'sleep 1000',
      cpus: 0.1,
      mem: 32,
      instances: 1,
      constraints: [['hostname', 'LIKE', 'node0']],
    });
    await waitFor(() => runningTask(e2e, 'resident'), 20000);
    await waitFor(() => e2e.polly.agents.byHost('node1'), 10000);

    const { volume } = await client.controller.CreateVolume({ name: 'pinned', volume_capabilities: [MOUNT_SNW] });
    const id = volume.volume_id as string;
    await client.controller.ControllerPublishVolume({ volume_id: id, node_id: 'node0', volume_capability: MOUNT_SNW });
    const [claim] = e2e.storage.storage.ledger.list({ volumeId: id, live: true });
    expect(claim).toMatchObject({
      agentId: e2e.agentIds.node0,
      instanceId: 'node0',
      scheduler: 'csi',
      taskId: 'csi:node0',
      state: 'attached',
    });

    expect(
      await codeOf(client.controller.ControllerPublishVolume({ volume_id: id, node_id: 'node1', volume_capability: MOUNT_SNW })),
    ).toMatchObject({
      code: 'FAILED_PRECONDITION',
      message: expect.stringContaining(`published to node node0 (RW, claim ${claim.id}, agent ${e2e.agentIds.node0}`),
    });
    expect(
      await codeOf(client.controller.ControllerPublishVolume({ volume_id: id, node_id: 'node9', volume_capability: MOUNT_SNW })),
    ).toMatchObject({
      code: 'NOT_FOUND',
    });

    e2e.cluster.removeAgent(e2e.agentIds.node0);
    const fenced = await waitFor(() => {
      const c = e2e.storage.storage.ledger.get(claim.id);
      return c.state === 'released' ? c : undefined;
    }, 20000);
    expect(fenced.forced).toBe(true);
    expect(fenced.reason).toMatch(/^fenced: agent node0 .* is gone/);

    await client.controller.ControllerPublishVolume({ volume_id: id, node_id: 'node1', volume_capability: MOUNT_SNW });
    expect(e2e.storage.storage.ledger.list({ volumeId: id, live: true }).map((c) => c.agentId)).toEqual([e2e.agentIds.node1]);
    expect(
      await codeOf(client.controller.ControllerPublishVolume({ volume_id: id, node_id: 'node0', volume_capability: MOUNT_SNW })),
    ).toMatchObject({
      code: 'NOT_FOUND',
      message: expect.stringMatching(/Mesos removed/),
    });
    // The CO's late unpublish from the gone node is still fine.
    await client.controller.ControllerUnpublishVolume({ volume_id: id, node_id: 'node0' });
  });
});
