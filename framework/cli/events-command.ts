/** `polly events [--follow]`: the event journal; with --follow, live, resuming after drops. */
import type { Command } from 'commander';
import { contextOf } from './cli-context';

function summary(data: Record<string, unknown>): string {
  const volume = data.volume as { id?: string; status?: string } | undefined;
  const claim = data.claim as { id?: string; volumeId?: string; state?: string; agentId?: string } | undefined;
  const parts: string[] = [];
  if (volume?.id) parts.push(`volume=${volume.id}`, `status=${volume.status ?? '-'}`);
  if (claim?.id)
    parts.push(`claim=${claim.id}`, `volume=${claim.volumeId ?? '-'}`, `agent=${claim.agentId ?? '-'}`, `state=${claim.state ?? '-'}`);
  const task = data.task as { id?: string; state?: string } | undefined;
  if (task?.id) parts.push(`task=${task.id}`, `state=${task.state ?? '-'}`);
  if (typeof data.appId === 'string') parts.push(`app=${data.appId}`);
  if (typeof data.action === 'string') parts.push(`action=${data.action}`);
  if (typeof data.by === 'string') parts.push(`by=${data.by}`);
  if (typeof data.reason === 'string') parts.push(`reason=${JSON.stringify(data.reason)}`);
  return parts.join(' ');
}

export function registerEventsCommand(program: Command): void {
  program
    .command('events')
    .description('volume, claim and task events, audits included (the journal; --follow to stream)')
    .option('-f, --follow', 'keep streaming new events')
    .option('--since <id>', 'only events after this event ID')
    .action(async (flags: { follow?: boolean; since?: string }, cmd: Command) => {
      const ctx = contextOf(cmd);
      const abort = new AbortController();
      const stop = (): void => abort.abort();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      try {
        await ctx.client.events({ follow: Boolean(flags.follow), lastEventId: flags.since, signal: abort.signal }, (e) => {
          if (ctx.format === 'table') {
            const at = typeof e.data.at === 'string' ? e.data.at : '';
            ctx.out(`${e.id ?? '-'}  ${at}  ${e.event}  ${summary(e.data)}`.trimEnd() + '\n');
          } else ctx.out(JSON.stringify({ id: e.id, event: e.event, ...e.data }) + '\n');
        });
      } finally {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
      }
    });
}
