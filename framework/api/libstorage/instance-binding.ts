/**
 * Who may act as which instance (`libstorage.instances`): an attach or detach is made for the
 * instance named in `Libstorage-Instanceid`, and nothing in the header proves the caller is that
 * instance. Per service, the operator binds each token subject to the instance IDs it may name; a
 * bound service refuses (403) any other instance to a non-admin caller. A service without bindings
 * lets a caller name any instance (libStorage's own behaviour). Subjects and instance IDs compare
 * case-insensitively, as libStorage compares them.
 */
import type { Caller } from './libstorage-auth';
import { LibStorageError } from './libstorage-error';

export type InstanceBindingConfig = Readonly<Record<string, Readonly<Record<string, readonly string[]>>>>;

export class InstanceBinding {
  /** service → subject → instance IDs (all lower-cased). */
  private readonly bound = new Map<string, Map<string, Set<string>>>();

  constructor(config: InstanceBindingConfig = {}) {
    for (const [service, subjects] of Object.entries(config)) {
      const bySubject = new Map<string, Set<string>>();
      for (const [subject, instances] of Object.entries(subjects)) {
        bySubject.set(subject.toLowerCase(), new Set(instances.map((i) => i.toLowerCase())));
      }
      this.bound.set(service, bySubject);
    }
  }

  /** Whether any service has bindings (they need authenticated callers). */
  get isEmpty(): boolean {
    return this.bound.size === 0;
  }

  /** 403 unless `caller` may act as `instanceId` on `service`. */
  authorize(caller: Caller, service: string, instanceId: string): void {
    const bySubject = this.bound.get(service);
    if (!bySubject || caller.admin) return;
    const allowed = caller.subject === undefined ? undefined : bySubject.get(caller.subject.toLowerCase());
    if (allowed?.has(instanceId.toLowerCase())) return;
    throw new LibStorageError(
      403,
      `subject "${caller.subject ?? ''}" may not act as instance "${instanceId}" on service ${service} (libstorage.instances)`,
      { service, instanceId, subject: caller.subject ?? null, allowed: allowed ? [...allowed] : [] },
    );
  }
}
