/// <reference lib="dom" />
/**
 * The dashboard in headless Chromium (Debian `chromium`, driven by playwright-core) against a real
 * Polly on the local Mesos cluster: every view shows real data, a volume created in one tab appears
 * live (SSE) in another, a force-release shows its `claim.audit` event, a token-protected Polly asks
 * for the token, the tabs work from the keyboard, and both layouts fit their screens. Screenshots go
 * to `$POLLY_TEST_OUTPUT/screenshots` (default `test-output/screenshots`).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Browser, BrowserContext, chromium, Page } from 'playwright-core';
import { VfsDriver } from '../../../../drivers/vfs/vfs-driver';
import { loadConfig } from '../../../../framework/config/config-loader';
import { LocalCluster } from '../../../../framework/mesos/local/local-cluster';
import { silentLogger } from '../../../../framework/shared/logger';
import { PollyService } from '../../../../framework/polly-service';
import { waitFor } from '../../../support/mesos-http';

const CHROMIUM = '/usr/bin/chromium';
const SCREENSHOTS = path.join(process.env.POLLY_TEST_OUTPUT ?? path.resolve(__dirname, '../../../../test-output'), 'screenshots');
const ADMIN_TOKEN = 'dashboard-admin-token-0123456789';
const TABS = ['overview', 'volumes', 'agents', 'offers', 'apps', 'events'] as const;

interface Json {
  [key: string]: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

/*
 * The browser globals used by the functions that run inside the page (page.evaluate): declared here,
 * module-local, because the project compiles without the DOM lib.
 */
interface PageElement {
  id: string;
  textContent: string | null;
  tabIndex: number;
  outerHTML: string;
  labels?: ArrayLike<unknown> | null;
  getAttribute(name: string): string | null;
}
declare const document: {
  documentElement: { scrollWidth: number };
  activeElement: PageElement | null;
  querySelector(selector: string): PageElement | null;
  querySelectorAll(selector: string): ArrayLike<PageElement>;
};
declare const window: { innerWidth: number };
declare const localStorage: object;
declare const sessionStorage: object;
declare function getComputedStyle(element: PageElement): { outlineStyle: string };

jest.setTimeout(120_000);

describe('dashboard (headless Chromium)', () => {
  let browser: Browser;
  let dir: string;
  let cluster: LocalCluster;
  let service: PollyService | undefined;
  let context: BrowserContext | undefined;
  /** Page errors and console errors (a CSP violation is one): every test ends with none. */
  let pageErrors: string[];

  beforeAll(async () => {
    fs.mkdirSync(SCREENSHOTS, { recursive: true });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
  });
  afterAll(async () => {
    await browser?.close();
  });

  beforeEach(async () => {
    pageErrors = [];
    dir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'polly-dashboard-'));
    cluster = await LocalCluster.start({
      port: 0,
      workDir: path.join(dir, 'cluster'),
      heartbeatIntervalSeconds: 0.2,
      allocationIntervalMs: 50,
    });
  });
  afterEach(async () => {
    await context?.close().catch(() => undefined);
    context = undefined;
    await service?.stop().catch(() => undefined);
    service = undefined;
    await cluster.stop();
    await fs.promises.rm(dir, { recursive: true, force: true });
  });

  async function startPolly(overrides: Record<string, unknown> = {}): Promise<PollyService> {
    const config = loadConfig({
      env: {},
      file: '/dev/null',
      overrides: { master: cluster.url, home: path.join(dir, 'home'), 'api.port': 0, 'libstorage.enabled': false, ...overrides },
    });
    service = await PollyService.start({ config, logger: silentLogger });
    return service;
  }

  async function api(method: string, route: string, body?: unknown, token?: string): Promise<Json> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (token) headers.authorization = `Bearer ${token}`;
    const res = await fetch(`${service!.apiUrl}${route}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${route}: ${res.status} ${text}`);
    return text ? (JSON.parse(text) as Json) : {};
  }

  async function agents(token?: string): Promise<Json[]> {
    return waitFor(async () => {
      const list = (await api('GET', '/v1/agents', undefined, token)).agents as Json[];
      return list.length >= 3 ? list : undefined;
    }, 15_000);
  }

  async function newPage(viewport = { width: 1280, height: 800 }): Promise<Page> {
    context ??= await browser.newContext({ viewport, reducedMotion: 'reduce' });
    const page = await context.newPage();
    await page.setViewportSize(viewport);
    page.on('pageerror', (err) => pageErrors.push(`pageerror: ${err.message}`));
    page.on('console', (msg) => {
      // Chromium logs every 4xx the page handles (401 → sign in, 409 → shown in the dialog) as a failed resource.
      if (msg.type() === 'error' && !/Failed to load resource: the server responded with a status of 4\d\d/.test(msg.text())) {
        pageErrors.push(`console: ${msg.text()}`);
      }
    });
    return page;
  }

  async function openTab(page: Page, name: (typeof TABS)[number]): Promise<void> {
    await page.click(`#tab-${name}`);
    await page.waitForSelector(`#panel-${name}:not([hidden])`);
  }

  async function shot(page: Page, name: string): Promise<void> {
    await page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`), fullPage: true });
  }

  async function noHorizontalOverflow(page: Page): Promise<{ scrollWidth: number; innerWidth: number }> {
    return page.evaluate(() => ({ scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth }));
  }

  it('is the framework webui_url in the Mesos master state, and every view shows real data from the API', async () => {
    await startPolly();
    const [node0] = await agents();
    const pg = await api('POST', '/v1/volumes', {
      service: 'local',
      name: 'pg-data',
      size: 8,
      availabilityZone: node0.zone,
      schedulers: ['marathon'],
      labels: { team: 'db', tier: 'gold' },
    });
    await api('POST', '/v1/volumes', { service: 'local', name: 'spare', size: 2, availabilityZone: 'zone-b', schedulers: ['marathon'] });
    const claim = await api('POST', '/v1/claims', { volumeId: pg.id, agentId: node0.agentId, scheduler: 'marathon', taskId: 'pg.1' });
    await api('POST', '/v1/apps', {
      id: 'web',
      cmd: 'sleep 1000',
      cpus: 0.1,
      mem: 32,
      instances: 1,
      container: {
        type: 'MESOS',
        volumes: [
          { containerPath: 'data', mode: 'RW', external: { name: 'web-data', provider: 'dvdi', options: { 'dvdi/driver': 'polly' } } },
        ],
      },
    });
    await waitFor(async () => ((await api('GET', '/v1/tasks')).tasks as Json[]).some((t) => t.state === 'TASK_RUNNING'), 20_000);

    // The Mesos UI's framework list links to the dashboard: webui_url (and hostname) in /master/state.
    const state = (await (await fetch(`${cluster.url}/master/state`)).json()) as Json;
    const polly = (state.frameworks as Json[]).find((f) => f.name === 'polly');
    expect(polly).toBeDefined();
    expect(polly!.webui_url).toBe(`${service!.apiUrl}/ui`);
    expect(polly!.hostname).toBeTruthy();
    const linked = await fetch(polly!.webui_url);
    expect(linked.status).toBe(200);
    expect(linked.url).toBe(`${service!.apiUrl}/ui/`);
    expect(linked.headers.get('content-type')).toBe('text/html; charset=utf-8');

    const page = await newPage();
    await page.goto(polly!.webui_url);
    await page.waitForSelector('#feed-status[data-status="live"]');

    // Overview: counts, services, charts (capacity comes from the storage offers).
    await page.waitForFunction(() => document.querySelector('#panel-overview .stat .stat-value')?.textContent === '3');
    const overview = await page.textContent('#panel-overview');
    expect(overview).toContain('local');
    expect(overview).toContain('vfs');
    expect(overview).toMatch(/Volumes by state/);
    await page.waitForSelector('#capacity figure .bars li');
    expect(await page.textContent('#capacity')).toMatch(/zone-a · local\/default.*free of/);
    await shot(page, 'dashboard-overview-1280');

    // Volumes: table, search, sort, detail.
    await openTab(page, 'volumes');
    await page.waitForSelector('#volumes-table tr[data-volume-id]');
    const names = () => page.$$eval('#volumes-table tbody tr[data-volume-id] button.link', (els) => els.map((e) => e.textContent));
    expect(await names()).toEqual(['pg-data', 'spare', 'web-data']);
    await page.fill('#volume-search', 'tier=gold');
    await page.waitForFunction(() => document.querySelectorAll('#volumes-table tbody tr[data-volume-id]').length === 1);
    expect(await names()).toEqual(['pg-data']);
    await page.fill('#volume-search', '');
    await page.selectOption('#volume-status', 'attached');
    await page.waitForFunction(() => document.querySelectorAll('#volumes-table tbody tr[data-volume-id]').length === 2);
    await page.selectOption('#volume-status', '');
    await page.click('#volumes-table th[data-key="size"] button');
    expect(await page.getAttribute('#volumes-table th[data-key="size"]', 'aria-sort')).toBe('ascending');
    expect(await names()).toEqual(['spare', 'pg-data', 'web-data']);
    await page.click('#volumes-table th[data-key="size"] button');
    expect(await page.getAttribute('#volumes-table th[data-key="size"]', 'aria-sort')).toBe('descending');
    expect(await names()).toEqual(['web-data', 'pg-data', 'spare']);
    await shot(page, 'dashboard-volumes-1280');

    await page.click('#volumes-table button.link:text-is("pg-data")');
    await page.waitForSelector(`#volume-detail:not([hidden]) code:text-is("${claim.id}")`);
    const detail = await page.textContent('#volume-detail');
    expect(detail).toContain('Volume pg-data');
    expect(detail).toContain(pg.id);
    expect(detail).toContain('team');
    expect(detail).toContain('gold');
    expect(detail).toContain('marathon');
    expect(detail).toContain(node0.hostname);
    expect(detail).toContain('pg.1');
    expect(await page.$$eval('#detail-attachments ~ * tbody tr', (rows) => rows.length)).toBe(1);
    await shot(page, 'dashboard-volume-detail-1280');
    await page.click('#volume-back');
    await page.waitForSelector('#volumes-list:not([hidden])');

    // Agents by zone, with their attached volumes.
    await openTab(page, 'agents');
    await page.waitForSelector('#panel-agents .zone');
    const zones = await page.$$eval('#panel-agents .zone h3', (els) => els.map((e) => e.textContent));
    expect(zones).toEqual([expect.stringContaining('zone-a'), expect.stringContaining('zone-b')]);
    const node0Card = await page.textContent(`#panel-agents li[data-agent-id="${node0.agentId}"]`);
    expect(node0Card).toContain('pg-data');
    await shot(page, 'dashboard-agents-1280');

    // Storage offers of a scheduler: `spare` (zone-b, offered to marathon) on the zone-b agent.
    await openTab(page, 'offers');
    await page.fill('#offers-scheduler', 'marathon');
    await page.click('#panel-offers button[type="submit"]');
    await page.waitForSelector('#offers-result h3:has-text("Offers for marathon")');
    const offers = (await api('GET', '/v1/offers?scheduler=marathon')).offers as Json[];
    const zoneB = offers.find((o) => o.zone === 'zone-b')!;
    const row = page.locator('#offers-result tbody tr', { hasText: zoneB.hostname });
    expect(await row.textContent()).toContain('spare');
    expect(await row.textContent()).toContain(zoneB.id);
    await shot(page, 'dashboard-offers-1280');

    // Apps and their tasks.
    await openTab(page, 'apps');
    await page.waitForSelector('#panel-apps section[data-app-id="web"] tbody tr');
    const app = await page.textContent('#panel-apps section[data-app-id="web"]');
    expect(app).toContain('TASK_RUNNING');
    expect(app).toContain('web-data');
    await shot(page, 'dashboard-apps-1280');

    // The event feed has what happened (replayed from the journal on connect).
    await openTab(page, 'events');
    await page.waitForSelector('#event-list li[data-type="volume.created"]');
    expect(await page.textContent('#event-list')).toContain('pg-data');
    await shot(page, 'dashboard-events-1280');
    expect(pageErrors).toEqual([]);
  });

  it('creates a volume in one tab and another tab shows it live (SSE); force-release with a reason shows the claim.audit event', async () => {
    await startPolly();
    const [node0] = await agents();
    const watcher = await newPage();
    await watcher.goto(`${service!.apiUrl}/ui/`);
    await watcher.waitForSelector('#feed-status[data-status="live"]');
    await openTab(watcher, 'volumes');

    const operator = await newPage();
    await operator.goto(`${service!.apiUrl}/ui/`);
    await operator.waitForSelector('#feed-status[data-status="live"]');
    await openTab(operator, 'volumes');
    await operator.click('#volume-create');
    const dialog = operator.getByRole('dialog', { name: 'Create a volume' });
    await dialog.waitFor();
    await dialog.getByLabel('Name').fill('from-the-page');
    await dialog.getByLabel('Size (GiB)').fill('3');
    await dialog.getByLabel('Availability zone').selectOption(node0.zone);
    await dialog.getByLabel('Offer to schedulers').fill('marathon');
    await shot(operator, 'dashboard-create-dialog');
    await dialog.getByRole('button', { name: 'Create volume' }).click();
    await dialog.waitFor({ state: 'detached' });

    // The other tab was not reloaded: the row and the event arrive over /v1/events.
    await watcher.waitForSelector('#volumes-table button.link:text-is("from-the-page")');
    expect(await watcher.textContent('#event-badge')).not.toBe('');
    await openTab(watcher, 'events');
    await watcher.waitForSelector('#event-list li[data-type="volume.created"]:has-text("from-the-page")');
    const created = ((await api('GET', '/v1/volumes?name=from-the-page')).volumes as Json[])[0];
    expect(created).toMatchObject({ size: 3, availabilityZone: node0.zone, status: 'available', schedulers: ['marathon'] });

    // The API's error is shown and the dialog stays open: the same name again is a conflict.
    await operator.click('#volume-create');
    await dialog.waitFor();
    await dialog.getByLabel('Name').fill('from-the-page');
    await dialog.getByRole('button', { name: 'Create volume' }).click();
    await dialog
      .getByRole('alert')
      .filter({ hasText: /from-the-page/ })
      .waitFor();
    expect(await dialog.getByRole('alert').textContent()).toMatch(/exist|already|in use|taken/i);
    await shot(operator, 'dashboard-create-error');
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await dialog.waitFor({ state: 'detached' });

    // A volume created elsewhere (the API) shows up too.
    await api('POST', '/v1/volumes', { service: 'local', name: 'from-the-api', size: 1 });
    await operator.waitForSelector('#volumes-table button.link:text-is("from-the-api")');

    // Force-release: a claim held on node0, released from the volume's detail view with a reason.
    const claim = await api('POST', '/v1/claims', { volumeId: created.id, agentId: node0.agentId, scheduler: 'marathon', taskId: 'db.7' });
    await operator.click('#volumes-table button.link:text-is("from-the-page")');
    const release = operator.getByRole('button', { name: `Force-release claim ${claim.id}` });
    await release.waitFor();
    await release.click();
    const confirm = operator.getByRole('dialog', { name: 'Force-release this claim?' });
    await confirm.waitFor();
    // The reason is required: submitting without one does nothing.
    await confirm.getByRole('button', { name: 'Force-release' }).click();
    expect(await confirm.isVisible()).toBe(true);
    expect((await api('GET', `/v1/claims/${claim.id}`)).state).toBe('attached');
    await confirm.getByLabel('Reason').fill('node0 was decommissioned');
    await shot(operator, 'dashboard-force-release-dialog');
    await confirm.getByRole('button', { name: 'Force-release' }).click();
    await confirm.waitFor({ state: 'detached' });

    await watcher.waitForSelector('#event-list li[data-type="claim.audit"]:has-text("node0 was decommissioned")');
    expect(await watcher.textContent('#event-list li[data-type="claim.audit"]')).toContain(claim.id);
    const released = await api('GET', `/v1/claims/${claim.id}`);
    expect(released).toMatchObject({ state: 'released', forced: true });
    await operator.waitForSelector(`#volume-detail tr:has(code:text-is("${claim.id}")) .badge:text-is("released")`);
    await shot(watcher, 'dashboard-events-live');
    expect(pageErrors).toEqual([]);
  });

  it('shows quarantined data on the volumes view and follows a purge live', async () => {
    await startPolly();
    // A removal whose directory came back (it died half-way): the next start of the root quarantines it.
    const v = await api('POST', '/v1/volumes', { service: 'local', name: 'half-removed', size: 1 });
    await api('DELETE', `/v1/volumes/${encodeURIComponent(v.id)}`);
    const root = path.join(dir, 'home', 'vfs', 'local');
    fs.mkdirSync(path.join(root, 'volumes', v.driverVolumeId));
    fs.writeFileSync(path.join(root, 'volumes', v.driverVolumeId, 'left.txt'), 'left');
    await new VfsDriver({ root }).init(); // another process starting on the root
    const [entry] = (await api('GET', '/v1/quarantine')).quarantine as Json[];
    expect(entry).toMatchObject({ service: 'local', originalId: v.driverVolumeId });

    const page = await newPage();
    await page.goto(`${service!.apiUrl}/ui/`);
    await page.waitForSelector('#feed-status[data-status="live"]');
    await openTab(page, 'volumes');
    await page.waitForSelector(`#quarantine-table tr[data-quarantine-id="${entry.id}"]`);
    expect(await page.textContent('#quarantine-count')).toContain('1 quarantined entry');
    expect(await page.textContent('#quarantine-count')).toContain('polly volume purge SERVICE ENTRY --yes');
    expect(await page.textContent(`#quarantine-table tr[data-quarantine-id="${entry.id}"]`)).toContain(entry.path);
    await shot(page, 'dashboard-quarantine');

    await api('DELETE', `/v1/services/local/quarantine/${entry.id}`);
    await page.waitForSelector('#quarantine-count:text-is("No quarantined data.")');
    expect(await page.isHidden('#quarantine-table')).toBe(true);
    await openTab(page, 'events');
    await page.waitForSelector('#event-list li[data-type="quarantine.purged"]');
    expect(pageErrors).toEqual([]);
  });

  it('asks for the token when the API requires one: a wrong token shows the error, the right one loads the data', async () => {
    await startPolly({ 'api.auth': 'on', 'api.tokens': [{ name: 'ops', token: ADMIN_TOKEN, scope: 'admin' }] });
    await agents(ADMIN_TOKEN);
    await api('POST', '/v1/volumes', { service: 'local', name: 'secret-volume', size: 1 }, ADMIN_TOKEN);
    // The page and its assets are public; the data is not.
    expect((await fetch(`${service!.apiUrl}/ui/`)).status).toBe(200);
    expect((await fetch(`${service!.apiUrl}/ui/app.mjs`)).status).toBe(200);
    expect((await fetch(`${service!.apiUrl}/v1/volumes`)).status).toBe(401);

    const page = await newPage();
    await page.goto(`${service!.apiUrl}/ui/`);
    const dialog = page.getByRole('dialog', { name: 'Sign in to Polly' });
    await dialog.waitFor();
    expect(await page.getAttribute('#feed-status', 'data-status')).not.toBe('live');
    await dialog.getByLabel('API token').fill('not-the-token');
    await dialog.getByRole('button', { name: 'Sign in' }).click();
    await dialog.getByRole('alert').filter({ hasText: 'Invalid bearer token' }).waitFor();
    await shot(page, 'dashboard-sign-in-error');

    await dialog.getByLabel('API token').fill(ADMIN_TOKEN);
    await dialog.getByRole('button', { name: 'Sign in' }).click();
    await dialog.waitFor({ state: 'detached' });
    await page.waitForSelector('#feed-status[data-status="live"]');
    await openTab(page, 'volumes');
    await page.waitForSelector('#volumes-table button.link:text-is("secret-volume")');
    // Nothing secret kept: not in localStorage, and not in sessionStorage unless asked for.
    const storage = await page.evaluate(() => ({ local: JSON.stringify(localStorage), session: JSON.stringify(sessionStorage) }));
    expect(storage.local).not.toContain(ADMIN_TOKEN);
    expect(storage.session).not.toContain(ADMIN_TOKEN);

    // A reload forgets the token; "remember for this tab" keeps it in sessionStorage only.
    await page.reload();
    await dialog.waitFor();
    await dialog.getByLabel('API token').fill(ADMIN_TOKEN);
    await dialog.getByLabel(/Remember for this tab/).check();
    await dialog.getByRole('button', { name: 'Sign in' }).click();
    await dialog.waitFor({ state: 'detached' });
    await page.reload();
    await page.waitForSelector('#feed-status[data-status="live"]');
    expect(await dialog.count()).toBe(0);
    const after = await page.evaluate(() => ({ local: JSON.stringify(localStorage), session: JSON.stringify(sessionStorage) }));
    expect(after.local).not.toContain(ADMIN_TOKEN);
    expect(after.session).toContain(ADMIN_TOKEN);
    await shot(page, 'dashboard-signed-in');

    // Signing out clears it.
    await page.click('#auth-button');
    expect(await page.evaluate(() => JSON.stringify(sessionStorage))).not.toContain(ADMIN_TOKEN);
    expect(pageErrors).toEqual([]);
  });

  it('works from the keyboard: the tabs are a tablist with arrow keys, focus is visible, dialogs close with Escape', async () => {
    await startPolly();
    await agents();
    const page = await newPage();
    await page.goto(`${service!.apiUrl}/ui/`);
    await page.waitForSelector('#feed-status[data-status="live"]');

    // Tab from the top: skip link, header buttons, then the selected tab (the only tab in the tab order).
    const tabStops: string[] = [];
    for (let i = 0; i < 6; i++) {
      await page.keyboard.press('Tab');
      tabStops.push(await page.evaluate(() => document.activeElement?.id || document.activeElement?.textContent || ''));
    }
    expect(tabStops).toContain('tab-overview');
    expect(tabStops.filter((id) => id.startsWith('tab-'))).toEqual(['tab-overview']);
    await page.focus('#tab-overview');
    const focused = () => page.evaluate(() => document.activeElement?.id);
    const selected = () => page.$$eval('[role="tab"][aria-selected="true"]', (els) => els.map((e) => e.id));
    await page.keyboard.press('ArrowRight');
    expect(await focused()).toBe('tab-volumes');
    expect(await selected()).toEqual(['tab-volumes']);
    expect(await page.isVisible('#panel-volumes')).toBe(true);
    expect(await page.isHidden('#panel-overview')).toBe(true);
    await page.keyboard.press('End');
    expect(await focused()).toBe('tab-events');
    await page.keyboard.press('ArrowRight');
    expect(await focused()).toBe('tab-overview');
    await page.keyboard.press('ArrowLeft');
    expect(await focused()).toBe('tab-events');
    await page.keyboard.press('Home');
    expect(await focused()).toBe('tab-overview');
    const tabIndexes = await page.$$eval('[role="tab"]', (els) => els.map((e) => (e as unknown as PageElement).tabIndex));
    expect(tabIndexes.filter((t) => t === 0)).toHaveLength(1);
    const outline = await page.evaluate(() => getComputedStyle(document.activeElement!).outlineStyle);
    expect(outline).not.toBe('none');

    // Every control has a label.
    await page.keyboard.press('ArrowRight');
    const unlabelled = await page.$$eval('input, select, textarea', (els) =>
      els.filter((e) => !(e as unknown as PageElement).labels?.length && !e.getAttribute('aria-label')).map((e) => e.outerHTML),
    );
    expect(unlabelled).toEqual([]);

    // A dialog opened from the keyboard closes with Escape and gives focus back.
    await page.focus('#volume-create');
    await page.keyboard.press('Enter');
    const dialog = page.getByRole('dialog', { name: 'Create a volume' });
    await dialog.waitFor();
    expect(await page.evaluate(() => document.activeElement?.getAttribute('name'))).toBe('name');
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached' });
    expect(await focused()).toBe('volume-create');

    // The SSE parser the feed uses (the page's own module, in the browser).
    // A string, so the test's compiler leaves the dynamic import() alone: it runs in the page.
    const parsed = await page.evaluate(`(async () => {
      const { SseParser } = await import('./sse-parser.mjs');
      const p = new SseParser();
      const out = [...p.push('retry: 2000\\n\\n: keep-alive\\n\\nid: 7\\nevent: volume.created\\ndata: {"a"'), ...p.push(':1}\\r\\n\\r\\nid: 8\\ndata: x\\ndata: y\\n\\n')];
      return { out, last: p.lastEventId, retry: p.retryMs };
    })()`);
    expect(parsed).toEqual({
      out: [
        { id: '7', type: 'volume.created', data: '{"a":1}' },
        { id: '8', type: 'message', data: 'x\ny' },
      ],
      last: '8',
      retry: 2000,
    });
    expect(pageErrors).toEqual([]);
  });

  it('fits 1280×800 and 390×844 screens without horizontal overflow', async () => {
    await startPolly();
    const [node0] = await agents();
    const v = await api('POST', '/v1/volumes', {
      service: 'local',
      name: 'a-rather-long-volume-name-for-the-narrow-layout',
      size: 4,
      availabilityZone: node0.zone,
      schedulers: ['marathon', 'polly'],
      labels: { owner: 'storage-team', purpose: 'layout' },
    });
    await api('POST', '/v1/claims', { volumeId: v.id, agentId: node0.agentId, scheduler: 'marathon', taskId: 'layout.1' });
    for (const viewport of [
      { width: 1280, height: 800 },
      { width: 390, height: 844 },
    ]) {
      const page = await newPage(viewport);
      await page.goto(`${service!.apiUrl}/ui/`);
      await page.waitForSelector('#feed-status[data-status="live"]');
      for (const tab of TABS) {
        await openTab(page, tab);
        if (tab === 'offers') await page.waitForSelector('#offers-result h3');
        if (tab === 'volumes') await page.waitForSelector('#volumes-table tr[data-volume-id]');
        const { scrollWidth, innerWidth } = await noHorizontalOverflow(page);
        expect({ tab, viewport: viewport.width, scrollWidth }).toEqual({ tab, viewport: viewport.width, scrollWidth: innerWidth });
        await shot(page, `dashboard-${tab}-${viewport.width}x${viewport.height}`);
      }
      await openTab(page, 'volumes');
      await page.click('#volumes-table button.link');
      await page.waitForSelector('#volume-detail h2');
      await page.waitForSelector('#volume-detail code:text-is("layout.1")');
      expect((await noHorizontalOverflow(page)).scrollWidth).toBe(viewport.width);
      await shot(page, `dashboard-volume-detail-${viewport.width}x${viewport.height}`);
      await page.close();
    }
    expect(pageErrors).toEqual([]);
  });
});
