/**
 * The admin API's bearer tokens, accepted by the libStorage API when it has no JWT config of its own
 * (see libstorage-auth.ts). A token keeps its scope here:
 *
 *   admin           a libStorage admin: sees every volume of every service, may preempt with `force`
 *   scheduler:NAME  acts as libStorage service NAME only: sees the volumes offered to NAME, attaches
 *                   and creates for NAME; other services are 403, all-services routes show NAME only
 *   read            sees every volume, changes nothing: GET and HEAD only (anything else is 403)
 *
 * REX-Ray sends the token as `Authorization: Bearer <token>` (its `libstorage.client.auth.token`).
 */
import type { ApiAuth } from '../auth/api-auth';
import { InstanceBinding } from './instance-binding';
import type { Caller, LibStorageAuth } from './libstorage-auth';
import { LibStorageError } from './libstorage-error';

export class ApiTokenAuth implements LibStorageAuth {
  readonly kind = 'api-tokens' as const;

  constructor(
    private readonly apiAuth: ApiAuth,
    private readonly instances = new InstanceBinding(),
  ) {}

  async authenticate(authorization: string | undefined): Promise<Caller> {
    const principal = this.apiAuth.authenticate(authorization);
    if (!principal) throw LibStorageError.invalidToken();
    switch (principal.scope) {
      case 'admin':
        return { subject: principal.name, admin: true };
      case 'read':
        return { subject: principal.name, admin: true, readOnly: true };
      case 'scheduler':
        return { subject: principal.name, admin: false, service: principal.scheduler! };
    }
  }

  authorize(caller: Caller, service: string): void {
    if (caller.service !== undefined && caller.service !== service) {
      throw new LibStorageError(403, `token "${caller.subject ?? ''}" acts as service ${caller.service} only`, {
        service,
        allowed: caller.service,
      });
    }
  }

  servicesFor(caller: Caller, services: readonly string[]): string[] {
    return caller.service === undefined ? [...services] : services.filter((s) => s === caller.service);
  }

  authorizeInstance(caller: Caller, service: string, instanceId: string): void {
    this.instances.authorize(caller, service, instanceId);
  }
}
