// The dashboard's entry point: wires the API client, the data store, the live event feed, the tabs
// and the views, and asks for a token whenever the API answers 401.

import { ApiClient } from './api-client.mjs';
import { createActions } from './actions.mjs';
import { DataStore } from './data-store.mjs';
import { field, formDialog } from './dialogs.mjs';
import { h } from './dom.mjs';
import { EventFeed } from './event-feed.mjs';
import { setupTabs } from './tabs.mjs';
import { TokenStore } from './token-store.mjs';
import { agentsView } from './views/agents.mjs';
import { appsView } from './views/apps.mjs';
import { eventsView } from './views/events.mjs';
import { offersView } from './views/offers.mjs';
import { overviewView } from './views/overview.mjs';
import { volumesView } from './views/volumes.mjs';

const $ = (id) => document.getElementById(id);

const tokens = new TokenStore();
// The page is served at <api>/ui/: the API is one level up (also behind a path prefix).
const api = new ApiClient({ base: new URL('../', location.href), tokens });
const store = new DataStore(api);
const feed = new EventFeed(api);
const announcer = $('announcer');
const announce = (message) => {
  announcer.textContent = '';
  setTimeout(() => (announcer.textContent = message), 50);
};
const actions = createActions({ api, store, announce });
const ctx = { api, store, actions, announce };

const views = {
  overview: overviewView($('panel-overview'), ctx),
  volumes: volumesView($('panel-volumes'), ctx),
  agents: agentsView($('panel-agents'), ctx),
  offers: offersView($('panel-offers'), ctx),
  apps: appsView($('panel-apps'), ctx),
  events: eventsView($('panel-events'), ctx),
};

let unseen = 0;
const eventBadge = $('event-badge');
function showUnseen() {
  eventBadge.hidden = unseen === 0;
  eventBadge.textContent = unseen > 99 ? '99+' : String(unseen);
  eventBadge.setAttribute('aria-label', `${unseen} new`);
}

let renderQueued = false;
function scheduleRender() {
  if (renderQueued) return;
  renderQueued = true;
  requestAnimationFrame(() => {
    renderQueued = false;
    views[tabs.current].render();
  });
}

const tabs = setupTabs($('tabs'), (name) => {
  if (name === 'events') {
    unseen = 0;
    showUnseen();
  }
  scheduleRender();
});

store.addEventListener('change', (event) => {
  if (event.detail.has('volumes')) views.overview.invalidate();
  // The offers view reads the API itself; re-reading it on every change would flood the API.
  if (tabs.current !== 'offers') scheduleRender();
});

// ---- live events ------------------------------------------------------------------------------

const feedStatus = $('feed-status');
const STATUS_TEXT = {
  idle: 'Live events: off',
  connecting: 'Live events: connecting…',
  live: 'Live events: on',
  offline: 'Live events: reconnecting…',
  unauthorized: 'Live events: sign in needed',
};
let wasOffline = false;
feed.addEventListener('status', ({ detail }) => {
  feedStatus.dataset.status = detail.status;
  feedStatus.textContent = STATUS_TEXT[detail.status] ?? detail.status;
  if (detail.status === 'offline') wasOffline = true;
  // Back after a drop: Last-Event-ID replayed what the journal still had; re-read to be sure.
  if (detail.status === 'live' && wasOffline) {
    wasOffline = false;
    void store.loadAll().catch(() => undefined);
  }
});
feed.addEventListener('event', ({ detail }) => {
  views.events.add(detail);
  store.apply(detail);
  if (tabs.current === 'events') scheduleRender();
  else {
    unseen += 1;
    showUnseen();
  }
});

// ---- auth --------------------------------------------------------------------------------------

const authButton = $('auth-button');
let signingIn;

function signIn(message) {
  signingIn ??= (async () => {
    const token = h('input', {
      type: 'password',
      name: 'token',
      required: true,
      autocomplete: 'off',
      spellcheck: 'false',
      autofocus: true,
    });
    const remember = h('input', { type: 'checkbox', id: 'remember-token', name: 'remember' });
    const ok = await formDialog({
      title: 'Sign in to Polly',
      description:
        'This Polly API needs a bearer token (one of api.tokens in its configuration). It is kept in this tab’s memory only, unless you choose to remember it for this tab.',
      fields: [
        field('API token', token),
        h('div', { class: 'check' }, remember, h('label', { for: 'remember-token' }, 'Remember for this tab (until the tab is closed)')),
      ],
      submitLabel: 'Sign in',
      initialError: message,
      onSubmit: async () => {
        tokens.set(token.value.trim(), remember.checked);
        try {
          await api.get('/v1/services');
        } catch (err) {
          tokens.clear();
          throw err;
        }
      },
    });
    signingIn = undefined;
    authButton.hidden = false;
    authButton.textContent = ok ? 'Sign out' : 'Sign in';
    if (ok) {
      $('page-error').hidden = true;
      announce('Signed in');
      views.overview.invalidate();
      feed.reconnect();
      await store.loadAll().catch(() => undefined);
    } else showError('Sign in to see Polly’s data.');
  })();
  return signingIn;
}

api.onUnauthorized = (err) => {
  void signIn(tokens.token ? `The token was refused: ${err.message}` : undefined);
};

authButton.addEventListener('click', () => {
  if (tokens.token) {
    tokens.clear();
    authButton.textContent = 'Sign in';
    feed.reconnect();
    store.services = [];
    store.volumes = new Map();
    store.liveClaims = new Map();
    store.agents = [];
    store.apps = [];
    scheduleRender();
    announce('Signed out');
  } else void signIn();
});

function showError(message) {
  const banner = $('page-error');
  banner.textContent = message;
  banner.hidden = !message;
}

// ---- start -------------------------------------------------------------------------------------

$('refresh').addEventListener('click', async () => {
  try {
    await store.loadAll();
    announce('Refreshed');
  } catch {
    // 401: the sign-in dialog is open
  }
});

// Agents and apps change without storage events (offers, task updates): re-read them now and then.
setInterval(() => {
  if (document.visibilityState !== 'visible' || !store.loaded) return;
  void Promise.all([store.loadAgents(), store.loadApps()]).catch(() => undefined);
}, 10_000);

feed.start();
store.loadAll().then(
  () => {
    if (tokens.token) {
      authButton.hidden = false;
      authButton.textContent = 'Sign out';
    }
  },
  (err) => {
    if (err?.status !== 401) showError(`Could not reach Polly: ${err?.message ?? err}`);
  },
);
