/**
 * `/ui` on the API server: public (no token even when auth is on), correct content types, a strict
 * CSP on every asset, revalidation with ETag → 304, GET/HEAD only, unknown assets 404, `/ui` → `/ui/`.
 */
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { CONTENT_SECURITY_POLICY, findAssetsDir, loadAssets } from '../../../../framework/api/ui/ui-routes';
import { ApiFixture, makeApiFixture } from '../api-fixture';

const ASSETS = path.resolve(__dirname, '../../../../framework/api/ui/assets');

function rawGet(base: string, rawPath: string): Promise<{ status: number; type: string }> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const req = http.get({ host: url.hostname, port: url.port, path: rawPath }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type'] ?? '') }));
    });
    req.on('error', reject);
  });
}

describe('dashboard routes', () => {
  let f: ApiFixture;
  beforeEach(async () => {
    f = await makeApiFixture({ auth: 'on' });
  });
  afterEach(async () => {
    await f.dispose();
  });

  it('serves the page and its assets without a token, while the API itself still needs one', async () => {
    const page = await fetch(`${f.url}/ui/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.headers.get('content-security-policy')).toBe(CONTENT_SECURITY_POLICY);
    expect(page.headers.get('x-content-type-options')).toBe('nosniff');
    expect(page.headers.get('x-frame-options')).toBe('DENY');
    expect(page.headers.get('referrer-policy')).toBe('no-referrer');
    expect(page.headers.get('cache-control')).toBe('no-cache');
    const html = await page.text();
    expect(html).toContain('<script type="module" src="app.mjs"></script>');
    expect((await fetch(`${f.url}/v1/volumes`)).status).toBe(401);

    for (const [asset, type] of [
      ['app.mjs', 'text/javascript; charset=utf-8'],
      ['views/volumes.mjs', 'text/javascript; charset=utf-8'],
      ['styles.css', 'text/css; charset=utf-8'],
      ['favicon.svg', 'image/svg+xml'],
    ]) {
      const res = await fetch(`${f.url}/ui/${asset}`);
      expect({ asset, status: res.status, type: res.headers.get('content-type') }).toEqual({ asset, status: 200, type });
      expect(res.headers.get('content-security-policy')).toBe(CONTENT_SECURITY_POLICY);
      expect(Buffer.from(await res.arrayBuffer()).equals(fs.readFileSync(path.join(ASSETS, asset)))).toBe(true);
    }
  });

  it('allows only this origin in the CSP: no inline script or style, no other hosts', () => {
    expect(CONTENT_SECURITY_POLICY).toContain("default-src 'none'");
    expect(CONTENT_SECURITY_POLICY).toContain("script-src 'self'");
    expect(CONTENT_SECURITY_POLICY).toContain("frame-ancestors 'none'");
    expect(CONTENT_SECURITY_POLICY).not.toMatch(/unsafe|https?:|\*/);
    // Nothing in the assets reaches for another host or inline code.
    for (const asset of loadAssets(ASSETS).values()) {
      const text = asset.body.toString('utf8');
      expect({
        asset: asset.name,
        external: /(?:src|href)=["']?(?:https?:)?\/\//i.test(text) || /@import\s+url\(["']?https?:/i.test(text),
      }).toEqual({
        asset: asset.name,
        external: false,
      });
      if (asset.name.endsWith('.html')) {
        expect(text).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/i);
        expect(text).not.toMatch(/\sstyle=|\son[a-z]+=/i);
      }
    }
  });

  it('redirects /ui to /ui/ (relative asset URLs) and keeps the query', async () => {
    const res = await fetch(`${f.url}/ui?x=1`, { redirect: 'manual' });
    expect(res.status).toBe(301);
    expect(new URL(res.headers.get('location')!, `${f.url}/ui?x=1`).href).toBe(`${f.url}/ui/?x=1`);
    const followed = await fetch(`${f.url}/ui`);
    expect(followed.url).toBe(`${f.url}/ui/`);
    expect(followed.status).toBe(200);
  });

  it('answers If-None-Match with 304, HEAD without a body', async () => {
    const first = await fetch(`${f.url}/ui/app.mjs`);
    const etag = first.headers.get('etag')!;
    expect(etag).toMatch(/^"[A-Za-z0-9_-]+"$/);
    const again = await fetch(`${f.url}/ui/app.mjs`, { headers: { 'if-none-match': etag } });
    expect(again.status).toBe(304);
    expect(await again.text()).toBe('');
    const head = await fetch(`${f.url}/ui/styles.css`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(Number(head.headers.get('content-length'))).toBe(fs.statSync(path.join(ASSETS, 'styles.css')).size);
  });

  it('refuses other methods (405 + Allow) and unknown or traversing paths (404 JSON)', async () => {
    const post = await fetch(`${f.url}/ui/`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
    expect(((await post.json()) as { status: number }).status).toBe(405);
    // Sent as raw request lines (fetch would normalise the dots away before they reach Polly).
    for (const p of [
      '/ui/nope.mjs',
      '/ui/../package.json',
      '/ui/%2e%2e/%2e%2e/package.json',
      '/ui/views/..%2f..%2fui-routes.ts',
      '/ui/ui-routes.ts',
      '/ui/assets/app.mjs',
    ]) {
      const res = await rawGet(f.url, p);
      expect({ p, status: res.status }).toEqual({ p, status: 404 });
      expect(res.type).toMatch(/application\/json/);
    }
  });

  it('finds the assets from source and from a compiled dist/ folder', () => {
    expect(findAssetsDir(path.resolve(__dirname, '../../../../framework/api/ui'))).toBe(ASSETS);
    expect(findAssetsDir(path.resolve(__dirname, '../../../../dist/framework/api/ui'))).toBe(ASSETS);
    expect(() => findAssetsDir('/nonexistent/a/b/c/d')).toThrow(/assets not found/);
  });
});
