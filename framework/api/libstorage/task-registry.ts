/**
 * libStorage tasks (reference §1.3, routes 21-22): a mutating request with `?async` answers 202
 * with its Task at once and runs on; `GET /tasks/{id}` reports the outcome. Finished tasks are
 * kept for `retainMs` (upstream drops them at once by default, which makes `?async` useless), and
 * at most `maxTasks` are kept. Each task remembers who started it and the services it touched, so
 * that the routes show a caller only the tasks it may read.
 */
import type { LsTask } from '../../../drivers/libstorage/libstorage-wire';

export interface TaskRegistryOptions {
  retainMs?: number;
  maxTasks?: number;
}

const epoch = (): number => Math.floor(Date.now() / 1000);

/** Who started a task and the libStorage services its work reads or changes. */
export interface TaskOwner {
  /** The caller's subject; undefined when auth is off. */
  user?: string;
  services: readonly string[];
}

/** A task as the registry keeps it. */
export interface TaskEntry {
  task: LsTask;
  services: readonly string[];
}

type Kept = LsTask & { finishedAt?: number; services: readonly string[] };

export class TaskRegistry {
  private readonly tasks = new Map<number, Kept>();
  private nextId = 1;
  private readonly retainMs: number;
  private readonly maxTasks: number;

  constructor(options: TaskRegistryOptions = {}) {
    this.retainMs = options.retainMs ?? 10 * 60_000;
    this.maxTasks = options.maxTasks ?? 1000;
  }

  /** Starts `work` as a task and returns the task as it is now (running). */
  run(owner: TaskOwner, work: () => Promise<unknown>, describeError: (err: unknown) => unknown): LsTask {
    this.prune();
    const now = epoch();
    const task: Kept = { id: this.nextId++, queueTime: now, startTime: now, state: 'running', services: [...owner.services] };
    if (owner.user !== undefined) task.user = owner.user;
    this.tasks.set(task.id, task);
    const snapshot = this.view(task);
    work().then(
      (result) => {
        task.state = 'success';
        if (result !== undefined) task.result = result;
        task.completeTime = epoch();
        task.finishedAt = Date.now();
      },
      (err: unknown) => {
        task.state = 'error';
        task.error = describeError(err);
        task.completeTime = epoch();
        task.finishedAt = Date.now();
      },
    );
    return snapshot;
  }

  get(id: number): TaskEntry | undefined {
    this.prune();
    const task = this.tasks.get(id);
    return task && { task: this.view(task), services: task.services };
  }

  list(): TaskEntry[] {
    this.prune();
    return [...this.tasks.values()].map((t) => ({ task: this.view(t), services: t.services }));
  }

  private view(task: Kept): LsTask {
    const { finishedAt: _finishedAt, services: _services, ...rest } = task;
    return { ...rest };
  }

  private prune(): void {
    const cutoff = Date.now() - this.retainMs;
    for (const [id, t] of this.tasks) {
      if (t.finishedAt !== undefined && t.finishedAt < cutoff) this.tasks.delete(id);
    }
    // Oldest first (Map keeps insertion order); running tasks are never dropped.
    for (const [id, t] of this.tasks) {
      if (this.tasks.size <= this.maxTasks) break;
      if (t.finishedAt !== undefined) this.tasks.delete(id);
    }
  }
}
