/**
 * The persistent record of apps and their tasks: `apps/<id>` and `tasks/<taskId>` in the store,
 * mirrored in memory with the indexes the launcher needs (the current task of each instance, the
 * tasks of each app and of each instance, the live tasks of each agent), so that nothing on the
 * path of one task's change looks at every task. A task record is written BEFORE its ACCEPT is sent (state
 * LAUNCHING): the launch intent a restarted Polly resolves by reconciliation.
 *
 * Writes of one task are serialised, and `updateTask` changes the latest record (not a copy a
 * caller read before an await), so a kill request recorded while a launch saves its claims is
 * never overwritten by the launch's next save.
 */
import { appKey, PREFIXES, taskKey } from '../state/keys';
import type { Store } from '../state/store';
import type { AppSpec } from './app-spec';

export interface AppReservation {
  agentId: string;
  hostname: string;
}

export interface AppRecord {
  spec: AppSpec;
  /** `deleting`: tasks are being killed, claims released and reservations undone; then the record goes. */
  state: 'active' | 'deleting';
  /** Residency: instance → the agent its reservation is on. */
  reservations: Record<string, AppReservation>;
  /**
   * The instance numbers wanted, when they are not 0 … instances-1 (a scale-down by killSelection
   * kept higher numbers). Numbers are stable: per-instance volume names are rendered from them.
   */
  slots?: number[];
  /** What Polly accepted without honouring, when the definition was accepted. */
  warnings?: string[];
  /** The definition's version (ISO time it was accepted); a task launched from an older one is replaced on update. */
  version?: string;
  createdAt: string;
  updatedAt: string;
}

export interface TaskVolumeRecord {
  name: string;
  service: string;
  containerPath: string;
  mode: 'RW' | 'RO';
  volumeId?: string;
  claimId?: string;
}

/** Mesos task states by name, plus LAUNCHING (intent recorded, ACCEPT maybe sent). */
export type TaskStateName = 'LAUNCHING' | string;

export interface TaskRecord {
  id: string;
  appId: string;
  instance: number;
  state: TaskStateName;
  agentId: string;
  hostname: string;
  zone?: string;
  volumes: TaskVolumeRecord[];
  message?: string;
  /** Mesos' word on the task's health check (TaskStatus.healthy), when the task has one. */
  healthy?: boolean;
  /** When Mesos first reported it TASK_RUNNING. */
  startedAt?: string;
  /** The app definition's version it was launched from. */
  version?: string;
  /** The host ports it got (PORT0..n that have one). */
  ports?: number[];
  /** Terminal in Mesos' eyes, claims released: history only. */
  terminal: boolean;
  /** A kill was asked for (restart, scale down, kill, delete): do not relaunch from this task's end. */
  killRequested?: boolean;
  /**
   * Replaced: the instance has (or is getting) a newer task, so this one is not its current task any
   * more; it is killed once the new one is healthy (rolling updates, unreachable tasks given up).
   */
  retiring?: boolean;
  createdAt: string;
  updatedAt: string;
}

const HISTORY_PER_APP = 10;

interface LiveCounts {
  total: number;
  retiring: number;
  /** Version ('' for none) → live tasks launched from it. */
  byVersion: Map<string, number>;
}

/** The instance numbers an app wants running. */
export function wantedInstances(app: AppRecord): number[] {
  if (app.state === 'deleting') return [];
  if (app.slots && app.slots.length === app.spec.instances) return app.slots;
  return Array.from({ length: app.spec.instances }, (_, i) => i);
}

/** Whether the app wants instance `instance` running. */
export function wantsInstance(app: AppRecord, instance: number): boolean {
  if (app.state === 'deleting') return false;
  if (app.slots && app.slots.length === app.spec.instances) return app.slots.includes(instance);
  return instance >= 0 && instance < app.spec.instances;
}

export class InstanceTracker {
  private readonly apps = new Map<string, AppRecord>();
  private readonly tasks = new Map<string, TaskRecord>();
  /** appId → instance → live (non-terminal) task ID. */
  private readonly current = new Map<string, Map<number, string>>();
  private readonly byApp = new Map<string, Set<string>>();
  /** appId → instance → every task of the instance still on record. */
  private readonly byInstance = new Map<string, Map<number, Set<string>>>();
  /** agentId → its live (non-terminal) task IDs. */
  private readonly liveByAgent = new Map<string, Set<string>>();
  /** appId → its terminal task IDs (the history kept). */
  private readonly doneByApp = new Map<string, Set<string>>();
  /** appId → counts of its live tasks: all, retiring, and per definition version (what a rollout asks). */
  private readonly liveCounts = new Map<string, LiveCounts>();
  /** taskId → the tail of its write chain. */
  private readonly writes = new Map<string, Promise<void>>();

  constructor(private readonly store: Store) {}

  async load(): Promise<void> {
    this.apps.clear();
    this.tasks.clear();
    this.current.clear();
    this.byApp.clear();
    this.byInstance.clear();
    this.liveByAgent.clear();
    this.doneByApp.clear();
    this.liveCounts.clear();
    for await (const [, app] of this.store.scan<AppRecord>(PREFIXES.apps)) this.apps.set(app.spec.id, app);
    for await (const [, task] of this.store.scan<TaskRecord>(PREFIXES.tasks)) this.index(task);
  }

  // ---- apps

  app(id: string): AppRecord | undefined {
    return this.apps.get(id);
  }

  appList(): AppRecord[] {
    return [...this.apps.values()].sort((a, b) => a.spec.id.localeCompare(b.spec.id));
  }

  async saveApp(app: AppRecord): Promise<void> {
    await this.store.put(appKey(app.spec.id), app);
    this.apps.set(app.spec.id, app);
  }

  /** Creates the app; false when one with this ID exists. */
  async createApp(app: AppRecord): Promise<boolean> {
    if (this.apps.has(app.spec.id)) return false;
    await this.store.putIfVersion(appKey(app.spec.id), app, 0);
    this.apps.set(app.spec.id, app);
    return true;
  }

  async removeApp(id: string): Promise<void> {
    const ops = [{ type: 'del' as const, key: appKey(id) }];
    for (const taskId of this.byApp.get(id) ?? []) ops.push({ type: 'del', key: taskKey(taskId) });
    await this.store.batch(ops);
    for (const taskId of this.byApp.get(id) ?? []) this.forget(taskId);
    this.byApp.delete(id);
    this.byInstance.delete(id);
    this.doneByApp.delete(id);
    this.liveCounts.delete(id);
    this.current.delete(id);
    this.apps.delete(id);
  }

  // ---- tasks

  task(id: string): TaskRecord | undefined {
    return this.tasks.get(id);
  }

  /** The live task of an instance, if any. */
  currentTask(appId: string, instance: number): TaskRecord | undefined {
    const id = this.current.get(appId)?.get(instance);
    return id === undefined ? undefined : this.tasks.get(id);
  }

  /** The instance's most recently written task (live or not), if any is on record. */
  lastTaskOf(appId: string, instance: number): TaskRecord | undefined {
    let last: TaskRecord | undefined;
    for (const id of this.byInstance.get(appId)?.get(instance) ?? []) {
      const t = this.tasks.get(id);
      if (t && (!last || t.updatedAt > last.updatedAt)) last = t;
    }
    return last;
  }

  /** The tasks Mesos may still run on an agent (for fencing a gone agent). */
  liveTasksOn(agentId: string): TaskRecord[] {
    const out: TaskRecord[] = [];
    for (const id of this.liveByAgent.get(agentId) ?? []) {
      const t = this.tasks.get(id);
      if (t) out.push(t);
    }
    return out;
  }

  /**
   * Whether the app has live tasks a rollout still has to deal with: retiring ones, or ones launched
   * from another version than `version` (the app's). Counted as tasks change: no pass over the app.
   */
  hasRolloutWork(appId: string, version: string | undefined): boolean {
    const counts = this.liveCounts.get(appId);
    if (!counts) return false;
    if (counts.retiring > 0) return true;
    return version !== undefined && counts.total !== (counts.byVersion.get(version) ?? 0);
  }

  liveTasksOf(appId: string): TaskRecord[] {
    return [...(this.current.get(appId)?.values() ?? [])].map((id) => this.tasks.get(id)!).filter(Boolean);
  }

  tasksOf(appId: string): TaskRecord[] {
    return [...(this.byApp.get(appId) ?? [])].map((id) => this.tasks.get(id)!).filter(Boolean);
  }

  allTasks(): TaskRecord[] {
    return [...this.tasks.values()];
  }

  liveTasks(): TaskRecord[] {
    return [...this.tasks.values()].filter((t) => !t.terminal);
  }

  /** Every task of the app Mesos may still run: the current ones and those being replaced. */
  allLiveTasksOf(appId: string): TaskRecord[] {
    return this.tasksOf(appId).filter((t) => !t.terminal);
  }

  async saveTask(task: TaskRecord): Promise<void> {
    await this.updateTask(task.id, () => task);
  }

  /**
   * Writes `change(latest)` once every earlier write of the task is done; `latest` is the record as
   * those writes left it (undefined for a new task). Returns the record written, or undefined when
   * `change` returned undefined (nothing written).
   */
  async updateTask(taskId: string, change: (latest: TaskRecord | undefined) => TaskRecord | undefined): Promise<TaskRecord | undefined> {
    let written: TaskRecord | undefined;
    const previous = this.writes.get(taskId) ?? Promise.resolve();
    const run = previous.then(async () => {
      const next = change(this.tasks.get(taskId));
      if (!next) return;
      await this.store.put(taskKey(next.id), next);
      this.index(next);
      written = next;
      if (next.terminal) await this.trimHistory(next.appId);
    });
    const tail = run.catch(() => undefined);
    this.writes.set(taskId, tail);
    try {
      await run;
    } finally {
      if (this.writes.get(taskId) === tail) this.writes.delete(taskId);
    }
    return written;
  }

  private async trimHistory(appId: string): Promise<void> {
    const ids = this.doneByApp.get(appId);
    if (!ids || ids.size <= HISTORY_PER_APP) return;
    const done = [...ids]
      .map((id) => this.tasks.get(id)!)
      .sort((a, b) => a.updatedAt.localeCompare(b.updatedAt));
    const excess = done.slice(0, Math.max(0, done.length - HISTORY_PER_APP));
    if (excess.length === 0) return;
    await this.store.batch(excess.map((t) => ({ type: 'del' as const, key: taskKey(t.id) })));
    for (const t of excess) {
      this.forget(t.id);
      this.byApp.get(appId)?.delete(t.id);
    }
  }

  /** Drops a task from the memory indexes (its record is deleted). */
  private forget(taskId: string): void {
    const task = this.tasks.get(taskId);
    if (!task) return;
    this.tasks.delete(taskId);
    const ofInstance = this.byInstance.get(task.appId)?.get(task.instance);
    ofInstance?.delete(taskId);
    if (ofInstance?.size === 0) this.byInstance.get(task.appId)!.delete(task.instance);
    this.doneByApp.get(task.appId)?.delete(taskId);
    this.dropLive(task);
    this.count(task, -1);
  }

  /** Adds (+1) or takes away (-1) a task's part in its app's live counts. */
  private count(task: TaskRecord, delta: 1 | -1): void {
    if (task.terminal) return;
    let counts = this.liveCounts.get(task.appId);
    if (!counts) this.liveCounts.set(task.appId, (counts = { total: 0, retiring: 0, byVersion: new Map() }));
    counts.total += delta;
    if (task.retiring) counts.retiring += delta;
    const version = task.version ?? '';
    const left = (counts.byVersion.get(version) ?? 0) + delta;
    if (left > 0) counts.byVersion.set(version, left);
    else counts.byVersion.delete(version);
    if (counts.total === 0) this.liveCounts.delete(task.appId);
  }

  private dropLive(task: TaskRecord): void {
    const onAgent = this.liveByAgent.get(task.agentId);
    onAgent?.delete(task.id);
    if (onAgent?.size === 0) this.liveByAgent.delete(task.agentId);
  }

  private index(task: TaskRecord): void {
    const before = this.tasks.get(task.id);
    if (before) this.count(before, -1);
    this.count(task, 1);
    if (before && before.agentId !== task.agentId) this.dropLive(before);
    this.tasks.set(task.id, task);
    let set = this.byApp.get(task.appId);
    if (!set) this.byApp.set(task.appId, (set = new Set()));
    set.add(task.id);
    let instances = this.byInstance.get(task.appId);
    if (!instances) this.byInstance.set(task.appId, (instances = new Map()));
    let ofInstance = instances.get(task.instance);
    if (!ofInstance) instances.set(task.instance, (ofInstance = new Set()));
    ofInstance.add(task.id);
    if (task.terminal) {
      this.dropLive(task);
      let done = this.doneByApp.get(task.appId);
      if (!done) this.doneByApp.set(task.appId, (done = new Set()));
      done.add(task.id);
    } else {
      let onAgent = this.liveByAgent.get(task.agentId);
      if (!onAgent) this.liveByAgent.set(task.agentId, (onAgent = new Set()));
      onAgent.add(task.id);
    }
    let current = this.current.get(task.appId);
    if (!current) this.current.set(task.appId, (current = new Map()));
    if (!task.terminal && !task.retiring) current.set(task.instance, task.id);
    else if (current.get(task.instance) === task.id) current.delete(task.instance);
  }
}
