import { createApiAuth, isLoopbackHost } from '../../../../framework/api/auth/api-auth';
import { authorize } from '../../../../framework/api/auth/access-policy';
import { TokenAuthenticator } from '../../../../framework/api/auth/token-authenticator';
import { ConfigError } from '../../../../framework/config/config-loader';

const tokens = [
  { name: 'ops', token: 'a'.repeat(32), scope: 'admin' },
  { name: 'mar', token: 'b'.repeat(32), scope: 'scheduler:marathon' },
];

describe('API auth', () => {
  it('knows loopback addresses', () => {
    for (const h of ['127.0.0.1', '127.1.2.3', 'localhost', '::1', '[::1]']) expect(isLoopbackHost(h)).toBe(true);
    for (const h of ['0.0.0.0', '10.0.0.1', '::', 'polly.example.com']) expect(isLoopbackHost(h)).toBe(false);
  });

  it('auto: off on loopback without tokens, on elsewhere; off off-loopback is refused', () => {
    expect(createApiAuth({ host: '127.0.0.1', auth: 'auto', tokens: [] }).enabled).toBe(false);
    expect(createApiAuth({ host: '0.0.0.0', auth: 'auto', tokens }).enabled).toBe(true);
    expect(() => createApiAuth({ host: '0.0.0.0', auth: 'off', tokens })).toThrow(ConfigError);
    expect(() => createApiAuth({ host: '0.0.0.0', auth: 'auto', tokens: [] })).toThrow(/needs authentication/);
    expect(() => createApiAuth({ host: '127.0.0.1', auth: 'on', tokens: [] })).toThrow(ConfigError);
    expect(createApiAuth({ host: '127.0.0.1', auth: 'off', tokens }).authenticate(undefined)).toMatchObject({ scope: 'admin' });
  });

  it('resolves bearer tokens to principals; rejects unknown, malformed and duplicate tokens', () => {
    const auth = new TokenAuthenticator(tokens);
    expect(auth.authenticate(`Bearer ${'a'.repeat(32)}`)).toEqual({ name: 'ops', scope: 'admin' });
    expect(auth.authenticate(`bearer ${'b'.repeat(32)}`)).toEqual({ name: 'mar', scope: 'scheduler', scheduler: 'marathon' });
    expect(auth.authenticate(`Bearer ${'a'.repeat(31)}`)).toBeUndefined();
    expect(auth.authenticate(`Basic ${'a'.repeat(32)}`)).toBeUndefined();
    expect(auth.authenticate(undefined)).toBeUndefined();
    expect(() => new TokenAuthenticator([...tokens, { name: 'x', token: 'a'.repeat(32), scope: 'read' }])).toThrow(/same as another/);
    expect(() => new TokenAuthenticator([{ name: 'x', token: 'c'.repeat(32), scope: 'root' }])).toThrow(ConfigError);
  });

  it('scopes: read is GET-only; schedulers reach only their routes and their own offers', () => {
    const read = { name: 'r', scope: 'read' as const };
    const sched = { name: 's', scope: 'scheduler' as const, scheduler: 'marathon' };
    expect(authorize(read, 'GET', '/v1/volumes', {}).allowed).toBe(true);
    expect(authorize(read, 'POST', '/v1/volumes', {}).allowed).toBe(false);
    expect(authorize(sched, 'POST', '/v1/claims', {}).allowed).toBe(true);
    expect(authorize(sched, 'POST', '/v1/claims/abc/release', {}).allowed).toBe(true);
    expect(authorize(sched, 'POST', '/v1/volumes', {}).allowed).toBe(false);
    expect(authorize(sched, 'GET', '/v1/offers', { scheduler: 'marathon' }).allowed).toBe(true);
    expect(authorize(sched, 'GET', '/v1/offers', { scheduler: 'other' }).allowed).toBe(false);
    expect(authorize(sched, 'GET', '/v1/apps', {}).allowed).toBe(false);
    expect(authorize(sched, 'GET', '/metrics', {}).allowed).toBe(false);
  });
});
