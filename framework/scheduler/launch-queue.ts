/**
 * The instances that wait for an offer, and why. An instance an app wants that has no current task
 * is pending; one whose last task failed waits out its relaunch backoff first (launch-backoff.ts)
 * and is pending only once the backoff is over (`promoteDue`). The matcher sees the pending list;
 * `reasonFor` says why each waiting instance waits.
 */
import type { AppVolumes } from './app-volumes';
import { wantedInstances, type AppRecord, type InstanceTracker } from './instance-tracker';
import { LaunchBackoff, type LaunchDelay } from './launch-backoff';
import type { PendingInstance } from './offer-matcher';

interface Delayed {
  appId: string;
  until: number;
}

export class LaunchQueue {
  readonly backoff = new LaunchBackoff();
  /** `<app>#<i>` → the instance waiting for an offer. */
  private readonly pending = new Map<string, PendingInstance>();
  private list: PendingInstance[] = [];
  private dirty = false;
  /** `<app>#<i>` → an instance waiting out its backoff. */
  private readonly delayed = new Map<string, Delayed>();
  /** Why instances the matcher tried could not be placed. */
  private readonly waiting = new Map<string, string>();

  constructor(
    private readonly tracker: InstanceTracker,
    private readonly volumes: AppVolumes,
  ) {}

  get size(): number {
    return this.pending.size;
  }

  /** Instances waiting out a backoff. */
  get delayedCount(): number {
    return this.delayed.size;
  }

  has(key: string): boolean {
    return this.pending.has(key) || this.delayed.has(key);
  }

  /** Recomputes which instances of one app wait, for an offer or a backoff. */
  refresh(appId: string, now = Date.now()): void {
    for (const key of [...this.pending.keys()]) if (key.startsWith(`${appId}#`)) this.pending.delete(key);
    for (const key of [...this.delayed.keys()]) if (key.startsWith(`${appId}#`)) this.delayed.delete(key);
    this.dirty = true;
    const app = this.tracker.app(appId);
    if (!app || app.state === 'deleting') return;
    const history = this.tracker.tasksOf(appId);
    for (const i of wantedInstances(app)) {
      if (this.tracker.currentTask(appId, i)) continue;
      const key = `${appId}#${i}`;
      const until = this.backoff.waitUntil(key, app.spec, now);
      if (until !== undefined) {
        this.delayed.set(key, { appId, until });
        continue;
      }
      this.pending.set(key, this.instanceOf(app, i, history));
    }
  }

  private instanceOf(app: AppRecord, i: number, history: ReturnType<InstanceTracker['tasksOf']>): PendingInstance {
    const appId = app.spec.id;
    let previous: (typeof history)[number] | undefined;
    for (const t of history) if (t.instance === i && (!previous || t.updatedAt > previous.updatedAt)) previous = t;
    const instance: PendingInstance = { key: `${appId}#${i}`, appId, instance: i, spec: app.spec, volumes: this.volumes.wanted(app.spec, i) };
    const reservation = app.reservations[String(i)];
    if (app.spec.residency !== undefined && reservation) instance.reservedAgentId = reservation.agentId;
    if (previous) instance.previousTaskId = previous.id;
    if (app.version !== undefined) instance.version = app.version;
    return instance;
  }

  /** Moves instances whose backoff is over into the pending list; returns the apps concerned. */
  promoteDue(now = Date.now()): string[] {
    const apps = new Set<string>();
    for (const d of this.delayed.values()) if (d.until <= now) apps.add(d.appId);
    for (const appId of apps) this.refresh(appId, now);
    return [...apps];
  }

  /** When the next backoff ends (epoch ms), if any instance waits one out. */
  nextDue(): number | undefined {
    let next: number | undefined;
    for (const d of this.delayed.values()) if (next === undefined || d.until < next) next = d.until;
    return next;
  }

  /** The pending instances, in a stable order (the matcher rotates through it). */
  instances(): PendingInstance[] {
    if (this.dirty) {
      this.list = [...this.pending.values()];
      this.dirty = false;
    }
    return this.list;
  }

  /** The instance got an offer: it is no longer pending, whatever happens next. */
  take(key: string): void {
    this.pending.delete(key);
    this.waiting.delete(key);
    this.dirty = true;
  }

  setWaiting(key: string, reason: string): void {
    this.waiting.set(key, reason);
  }

  /** Why instance `i` of the app waits (undefined: it does not wait in the queue). */
  reasonFor(appId: string, i: number, now = Date.now()): string | undefined {
    const key = `${appId}#${i}`;
    const delayed = this.delayed.get(key);
    if (delayed) {
      const app = this.tracker.app(appId);
      const delay = app ? this.backoff.current(key, app.spec, now) : undefined;
      return backoffReason(delay, delayed.until, now);
    }
    if (!this.pending.has(key)) return undefined;
    return this.waiting.get(key) ?? 'waiting: for an offer';
  }
}

function backoffReason(delay: LaunchDelay | undefined, until: number, now: number): string {
  const seconds = Math.max(0, (until - now) / 1000).toFixed(1);
  const failures = delay?.failures ?? 1;
  const cause = delay?.cause ? ` (last: ${delay.cause})` : '';
  return `waiting: backing off after ${failures} failed task${failures === 1 ? '' : 's'}${cause}; next launch in ${seconds} s`;
}
