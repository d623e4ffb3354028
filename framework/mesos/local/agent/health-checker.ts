/**
 * A task's Mesos health check, run by the local agent's command executor as Mesos' HealthChecker
 * does it (src/checks/health_checker.cpp): the first check `delay_seconds` after the task starts,
 * then every `interval_seconds`, each bounded by `timeout_seconds`. HTTP is healthy on a 2xx or 3xx
 * answer, TCP when a connection opens, COMMAND on exit status 0 (run in the task's sandbox with its
 * environment). Failures within `grace_period_seconds` of the start are ignored until the first
 * success; after that each failure is reported, and once `consecutive_failures` in a row are reached
 * the executor is asked to kill the task. A success is reported on the first one and after failures.
 */
import { spawn } from 'node:child_process';
import * as http from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';
import { mesos } from '../../generated/mesos';

export interface HealthCheckerOptions {
  check: mesos.v1.IHealthCheck;
  /** The task's sandbox and environment (for COMMAND checks), and its user. */
  cwd: string;
  env: Record<string, string>;
  uid?: number;
  gid?: number;
  /** A health change to report; `killTask` when the failures reached `consecutive_failures`. */
  onHealth(healthy: boolean, killTask: boolean, consecutiveFailures: number): void;
}

const Type = mesos.v1.HealthCheck.Type;

function seconds(value: number | null | undefined, fallback: number): number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : fallback;
}

export class HealthChecker {
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private consecutiveFailures = 0;
  private initializing = true;
  private readonly startedAt = Date.now();
  private readonly delayMs: number;
  private readonly intervalMs: number;
  private readonly timeoutMs: number;
  private readonly graceMs: number;
  private readonly threshold: number;

  constructor(private readonly options: HealthCheckerOptions) {
    const c = options.check;
    this.delayMs = seconds(c.delay_seconds, 15) * 1000;
    this.intervalMs = Math.max(1, seconds(c.interval_seconds, 10) * 1000);
    this.timeoutMs = Math.max(1, seconds(c.timeout_seconds, 20) * 1000);
    this.graceMs = seconds(c.grace_period_seconds, 10) * 1000;
    this.threshold = typeof c.consecutive_failures === 'number' ? c.consecutive_failures : 3;
  }

  start(): void {
    this.schedule(this.delayMs);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.runOnce(), ms);
    this.timer.unref();
  }

  private async runOnce(): Promise<void> {
    let ok: boolean;
    try {
      ok = await this.probe();
    } catch {
      ok = false;
    }
    if (this.stopped) return;
    if (ok) this.success();
    else this.failure();
    this.schedule(this.intervalMs);
  }

  private success(): void {
    if (this.initializing || this.consecutiveFailures > 0) {
      this.initializing = false;
      this.consecutiveFailures = 0;
      this.options.onHealth(true, false, 0);
    }
  }

  private failure(): void {
    if (this.initializing && this.graceMs > 0 && Date.now() - this.startedAt <= this.graceMs) return;
    this.consecutiveFailures++;
    this.options.onHealth(false, this.consecutiveFailures >= this.threshold, this.consecutiveFailures);
  }

  private probe(): Promise<boolean> {
    const c = this.options.check;
    switch (c.type) {
      case Type.HTTP:
        return this.http(c.http ?? { port: 0 });
      case Type.TCP:
        return this.tcp(c.tcp?.port ?? 0);
      case Type.COMMAND:
        return this.command(c.command?.value ?? '');
      default:
        return Promise.resolve(false);
    }
  }

  private http(info: mesos.v1.HealthCheck.IHTTPCheckInfo): Promise<boolean> {
    const secure = info.scheme === 'https';
    const host = info.protocol === mesos.v1.NetworkInfo.Protocol.IPv6 ? '::1' : '127.0.0.1';
    return new Promise((resolve) => {
      const req = (secure ? https : http).request(
        { host, port: info.port, path: info.path || '/', method: 'GET', timeout: this.timeoutMs, rejectUnauthorized: false },
        (res) => {
          res.resume();
          const status = res.statusCode ?? 0;
          resolve(status >= 200 && status < 400);
        },
      );
      req.on('timeout', () => req.destroy(new Error('timed out')));
      req.on('error', () => resolve(false));
      req.end();
    });
  }

  private tcp(port: number): Promise<boolean> {
    return new Promise((resolve) => {
      const socket = net.connect({ host: '127.0.0.1', port });
      const done = (ok: boolean): void => {
        socket.destroy();
        resolve(ok);
      };
      socket.setTimeout(this.timeoutMs, () => done(false));
      socket.once('connect', () => done(true));
      socket.once('error', () => done(false));
    });
  }

  private command(value: string): Promise<boolean> {
    if (value === '') return Promise.resolve(false);
    return new Promise((resolve) => {
      const child = spawn('/bin/sh', ['-c', value], { cwd: this.options.cwd, env: this.options.env, stdio: 'ignore', uid: this.options.uid, gid: this.options.gid, detached: true });
      const timer = setTimeout(() => {
        try {
          process.kill(-child.pid!, 'SIGKILL');
        } catch {
          // gone already
        }
      }, this.timeoutMs);
      child.once('error', () => {
        clearTimeout(timer);
        resolve(false);
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        resolve(code === 0);
      });
    });
  }
}
