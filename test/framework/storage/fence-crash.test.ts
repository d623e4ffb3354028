/**
 * A SIGKILL in the middle of a mass fence: a child process fences the 1,000 claims of a dead agent
 * at once and is killed at an intent point of the fence (before or after a chunk's intent batch,
 * between two detaches, after a chunk's outcome batch); this process then opens the same LevelDB
 * and vfs directories, recovers (which finishes the detaches under open intents) and fences again,
 * as the scheduler does when Mesos tells it again that the agent is gone. Every start must end as a
 * fence that was never interrupted: no claim live on the dead agent, each of them released exactly
 * once and forced, no attachment left for its instance on the backend, the other agent's claims
 * untouched, no intent left open.
 */
import { ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { ClaimRecord } from '../../../framework/storage/claim-record';
import type { ClaimAuditEvent } from '../../../framework/storage/storage-events';
import { buildCrashStorage } from '../../support/crash-storage';

const REPO = path.resolve(__dirname, '../../..');
const REGISTER = path.join(REPO, 'test/support/register-ts.js');
const WORKER = path.join(REPO, 'test/support/fence-crash-worker.ts');
const DEAD = 1000;
const ALIVE = 10;

const children = new Set<ChildProcess>();
let base: string;
let prepared: string;

/** The end state that matters, comparable between runs. */
interface EndState {
  dead: Array<{ id: string; state: string; forced?: boolean; released: number }>;
  alive: Array<{ id: string; state: string }>;
  /** Volume → instances attached on the backend. */
  backend: Record<string, string[]>;
  /** Volume → claims its record lists as attached. */
  catalog: Record<string, string[]>;
  openIntents: number;
}

function runWorker(dir: string, crashPoint: string | undefined): Promise<{ killed: boolean; stdout: string }> {
  return new Promise((resolve, reject) => {
    const env = { ...process.env };
    if (crashPoint) env.POLLY_CRASH_POINT = crashPoint;
    else delete env.POLLY_CRASH_POINT;
    const child = spawn(process.execPath, ['-r', REGISTER, WORKER, dir], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'], env });
    children.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      children.delete(child);
      if (signal === 'SIGKILL') resolve({ killed: true, stdout });
      else if (code === 0) resolve({ killed: false, stdout });
      else reject(new Error(`fence worker (${crashPoint ?? 'no crash'}) exited ${code ?? signal}: ${stderr}`));
    });
  });
}

/** Recovers the dirs, fences the dead agent again, and reads the end state back. */
async function recoverAndFence(dir: string): Promise<{ end: EndState; audits: ClaimAuditEvent[] }> {
  const crash = buildCrashStorage(dir);
  const audits: ClaimAuditEvent[] = [];
  crash.storage.events.on('claim.audit', (e) => audits.push(e));
  try {
    await crash.start();
    await crash.storage.ledger.releaseForAgent('dead', 'fenced: agent dead is gone', 'polly');
    const { ledger, catalog, intents, registry } = crash.storage;
    const driver = registry.get('local').driver;
    const backend: Record<string, string[]> = {};
    for (const v of await driver.volumes()) backend[v.name] = v.attachments.map((a) => a.instanceId.id).sort();
    const catalogAttachments: Record<string, string[]> = {};
    for (const v of catalog.list({ service: 'local' })) catalogAttachments[v.name] = v.attachments.map((a) => a.claimId).sort();
    const summary = (c: ClaimRecord) => ({ id: c.id, state: c.state, forced: c.forced, released: c.history.filter((h) => h.state === 'released').length });
    const byId = (a: { id: string }, b: { id: string }) => a.id.localeCompare(b.id);
    return {
      end: {
        dead: ledger.list({ agentId: 'dead' }).map(summary).sort(byId),
        alive: ledger
          .list({ agentId: 'alive' })
          .map((c) => ({ id: c.id, state: c.state }))
          .sort(byId),
        backend,
        catalog: catalogAttachments,
        openIntents: (await intents.pending()).length,
      },
      audits,
    };
  } finally {
    await crash.storage.stop().catch(() => undefined);
    await crash.store.close().catch(() => undefined);
  }
}

beforeAll(async () => {
  base = await fs.mkdtemp(path.join(os.tmpdir(), 'polly-fence-crash-'));
  prepared = path.join(base, 'prepared');
  const crash = buildCrashStorage(prepared);
  try {
    await crash.start();
    const { catalog, ledger } = crash.storage;
    for (let i = 0; i < DEAD + ALIVE; i += 100) {
      const volumes = await Promise.all(
        Array.from({ length: Math.min(100, DEAD + ALIVE - i) }, (_, j) => catalog.create({ service: 'local', name: `v-${i + j}`, size: 1, schedulers: ['polly'] })),
      );
      await Promise.all(
        volumes.map((v, j) => {
          const agent = i + j < DEAD ? 'dead' : 'alive';
          return ledger.claim({ volumeId: v.id, scheduler: 'polly', agentId: agent, instanceId: `host-${agent}`, taskId: `task-${i + j}` });
        }),
      );
    }
  } finally {
    await crash.storage.stop();
    await crash.store.close();
  }
});

afterEach(() => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  children.clear();
});

afterAll(async () => {
  await fs.rm(base, { recursive: true, force: true });
});

/** The state every run must end in, whatever interrupted it. */
function expectFenced(end: EndState): void {
  expect(end.dead).toHaveLength(DEAD);
  for (const c of end.dead) expect(c).toEqual({ id: c.id, state: 'released', forced: true, released: 1 });
  expect(end.alive).toHaveLength(ALIVE);
  for (const c of end.alive) expect(c.state).toBe('attached');
  for (let i = 0; i < DEAD + ALIVE; i++) {
    expect(end.backend[`v-${i}`]).toEqual(i < DEAD ? [] : ['host-alive']);
    expect(end.catalog[`v-${i}`]).toHaveLength(i < DEAD ? 0 : 1);
  }
  expect(end.openIntents).toBe(0);
}

let reference: EndState;

test('uninterrupted, the fence releases every claim of the dead agent once', async () => {
  const dir = path.join(base, 'reference');
  await fs.cp(prepared, dir, { recursive: true });
  const run = await runWorker(dir, undefined);
  expect(run).toEqual({ killed: false, stdout: `DONE ${DEAD}\n` });
  const { end, audits } = await recoverAndFence(dir);
  expectFenced(end);
  // Nothing was left to do: no audit in the second process.
  expect(audits).toEqual([]);
  reference = end;
});

// Chunks run their intent batches together, then their detaches (shared bound), then their outcomes.
test.each(['detach:after-intent:3', 'detach:after-driver:450', 'detach:after-resolve:2'])(
  'killed at %s, recovery and a second fence end as the uninterrupted fence did',
  async (point) => {
    const dir = path.join(base, point.replace(/:/g, '-'));
    await fs.cp(prepared, dir, { recursive: true });
    const run = await runWorker(dir, point);
    expect(run.killed).toBe(true);
    const { end, audits } = await recoverAndFence(dir);
    expectFenced(end);
    // The same claims, states and attachments as the fence that was not interrupted.
    expect(end).toEqual(reference);
    // What the killed process did not get to audit is audited now, once each, naming who asked.
    expect(new Set(audits.map((a) => a.claim.id)).size).toBe(audits.length);
    for (const a of audits) expect(a).toMatchObject({ action: 'force-release', by: 'polly', reason: 'fenced: agent dead is gone' });
    expect(audits.length).toBeGreaterThan(0);
  },
);
