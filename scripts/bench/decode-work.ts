/**
 * One contender of the decode bench, run alone in this process so that callgrind can count its
 * instructions (`decode-callgrind.ts` starts it):
 *
 *   node -r test/support/register-ts.js decode-work.ts STREAMS_DIR CONTENDER WARMUP_EVENTS EVENTS
 *
 * STREAMS_DIR holds the recorded streams (`decode-bench.ts` writes them): SUBSCRIBED, HEARTBEAT,
 * then OFFERS records of 100 offers each. The body reaches each contender in the chunks an HTTP
 * client hands over when every record is one HTTP chunk: one per record, a record longer than a
 * 64 KiB socket read split at 64 KiB.
 *
 * Phases: load and prepare; decode WARMUP_EVENTS (so the JIT has settled); an empty region; the
 * region with EVENTS decoded. A region is `process.getgroups()` … `os.getPriority()`: those calls
 * only mark it, callgrind zeroing its counters before libc's getgroups and dumping them before
 * getpriority, which nothing else in the process calls. The empty region (the same markers and
 * awaits around no work) is the baseline taken off the measured one; start-up, compilation of the
 * modules and the warm-up are in neither. Each contender loads only the modules it uses, so that
 * a child starts in seconds rather than tens of seconds under valgrind.
 */
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { EventEmitter } from 'node:events';
import type { WireFormat } from '../../framework/mesos/codec';
import type { mesos } from '../../framework/mesos/generated/mesos';
import type { RecordIoDecoder } from '../../framework/mesos/recordio';
import type { SchedulerEventStream } from '../../framework/mesos/scheduler/scheduler-event-stream';
import { TypedEmitter } from '../../framework/shared/typed-emitter';

interface DcosRecordio {
  read(input: string): [string[], string];
}
interface MesosFramework {
  Scheduler: new (options: Record<string, unknown>) => { subscribe(): void; on(e: string, f: (...a: unknown[]) => void): void };
}

/* eslint-disable @typescript-eslint/no-require-imports -- each contender loads its own modules (see above) */
const load = {
  mesos: (): typeof mesos => (require('../../framework/mesos/generated/mesos') as { mesos: typeof mesos }).mesos,
  RecordIoDecoder: (): typeof RecordIoDecoder => (require('../../framework/mesos/recordio') as { RecordIoDecoder: typeof RecordIoDecoder }).RecordIoDecoder,
  SchedulerEventStream: (): typeof SchedulerEventStream =>
    (require('../../framework/mesos/scheduler/scheduler-event-stream') as { SchedulerEventStream: typeof SchedulerEventStream }).SchedulerEventStream,
  dcosRecordio: (): DcosRecordio => require('@dcos/recordio') as DcosRecordio,
  mesosFramework: (): MesosFramework => require('mesos-framework') as MesosFramework,
};
/* eslint-enable @typescript-eslint/no-require-imports */

/** Longest-running first, so that two at a time finish together. */
export const CONTENDERS = [
  'events-ours-json',
  'json-parse',
  'bare-decode',
  'framing-dcos-json',
  'events-mesos-framework',
  'events-ours-protobuf',
  'framing-ours-json',
  'framing-ours-protobuf',
] as const;
export type Contender = (typeof CONTENDERS)[number];

export const OFFERS_PER_EVENT = 100;
const READ_BYTES = 64 * 1024;

interface Input {
  subscribed: Buffer;
  heartbeat: Buffer;
  /** One OFFERS record payload (unframed). */
  offers: Buffer;
  /** The same three, framed. */
  framed: { subscribed: Buffer; heartbeat: Buffer; offers: Buffer };
}

/** Reads what decode-bench.ts wrote: `${format}.bin` (framed records) and their lengths. */
export function readInput(dir: string, format: WireFormat): Input {
  const bytes = fs.readFileSync(path.join(dir, `${format}.bin`));
  const lengths = JSON.parse(fs.readFileSync(path.join(dir, `${format}.lengths.json`), 'utf8')) as number[];
  const framed: Buffer[] = [];
  let at = 0;
  for (const n of lengths.slice(0, 3)) framed.push(Buffer.from(bytes.subarray(at, (at += n))));
  const payload = (record: Buffer): Buffer => Buffer.from(record.subarray(record.indexOf(0x0a) + 1));
  return {
    subscribed: payload(framed[0]),
    heartbeat: payload(framed[1]),
    offers: payload(framed[2]),
    framed: { subscribed: framed[0], heartbeat: framed[1], offers: framed[2] },
  };
}

/** The chunks an HTTP client hands over for these framed records (see the header). */
function chunksOf(records: Buffer[]): Buffer[] {
  const chunks: Buffer[] = [];
  for (const record of records) {
    for (let at = 0; at < record.length; at += READ_BYTES) chunks.push(Buffer.from(record.subarray(at, at + READ_BYTES)));
  }
  return chunks;
}

/** What a contender does with one phase's input; resolves once every offer of the phase was seen. */
type Phase = (events: number) => Promise<void> | void;

function tick(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Waits (a bounded number of turns) until the contender has seen `expected` offers. */
async function settle(seen: () => number, expected: number, what: string): Promise<void> {
  for (let turns = 0; seen() < expected; turns++) {
    if (turns > 1000) throw new Error(`${what}: saw ${seen()} of ${expected} offers`);
    await tick();
  }
}

/** Pushes chunks into a Readable the way the HTTP parser pushes a response body. */
function feed(body: Readable, chunks: Buffer[]): void {
  for (const chunk of chunks) body.push(chunk);
}

/** The typed-events end of SchedulerClient: its onEvent/dispatch for these event types. */
class OffersEmitter extends TypedEmitter<{ offers: mesos.v1.Offer[]; heartbeat: void; subscribed: string }> {
  private readonly types = load.mesos().v1.scheduler.Event.Type;

  dispatch(event: mesos.v1.scheduler.Event): void {
    const Type = this.types;
    switch (event.type) {
      case Type.SUBSCRIBED:
        this.emit('subscribed', event.subscribed?.framework_id.value ?? '');
        return;
      case Type.HEARTBEAT:
        this.emit('heartbeat');
        return;
      case Type.OFFERS:
        this.emit('offers', (event.offers?.offers ?? []) as mesos.v1.Offer[]);
        return;
      default:
        throw new Error(`unexpected event ${event.type}`);
    }
  }
}

async function oursEvents(dir: string, format: WireFormat): Promise<{ warm: Phase; measure: Phase }> {
  const input = readInput(dir, format);
  const emitter = new OffersEmitter();
  let seen = 0;
  emitter.on('offers', (offers) => {
    seen += offers.length;
  });
  const events = new (load.SchedulerEventStream())(format, {
    event: (event) => emitter.dispatch(event),
    end: (reason) => {
      throw new Error(`event stream ended: ${reason}`);
    },
  });
  const body = new Readable({ read: () => undefined });
  events.consume(body);
  await tick();
  return phases(feedingRun(input, body, () => seen, 'ours'));
}

/**
 * mesos-framework's own subscribe(): its response handler (UTF-8 decoding, its framing, JSON.parse,
 * handler dispatch and events) gets the recorded body as a Readable in place of the socket's
 * response. Only http.request is replaced, in this process, for this contender.
 */
async function mesosFrameworkEvents(dir: string): Promise<{ warm: Phase; measure: Phase }> {
  const input = readInput(dir, 'json');
  const body = Object.assign(new Readable({ read: () => undefined }), {
    statusCode: 200,
    headers: { 'content-type': 'application/json', 'mesos-stream-id': 'replay-0000' },
  });
  const fakeRequest = (_options: unknown, onResponse: (res: Readable) => void): EventEmitter => {
    const req = Object.assign(new EventEmitter(), {
      write: () => true,
      end: () => setImmediate(() => onResponse(body)),
      destroy: () => undefined,
    });
    return req;
  };
  (http as unknown as { request: unknown }).request = fakeRequest;
  const MesosFramework = load.mesosFramework();
  let seen = 0;
  const scheduler = new MesosFramework.Scheduler({
    masterUrl: '127.0.0.1',
    port: 5050,
    frameworkName: 'bench',
    logging: { level: 'error' },
    handlers: {
      // Handlers must take exactly one argument to be accepted.
      OFFERS: function (offers: { offers: unknown[] }) {
        seen += offers.offers.length;
      },
      HEARTBEAT: function (_beat: unknown) {
        return undefined;
      },
    },
  });
  scheduler.on('error', (err) => {
    throw new Error(`mesos-framework: ${JSON.stringify(err)}`);
  });
  scheduler.subscribe();
  for (let turns = 0; body.listenerCount('data') === 0; turns++) {
    if (turns > 1000) throw new Error('mesos-framework never read the response');
    await tick();
  }
  await tick();
  return phases(feedingRun(input, body, () => seen, 'mesos-framework'));
}

/**
 * `run(n, first)` for a contender reading `body`: n recorded OFFERS events (after SUBSCRIBED and a
 * HEARTBEAT the first time) cut into the recorded chunks; the work feeds them and waits until the
 * contender has seen every offer.
 */
function feedingRun(input: ReturnType<typeof readInput>, body: Readable, seen: () => number, who: string): (n: number, first: boolean) => () => Promise<void> {
  return (n, first) => {
    const records = first ? [input.framed.subscribed, input.framed.heartbeat] : [];
    const chunks = chunksOf([...records, ...Array.from({ length: n }, () => input.framed.offers)]);
    const target = seen() + n * OFFERS_PER_EVENT;
    return async () => {
      feed(body, chunks);
      await settle(seen, target, who);
    };
  };
}

/**
 * Builds the warm-up and measured phases from `run(n, first)`, which prepares a phase's input
 * (outside the region) and returns the work itself.
 */
function phases(run: (n: number, first: boolean) => () => Promise<void>): { warm: Phase; measure: Phase } {
  let first = true;
  const prepare = (n: number): (() => Promise<void>) => {
    const work = run(n, first);
    first = false;
    return work;
  };
  return {
    warm: (n) => prepare(n)(),
    measure: (n) => mark(prepare(n)),
  };
}

/**
 * The empty region, then the measured one (see the header). No forced GC before them: a full GC
 * there made V8 throw away its optimised code, and the region then measured re-compilation.
 */
async function mark(work: () => Promise<void> | void): Promise<void> {
  const nothing = (): void => undefined;
  for (const region of [nothing, work]) {
    process.getgroups?.();
    await region();
    os.getPriority();
  }
}

/** Synchronous contenders: the input of a phase prepared outside the region, then the work. */
function syncPhases(prepare: (n: number) => () => void): { warm: Phase; measure: Phase } {
  return {
    warm: (n) => prepare(n)(),
    measure: (n) => mark(prepare(n)),
  };
}

function expectCount(got: number, expected: number, what: string): void {
  if (got !== expected) throw new Error(`${what}: counted ${got}, expected ${expected}`);
}

async function contender(name: Contender, dir: string): Promise<{ warm: Phase; measure: Phase }> {
  switch (name) {
    case 'bare-decode': {
      // The ceiling: protobufjs' generated Event.decode on the bare OFFERS message, a Buffer.
      const Event = load.mesos().v1.scheduler.Event;
      const { offers } = readInput(dir, 'protobuf');
      return syncPhases((n) => () => {
        let seen = 0;
        for (let i = 0; i < n; i++) seen += Event.decode(offers).offers?.offers?.length ?? 0;
        expectCount(seen, n * OFFERS_PER_EVENT, name);
      });
    }
    case 'json-parse': {
      // The least any JSON client does: UTF-8 to a string, JSON.parse.
      const { offers } = readInput(dir, 'json');
      return syncPhases((n) => () => {
        let seen = 0;
        for (let i = 0; i < n; i++) seen += (JSON.parse(offers.toString('utf8')) as { offers: { offers: unknown[] } }).offers.offers.length;
        expectCount(seen, n * OFFERS_PER_EVENT, name);
      });
    }
    case 'framing-ours-json':
    case 'framing-ours-protobuf': {
      const input = readInput(dir, name === 'framing-ours-json' ? 'json' : 'protobuf');
      const decoder = new (load.RecordIoDecoder())();
      return syncPhases((n) => {
        const chunks = chunksOf(Array.from({ length: n }, () => input.framed.offers));
        return () => {
          let records = 0;
          for (const chunk of chunks) records += decoder.push(chunk).length;
          expectCount(records, n, name);
        };
      });
    }
    case 'framing-dcos-json': {
      // @dcos/recordio frames text, so it gets each chunk as a string (decoded outside the region).
      const dcos = load.dcosRecordio();
      const input = readInput(dir, 'json');
      let rest = '';
      return syncPhases((n) => {
        const texts = chunksOf(Array.from({ length: n }, () => input.framed.offers)).map((c) => c.toString('utf8'));
        return () => {
          let records = 0;
          for (const text of texts) {
            const [done, remaining] = dcos.read(rest + text);
            records += done.length;
            rest = remaining;
          }
          expectCount(records, n, name);
        };
      });
    }
    case 'events-ours-protobuf':
      return oursEvents(dir, 'protobuf');
    case 'events-ours-json':
      return oursEvents(dir, 'json');
    case 'events-mesos-framework':
      return mesosFrameworkEvents(dir);
  }
}

async function main(): Promise<void> {
  const [dir, name, warmArg, eventsArg] = process.argv.slice(2);
  if (!CONTENDERS.includes(name as Contender)) throw new Error(`unknown contender ${name}; one of ${CONTENDERS.join(', ')}`);
  const { warm, measure } = await contender(name as Contender, dir);
  await warm(Number(warmArg));
  await measure(Number(eventsArg));
  process.stdout.write(`done ${name}\n`);
}

if (require.main === module) {
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
