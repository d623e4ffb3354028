/**
 * The CSI controller inside `polly start`: on `<home>/csi/controller.sock`, node IDs that are the
 * local cluster's agents, its calls in /metrics and /v1/events, its publications in /v1/claims
 * (what the dashboard shows), and gone when Polly stops or when `csi.enabled` is false.
 */
import fs from 'node:fs';
import path from 'node:path';
import { silentLogger } from '../../framework/shared/logger';
import { PollyService } from '../../framework/polly-service';
import { CsiClient, csiClient, MOUNT_SNW } from '../support/csi-client';
import { LocalPollyFixture, startLocalPollyFixture } from '../support/local-polly';
import { waitFor } from '../support/mesos-http';

jest.setTimeout(60000);

describe('the CSI controller in polly start', () => {
  let fixture: LocalPollyFixture;
  let service: PollyService | undefined;
  let client: CsiClient | undefined;

  beforeEach(async () => {
    fixture = await startLocalPollyFixture('polly-csi-service-');
  });

  afterEach(async () => {
    client?.close();
    client = undefined;
    await service?.stop().catch(() => undefined);
    service = undefined;
    await fixture.dispose();
  });

  it('serves CSI on the home socket, onto the same claims, agents, metrics and events as everything else', async () => {
    service = await PollyService.start({ config: fixture.config(), logger: silentLogger });
    const socket = path.join(fixture.dir, 'home', 'csi', 'controller.sock');
    expect(service.csiEndpoints).toEqual([`unix://${socket}`]);
    client = csiClient(socket);
    expect(await client.identity.Probe({})).toEqual({ ready: { value: true } });
    const agents = fixture.cluster.agents();
    await waitFor(() => service!.parts.agents.byHost('node0'), 10000);

    const { volume } = await client.controller.CreateVolume({ name: 'csi-in-start', volume_capabilities: [MOUNT_SNW] });
    await client.controller.ControllerPublishVolume({ volume_id: volume.volume_id, node_id: 'node0', volume_capability: MOUNT_SNW });

    const claims = (await (await fetch(`${service.apiUrl}/v1/claims?volumeId=${volume.volume_id}`)).json()) as {
      claims: Array<{ agentId: string; taskId: string; scheduler: string; state: string }>;
    };
    const node0 = agents.find((a) => a.info().hostname === 'node0')!;
    expect(claims.claims).toEqual([
      expect.objectContaining({ agentId: node0.agentId, taskId: 'csi:node0', scheduler: 'csi', state: 'attached' }),
    ]);

    const metrics = await (await fetch(`${service.apiUrl}/metrics`)).text();
    expect(metrics).toContain('polly_csi_rpc_duration_seconds_count{service="controller",method="ControllerPublishVolume",code="OK"} 1');

    const events = await (await fetch(`${service.apiUrl}/v1/events?follow=false`)).text();
    expect(events).toContain('event: csi.call');
    expect(events).toContain('"method":"Controller/CreateVolume"');
    expect(events).toContain('event: claim.attached');

    await service.stop();
    service = undefined;
    expect(fs.existsSync(socket)).toBe(false);
  });

  it('has no CSI listener with csi.enabled false', async () => {
    service = await PollyService.start({ config: fixture.config({ 'csi.enabled': false }), logger: silentLogger });
    expect(service.csiEndpoints).toEqual([]);
    expect(fs.existsSync(path.join(fixture.dir, 'home', 'csi'))).toBe(false);
  });
});
