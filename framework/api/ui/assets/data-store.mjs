// What the page knows, loaded from the API and kept current by the event feed: volume and claim
// events carry the full record, so they patch the store directly; agents, apps and tasks have no
// events of their own and are re-read (debounced) when claims move, and on a slow timer.
// Listeners get the set of parts that changed.

import { pathOf } from './api-client.mjs';

const LIVE = new Set(['pending', 'attaching', 'attached', 'releasing']);

export class DataStore extends EventTarget {
  services = [];
  volumes = new Map();
  liveClaims = new Map();
  agents = [];
  apps = [];
  /** Data the backends hold but their records do not explain (never deleted by Polly). */
  quarantine = [];
  /** Set when a part could not be read (e.g. a scheduler token may not list apps): part → message. */
  errors = new Map();
  loaded = false;
  #api;
  #timers = new Map();

  constructor(api) {
    super();
    this.#api = api;
  }

  #changed(...parts) {
    this.dispatchEvent(new CustomEvent('change', { detail: new Set(parts) }));
  }

  async #read(part, fn) {
    try {
      await fn();
      this.errors.delete(part);
    } catch (err) {
      if (err?.status === 401) throw err;
      this.errors.set(part, err?.message ?? String(err));
    }
  }

  /** Everything, in parallel; a 401 is thrown (the page asks for a token), other failures are kept per part. */
  async loadAll() {
    await Promise.all([
      this.loadServices(),
      this.loadVolumes(),
      this.loadClaims(),
      this.loadAgents(),
      this.loadApps(),
      this.loadQuarantine(),
    ]);
    this.loaded = true;
    this.#changed('services', 'volumes', 'claims', 'agents', 'apps', 'quarantine');
  }

  loadServices() {
    return this.#read('services', async () => {
      this.services = (await this.#api.get('/v1/services')).services;
      this.#changed('services');
    });
  }

  loadVolumes() {
    return this.#read('volumes', async () => {
      const { volumes } = await this.#api.get('/v1/volumes');
      this.volumes = new Map(volumes.map((v) => [v.id, v]));
      this.#changed('volumes');
    });
  }

  loadClaims() {
    return this.#read('claims', async () => {
      const { claims } = await this.#api.get('/v1/claims', { live: 'true' });
      this.liveClaims = new Map(claims.map((c) => [c.id, c]));
      this.#changed('claims');
    });
  }

  loadAgents() {
    return this.#read('agents', async () => {
      this.agents = (await this.#api.get('/v1/agents')).agents;
      this.#changed('agents');
    });
  }

  loadApps() {
    return this.#read('apps', async () => {
      this.apps = (await this.#api.get('/v1/apps')).apps;
      this.#changed('apps');
    });
  }

  loadQuarantine() {
    return this.#read('quarantine', async () => {
      this.quarantine = (await this.#api.get('/v1/quarantine')).quarantine;
      this.#changed('quarantine');
    });
  }

  /** Every claim of one volume, released ones included (the detail view's claim history). */
  async claimsOf(volumeId) {
    return (await this.#api.get('/v1/claims', { volumeId })).claims;
  }

  async volume(id) {
    const v = await this.#api.get(pathOf('volumes', id));
    this.volumes.set(v.id, v);
    return v;
  }

  /** Runs `fn` once, `ms` after the last call for `key`. */
  debounce(key, ms, fn) {
    clearTimeout(this.#timers.get(key));
    this.#timers.set(
      key,
      setTimeout(() => {
        this.#timers.delete(key);
        fn().catch(() => undefined);
      }, ms),
    );
  }

  /** Applies one event from /v1/events. */
  apply({ type, data }) {
    if (type.startsWith('volume.') && data.volume) {
      if (type === 'volume.removed') this.volumes.delete(data.volume.id);
      else this.volumes.set(data.volume.id, data.volume);
      this.#changed('volumes');
    } else if (type.startsWith('claim.') && data.claim) {
      const claim = data.claim;
      if (LIVE.has(claim.state)) this.liveClaims.set(claim.id, claim);
      else this.liveClaims.delete(claim.id);
      this.#changed('claims');
      // Claims move when tasks start and stop: the apps and agents views follow.
      this.debounce('apps', 300, () => this.loadApps());
    } else if (type.startsWith('quarantine.')) {
      this.debounce('quarantine', 100, () => this.loadQuarantine());
    } else if (type === 'journal.truncated' || type === 'storage.recovered') {
      // Missed events: read everything again rather than trust a partial picture.
      this.debounce('all', 100, () => this.loadAll());
    }
  }
}
