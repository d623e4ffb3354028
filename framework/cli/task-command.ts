/** `polly task ls|resolve` over `/v1/tasks`: list Polly's tasks, and resolve one Mesos cannot account for (audited). */
import type { Command } from 'commander';
import { contextOf } from './cli-context';
import { UsageError } from './cli-errors';
import { Column, render, table } from './output';

interface TaskView {
  id: string;
  appId: string;
  instance: number;
  state: string;
  hostname?: string;
  agentId?: string;
  stranded?: { since: string; reason: string };
  message?: string;
}

const COLUMNS: Array<Column<TaskView>> = [
  { header: 'TASK', value: (t) => t.id },
  { header: 'APP', value: (t) => t.appId },
  { header: 'STATE', value: (t) => t.state },
  { header: 'HOST', value: (t) => t.hostname },
  { header: 'STRANDED SINCE', value: (t) => t.stranded?.since },
];

export function registerTaskCommand(program: Command): void {
  const task = program.command('task').description("the tasks of Polly's apps");

  task
    .command('ls')
    .description('list tasks (of one app with --app)')
    .option('--app <id>', 'only the tasks of this app')
    .action(async (flags: { app?: string }, cmd: Command) => {
      const ctx = contextOf(cmd);
      const qs = flags.app ? `?app=${encodeURIComponent(flags.app.replace(/^\/+/, ''))}` : '';
      const { tasks } = await ctx.client.get<{ tasks: TaskView[] }>(`/v1/tasks${qs}`);
      ctx.out(render(ctx.format, tasks, () => table(tasks, COLUMNS)));
    });

  task
    .command('resolve <taskId>')
    .description(
      'say that a task Mesos cannot account for (TASK_UNKNOWN, TASK_UNREACHABLE, stranded) is not running: ' +
        'its claims are force-released and its instance relaunched (admins only; audited)',
    )
    .option('-r, --reason <text>', 'why you know it is not running (required; audited)')
    .action(async (taskId: string, flags: { reason?: string }, cmd: Command) => {
      const ctx = contextOf(cmd);
      if (!flags.reason?.trim()) throw new UsageError('task resolve needs --reason "<why you know it is not running>" (it is audited)');
      const resolved = await ctx.client.post<TaskView>(`/v1/tasks/${encodeURIComponent(taskId)}/resolve`, { reason: flags.reason });
      ctx.out(render(ctx.format, resolved, () => `task ${resolved.id} ${resolved.state}: its claims are released and its instance relaunches\n`));
    });
}
