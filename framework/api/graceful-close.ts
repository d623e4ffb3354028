/**
 * Closes an HTTP(S) server gracefully: stop accepting, drop idle keep-alive connections, let
 * in-flight requests finish within `timeoutMs`, then cut whatever is left. Shared by the admin API
 * and the libStorage API so both shut down the same way on SIGTERM.
 */
import type http from 'node:http';

/** Resolves 'closed' when everything finished in time, 'forced' when connections had to be cut. */
export async function closeGracefully(server: http.Server, timeoutMs: number): Promise<'closed' | 'forced'> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), timeoutMs);
    timer.unref();
  });
  const outcome = await Promise.race([closed.then(() => 'closed' as const), deadline]);
  clearTimeout(timer);
  if (outcome === 'closed') return 'closed';
  server.closeAllConnections();
  await closed;
  return 'forced';
}
