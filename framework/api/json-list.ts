/**
 * Sends `{"<key>": [items...]}` without building the whole body first. A list of 1,000,000 volumes
 * is ~400 MB of JSON: as one string (res.json) it needs that much memory at once plus the views it
 * was made from, and a little more exceeds V8's longest string, which fails the request. Written a
 * chunk at a time, waiting for the socket to drain between chunks, the memory held is one chunk's.
 * The items are the caller's snapshot (frozen records): the body is consistent as of the request.
 */
import type { Response } from 'express';

/** Items serialised per write. */
const CHUNK = 1000;

export async function sendJsonList<T>(res: Response, key: string, items: readonly T[], view: (item: T) => unknown): Promise<void> {
  if (items.length <= CHUNK) {
    res.json({ [key]: items.map(view) });
    return;
  }
  res.status(200).type('application/json');
  let head = `{${JSON.stringify(key)}:[`;
  for (let i = 0; i < items.length; i += CHUNK) {
    if (res.destroyed) return; // the client went away: nobody reads the rest
    const part = items
      .slice(i, i + CHUNK)
      .map((item) => JSON.stringify(view(item)))
      .join(',');
    const flowing = res.write(head + part);
    head = ',';
    if (!flowing) await drained(res);
  }
  res.end(']}');
}

/** Resolves when the response can take more, or is closed. */
function drained(res: Response): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}
