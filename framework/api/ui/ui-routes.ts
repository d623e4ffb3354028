/**
 * `/ui`: the operator dashboard — static HTML, CSS and browser ES modules, no build step. The
 * router is mounted before authentication: the page and its assets are public (they hold no data),
 * and the page asks the operator for a token when the API answers 401.
 *
 * Only the files found in the assets folder at start are served (looked up by exact name, so no
 * request path ever reaches the filesystem); each response carries a strict Content-Security-Policy
 * (everything from this origin only, nothing inline), `nosniff`, no framing and no referrer.
 * Filenames are not content-hashed, so browsers revalidate every time (`no-cache` + ETag → 304).
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Request, Response, Router } from 'express';
import { NotFoundError } from '../../errors/not-found-error';
import { MethodNotAllowedError } from '../../errors/method-not-allowed-error';

export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "font-src 'self'",
  "manifest-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  // Browser modules are `.mjs` so the TypeScript build (allowJs over framework/**/*.js) leaves them alone.
  '.mjs': 'text/javascript; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json; charset=utf-8',
};

export interface UiAsset {
  /** Path under the assets folder, with `/` separators (e.g. `views/volumes.mjs`). */
  name: string;
  contentType: string;
  body: Buffer;
  etag: string;
}

export interface UiRoutesOptions {
  /** The assets folder; default: found next to this file, or in the source tree when running from dist/. */
  assetsDir?: string;
}

/**
 * Where the assets are: beside this module when it runs from source (tests, swc), or in the source
 * tree when it runs compiled from `dist/framework/api/ui/` (tsc does not copy non-TypeScript files).
 */
export function findAssetsDir(moduleDir: string = __dirname): string {
  const candidates = [path.join(moduleDir, 'assets'), path.resolve(moduleDir, '..', '..', '..', '..', 'framework', 'api', 'ui', 'assets')];
  const found = candidates.find((dir) => fs.existsSync(path.join(dir, 'index.html')));
  if (!found) throw new Error(`Dashboard assets not found (looked in ${candidates.join(', ')})`);
  return found;
}

/** Reads every servable file under `dir` (recursively), once. */
export function loadAssets(dir: string): Map<string, UiAsset> {
  const assets = new Map<string, UiAsset>();
  const walk = (sub: string): void => {
    for (const entry of fs.readdirSync(path.join(dir, sub), { withFileTypes: true })) {
      const rel = sub ? `${sub}/${entry.name}` : entry.name;
      if (entry.isDirectory()) walk(rel);
      else if (entry.isFile()) {
        const contentType = CONTENT_TYPES[path.extname(entry.name).toLowerCase()];
        if (!contentType) continue;
        const body = fs.readFileSync(path.join(dir, rel));
        const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`;
        assets.set(rel, { name: rel, contentType, body, etag });
      }
    }
  };
  walk('');
  return assets;
}

function etagMatches(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  return header
    .split(',')
    .map((t) => t.trim().replace(/^W\//, ''))
    .some((t) => t === etag || t === '*');
}

export function uiRoutes(options: UiRoutesOptions = {}): Router {
  const assets = loadAssets(options.assetsDir ?? findAssetsDir());
  if (!assets.has('index.html')) throw new Error('Dashboard assets: index.html is missing');
  const router = Router({ strict: true });

  router.use((req, res, next) => {
    if (req.method === 'GET' || req.method === 'HEAD') return next();
    res.setHeader('Allow', 'GET, HEAD');
    next(new MethodNotAllowedError(`Method ${req.method} is not allowed on ${req.originalUrl.slice(0, 300)}`, { allow: ['GET', 'HEAD'] }));
  });

  // `/ui` → `/ui/`, so the page's relative asset URLs resolve under /ui/ (and behind a path prefix too).
  router.get('/', (req, res, next) => {
    const url = new URL(req.originalUrl, 'http://polly.invalid');
    if (!url.pathname.endsWith('/')) {
      res.redirect(301, `${url.pathname.split('/').pop()}/${url.search}`);
      return;
    }
    next();
  });

  const send = (asset: UiAsset, req: Request, res: Response): void => {
    res.setHeader('Content-Type', asset.contentType);
    res.setHeader('Cache-Control', 'no-cache');
    res.setHeader('ETag', asset.etag);
    res.setHeader('Content-Security-Policy', CONTENT_SECURITY_POLICY);
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('X-Frame-Options', 'DENY');
    res.setHeader('Referrer-Policy', 'no-referrer');
    res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
    res.setHeader('Cross-Origin-Resource-Policy', 'same-origin');
    if (etagMatches(req.get('if-none-match'), asset.etag)) {
      res.status(304).end();
      return;
    }
    res.setHeader('Content-Length', String(asset.body.length));
    res.status(200).end(req.method === 'HEAD' ? undefined : asset.body);
  };

  const index = assets.get('index.html')!;
  router.get('/', (req, res) => send(index, req, res));
  router.get('/*asset', (req, res, next) => {
    const raw = (req.params as Record<string, string | string[] | undefined>).asset;
    const name = Array.isArray(raw) ? raw.join('/') : String(raw ?? '');
    const asset = assets.get(name);
    if (!asset) return next(new NotFoundError(`No dashboard asset ${JSON.stringify(name.slice(0, 200))}`));
    send(asset, req, res);
  });
  return router;
}
