/**
 * One HTTP request exactly as given (headers untouched, no agent, over TCP or a unix socket), its
 * answer read whole: what tests that play a particular client (REX-Ray, libStorage callers) send with.
 */
import http from 'node:http';

export interface RawTarget {
  host?: string;
  port?: number;
  socket?: string;
}

export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** The body parsed as JSON; undefined when empty or not JSON. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
  text: string;
}

export function rawRequest(
  target: RawTarget,
  method: string,
  path: string,
  headers: http.OutgoingHttpHeaders,
  payload?: string,
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        ...(target.socket ? { socketPath: target.socket } : { host: target.host, port: target.port }),
        method,
        path,
        headers,
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let body: unknown;
          try {
            body = text ? JSON.parse(text) : undefined;
          } catch {
            body = undefined;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body, text });
        });
      },
    );
    req.on('error', reject);
    if (payload !== undefined) req.write(payload);
    req.end();
  });
}
