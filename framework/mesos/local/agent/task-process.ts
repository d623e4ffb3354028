/**
 * One task's OS process, started the way Mesos' command executor does it (src/launcher/executor.cpp,
 * src/launcher/posix/executor.cpp): `shell` (the default) runs `/bin/sh -c <value>`, otherwise
 * `value` is executed with `arguments` (arguments[0] is argv[0], as in execvp). The process leads
 * its own process group so signals reach everything it started; stdout/stderr are appended to the
 * sandbox's `stdout`/`stderr` files. With a `pidFile` the process is recorded (pid, start time, boot
 * ID) the moment it is forked and the record removed once it has exited, so an agent that died in
 * between finds it on restart (leftover-processes.ts).
 *
 * Forking takes milliseconds and blocks the event loop, which the simulated agents share with the
 * in-process master: spawns are paced one per event-loop turn, so an agent starting a thousand
 * tasks at once does not stop the master from answering meanwhile (a real agent is a process of
 * its own).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { mesos } from '../../generated/mesos';
import { removePidFile, writePidFile } from './leftover-processes';
import { bootId, readStat } from './process-identity';

export interface TaskProcessExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface SpawnOptions {
  cwd: string;
  env: Record<string, string>;
  /** Where to record the process while it runs, and the task it belongs to. */
  pidFile?: { file: string; taskId: string };
  /** Run as this user (CommandInfo.user; the agent must be root). */
  uid?: number;
  gid?: number;
}

/** The last spawn's turn; the next one waits for it, and for an event-loop turn of its own. */
let spawnTurn: Promise<void> = Promise.resolve();

function nextSpawnTurn(): Promise<void> {
  const turn = spawnTurn.then(() => new Promise<void>((resolve) => setImmediate(resolve)));
  spawnTurn = turn;
  return turn;
}

export class TaskProcess {
  readonly exited: Promise<TaskProcessExit>;
  private exitedFlag = false;

  private constructor(
    private readonly child: ChildProcess,
    readonly pid: number,
    pidFile: string | undefined,
  ) {
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.exitedFlag = true;
        if (pidFile) removePidFile(pidFile);
        resolve({ code, signal });
      });
    });
  }

  get hasExited(): boolean {
    return this.exitedFlag;
  }

  /** Starts the command; rejects if the OS cannot start it (e.g. no such executable). */
  static async spawn(command: mesos.v1.ICommandInfo, options: SpawnOptions): Promise<TaskProcess> {
    const value = command.value ?? '';
    const shell = command.shell ?? true;
    if (value === '') throw new Error(shell ? 'Shell command is not specified' : 'Executable is not specified');
    const file = shell ? '/bin/sh' : value;
    const args = shell ? ['-c', value] : (command.arguments ?? []).slice(1);
    const argv0 = shell ? 'sh' : (command.arguments?.[0] ?? value);

    await nextSpawnTurn();
    const stdout = fs.openSync(path.join(options.cwd, 'stdout'), 'a');
    const stderr = fs.openSync(path.join(options.cwd, 'stderr'), 'a');
    let child: ChildProcess;
    try {
      child = spawn(file, args, {
        argv0,
        cwd: options.cwd,
        env: options.env,
        detached: true,
        stdio: ['ignore', stdout, stderr],
        ...(options.uid !== undefined ? { uid: options.uid, gid: options.gid } : {}),
      });
    } finally {
      // The child holds its own copies of the descriptors.
      fs.closeSync(stdout);
      fs.closeSync(stderr);
    }
    // Forked already (the pid is known synchronously): record it before anything can interrupt us.
    // The start time is fixed at fork, so reading it before the exec is fine.
    const recorded = options.pidFile && child.pid !== undefined ? recordPid(options.pidFile, child.pid, options.cwd) : undefined;
    try {
      await new Promise<void>((resolve, reject) => {
        child.once('spawn', resolve);
        child.once('error', reject);
      });
    } catch (err) {
      if (recorded) removePidFile(recorded);
      throw err;
    }
    // Later errors (e.g. failing kill) must not crash the agent.
    child.on('error', () => undefined);
    if (child.pid === undefined) throw new Error('Process started without a pid');
    return new TaskProcess(child, child.pid, recorded);
  }

  /** Signals the whole process group; a group that is already gone is fine. */
  signalGroup(signal: NodeJS.Signals): void {
    try {
      process.kill(-this.pid, signal);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
      if (!this.exitedFlag) {
        try {
          process.kill(this.pid, signal);
        } catch {
          // already gone
        }
      }
    }
  }
}

function recordPid(pidFile: { file: string; taskId: string }, pid: number, sandbox: string): string | undefined {
  const stat = readStat(pid);
  if (!stat) return undefined; // exited at once: nothing can be left over
  writePidFile(pidFile.file, { pid, startTime: stat.startTime, bootId: bootId(), taskId: pidFile.taskId, sandbox });
  return pidFile.file;
}

/** Names as strsignal(3) gives them, which is what the command executor's message uses. */
const SIGNAL_DESCRIPTIONS: Partial<Record<NodeJS.Signals, string>> = {
  SIGHUP: 'Hangup',
  SIGINT: 'Interrupt',
  SIGQUIT: 'Quit',
  SIGILL: 'Illegal instruction',
  SIGABRT: 'Aborted',
  SIGFPE: 'Floating point exception',
  SIGKILL: 'Killed',
  SIGSEGV: 'Segmentation fault',
  SIGPIPE: 'Broken pipe',
  SIGALRM: 'Alarm clock',
  SIGTERM: 'Terminated',
  SIGUSR1: 'User defined signal 1',
  SIGUSR2: 'User defined signal 2',
  SIGBUS: 'Bus error',
};

/** "Command exited with status 3" / "Command terminated with signal Killed" (WSTRINGIFY). */
export function describeExit(exit: TaskProcessExit): string {
  if (exit.signal) {
    const description = SIGNAL_DESCRIPTIONS[exit.signal] ?? exit.signal;
    return `Command terminated with signal ${description}`;
  }
  return `Command exited with status ${exit.code ?? 'unknown'}`;
}
