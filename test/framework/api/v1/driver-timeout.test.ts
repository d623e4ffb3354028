/**
 * A backend that never answers: the HTTP caller of an attach gets its 504 when the service's timeout
 * says — one attempt, no retry of the timeout, no second timeout for the follow-up inspect — and the
 * attach stays a "maybe" (its intent open) for recovery to settle.
 */
import type { StorageDriver } from '../../../../drivers/storage-driver';
import { ApiFixture, makeApiFixture } from '../api-fixture';

const TIMEOUT_MS = 300;

/** The real vfs driver, except that `stuck` operations never answer (and ignore their abort signal). */
function neverAnswers(inner: StorageDriver, stuck: ReadonlySet<string>, calls: string[]): StorageDriver {
  return new Proxy(inner, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown;
      if (typeof value !== 'function' || typeof prop !== 'string' || !stuck.has(prop)) {
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      }
      return () => {
        calls.push(prop);
        return new Promise(() => undefined);
      };
    },
  });
}

describe('a storage driver that never answers', () => {
  let f: ApiFixture;
  let calls: string[];
  beforeEach(async () => {
    calls = [];
    f = await makeApiFixture({
      storage: {
        services: [{ name: 'local', driver: 'vfs', timeoutMs: TIMEOUT_MS }],
        // Up to 4 attempts: the timeout, not the attempt count, must end the call.
        retry: { attempts: 4, baseDelayMs: 1, maxDelayMs: 5 },
        wrapInner: (inner) => neverAnswers(inner, new Set(['volumeAttach', 'volumeInspect', 'volumeDetach']), calls),
      },
    });
  });
  afterEach(async () => f.dispose());

  it('answers a claim with 504 after one attempt bounded by timeoutMs, leaving the attach for recovery', async () => {
    const created = await f.call('POST', '/v1/volumes', { body: { service: 'local', name: 'stuck', size: 1 } });
    expect(created.status).toBe(201);
    const volumeId = created.body.id as string;

    const claim = await f.call('POST', '/v1/claims', { body: { volumeId, agentId: 'agent-1', taskId: 'task-1' } });
    expect(claim.status).toBe(504);
    expect(claim.body.message).toBe(`timed out after ${TIMEOUT_MS} ms: volumeAttach ${volumeId.split('.')[1]}`);
    expect(claim.body.details).toMatchObject({ timedOut: true, timeoutMs: TIMEOUT_MS, volumeId, claimId: expect.any(String) });
    // One attach attempt (the timeout is not retried), and the follow-up inspect found no time left.
    expect(calls).toEqual(['volumeAttach']);

    const claimId = claim.body.details.claimId as string;
    expect(f.storage.storage.ledger.get(claimId).state).toBe('failed');
    const open = await f.storage.storage.intents.pending();
    expect(open.map((i) => [i.kind, i.claimId])).toEqual([['attach', claimId]]);
  });
});
