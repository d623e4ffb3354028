/**
 * Where the leading Mesos master is. A detector hands out a master's base URL (for example
 * `http://10.0.0.1:5050/`) and learns from what the HTTP layer saw: a 307 names the leader,
 * a network failure means "try another one". A ZooKeeper detector implements the same interface.
 */

export interface MasterDetector {
  /** The master to talk to now (waits until one is known, for detectors that discover). */
  current(signal?: AbortSignal): Promise<URL>;
  /** A master redirected us to `leader`; use it from now on. */
  redirected(leader: URL): void;
  /** `master` could not be reached; prefer another one next time. */
  failed(master: URL): void;
  /** Called whenever the current master changes; returns an unsubscribe function. */
  onChange(listener: (url: URL) => void): () => void;
  close(): void;
}

export class MasterUrlError extends Error {
  override name = 'MasterUrlError';
}

/**
 * Parses and normalises a master base URL: http or https only, no query or fragment, the path
 * ends with `/` so API paths resolve beneath it.
 */
export function parseMasterUrl(text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new MasterUrlError(`Invalid Mesos master URL ${JSON.stringify(text)}: expected http://host:port or https://host:port`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new MasterUrlError(
      `Unsupported Mesos master URL ${JSON.stringify(text)}: only http:// and https:// are supported here` +
        (url.protocol === 'zk:' ? ' (zk:// needs the ZooKeeper detector)' : ''),
    );
  }
  if (!url.hostname) throw new MasterUrlError(`Mesos master URL ${JSON.stringify(text)} has no host`);
  url.search = '';
  url.hash = '';
  if (!url.pathname.endsWith('/')) url.pathname += '/';
  return url;
}

/** A fixed list of masters: starts with the first, moves to the next on failure, follows redirects. */
export class StaticMasterDetector implements MasterDetector {
  private readonly masters: URL[];
  private index = 0;
  /** A leader learned from a redirect; wins over the list until it fails. */
  private leader: URL | undefined;
  private readonly listeners = new Set<(url: URL) => void>();
  private closed = false;

  constructor(urls: string[]) {
    if (urls.length === 0) throw new MasterUrlError('StaticMasterDetector needs at least one master URL');
    this.masters = urls.map(parseMasterUrl);
  }

  async current(): Promise<URL> {
    if (this.closed) throw new Error('Master detector is closed');
    return new URL(this.currentHref());
  }

  redirected(leader: URL): void {
    const next = parseMasterUrl(leader.href);
    if (next.href === this.currentHref()) return;
    this.leader = next;
    this.notify();
  }

  failed(master: URL): void {
    const href = parseMasterUrl(master.href).href;
    if (href !== this.currentHref()) return; // already moved on
    if (this.leader) {
      this.leader = undefined;
    } else {
      this.index = (this.index + 1) % this.masters.length;
    }
    if (this.currentHref() !== href) this.notify();
  }

  onChange(listener: (url: URL) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  close(): void {
    this.closed = true;
    this.listeners.clear();
  }

  private currentHref(): string {
    return (this.leader ?? this.masters[this.index]).href;
  }

  private notify(): void {
    const url = this.currentHref();
    for (const listener of [...this.listeners]) listener(new URL(url));
  }
}
