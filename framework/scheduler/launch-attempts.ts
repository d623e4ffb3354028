/**
 * Launches in flight in this process: from the moment the matcher gives an instance an offer
 * (synchronously, before any await) until its ACCEPT has been answered or the launch was dropped.
 * Deleting, scaling down or replacing an app cancels its attempts: a cancelled attempt stops at its
 * next step (before a claim, before the ACCEPT), and one cancelled while its ACCEPT was on the way
 * is killed as soon as the ACCEPT returns. An app is forgotten only when it has no attempt left.
 */

export interface LaunchAttempt {
  taskId: string;
  appId: string;
  instance: number;
  /** Why the launch must not go ahead (set by cancel()). */
  cancelled?: string;
  /** The ACCEPT carrying the task has been sent (a cancel now means a KILL). */
  accepted: boolean;
}

export class LaunchAttempts {
  private readonly byTask = new Map<string, LaunchAttempt>();
  /** `<app>#<instance>` → how many of its launches are in flight (the launch queue asks per instance). */
  private readonly byInstance = new Map<string, number>();

  begin(taskId: string, appId: string, instance: number): LaunchAttempt {
    const attempt: LaunchAttempt = { taskId, appId, instance, accepted: false };
    this.byTask.set(taskId, attempt);
    const key = `${appId}#${instance}`;
    this.byInstance.set(key, (this.byInstance.get(key) ?? 0) + 1);
    return attempt;
  }

  end(taskId: string): void {
    const attempt = this.byTask.get(taskId);
    if (!attempt) return;
    this.byTask.delete(taskId);
    const key = `${attempt.appId}#${attempt.instance}`;
    const left = (this.byInstance.get(key) ?? 1) - 1;
    if (left > 0) this.byInstance.set(key, left);
    else this.byInstance.delete(key);
  }

  /** Whether a launch of the instance is in flight. */
  launching(appId: string, instance: number): boolean {
    return this.byInstance.has(`${appId}#${instance}`);
  }

  has(taskId: string): boolean {
    return this.byTask.has(taskId);
  }

  get(taskId: string): LaunchAttempt | undefined {
    return this.byTask.get(taskId);
  }

  ofApp(appId: string): LaunchAttempt[] {
    return [...this.byTask.values()].filter((a) => a.appId === appId);
  }

  /** Cancels the app's attempts (those `which` selects); returns them. */
  cancel(appId: string, reason: string, which: (attempt: LaunchAttempt) => boolean = () => true): LaunchAttempt[] {
    const out: LaunchAttempt[] = [];
    for (const attempt of this.byTask.values()) {
      if (attempt.appId !== appId || attempt.cancelled !== undefined || !which(attempt)) continue;
      attempt.cancelled = reason;
      out.push(attempt);
    }
    return out;
  }
}
