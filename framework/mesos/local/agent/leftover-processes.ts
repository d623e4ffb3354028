/**
 * Task processes that outlived the agent that started them (Polly was killed; the processes are
 * detached, in their own process groups). The agent writes a pid file for every task process the
 * moment it is forked and removes it when the process has exited, so a pid file left behind names a
 * process that may still run. On restart the agent stops each such process group (SIGTERM, then
 * SIGKILL, each wait bounded) before it registers again, so nothing of an earlier run keeps writing
 * into volumes while their tasks are relaunched elsewhere.
 *
 * A pid is never trusted alone (process-identity.ts): the group is signalled only while its leader
 * is the very process that was recorded; when the leader has exited but members of its group live
 * on, only members that carry the task's sandbox in their environment (MESOS_SANDBOX) and started
 * after the leader are signalled.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Logger } from '../../../shared/logger';
import { bootId, environmentVariable, groupMembers, readStat, type ProcessIdentity } from './process-identity';

/** What a pid file holds. */
export interface PidRecord extends ProcessIdentity {
  taskId: string;
  /** The task's sandbox; every process of the task inherits it as MESOS_SANDBOX. */
  sandbox: string;
}

export interface StopOptions {
  /** How long the group has after SIGTERM before SIGKILL. */
  graceMs: number;
  /** How long to wait for the group to be gone after SIGKILL. */
  killWaitMs: number;
}

export interface StopOutcome {
  /** Processes of the record that were running when the agent looked. */
  found: number[];
  /** Processes still running after SIGKILL and the wait (uninterruptible sleep): reported, not hidden. */
  stuck: number[];
}

export function writePidFile(file: string, record: PidRecord): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, `${JSON.stringify(record)}\n`);
  fs.renameSync(tmp, file);
}

export function removePidFile(file: string): void {
  fs.rmSync(file, { force: true });
}

/** The record in a pid file; undefined when the file is absent or does not hold one. */
export function readPidFile(file: string): PidRecord | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    return undefined;
  }
  const r = parsed as Partial<PidRecord> | null;
  if (
    !r ||
    typeof r.pid !== 'number' ||
    !Number.isInteger(r.pid) ||
    r.pid <= 1 ||
    typeof r.startTime !== 'string' ||
    typeof r.bootId !== 'string' ||
    typeof r.taskId !== 'string' ||
    typeof r.sandbox !== 'string'
  ) {
    return undefined;
  }
  return { pid: r.pid, startTime: r.startTime, bootId: r.bootId, taskId: r.taskId, sandbox: r.sandbox };
}

/** The running processes that belong to a recorded task process, and whether its group is intact. */
export function processesOf(record: PidRecord): { pids: number[]; groupIntact: boolean } {
  if (record.bootId !== bootId()) return { pids: [], groupIntact: false }; // the host rebooted since
  const leader = readStat(record.pid);
  // A zombie leader has exited: only its reaping is pending, and its group may hold strangers.
  if (leader && leader.state !== 'Z') {
    // Another process now has the pid: the kernel reuses a pid only once its group is empty.
    if (leader.startTime !== record.startTime) return { pids: [], groupIntact: false };
    return { pids: groupMembers(record.pid), groupIntact: true };
  }
  const started = BigInt(record.startTime);
  const pids = groupMembers(record.pid).filter((pid) => {
    const stat = readStat(pid);
    return stat !== undefined && BigInt(stat.startTime) >= started && environmentVariable(pid, 'MESOS_SANDBOX') === record.sandbox;
  });
  return { pids, groupIntact: false };
}

/** SIGTERM, then SIGKILL after `graceMs`, to what is left of a recorded task process. */
export async function stopLeftover(record: PidRecord, options: StopOptions): Promise<StopOutcome> {
  const first = processesOf(record);
  if (first.pids.length === 0) return { found: [], stuck: [] };
  signal(record, first, 'SIGTERM');
  if (await gone(record, options.graceMs)) return { found: first.pids, stuck: [] };
  const rest = processesOf(record);
  signal(record, rest, 'SIGKILL');
  if (await gone(record, options.killWaitMs)) return { found: first.pids, stuck: [] };
  return { found: first.pids, stuck: processesOf(record).pids };
}

function signal(record: PidRecord, target: { pids: number[]; groupIntact: boolean }, sig: NodeJS.Signals): void {
  if (target.groupIntact) {
    try {
      process.kill(-record.pid, sig);
      return;
    } catch {
      // the group went away meanwhile; fall through to what was listed
    }
  }
  for (const pid of target.pids) {
    try {
      process.kill(pid, sig);
    } catch {
      // exited meanwhile
    }
  }
}

async function gone(record: PidRecord, withinMs: number): Promise<boolean> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    if (processesOf(record).pids.length === 0) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, 25));
  }
}

/**
 * Stops what is left of every process recorded in `pidFiles` (all at once, so the whole takes at
 * most about graceMs + killWaitMs) and removes the pid files of those now gone. Returns the pid
 * files whose processes were still running.
 */
export async function stopLeftovers(
  pidFiles: readonly string[],
  options: StopOptions & { logger: Logger; agentId: string },
): Promise<Set<string>> {
  const running = new Set<string>();
  await Promise.all(
    pidFiles.map(async (file) => {
      const record = readPidFile(file);
      if (!record) {
        options.logger.warn('Ignoring an unreadable pid file of an earlier run', { agentId: options.agentId, file });
        return;
      }
      const outcome = await stopLeftover(record, options);
      if (outcome.found.length > 0) {
        running.add(file);
        options.logger.warn('Killed task processes left over from an earlier run', {
          agentId: options.agentId,
          taskId: record.taskId,
          pids: outcome.found,
        });
      }
      if (outcome.stuck.length > 0) {
        options.logger.error('Task processes of an earlier run survived SIGKILL; their pid file is kept', {
          agentId: options.agentId,
          taskId: record.taskId,
          pids: outcome.stuck,
          file,
        });
        return;
      }
      removePidFile(file);
    }),
  );
  return running;
}
