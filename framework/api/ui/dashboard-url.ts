/**
 * The dashboard's public URL, given to Mesos as the framework's `webui_url` so the Mesos UI's
 * framework list links to it. An explicit `mesos.webuiUrl` wins; otherwise `<api url>/ui`, with a
 * wildcard bind address (0.0.0.0, ::) replaced by the host name Polly announces — a browser
 * elsewhere cannot open `http://0.0.0.0:7978`.
 */
export function dashboardUrl(apiUrl: string, configured: string, hostname: string): string {
  if (configured) return configured;
  const url = new URL(apiUrl);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if ((host === '0.0.0.0' || host === '::') && hostname) url.hostname = hostname.includes(':') ? `[${hostname}]` : hostname;
  return `${url.origin}/ui`;
}
