// The API client: JSON over fetch with the bearer token; every failure becomes an ApiError carrying
// the API's own message (`{ message, status, details }`), which the page shows as is.

export class ApiError extends Error {
  constructor(status, message, details) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.details = details;
  }
}

export class ApiClient {
  /** @param {{ base: URL | string, tokens: import('./token-store.mjs').TokenStore }} options */
  constructor({ base, tokens }) {
    this.base = new URL(base);
    this.tokens = tokens;
    /** Called with the ApiError when the API answers 401 (the page then asks for a token). */
    this.onUnauthorized = undefined;
  }

  url(path, query) {
    const url = new URL(path.replace(/^\//, ''), this.base);
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined && v !== '') url.searchParams.set(k, String(v));
    return url;
  }

  authHeaders() {
    return this.tokens.token ? { Authorization: `Bearer ${this.tokens.token}` } : {};
  }

  async request(method, path, { query, body, signal } = {}) {
    const headers = { Accept: 'application/json', ...this.authHeaders() };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    let res;
    try {
      res = await fetch(this.url(path, query), {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal,
        cache: 'no-store',
        credentials: 'omit',
      });
    } catch (err) {
      if (err?.name === 'AbortError') throw err;
      throw new ApiError(0, `Polly did not answer (${err?.message ?? err})`);
    }
    if (res.status === 204) return undefined;
    const text = await res.text();
    let json;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    if (!res.ok) {
      const message = typeof json?.message === 'string' ? json.message : `${res.status} ${res.statusText}`;
      const error = new ApiError(res.status, message, json?.details);
      if (res.status === 401) this.onUnauthorized?.(error);
      throw error;
    }
    return json;
  }

  get(path, query, options) {
    return this.request('GET', path, { ...options, query });
  }
  post(path, body) {
    return this.request('POST', path, { body: body ?? {} });
  }
  patch(path, body) {
    return this.request('PATCH', path, { body });
  }
  delete(path) {
    return this.request('DELETE', path);
  }
}

/** `/v1/volumes/<id>` with the ID encoded (IDs are URL-safe, but never trust that in a URL). */
export function pathOf(collection, id, suffix = '') {
  return `/v1/${collection}/${encodeURIComponent(id)}${suffix}`;
}
