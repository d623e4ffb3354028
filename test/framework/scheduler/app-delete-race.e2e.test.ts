/**
 * Deleting an app while its launch is under way (issue 15, point 1), over HTTP against Polly on the
 * local cluster: POST /v1/apps then DELETE after 0–150 ms, many times. The app goes without a second
 * DELETE, and once it is gone no task of it runs anywhere and none of its claims is live — also when
 * the delete lands between the claim and the ACCEPT, or right after the ACCEPT. The same holds for a
 * scale-down to 0 while instances launch, and for a delete that a Polly restart interrupts.
 */
import { mesos } from '../../../framework/mesos/generated/mesos';
import { silentLogger } from '../../../framework/shared/logger';
import { PollyService } from '../../../framework/polly-service';
import { waitFor } from '../../support/mesos-http';
import { LocalPollyFixture, startLocalPollyFixture } from '../../support/local-polly';
import type { MesosDriver } from '../../../framework/scheduler/app-launcher';
import { E2E, startE2E } from './scheduler-fixture';

jest.setTimeout(180000);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function volumeApp(id: string, instances = 1): Record<string, unknown> {
  return {
    id,
    cmd: 'while true; do date >> data/log; sleep 0.05; done',
    cpus: 0.1,
    mem: 32,
    instances,
    container: {
      type: 'MESOS',
      volumes: [{ containerPath: 'data', mode: 'RW', external: { name: `${id}-{{instance}}`, provider: 'polly', options: { service: 'local' } } }],
    },
  };
}

describe('deleting or scaling down an app while it launches', () => {
  let fixture: LocalPollyFixture;
  let service: PollyService | undefined;

  beforeEach(async () => {
    fixture = await startLocalPollyFixture('polly-delete-race-');
  });

  afterEach(async () => {
    await service?.stop().catch(() => undefined);
    service = undefined;
    await fixture.dispose();
  });

  async function call(method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown }> {
    const res = await fetch(`${service!.apiUrl}${path}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, json: text ? (JSON.parse(text) as unknown) : undefined };
  }

  /** Tasks of Polly's framework that any agent still runs (or is about to). */
  function aliveOnAgents(prefix: string): string[] {
    const frameworkId = service!.scheduler.frameworkId;
    const alive = new Set([mesos.v1.TaskState.TASK_STAGING, mesos.v1.TaskState.TASK_STARTING, mesos.v1.TaskState.TASK_RUNNING, mesos.v1.TaskState.TASK_KILLING]);
    return fixture.cluster
      .agents()
      .flatMap((a) => a.tasks())
      .filter((t) => t.frameworkId === frameworkId && alive.has(t.task.state) && t.task.task_id.value.startsWith(prefix))
      .map((t) => t.task.task_id.value);
  }

  it('never leaves a task or a claim behind a DELETE sent 0–150 ms after the POST', async () => {
    service = await PollyService.start({ config: fixture.config({ 'scheduler.pendingRefuseSeconds': 0.05 }), logger: silentLogger });
    await waitFor(() => service?.scheduler.isSubscribed, 10000);
    const rounds = 24;
    const ids: string[] = [];
    await Promise.all(
      Array.from({ length: rounds }, async (_, i) => {
        const id = `race-${i}`;
        ids.push(id);
        expect((await call('POST', '/v1/apps', volumeApp(id))).status).toBe(201);
        await sleep(Math.round((i * 150) / (rounds - 1)));
        const deleted = await call('DELETE', `/v1/apps/${id}`);
        expect([202, 204]).toContain(deleted.status);
        // Gone without a second DELETE.
        await waitFor(async () => (await call('GET', `/v1/apps/${id}`)).status === 404, 60000);
      }),
    );
    const { ledger } = service.storage;
    expect(ledger.list({ live: true })).toEqual([]);
    expect(service.parts.tracker.liveTasks()).toEqual([]);
    expect(aliveOnAgents('race-')).toEqual([]);
    // And nothing turns up later (a launch that crossed the delete would be running by now).
    await sleep(1000);
    expect(aliveOnAgents('race-')).toEqual([]);
    expect(ledger.list({ live: true })).toEqual([]);
    expect(ids).toHaveLength(rounds);
  });

  it('scales to 0 while instances launch: every task ends and every claim is released', async () => {
    service = await PollyService.start({ config: fixture.config({ 'scheduler.pendingRefuseSeconds': 0.05 }), logger: silentLogger });
    await waitFor(() => service?.scheduler.isSubscribed, 10000);
    for (let round = 0; round < 6; round++) {
      const id = `scaled-${round}`;
      expect((await call('POST', '/v1/apps', volumeApp(id, 3))).status).toBe(201);
      await sleep(round * 30);
      expect((await call('PATCH', `/v1/apps/${id}`, { instances: 0 })).status).toBe(200);
      await waitFor(() => aliveOnAgents(`${id}.`).length === 0 && service!.storage.ledger.list({ live: true }).length === 0, 30000);
      await sleep(300);
      expect(aliveOnAgents(`${id}.`)).toEqual([]);
      expect(service.storage.ledger.list({ live: true })).toEqual([]);
      expect((await call('DELETE', `/v1/apps/${id}`)).status).toBe(204);
    }
  });
});

describe('deleting an app across a Polly restart', () => {
  let e: E2E | undefined;

  afterEach(async () => {
    await e?.stop();
    e = undefined;
  });

  it('finishes a delete whose launch was interrupted by a restart, with no second DELETE', async () => {
    // The first Polly claims the volume and "crashes" before its ACCEPT reaches Mesos.
    let lost = 0;
    e = await startE2E({
      wrapDriver: (d: MesosDriver): MesosDriver => ({
        get frameworkId() {
          return d.frameworkId;
        },
        accept: async () => {
          lost++;
        },
        decline: (ids, f) => d.decline(ids, f),
        revive: () => d.revive(),
        suppress: () => d.suppress(),
        kill: () => Promise.resolve(),
        reconcile: () => Promise.resolve(),
      }),
    });
    const { storage } = e.storage;
    await e.polly.api.createApp(scratchVolumeApp('interrupted'));
    await waitFor(() => lost > 0, 20000);
    expect(e.polly.tracker.liveTasks().map((t) => t.state)).toEqual(['LAUNCHING']);
    await e.polly.api.deleteApp('interrupted');
    expect(e.polly.api.app('interrupted').state).toBe('deleting');
    expect(storage.ledger.list({ live: true })).toHaveLength(1);

    await e.restartPolly();
    await waitFor(() => e!.polly.api.apps().length === 0, 20000);
    expect(storage.ledger.list({ live: true })).toEqual([]);
  });

  it('kills a task whose ACCEPT went through just before the restart, then forgets the app', async () => {
    e = await startE2E();
    const { storage } = e.storage;
    await e.polly.api.createApp(scratchVolumeApp('accepted'));
    await waitFor(() => e!.polly.tracker.liveTasks()[0]?.state === 'TASK_RUNNING', 20000);
    // The delete is recorded, then Polly stops before Mesos answers the kill.
    await e.polly.tracker.saveApp({ ...e.polly.tracker.app('accepted')!, state: 'deleting', spec: { ...e.polly.tracker.app('accepted')!.spec, instances: 0 } });
    await e.restartPolly();
    await waitFor(() => e!.polly.api.apps().length === 0, 20000);
    expect(storage.ledger.list({ live: true })).toEqual([]);
    const frameworkId = e.polly.scheduler.frameworkId;
    const running = e.cluster
      .agents()
      .flatMap((a) => a.tasks())
      .filter((t) => t.frameworkId === frameworkId && t.task.state === mesos.v1.TaskState.TASK_RUNNING);
    expect(running).toEqual([]);
  });
});

function scratchVolumeApp(id: string): Record<string, unknown> {
  return {
    id,
    cmd: 'sleep 1000',
    cpus: 0.1,
    mem: 32,
    container: { type: 'MESOS', volumes: [{ containerPath: 'data', mode: 'RW', external: { name: id, provider: 'polly', options: { service: 'local' } } }] },
  };
}
