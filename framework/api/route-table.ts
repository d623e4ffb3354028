/**
 * Every route the API serves, as (method, path pattern) pairs, so a request that matches no route
 * is told 404 and one that matches a path under another method is told 405 with `Allow` built from
 * what is really registered. Routers written elsewhere are read from their express stack, so the
 * Allow list can never drift from the routes.
 */
import type { Router } from 'express';
import { match, MatchFunction } from 'path-to-regexp';

interface Entry {
  pattern: string;
  test: MatchFunction<Partial<Record<string, string | string[]>>>;
  methods: Set<string>;
}

interface StackLayer {
  route?: { path: string | string[]; methods: Record<string, boolean> };
  rawPath?: string | string[];
  handle?: { stack?: StackLayer[] };
}

function join(prefix: string, path: string): string {
  const joined = `${prefix.replace(/\/+$/, '')}/${path.replace(/^\/+/, '')}`;
  return joined.length > 1 ? joined.replace(/\/+$/, '') : joined;
}

export class RouteTable {
  private readonly entries = new Map<string, Entry>();

  add(method: string, pattern: string): void {
    let entry = this.entries.get(pattern);
    if (!entry) {
      entry = { pattern, test: match(pattern, { decode: false }), methods: new Set() };
      this.entries.set(pattern, entry);
    }
    const upper = method.toUpperCase();
    if (upper === '_ALL') {
      for (const m of ['GET', 'POST', 'PUT', 'PATCH', 'DELETE']) entry.methods.add(m);
    } else entry.methods.add(upper);
    if (upper === 'GET') entry.methods.add('HEAD');
  }

  /** Records every route of an express router mounted at `prefix` (nested routers included). */
  addRouter(prefix: string, router: Router): void {
    this.addStack(prefix, (router as unknown as { stack: StackLayer[] }).stack ?? []);
  }

  private addStack(prefix: string, stack: StackLayer[]): void {
    for (const layer of stack) {
      if (layer.route) {
        const paths = Array.isArray(layer.route.path) ? layer.route.path : [layer.route.path];
        for (const p of paths) {
          if (typeof p !== 'string') continue;
          for (const [method, on] of Object.entries(layer.route.methods)) if (on) this.add(method, join(prefix, p));
        }
      } else if (layer.handle?.stack) {
        const raw = Array.isArray(layer.rawPath) ? layer.rawPath[0] : layer.rawPath;
        this.addStack(typeof raw === 'string' ? join(prefix, raw) : prefix, layer.handle.stack);
      }
    }
  }

  /** The methods allowed on `path`; undefined when no route has this path at all. */
  allowed(path: string): string[] | undefined {
    const trimmed = path.length > 1 ? path.replace(/\/+$/, '') : path;
    let found: Set<string> | undefined;
    for (const entry of this.entries.values()) {
      if (!entry.test(trimmed)) continue;
      found ??= new Set();
      for (const m of entry.methods) found.add(m);
    }
    if (!found) return undefined;
    found.add('OPTIONS');
    return [...found].sort();
  }
}
