/** `polly claim ls|release` over `/v1/claims`. */
import type { Command } from 'commander';
import type { ClaimRecord } from '../storage/claim-record';
import { contextOf } from './cli-context';
import { UsageError } from './cli-errors';
import { Column, render, table } from './output';

const COLUMNS: Array<Column<ClaimRecord>> = [
  { header: 'ID', value: (c) => c.id },
  { header: 'VOLUME', value: (c) => c.volumeId },
  { header: 'STATE', value: (c) => c.state },
  { header: 'MODE', value: (c) => c.mode },
  { header: 'SCHEDULER', value: (c) => c.scheduler ?? '(admin)' },
  { header: 'TASK', value: (c) => c.taskId },
  { header: 'AGENT', value: (c) => c.agentId },
];

export function registerClaimCommand(program: Command): void {
  const claim = program.command('claim').description('claims (leases) of volumes by tasks');

  claim
    .command('ls')
    .description('list claims (live ones unless --all)')
    .option('-a, --all', 'include released and failed claims')
    .option('--volume <id>', 'only claims of this volume')
    .option('--scheduler <name>', 'only claims of this scheduler')
    .option('--agent <id>', 'only claims on this agent')
    .action(async (flags: { all?: boolean; volume?: string; scheduler?: string; agent?: string }, cmd: Command) => {
      const ctx = contextOf(cmd);
      const q = new URLSearchParams();
      if (!flags.all) q.set('live', 'true');
      if (flags.volume) q.set('volumeId', flags.volume);
      if (flags.scheduler) q.set('scheduler', flags.scheduler);
      if (flags.agent) q.set('agentId', flags.agent);
      const qs = q.toString();
      const { claims } = await ctx.client.get<{ claims: ClaimRecord[] }>(`/v1/claims${qs ? `?${qs}` : ''}`);
      ctx.out(render(ctx.format, claims, () => table(claims, COLUMNS)));
    });

  claim
    .command('release <id>')
    .description('release a claim (detach); --force with --reason when the holder may still be alive')
    .option('-f, --force', 'force-release (operators only; audited)')
    .option('-r, --reason <text>', 'why (required with --force)')
    .action(async (id: string, flags: { force?: boolean; reason?: string }, cmd: Command) => {
      const ctx = contextOf(cmd);
      if (flags.force && !flags.reason?.trim()) throw new UsageError('--force needs --reason "<why>" (it is audited)');
      const body: Record<string, unknown> = {};
      if (flags.force) body.force = true;
      if (flags.reason) body.reason = flags.reason;
      const released = await ctx.client.post<ClaimRecord>(`/v1/claims/${encodeURIComponent(id)}/release`, body);
      ctx.out(render(ctx.format, released, () => `claim ${released.id} ${released.state}${released.forced ? ' (forced)' : ''}\n`));
    });
}
