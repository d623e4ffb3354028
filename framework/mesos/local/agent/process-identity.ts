/**
 * Recognising a process again without ever mistaking a stranger for it. A pid alone is reused by
 * the kernel, so a process is identified by pid + start time (field 22 of /proc/<pid>/stat, in
 * clock ticks since boot) + the boot ID: the same pid started at the same tick of the same boot is
 * the same process. Linux only (/proc), which is what the local cluster runs on.
 */
import * as fs from 'node:fs';

export interface ProcessIdentity {
  pid: number;
  /** Field 22 of /proc/<pid>/stat (kept as text: it can exceed 2^53 in principle). */
  startTime: string;
  /** /proc/sys/kernel/random/boot_id: start times only compare within one boot. */
  bootId: string;
}

export interface ProcessStat {
  /** One letter: R, S, D, Z (zombie), T, ... */
  state: string;
  /** The process group. */
  pgrp: number;
  startTime: string;
}

let cachedBootId: string | undefined;

/** This boot's ID. */
export function bootId(): string {
  cachedBootId ??= fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  return cachedBootId;
}

/** State, process group and start time of a process, or undefined when there is no such process. */
export function readStat(pid: number): ProcessStat | undefined {
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) is in parentheses and may itself contain spaces and ')'.
  const close = text.lastIndexOf(')');
  if (close < 0) return undefined;
  const fields = text.slice(close + 2).split(' ');
  // fields[0] is field 3 (state); field 5 (pgrp) is fields[2]; field 22 (starttime) is fields[19].
  const pgrp = Number(fields[2]);
  const startTime = fields[19];
  if (!fields[0] || !Number.isInteger(pgrp) || !startTime || !/^\d+$/.test(startTime)) return undefined;
  return { state: fields[0], pgrp, startTime };
}

/** The identity of a running process (undefined when it is gone already). */
export function identify(pid: number): ProcessIdentity | undefined {
  const stat = readStat(pid);
  return stat ? { pid, startTime: stat.startTime, bootId: bootId() } : undefined;
}

/** True when `identity` names a process that is running now (a zombie has finished running). */
export function isRunning(identity: ProcessIdentity): boolean {
  if (identity.bootId !== bootId()) return false;
  const stat = readStat(identity.pid);
  return stat !== undefined && stat.startTime === identity.startTime && stat.state !== 'Z';
}

/** The pids of every process now in process group `pgrp` (zombies left out). */
export function groupMembers(pgrp: number): number[] {
  const out: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    const stat = readStat(pid);
    if (stat && stat.pgrp === pgrp && stat.state !== 'Z') out.push(pid);
  }
  return out;
}

/** One variable of a process's environment at exec time, or undefined (no such process or variable). */
export function environmentVariable(pid: number, name: string): string | undefined {
  let raw: string;
  try {
    raw = fs.readFileSync(`/proc/${pid}/environ`, 'utf8');
  } catch {
    return undefined;
  }
  const prefix = `${name}=`;
  for (const entry of raw.split('\0')) if (entry.startsWith(prefix)) return entry.slice(prefix.length);
  return undefined;
}
