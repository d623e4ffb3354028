/** Small HTTP helpers shared by the master's endpoints. */
import type { IncomingMessage, ServerResponse } from 'node:http';

export function readBody(req: IncomingMessage, limitBytes = 64 * 1024 * 1024): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limitBytes) {
        reject(new Error('Request body too large'));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** A plain-text answer, as libprocess sends its error responses. */
export function respond(res: ServerResponse, status: number, body = '', headers: Record<string, string> = {}): void {
  if (res.headersSent) return;
  res.statusCode = status;
  for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
  if (body !== '') res.setHeader('Content-Type', 'text/plain; charset=utf-8');
  res.setHeader('Content-Length', Buffer.byteLength(body));
  res.end(body);
}

/**
 * Accept negotiation as process::http::Request::acceptsMediaType: a missing header accepts
 * everything; otherwise a type is acceptable when a range (`*\/*`, `type/*` or the exact type)
 * matches it with q > 0.
 */
export function accepts(acceptHeader: string | undefined, mediaType: string): boolean {
  if (acceptHeader === undefined || acceptHeader.trim() === '') return true;
  const [type, subtype] = mediaType.split('/');
  for (const part of acceptHeader.split(',')) {
    const [range, ...params] = part.trim().split(';').map((s) => s.trim());
    let q = 1;
    for (const p of params) {
      const m = /^q=([0-9.]+)$/.exec(p);
      if (m) q = Number(m[1]);
    }
    if (q <= 0) continue;
    const [rt, rs] = range.toLowerCase().split('/');
    if ((rt === '*' && rs === '*') || (rt === type && (rs === '*' || rs === subtype))) return true;
  }
  return false;
}

export interface Credential {
  principal: string;
  secret: string;
}

/** HTTP basic authentication: the principal, or undefined when missing or wrong. */
export function authenticate(req: IncomingMessage, credentials: readonly Credential[]): string | undefined {
  const header = req.headers.authorization;
  if (!header) return undefined;
  const m = /^Basic\s+(.+)$/i.exec(header);
  if (!m) return undefined;
  const decoded = Buffer.from(m[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  const principal = decoded.slice(0, colon);
  const secret = decoded.slice(colon + 1);
  return credentials.some((c) => c.principal === principal && c.secret === secret) ? principal : undefined;
}
