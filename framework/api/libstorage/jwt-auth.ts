/**
 * JWT bearer auth for the libStorage API (reference §1.7): a token signed with the configured secret
 * (HS256 by default), carrying `sub`, `iat`, `exp` and `nbf`. Per service, `deny` beats `allow`, and
 * a non-empty `allow` admits only its subjects; subjects compare case-insensitively. Subjects in
 * `admins` may preempt any holder with `force` and see every volume of a service.
 */
import fs from 'node:fs';
import { jwtVerify, type JWTPayload } from 'jose';
import { InstanceBinding } from './instance-binding';
import type { Caller, LibStorageAuth } from './libstorage-auth';
import { LibStorageError } from './libstorage-error';

export interface ServiceAuthRules {
  allow?: readonly string[];
  deny?: readonly string[];
}

export interface JwtAuthConfig {
  secret?: string;
  secretFile?: string;
  algorithm?: string;
  services?: Readonly<Record<string, ServiceAuthRules>>;
  admins?: readonly string[];
}

const ALGORITHMS = new Set(['HS256', 'HS384', 'HS512']);

export class JwtAuth implements LibStorageAuth {
  readonly kind = 'jwt' as const;
  private readonly key: Uint8Array;
  private readonly algorithm: string;
  private readonly rules = new Map<string, { allow: Set<string>; deny: Set<string> }>();
  private readonly admins: Set<string>;

  constructor(
    config: JwtAuthConfig,
    private readonly instances = new InstanceBinding(),
  ) {
    const secret = config.secretFile ? fs.readFileSync(config.secretFile, 'utf8').trim() : config.secret;
    if (!secret) throw new Error('libstorage.jwt needs a secret or a secretFile');
    this.key = new TextEncoder().encode(secret);
    this.algorithm = config.algorithm ?? 'HS256';
    if (!ALGORITHMS.has(this.algorithm)) {
      throw new Error(`libstorage.jwt.algorithm ${JSON.stringify(this.algorithm)} is not supported (HS256, HS384, HS512)`);
    }
    for (const [service, r] of Object.entries(config.services ?? {})) {
      this.rules.set(service, { allow: lowerSet(r.allow), deny: lowerSet(r.deny) });
    }
    this.admins = lowerSet(config.admins);
  }

  /** The caller behind an `Authorization` header; 401 unless it is a valid bearer token. */
  async authenticate(authorization: string | undefined): Promise<Caller> {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
    if (!m) throw LibStorageError.invalidToken();
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(m[1]!, this.key, {
        algorithms: [this.algorithm],
        requiredClaims: ['sub', 'iat', 'exp', 'nbf'],
      }));
    } catch {
      throw LibStorageError.invalidToken();
    }
    const subject = payload.sub!;
    return { subject, admin: this.admins.has(subject.toLowerCase()) };
  }

  /** 401 unless the caller may use `service`. */
  authorize(caller: Caller, service: string): void {
    const rules = this.rules.get(service);
    if (!rules) return;
    const sub = (caller.subject ?? '').toLowerCase();
    if (rules.deny.has(sub)) throw LibStorageError.invalidToken();
    if (rules.allow.size > 0 && !rules.allow.has(sub)) throw LibStorageError.invalidToken();
  }

  authorizeInstance(caller: Caller, service: string, instanceId: string): void {
    this.instances.authorize(caller, service, instanceId);
  }

  /** Every service; upstream refuses an all-services route whole if any one service denies the caller (no partial data). */
  servicesFor(caller: Caller, services: readonly string[]): string[] {
    for (const s of services) this.authorize(caller, s);
    return [...services];
  }
}

function lowerSet(values: readonly string[] | undefined): Set<string> {
  // An entry may be `subject:JWT` upstream; the subject part is what is compared.
  return new Set((values ?? []).map((v) => v.split(':', 1)[0]!.toLowerCase()));
}
