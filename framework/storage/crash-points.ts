/**
 * Test-only crash hooks at the intent points of mutating storage operations. With
 * `POLLY_CRASH_POINT=<kind>:<stage>:<n>` (e.g. `attach:after-driver:3`) the process kills itself with
 * SIGKILL at the n-th time that point is reached, so the crash test can stop Polly exactly between
 * "intent written", "driver called" and "outcome recorded". Unset (production), `crashPoint` is a
 * function that does nothing: the variable is read once, at load.
 *
 * Besides the storage core's points there are the snapshot book's (`snapshot`, `snapshot-remove`)
 * and the CSI entry points (`csi:received` before a mutating call reaches the core, `csi:replying`
 * after the core is done and before the reply is sent), which the CSI crash test arms.
 */
export type CrashKind = 'create' | 'remove' | 'attach' | 'detach' | 'expand' | 'snapshot' | 'snapshot-remove' | 'csi';
export type CrashStage = 'before-intent' | 'after-intent' | 'after-driver' | 'after-resolve' | 'received' | 'replying';

/** The storage core's kinds and stages (the storage crash test arms every pair). */
export const CRASH_KINDS: readonly CrashKind[] = ['create', 'remove', 'attach', 'detach', 'expand'];
export const CRASH_STAGES: readonly CrashStage[] = ['before-intent', 'after-intent', 'after-driver', 'after-resolve'];
/** Snapshot intents (stages as the core's) and the CSI entry points. */
export const SNAPSHOT_CRASH_KINDS: readonly CrashKind[] = ['snapshot', 'snapshot-remove'];
export const CSI_CRASH_STAGES: readonly CrashStage[] = ['received', 'replying'];

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
  const stages = kind === 'csi' ? CSI_CRASH_STAGES : CRASH_STAGES;
  if (![...CRASH_KINDS, ...SNAPSHOT_CRASH_KINDS, 'csi'].includes(kind as CrashKind) || !stages.includes(stage as CrashStage))
    return undefined;
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
