// The live feed from /v1/events: fetch() streaming with the bearer token (EventSource cannot send
// one), reconnecting after a drop with Last-Event-ID so nothing in between is missed.
// Dispatches `event` (detail: { id, type, data }) and `status` (detail: the new status).

import { SseParser } from './sse-parser.mjs';

export class EventFeed extends EventTarget {
  #api;
  #controller = undefined;
  #stopped = true;
  #lastEventId = '';
  #wake = undefined;
  #immediate = false;
  status = 'idle';

  constructor(api) {
    super();
    this.#api = api;
  }

  get lastEventId() {
    return this.#lastEventId;
  }

  start() {
    if (!this.#stopped) return;
    this.#stopped = false;
    void this.#run();
  }

  stop() {
    this.#stopped = true;
    this.#controller?.abort();
    this.#wake?.();
  }

  /** Reconnects now (e.g. after the operator gave a new token). */
  reconnect() {
    this.#immediate = true;
    this.#controller?.abort();
    this.#wake?.();
    this.start();
  }

  #setStatus(status, message) {
    if (this.status === status && !message) return;
    this.status = status;
    this.dispatchEvent(new CustomEvent('status', { detail: { status, message } }));
  }

  #sleep(ms) {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.#wake = done;
    });
  }

  async #run() {
    let failures = 0;
    while (!this.#stopped) {
      const parser = new SseParser();
      this.#controller = new AbortController();
      this.#setStatus('connecting');
      let retryMs = 2000;
      try {
        const headers = { Accept: 'text/event-stream', ...this.#api.authHeaders() };
        if (this.#lastEventId) headers['Last-Event-ID'] = this.#lastEventId;
        const res = await fetch(this.#api.url('/v1/events'), {
          headers,
          signal: this.#controller.signal,
          cache: 'no-store',
          credentials: 'omit',
        });
        if (res.status === 401 || res.status === 403) {
          this.#setStatus('unauthorized', res.status === 401 ? 'A token is needed for live events' : 'This token may not read events');
          await this.#sleep(60_000); // until reconnect() after a new token
          this.#immediate = false;
          continue;
        }
        if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
        this.#setStatus('live');
        failures = 0;
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          for (const event of parser.push(value)) {
            if (event.id) this.#lastEventId = event.id;
            let data;
            try {
              data = JSON.parse(event.data);
            } catch {
              data = { text: event.data };
            }
            this.dispatchEvent(new CustomEvent('event', { detail: { id: event.id, type: event.type, data } }));
          }
        }
        retryMs = parser.retryMs ?? retryMs;
      } catch (err) {
        if (this.#stopped) break;
        if (err?.name !== 'AbortError') failures += 1;
        retryMs = parser.retryMs ?? retryMs;
      }
      if (this.#stopped) break;
      if (this.#immediate) {
        this.#immediate = false;
        continue;
      }
      this.#setStatus('offline');
      // Back off while Polly is away (2 s, 4 s, … up to 30 s); the server's `retry:` is the base.
      await this.#sleep(Math.min(30_000, retryMs * 2 ** Math.min(failures, 4)));
    }
    this.#setStatus('idle');
  }
}
