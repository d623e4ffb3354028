/**
 * Leftover task processes: found by pid file, stopped group-wise (SIGTERM, then SIGKILL), and never
 * a stranger — a pid whose start time or boot differs is left alone, and members of a group whose
 * leader exited are signalled only when they carry the task's sandbox.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {
  processesOf,
  readPidFile,
  stopLeftover,
  stopLeftovers,
  writePidFile,
  type PidRecord,
} from '../../../../../framework/mesos/local/agent/leftover-processes';
import { bootId, groupMembers, identify, readStat } from '../../../../../framework/mesos/local/agent/process-identity';
import { silentLogger } from '../../../../../framework/shared/logger';
import { makeTempDir, waitFor } from './agent-test-kit';

let dir: string;
const started: number[] = [];

beforeEach(() => {
  dir = makeTempDir('polly-leftover-');
});

afterEach(() => {
  for (const pid of started.splice(0)) {
    for (const target of [-pid, pid]) {
      try {
        process.kill(target, 'SIGKILL');
      } catch {
        // gone
      }
    }
  }
  fs.rmSync(dir, { recursive: true, force: true });
});

function running(pid: number): boolean {
  const stat = readStat(pid);
  return stat !== undefined && stat.state !== 'Z';
}

/** A detached shell command (its own process group), as the agent starts tasks. */
function startDetached(script: string, env: Record<string, string> = {}): number {
  const child = spawn('/bin/sh', ['-c', script], { cwd: dir, detached: true, stdio: 'ignore', env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env } });
  child.unref();
  // Reap it when it exits, so it does not linger as a zombie of this test process.
  child.on('exit', () => undefined);
  started.push(child.pid!);
  return child.pid!;
}

function recordOf(pid: number, sandbox = dir): PidRecord {
  const identity = identify(pid)!;
  return { ...identity, taskId: 't1', sandbox };
}

const FAST = { graceMs: 2000, killWaitMs: 2000 };

test('a pid file round-trips; a missing or malformed one reads as undefined', () => {
  const file = path.join(dir, 'pids', 'forked.pid');
  const record: PidRecord = { pid: 1234, startTime: '42', bootId: bootId(), taskId: 't', sandbox: '/s' };
  writePidFile(file, record);
  expect(readPidFile(file)).toEqual(record);
  expect(readPidFile(path.join(dir, 'none.pid'))).toBeUndefined();
  fs.writeFileSync(file, '{"pid": "x"}');
  expect(readPidFile(file)).toBeUndefined();
});

test('stops the whole process group of a recorded process with SIGTERM', async () => {
  const pid = startDetached('sleep 60 & sleep 60; wait');
  await waitFor('both sleeps', () => groupMembers(pid).length >= 3);
  const members = groupMembers(pid);
  const outcome = await stopLeftover(recordOf(pid), FAST);
  expect(outcome.found.sort()).toEqual(members.sort());
  expect(outcome.stuck).toEqual([]);
  for (const p of members) expect(running(p)).toBe(false);
});

test('escalates to SIGKILL when the group ignores SIGTERM', async () => {
  const pid = startDetached('trap "" TERM; touch trapped; while true; do sleep 0.05; done');
  await waitFor('TERM ignored', () => fs.existsSync(path.join(dir, 'trapped')));
  const outcome = await stopLeftover(recordOf(pid), { graceMs: 200, killWaitMs: 2000 });
  expect(outcome.found).toContain(pid);
  expect(outcome.stuck).toEqual([]);
  expect(running(pid)).toBe(false);
});

test('never signals a process whose start time or boot differs from the record (a reused pid)', async () => {
  const pid = startDetached('sleep 60');
  await waitFor('running', () => running(pid));
  const real = recordOf(pid);
  const reused = { ...real, startTime: String(BigInt(real.startTime) - 1n) };
  expect(processesOf(reused).pids).toEqual([]);
  expect((await stopLeftover(reused, FAST)).found).toEqual([]);
  expect((await stopLeftover({ ...real, bootId: 'another-boot' }, FAST)).found).toEqual([]);
  expect(running(pid)).toBe(true);
});

test('when the leader has exited, only group members carrying the task sandbox are stopped', async () => {
  const sandbox = path.join(dir, 'sandbox');
  // The leader starts two children in its group and exits: one keeps MESOS_SANDBOX, one drops it.
  const leader = startDetached('sleep 60 & env -u MESOS_SANDBOX sleep 61 & exit 0', { MESOS_SANDBOX: sandbox });
  const record = recordOf(leader, sandbox);
  const carries = (pid: number): boolean => {
    try {
      return fs.readFileSync(`/proc/${pid}/environ`, 'utf8').includes(`MESOS_SANDBOX=${sandbox}`);
    } catch {
      return false;
    }
  };
  // Until `env` has exec'd its sleep, both children still carry the variable; until the leader is
  // reaped (no /proc entry left), it still counts as the group's leader.
  await waitFor(
    'leader gone, children left',
    () => !running(leader) && readStat(leader) === undefined && groupMembers(leader).length === 2 && groupMembers(leader).filter(carries).length === 1,
  );
  const [a, b] = groupMembers(leader);
  const ours = carries(a) ? a : b;
  const stranger = ours === a ? b : a;
  started.push(stranger);
  const outcome = await stopLeftover(record, FAST);
  expect(outcome.found).toEqual([ours]);
  expect(running(ours)).toBe(false);
  expect(running(stranger)).toBe(true);
});

test('stopLeftovers stops every recorded process, removes their pid files and says which were running', async () => {
  const live = startDetached('sleep 60');
  await waitFor('running', () => running(live));
  const liveFile = path.join(dir, 'a', 'forked.pid');
  writePidFile(liveFile, recordOf(live));
  const goneFile = path.join(dir, 'b', 'forked.pid');
  writePidFile(goneFile, { pid: 999_999_999, startTime: '1', bootId: bootId(), taskId: 'old', sandbox: dir });
  const junk = path.join(dir, 'c', 'forked.pid');
  fs.mkdirSync(path.dirname(junk));
  fs.writeFileSync(junk, 'not a record');
  const running_ = await stopLeftovers([liveFile, goneFile, junk], { ...FAST, logger: silentLogger, agentId: 'S0' });
  expect([...running_]).toEqual([liveFile]);
  expect(running(live)).toBe(false);
  expect(fs.existsSync(liveFile)).toBe(false);
  expect(fs.existsSync(goneFile)).toBe(false);
  expect(fs.existsSync(junk)).toBe(true); // unreadable: left for the operator, never guessed at
});
