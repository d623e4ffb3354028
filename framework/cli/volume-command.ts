/**
 * `polly volume ls|get|create|rm|offer|revoke|label|unlabel` over `/v1/volumes` (every command that
 * names a volume takes its ID or its name); `polly volume expand` over `/v1/volumes/:id/expand`;
 * `polly volume detach` (an attachment no claim accounts for) over `/v1/volumes/:id/detach`; and the quarantine: `polly volume quarantine ls|restore` and
 * `polly volume purge` over `/v1/services/:name/quarantine`.
 */
import type { Command } from 'commander';
import type { QuarantineView } from '../storage/quarantine-book';
import { isVolumeId } from '../storage/volume-id';
import type { VolumeRecord } from '../storage/volume-record';
import { ApiError, UsageError } from './cli-errors';
import { CliContext, collect, contextOf, parsePairs, positiveInt } from './cli-context';
import { Column, details, humanSize, render, table } from './output';

const COLUMNS: Array<Column<VolumeRecord>> = [
  { header: 'ID', value: (v) => v.id },
  { header: 'NAME', value: (v) => v.name },
  { header: 'SERVICE', value: (v) => v.service },
  { header: 'SIZE', value: (v) => humanSize(v.size) },
  { header: 'ZONE', value: (v) => v.availabilityZone },
  { header: 'STATUS', value: (v) => v.status },
  { header: 'MANAGED', value: (v) => (v.managed ? 'yes' : 'no') },
  { header: 'SCHEDULERS', value: (v) => v.schedulers },
  { header: 'LABELS', value: (v) => v.labels },
];

export function volumeDetails(v: VolumeRecord): string {
  return details([
    ['ID', v.id],
    ['Name', v.name],
    ['Service', v.service],
    ['Driver volume ID', v.driverVolumeId],
    ['Size', humanSize(v.size)],
    ['Type', v.type],
    ['IOPS', v.iops],
    ['Zone', v.availabilityZone],
    ['Status', v.status],
    ['Encrypted', v.encrypted ? 'yes' : 'no'],
    ['Managed', v.managed ? 'yes' : 'no'],
    ['Profile', v.profile],
    ['Schedulers', v.schedulers],
    ['Labels', v.labels],
    ['Attachments', v.attachments.map((a) => `${a.agentId}(${a.mode},claim ${a.claimId})`)],
    [
      'Unexplained attachments',
      v.foreignAttachments?.map((a) => `${a.instanceId}(${a.readOnly ? 'RO' : 'RW'},no claim,found ${a.foundAt})`),
    ],
    ['Created', v.createdAt],
  ]);
}

const QUARANTINE_COLUMNS: Array<Column<QuarantineView>> = [
  { header: 'SERVICE', value: (q) => q.service },
  { header: 'ID', value: (q) => q.id },
  { header: 'KIND', value: (q) => q.kind },
  { header: 'WAS', value: (q) => q.originalId },
  { header: 'SINCE', value: (q) => q.quarantinedAt },
  { header: 'REASON', value: (q) => q.reason },
  { header: 'PATH', value: (q) => q.path },
];

const path = (id: string): string => `/v1/volumes/${encodeURIComponent(id)}`;
const quarantinePath = (service: string, id?: string): string =>
  `/v1/services/${encodeURIComponent(service)}/quarantine${id === undefined ? '' : `/${encodeURIComponent(id)}`}`;

/**
 * The volume a command names by ID or by name: a volume with that ID wins; otherwise the one volume
 * with that name (names are unique per service; a name used by several services needs the ID).
 */
async function findVolume(ctx: CliContext, ref: string): Promise<VolumeRecord> {
  let byId: ApiError | undefined;
  if (isVolumeId(ref)) {
    try {
      return await ctx.client.get<VolumeRecord>(path(ref));
    } catch (err) {
      if (!(err instanceof ApiError && err.status === 404)) throw err;
      byId = err;
    }
  }
  const { volumes } = await ctx.client.get<{ volumes: VolumeRecord[] }>(`/v1/volumes?name=${encodeURIComponent(ref)}`);
  if (volumes.length === 1) return volumes[0]!;
  if (volumes.length > 1) {
    throw new UsageError(
      `Volume name "${ref}" is used by ${volumes.length} volumes (${volumes
        .map((v) => v.id)
        .sort()
        .join(', ')}); give the ID`,
    );
  }
  throw byId ?? new ApiError(`Volume "${ref}" not found`, 404);
}

export function registerVolumeCommand(program: Command): void {
  const volume = program.command('volume').description('storage volumes: list, inspect, create, remove, offer to schedulers, label');

  volume
    .command('ls')
    .description('list managed volumes (--all: unmanaged ones on the backends too)')
    .option('-a, --all', 'include volumes not managed by Polly')
    .option('--service <name>', 'only this storage service')
    .option('--scheduler <name>', 'only volumes offered to this scheduler')
    .option('--zone <zone>', 'only this availability zone')
    .option('-l, --label <k=v>', 'only volumes with this label (repeatable)', collect)
    .action(async (flags: { all?: boolean; service?: string; scheduler?: string; zone?: string; label?: string[] }, cmd: Command) => {
      const ctx = contextOf(cmd);
      const q = new URLSearchParams();
      if (flags.all) q.set('all', 'true');
      if (flags.service) q.set('service', flags.service);
      if (flags.scheduler) q.set('scheduler', flags.scheduler);
      if (flags.zone) q.set('zone', flags.zone);
      for (const [k, v] of Object.entries(parsePairs(flags.label, '--label'))) q.append('label', `${k}=${v}`);
      const qs = q.toString();
      const { volumes } = await ctx.client.get<{ volumes: VolumeRecord[] }>(`/v1/volumes${qs ? `?${qs}` : ''}`);
      ctx.out(render(ctx.format, volumes, () => table(volumes, COLUMNS)));
    });

  volume
    .command('get <id|name>')
    .description('show one volume')
    .action(async (ref: string, _flags: unknown, cmd: Command) => {
      const ctx = contextOf(cmd);
      const v = await findVolume(ctx, ref);
      ctx.out(render(ctx.format, v, () => volumeDetails(v)));
    });

  volume
    .command('create <name>')
    .description('create a volume on a storage service')
    .option('-s, --service <name>', 'storage service', 'local')
    .option('--size <GiB>', 'size in GiB')
    .option('-p, --profile <name>', 'profile of the service (default: default)')
    .option('--type <type>', 'volume type')
    .option('--iops <n>', 'provisioned IOPS')
    .option('--zone <zone>', 'availability zone')
    .option('-l, --label <k=v>', 'label (repeatable)', collect)
    .option('--scheduler <name>', 'offer to this scheduler (repeatable)', collect)
    .action(
      async (
        name: string,
        flags: {
          service: string;
          size?: string;
          profile?: string;
          type?: string;
          iops?: string;
          zone?: string;
          label?: string[];
          scheduler?: string[];
        },
        cmd: Command,
      ) => {
        const ctx = contextOf(cmd);
        const body: Record<string, unknown> = { service: flags.service, name };
        if (flags.size !== undefined) body.size = positiveInt(flags.size, '--size');
        if (flags.iops !== undefined) body.iops = positiveInt(flags.iops, '--iops');
        if (flags.profile) body.profile = flags.profile;
        if (flags.type) body.type = flags.type;
        if (flags.zone) body.availabilityZone = flags.zone;
        if (flags.label) body.labels = parsePairs(flags.label, '--label');
        if (flags.scheduler) body.schedulers = flags.scheduler;
        const v = await ctx.client.post<VolumeRecord>('/v1/volumes', body);
        ctx.out(render(ctx.format, v, () => volumeDetails(v)));
      },
    );

  volume
    .command('rm <id|name>')
    .description('remove a volume from its backend (refused while claimed)')
    .action(async (ref: string, _flags: unknown, cmd: Command) => {
      const ctx = contextOf(cmd);
      const { id } = await findVolume(ctx, ref);
      await ctx.client.delete(path(id));
      ctx.out(render(ctx.format, { removed: id }, () => `removed ${id}\n`));
    });

  volume
    .command('expand <id|name>')
    .description('grow a volume to a new size (the same size again changes nothing; volumes never shrink)')
    .requiredOption('--size <GiB>', 'the new size in GiB')
    .action(async (ref: string, flags: { size: string }, cmd: Command) => {
      const size = positiveInt(flags.size, '--size');
      if (size < 1) throw new UsageError('--size must be at least 1 (GiB)');
      const ctx = contextOf(cmd);
      const { id } = await findVolume(ctx, ref);
      const result = await ctx.client.post<{ volume: VolumeRecord; expanded: boolean }>(`${path(id)}/expand`, { size });
      const v = result.volume;
      ctx.out(
        render(ctx.format, result, () =>
          result.expanded ? `expanded ${id} to ${humanSize(v.size)}\n` : `${id} is already ${humanSize(v.size)}; nothing changed\n`,
        ),
      );
    });

  volume
    .command('detach <id|name>')
    .description('detach a volume from an instance no claim accounts for (admin; audited): see "Unexplained attachments"')
    .requiredOption('--instance <id>', 'the instance (agent host) it is attached to')
    .requiredOption('--reason <text>', 'why (audited)')
    .action(async (ref: string, flags: { instance: string; reason: string }, cmd: Command) => {
      if (!flags.reason.trim()) throw new UsageError('--reason needs a text saying why (it is audited)');
      const ctx = contextOf(cmd);
      const { id } = await findVolume(ctx, ref);
      const result = await ctx.client.post<{ volume: VolumeRecord; detached: { instanceId: string; readOnly: boolean } }>(
        `${path(id)}/detach`,
        { instanceId: flags.instance, reason: flags.reason },
      );
      ctx.out(render(ctx.format, result, () => `detached ${id} from ${result.detached.instanceId}\n`));
    });

  const patch = (verb: string, description: string, build: (args: string[]) => Record<string, unknown>): void => {
    volume
      .command(`${verb} <id|name> <items...>`)
      .description(description)
      .action(async (ref: string, items: string[], _flags: unknown, cmd: Command) => {
        const ctx = contextOf(cmd);
        const body = build(items);
        const { id } = await findVolume(ctx, ref);
        const v = await ctx.client.patch<VolumeRecord>(path(id), body);
        ctx.out(render(ctx.format, v, () => volumeDetails(v)));
      });
  };
  registerQuarantineCommands(volume);

  patch('offer', 'offer a volume to schedulers (they may see and claim it)', (s) => ({ offer: s }));
  patch('revoke', 'withdraw the offer from schedulers', (s) => ({ revoke: s }));
  patch('label', 'set labels: polly volume label ID|NAME k=v [k2=v2 ...]', (pairs) => ({ labels: parsePairs(pairs, 'label') }));
  patch('unlabel', 'remove labels: polly volume unlabel ID|NAME k [k2 ...]', (keys) => ({
    labels: Object.fromEntries(keys.map((k) => [k, null])),
  }));
}

/** Data a backend holds that its records do not explain: list it, restore it, or (explicitly) purge it. */
function registerQuarantineCommands(volume: Command): void {
  const quarantine = volume
    .command('quarantine')
    .description('data the backends hold but their records do not explain (never deleted by Polly)');

  quarantine
    .command('ls')
    .description('list quarantined entries')
    .option('--service <name>', 'only this storage service')
    .action(async (flags: { service?: string }, cmd: Command) => {
      const ctx = contextOf(cmd);
      const { quarantine: entries } = await ctx.client.get<{ quarantine: QuarantineView[] }>(
        flags.service ? quarantinePath(flags.service) : '/v1/quarantine',
      );
      ctx.out(render(ctx.format, entries, () => table(entries, QUARANTINE_COLUMNS)));
    });

  quarantine
    .command('restore <service> <quarantined-id> <name>')
    .description('make a quarantined entry a managed volume again (a new ID, this name)')
    .action(async (service: string, id: string, name: string, _flags: unknown, cmd: Command) => {
      const ctx = contextOf(cmd);
      const v = await ctx.client.post<VolumeRecord>(`${quarantinePath(service, id)}/restore`, { name });
      ctx.out(render(ctx.format, v, () => volumeDetails(v)));
    });

  volume
    .command('purge <service> <quarantined-id>')
    .description('delete one quarantined entry, data and all (admin; needs --yes)')
    .option('--yes', 'yes, delete this data for good')
    .action(async (service: string, id: string, flags: { yes?: boolean }, cmd: Command) => {
      if (!flags.yes) {
        throw new UsageError(
          `polly volume purge deletes quarantined entry ${id} of service ${service} and all its data for good: add --yes to confirm`,
        );
      }
      const ctx = contextOf(cmd);
      const { purged } = await ctx.client.delete<{ purged: QuarantineView }>(quarantinePath(service, id));
      ctx.out(render(ctx.format, { purged }, () => `purged ${purged.service}/${purged.id}: deleted ${purged.path}\n`));
    });
}
