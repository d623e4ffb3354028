/** `polly agents` and `polly offers` (the scheduler's `/v1/agents` and `/v1/offers`). */
import type { Command } from 'commander';
import { contextOf } from './cli-context';
import { UsageError } from './cli-errors';
import { Column, humanSize, render, table } from './output';

interface AgentView {
  agentId: string;
  hostname: string;
  zone?: string;
  region?: string;
  state?: string;
  attributes?: Record<string, unknown>;
}

interface OfferView {
  id?: string;
  agentId?: string;
  hostname?: string;
  zone?: string;
  scheduler?: string;
  volumes?: Array<{ id?: string; volumeId?: string; name?: string } | string>;
  capacity?: Array<{ service?: string; profile?: string; availableGiB?: number }>;
}

const AGENT_COLUMNS: Array<Column<AgentView>> = [
  { header: 'AGENT', value: (a) => a.agentId },
  { header: 'HOSTNAME', value: (a) => a.hostname },
  { header: 'ZONE', value: (a) => a.zone },
  { header: 'REGION', value: (a) => a.region },
  { header: 'STATE', value: (a) => a.state },
  { header: 'ATTRIBUTES', value: (a) => a.attributes },
];

const OFFER_COLUMNS: Array<Column<OfferView>> = [
  { header: 'OFFER', value: (o) => o.id },
  { header: 'AGENT', value: (o) => o.agentId },
  { header: 'HOSTNAME', value: (o) => o.hostname },
  { header: 'ZONE', value: (o) => o.zone },
  { header: 'VOLUMES', value: (o) => (o.volumes ?? []).map((v) => (typeof v === 'string' ? v : (v.name ?? v.volumeId ?? v.id))) },
  {
    header: 'CAPACITY',
    value: (o) =>
      (o.capacity ?? []).map(
        (c) => `${c.service ?? '?'}/${c.profile ?? '?'}:${c.availableGiB === undefined ? 'unknown' : humanSize(c.availableGiB)}`,
      ),
  },
];

function listOf<T>(res: unknown, key: string): T[] {
  if (Array.isArray(res)) return res as T[];
  const inner = (res as Record<string, unknown> | undefined)?.[key];
  return Array.isArray(inner) ? (inner as T[]) : [];
}

export function registerClusterCommands(program: Command): void {
  program
    .command('agents')
    .description('Mesos agents Polly knows, with zone and region')
    .action(async (_flags: unknown, cmd: Command) => {
      const ctx = contextOf(cmd);
      const res = await ctx.client.get<unknown>('/v1/agents');
      const agents = listOf<AgentView>(res, 'agents');
      ctx.out(render(ctx.format, res, () => table(agents, AGENT_COLUMNS)));
    });

  program
    .command('offers')
    .description('storage offers for a scheduler: attachable volumes and capacity per agent')
    .requiredOption('--scheduler <name>', 'the scheduler the offers are for')
    .option('--agent <id>', 'only this agent')
    .action(async (flags: { scheduler: string; agent?: string }, cmd: Command) => {
      const ctx = contextOf(cmd);
      if (!flags.scheduler) throw new UsageError('--scheduler is required');
      const q = new URLSearchParams({ scheduler: flags.scheduler });
      if (flags.agent) q.set('agent', flags.agent);
      const res = await ctx.client.get<unknown>(`/v1/offers?${q.toString()}`);
      ctx.out(render(ctx.format, res, () => table(listOf<OfferView>(res, 'offers'), OFFER_COLUMNS)));
    });
}
