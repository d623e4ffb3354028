/**
 * The instances that wait for an offer, and why. An instance an app wants that has no current task
 * and no launch in flight is pending; one whose last task failed waits out its relaunch backoff
 * first (launch-backoff.ts) and is pending only once the backoff is over (`promoteDue`). The matcher
 * sees the pending list; `reasonFor` says why each waiting instance waits.
 *
 * One task's end re-examines its instance only (`refreshInstance`), so a thousand instances of an
 * app ending at once (their agent is gone) cost a thousand small steps, not a thousand passes over
 * the app.
 */
import type { AppVolumes } from './app-volumes';
import { wantedInstances, wantsInstance, type AppRecord, type InstanceTracker } from './instance-tracker';
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
  /** appId → its keys in `pending` or `delayed`. */
  private readonly keysOfApp = new Map<string, Set<string>>();

  constructor(
    private readonly tracker: InstanceTracker,
    private readonly volumes: AppVolumes,
    /** Whether a launch of the instance is in flight (it has a task, or is about to). */
    private readonly launching: (appId: string, instance: number) => boolean = () => false,
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
    for (const key of this.keysOfApp.get(appId) ?? []) this.drop(key);
    this.keysOfApp.delete(appId);
    const app = this.tracker.app(appId);
    if (!app || app.state === 'deleting') return;
    for (const i of wantedInstances(app)) this.examine(app, i, now);
  }

  /** Recomputes whether one instance waits (its task ended, or its launch did not happen). */
  refreshInstance(appId: string, instance: number, now = Date.now()): void {
    const key = `${appId}#${instance}`;
    this.drop(key);
    this.keysOfApp.get(appId)?.delete(key);
    const app = this.tracker.app(appId);
    if (app && wantsInstance(app, instance)) this.examine(app, instance, now);
  }

  private drop(key: string): void {
    if (this.pending.delete(key)) this.dirty = true;
    this.delayed.delete(key);
  }

  /** Files the instance as pending or delayed when it has no task and no launch in flight. */
  private examine(app: AppRecord, i: number, now: number): void {
    const appId = app.spec.id;
    if (this.tracker.currentTask(appId, i) || this.launching(appId, i)) return;
    const key = `${appId}#${i}`;
    let keys = this.keysOfApp.get(appId);
    if (!keys) this.keysOfApp.set(appId, (keys = new Set()));
    keys.add(key);
    const until = this.backoff.waitUntil(key, app.spec, now);
    if (until !== undefined) {
      this.delayed.set(key, { appId, until });
      return;
    }
    this.pending.set(key, this.instanceOf(app, i));
    this.dirty = true;
  }

  private instanceOf(app: AppRecord, i: number): PendingInstance {
    const appId = app.spec.id;
    const previous = this.tracker.lastTaskOf(appId, i);
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
    const due: Array<[string, number]> = [];
    for (const [key, d] of this.delayed) {
      if (d.until > now) continue;
      apps.add(d.appId);
      due.push([d.appId, Number(key.slice(key.lastIndexOf('#') + 1))]);
    }
    for (const [appId, i] of due) this.refreshInstance(appId, i, now);
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
    this.keysOfApp.get(key.slice(0, key.lastIndexOf('#')))?.delete(key);
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
