/**
 * Test-only crash hooks at the intent points of mutating storage operations. With
 * `POLLY_CRASH_POINT=<kind>:<stage>:<n>` (e.g. `attach:after-driver:3`) the process kills itself with
 * SIGKILL at the n-th time that point is reached, so the crash test can stop Polly exactly between
 * "intent written", "driver called" and "outcome recorded". Unset (production), `crashPoint` is a
 * function that does nothing: the variable is read once, at load.
 */
export type CrashKind = 'create' | 'remove' | 'attach' | 'detach';
export type CrashStage = 'before-intent' | 'after-intent' | 'after-driver' | 'after-resolve';

export const CRASH_KINDS: readonly CrashKind[] = ['create', 'remove', 'attach', 'detach'];
export const CRASH_STAGES: readonly CrashStage[] = ['before-intent', 'after-intent', 'after-driver', 'after-resolve'];

interface Armed {
  kind: CrashKind;
  stage: CrashStage;
  remaining: number;
}

/** Parses the env value; undefined (and no hook) when it is absent or malformed. */
export function parseCrashPoint(value: string | undefined): Armed | undefined {
  if (!value) return undefined;
  const [kind, stage, n] = value.split(':');
  const count = Number(n ?? '1');
  if (!CRASH_KINDS.includes(kind as CrashKind) || !CRASH_STAGES.includes(stage as CrashStage)) return undefined;
  if (!Number.isInteger(count) || count < 1) return undefined;
  return { kind: kind as CrashKind, stage: stage as CrashStage, remaining: count };
}

const armed = parseCrashPoint(process.env.POLLY_CRASH_POINT);

const noop = (_kind: CrashKind, _stage: CrashStage): void => undefined;

function hit(kind: CrashKind, stage: CrashStage): void {
  if (!armed || kind !== armed.kind || stage !== armed.stage) return;
  armed.remaining -= 1;
  if (armed.remaining === 0) process.kill(process.pid, 'SIGKILL');
}

/** Marks an intent point; kills the process when `POLLY_CRASH_POINT` names its n-th hit. */
export const crashPoint: (kind: CrashKind, stage: CrashStage) => void = armed ? hit : noop;
