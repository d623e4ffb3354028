/**
 * One task's OS process, started the way Mesos' command executor does it (src/launcher/executor.cpp,
 * src/launcher/posix/executor.cpp): `shell` (the default) runs `/bin/sh -c <value>`, otherwise
 * `value` is executed with `arguments` (arguments[0] is argv[0], as in execvp). The process leads
 * its own process group so signals reach everything it started; stdout/stderr are appended to the
 * sandbox's `stdout`/`stderr` files.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { mesos } from '../../generated/mesos';

export interface TaskProcessExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export class TaskProcess {
  readonly exited: Promise<TaskProcessExit>;
  private exitedFlag = false;

  private constructor(
    private readonly child: ChildProcess,
    readonly pid: number,
  ) {
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.exitedFlag = true;
        resolve({ code, signal });
      });
    });
  }

  get hasExited(): boolean {
    return this.exitedFlag;
  }

  /** Starts the command; rejects if the OS cannot start it (e.g. no such executable). */
  static async spawn(command: mesos.v1.ICommandInfo, options: { cwd: string; env: Record<string, string> }): Promise<TaskProcess> {
    const value = command.value ?? '';
    const shell = command.shell ?? true;
    if (value === '') throw new Error(shell ? 'Shell command is not specified' : 'Executable is not specified');
    const file = shell ? '/bin/sh' : value;
    const args = shell ? ['-c', value] : (command.arguments ?? []).slice(1);
    const argv0 = shell ? 'sh' : (command.arguments?.[0] ?? value);

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
      });
    } finally {
      // The child holds its own copies of the descriptors.
      fs.closeSync(stdout);
      fs.closeSync(stderr);
    }
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', reject);
    });
    // Later errors (e.g. failing kill) must not crash the agent.
    child.on('error', () => undefined);
    if (child.pid === undefined) throw new Error('Process started without a pid');
    return new TaskProcess(child, child.pid);
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
