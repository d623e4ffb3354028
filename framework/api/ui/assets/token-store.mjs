// Where the API token lives: in memory by default, so it is gone when the tab closes or reloads.
// Only when the operator ticks "remember for this tab" is it put in sessionStorage (per tab, cleared
// with the tab) — never localStorage, which every tab and every later visit could read.

const KEY = 'polly.apiToken';

export class TokenStore {
  #token = '';
  #storage;

  constructor(storage = globalThis.sessionStorage) {
    this.#storage = storage;
    try {
      this.#token = storage?.getItem(KEY) ?? '';
    } catch {
      this.#token = '';
    }
  }

  get token() {
    return this.#token;
  }

  get remembered() {
    try {
      return Boolean(this.#storage?.getItem(KEY));
    } catch {
      return false;
    }
  }

  set(token, remember) {
    this.#token = token;
    try {
      if (remember) this.#storage?.setItem(KEY, token);
      else this.#storage?.removeItem(KEY);
    } catch {
      // storage disabled: memory only
    }
  }

  clear() {
    this.set('', false);
  }
}
