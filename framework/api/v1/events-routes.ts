/**
 * `GET /v1/events`: server-sent events from the EventJournal. A reconnecting client sends
 * `Last-Event-ID` (or `?lastEventId=`) and first gets what it missed; if the ring no longer holds
 * all of it, a `journal.truncated` event says so before the replay. Comment lines keep idle
 * connections alive through proxies. Scheduler tokens only see events about volumes offered to
 * them and their own claims. `?follow=false` replays and ends instead of staying open.
 */
import { Router } from 'express';
import type { ServerResponse } from 'node:http';
import { ValidationError } from '../../errors/validation-error';
import { Principal, principalOf } from '../auth/principal';
import type { EventJournal, JournalEvent } from '../event-journal';

export interface EventStreams {
  /** Ends every open stream (graceful shutdown). */
  closeAll(): void;
  readonly open: number;
}

export interface EventsRoutesOptions {
  keepAliveMs?: number;
}

function visibleTo(principal: Principal, event: JournalEvent): boolean {
  if (principal.scope !== 'scheduler') return true;
  const data = event.data as { volume?: { schedulers?: string[] }; claim?: { scheduler?: string } };
  if (data.volume?.schedulers?.includes(principal.scheduler!)) return true;
  if (data.claim?.scheduler === principal.scheduler) return true;
  return false;
}

function frame(event: JournalEvent): string {
  return `id: ${event.id}\nevent: ${event.type}\ndata: ${JSON.stringify({ id: event.id, type: event.type, at: event.at, ...event.data })}\n\n`;
}

function parseLastId(raw: unknown): number | undefined {
  if (raw === undefined || raw === '') return undefined;
  if (typeof raw !== 'string' || !/^\d{1,16}$/.test(raw))
    throw ValidationError.field('Last-Event-ID', 'Last-Event-ID must be an event ID (digits)');
  return Number(raw);
}

export function eventsRoutes(journal: EventJournal, options: EventsRoutesOptions = {}): { router: Router; streams: EventStreams } {
  const router = Router();
  const open = new Set<ServerResponse>();
  const keepAliveMs = options.keepAliveMs ?? 15_000;

  router.get('/events', (req, res) => {
    const principal = principalOf(res);
    const lastId = parseLastId(req.get('last-event-id') ?? (req.query as Record<string, unknown>).lastEventId);
    res.status(200);
    res.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
    res.setHeader('Cache-Control', 'no-cache, no-transform');
    res.setHeader('Connection', 'keep-alive');
    res.setHeader('X-Accel-Buffering', 'no');
    res.flushHeaders();
    res.write('retry: 2000\n\n');
    const { events, truncated } = journal.since(lastId);
    if (truncated) res.write(`event: journal.truncated\ndata: ${JSON.stringify({ lastEventId: lastId, oldest: events[0]?.id })}\n\n`);
    for (const e of events) if (visibleTo(principal, e)) res.write(frame(e));
    // `?follow=false`: just what the journal holds, then end (the CLI's `polly events` without --follow).
    if ((req.query as Record<string, unknown>).follow === 'false') {
      res.end();
      return;
    }
    const unsubscribe = journal.subscribe((e) => {
      if (visibleTo(principal, e)) res.write(frame(e));
    });
    const timer = setInterval(() => res.write(': keep-alive\n\n'), keepAliveMs);
    timer.unref();
    open.add(res);
    const done = (): void => {
      clearInterval(timer);
      unsubscribe();
      open.delete(res);
    };
    res.on('close', done);
  });

  return {
    router,
    streams: {
      closeAll: () => {
        for (const res of [...open]) res.end();
      },
      get open() {
        return open.size;
      },
    },
  };
}
