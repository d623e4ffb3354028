/**
 * Preemption end to end: a whole Polly (local cluster, libStorage API, auth off on loopback) and two
 * REX-Ray agents driving the libStorage API as the stock client does. A forced attach takes a volume
 * from its holder only once Mesos says the holder's agent is gone (operator MARK_AGENT_GONE; Polly
 * runs no task there, so it asks Mesos about the agent itself), and the preemption is audited.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { silentLogger } from '../../framework/shared/logger';
import { PollyService } from '../../framework/polly-service';
import { cliCreateBody, MASK, RexrayClient } from '../support/rexray-client';
import { LocalPollyFixture, startLocalPollyFixture } from '../support/local-polly';
import { waitFor } from '../support/mesos-http';

let fixture: LocalPollyFixture;
let service: PollyService | undefined;

beforeEach(async () => {
  fixture = await startLocalPollyFixture('polly-preemption-');
});

afterEach(async () => {
  await service?.stop().catch(() => undefined);
  service = undefined;
  await fixture.dispose();
});

async function markAgentGone(agentId: string): Promise<void> {
  const res = await fetch(`${fixture.cluster.url}/api/v1`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ type: 'MARK_AGENT_GONE', mark_agent_gone: { agent_id: { value: agentId } } }),
  });
  expect(res.status).toBe(200);
}

it("a forced attach from node1 takes node0's volume only after Mesos marks node0's agent gone, audited", async () => {
  const s = await PollyService.start({ config: fixture.config(), logger: silentLogger });
  service = s;
  await waitFor(() => s.scheduler.isSubscribed && s.parts.agents.size === 3, 20000);
  const port = Number(new URL(s.libstorageUrl!).port);
  const node0 = new RexrayClient({ host: '127.0.0.1', port }, 'node0', 'local');
  const node1 = new RexrayClient({ host: '127.0.0.1', port }, 'node1', 'local');
  expect((await node0.login()).status).toBe(200);
  expect((await node1.login()).status).toBe(200);

  const id = (await node0.create(cliCreateBody('shared', { size: 1 }))).body.id as string;
  expect((await node0.attach(id)).status).toBe(200);
  const record = s.storage.catalog.findByName('local', 'shared')!;
  const dir = s.storage.registry.get('local').driver.hostPath!({ id, name: 'shared', size: 1, fields: {}, attachments: [] });
  await fs.writeFile(path.join(dir, 'myfile'), 'from node0\n');

  // node0's agent is alive: REX-Ray's preempt (force) is refused.
  expect((await node1.inspect(id, MASK.mountPreempt)).body.attachmentState).toBe(4);
  const alive = await node1.attach(id, true);
  expect(alive.status).toBe(409);
  expect(alive.body.message).toMatch(/not known to be gone/);

  // The operator takes node0 away; Mesos tells Polly, and Polly learns the agent is gone.
  const agent0 = s.parts.agents.byHost('node0')!;
  await markAgentGone(agent0.agentId);
  await waitFor(() => s.parts.agents.get(agent0.agentId)?.state === 'gone', 20000);

  const taken = await node1.attach(id, true);
  expect(taken.status).toBe(200);
  expect(taken.body.volume.attachments.map((a: { instanceID: { id: string } }) => a.instanceID.id)).toEqual(['node1']);
  expect(await fs.readFile(path.join(dir, 'myfile'), 'utf8')).toBe('from node0\n');
  const audit = s.events.since().events.filter((e) => e.type === 'claim.audit');
  expect(audit).toHaveLength(1);
  expect(audit[0]!.data).toMatchObject({
    action: 'force-release',
    claim: { volumeId: record.id, instanceId: 'node0', state: 'released', forced: true },
  });
  expect(String(audit[0]!.data.reason)).toMatch(
    new RegExp(
      `^preempted through the libStorage API by instance node1 \\(no auth\\): the holder is gone \\(agent node0 \\(${agent0.agentId}\\) is gone: `,
    ),
  );

  // node1 is done with it: detach and remove, as `rexray volume detach` and `rexray volume rm` send them.
  expect((await node1.detach(id)).status).toBe(205);
  expect((await node1.remove(id)).status).toBe(204);
  expect(s.storage.ledger.list({ live: true })).toEqual([]);
});
