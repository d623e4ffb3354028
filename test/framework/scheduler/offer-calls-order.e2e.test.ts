/**
 * SUPPRESS and REVIVE reach the master in the order Polly decides them: work that arrives while
 * a SUPPRESS is on its way gets its REVIVE after that SUPPRESS, not before it (which would leave
 * the framework suppressed with an instance waiting, and no offer ever coming).
 */
import type { MesosDriver } from '../../../framework/scheduler/app-launcher';
import { waitFor } from '../../support/mesos-http';
import { E2E, startE2E } from './scheduler-fixture';

jest.setTimeout(60_000);

function plainApp(id: string): Record<string, unknown> {
  return { id, cmd: 'sleep 1000', cpus: 0.1, mem: 32, instances: 1 };
}

function running(e: E2E, appId: string): boolean {
  return e.polly.tracker.liveTasksOf(appId).some((t) => t.state === 'TASK_RUNNING');
}

describe('offer calls in order', () => {
  let e: E2E | undefined;

  afterEach(async () => {
    await e?.stop();
    e = undefined;
  });

  it('an app created while a SUPPRESS is on its way is launched', async () => {
    const calls: string[] = [];
    let armed = false;
    let release: (() => void) | undefined;
    let onHeld: () => void = () => undefined;
    const held = new Promise<void>((resolve) => (onHeld = resolve));
    // Once armed, the master answers the next SUPPRESS late (a slow network): it is still on its
    // way when the next work arrives.
    const slowSuppress = (d: MesosDriver): MesosDriver => ({
      get frameworkId() {
        return d.frameworkId;
      },
      accept: (...args) => d.accept(...args),
      decline: (...args) => d.decline(...args),
      revive: (...args) => (calls.push('revive'), d.revive(...args)),
      suppress: async (...args) => {
        calls.push('suppress');
        if (armed && release === undefined) {
          await new Promise<void>((resolve) => {
            release = resolve;
            onHeld();
          });
        }
        await d.suppress(...args);
        calls.push('suppress answered');
      },
      kill: (...args) => d.kill(...args),
      reconcile: (...args) => d.reconcile(...args),
    });
    e = await startE2E({ wrapDriver: slowSuppress });
    await e.polly.api.createApp(plainApp('first'));
    // 'first' waits until it is launched; then nothing is pending and Polly suppresses.
    armed = true;
    await held;
    calls.length = 0;
    const creating = e.polly.api.createApp(plainApp('second'));
    await waitFor(() => e!.polly.tracker.app('second') !== undefined, 10_000);
    // Polly has decided to REVIVE (the app is pending); only now does the SUPPRESS reach the master.
    await new Promise((resolve) => setTimeout(resolve, 100));
    release!();
    await creating;
    await waitFor(() => running(e!, 'first') && running(e!, 'second'), 20_000);
    // The REVIVE went once the SUPPRESS before it was answered (sent at once, it could overtake it).
    expect(calls.slice(0, 2)).toEqual(['suppress answered', 'revive']);
  });
});
