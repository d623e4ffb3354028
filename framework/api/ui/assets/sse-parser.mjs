// Server-sent events parsing (the WHATWG event-stream format), fed text chunks as they arrive.
// Needed because EventSource cannot send an Authorization header; the page streams /v1/events
// with fetch() instead and parses here.

export class SseParser {
  #buffer = '';
  #data = [];
  #event = '';
  #id = undefined;
  /** The last `id:` seen (what to send back as Last-Event-ID). */
  lastEventId = '';
  /** The last `retry:` the server asked for, in ms. */
  retryMs = undefined;

  /** Feeds a chunk; returns the complete events in it: `{ id, type, data }` (data is the raw text). */
  push(chunk) {
    this.#buffer += chunk;
    const out = [];
    let newline;
    while ((newline = this.#buffer.search(/\r\n|\r|\n/)) >= 0) {
      const line = this.#buffer.slice(0, newline);
      const width = this.#buffer.startsWith('\r\n', newline) ? 2 : 1;
      // A lone \r at the very end may be the first half of \r\n: wait for more.
      if (width === 1 && this.#buffer[newline] === '\r' && newline === this.#buffer.length - 1) break;
      this.#buffer = this.#buffer.slice(newline + width);
      const event = this.#line(line);
      if (event) out.push(event);
    }
    return out;
  }

  #line(line) {
    if (line === '') {
      if (this.#id !== undefined) this.lastEventId = this.#id;
      const event =
        this.#data.length > 0 ? { id: this.lastEventId, type: this.#event || 'message', data: this.#data.join('\n') } : undefined;
      this.#data = [];
      this.#event = '';
      this.#id = undefined;
      return event;
    }
    if (line.startsWith(':')) return undefined;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') this.#data.push(value);
    else if (field === 'event') this.#event = value;
    else if (field === 'id' && !value.includes('\0')) this.#id = value;
    else if (field === 'retry' && /^\d+$/.test(value)) this.retryMs = Number(value);
    return undefined;
  }
}
