/**
 * A real ZooKeeper server for tests and benchmarks: the Debian `zookeeper` package's jar run as a
 * standalone QuorumPeerMain on a free loopback port, with its own temp data dir and zoo.cfg.
 * `stop()`/`restart()` keep the port and the data (a ZooKeeper restart as operators do it),
 * `kill()` is SIGKILL, `freeze()`/`thaw()` are SIGSTOP/SIGCONT, `cleanup()` stops it and removes
 * the directory.
 *
 * The jar's manifest carries its dependency class path (/usr/share/java/*.jar); slf4j-nop keeps
 * the server quiet. `scripts/test-prerequisites.js` installs the package when missing.
 */
import { ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export const ZOOKEEPER_JAR = '/usr/share/java/zookeeper.jar';
const QUIET_LOGGING_JAR = '/usr/share/java/slf4j-nop.jar';

export function zookeeperAvailable(): boolean {
  return fs.existsSync(ZOOKEEPER_JAR);
}

/** A free loopback port: bind port 0, read it, release it. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(port));
    });
  });
}

/** Sends a four-letter word (`ruok`, `stat`, `mntr`...) and returns the reply, or undefined when unreachable. */
export function fourLetterWord(port: number, word: string, timeoutMs = 1000): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(undefined);
    }, timeoutMs);
    socket.on('connect', () => socket.write(word));
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', () => {
      clearTimeout(timer);
      resolve(undefined);
    });
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(chunks.length ? Buffer.concat(chunks).toString('utf8') : undefined);
    });
  });
}

export interface ZooKeeperServerOptions {
  /** Milliseconds; sessions may time out between 2 and 20 ticks. Default 200 (fast tests). */
  tickTime?: number;
  /** Extra zoo.cfg lines. */
  extraConfig?: Record<string, string | number>;
  startTimeoutMs?: number;
}

export class ZooKeeperServer {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private output = '';

  private constructor(
    readonly dir: string,
    readonly port: number,
    private readonly options: ZooKeeperServerOptions,
  ) {}

  /** `127.0.0.1:<port>`: the connection string clients use. */
  get connectString(): string {
    return `127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  static async start(options: ZooKeeperServerOptions = {}): Promise<ZooKeeperServer> {
    if (!zookeeperAvailable()) throw new Error(`ZooKeeper is not installed (${ZOOKEEPER_JAR} missing): apt-get install zookeeper`);
    const dir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'polly-zk-'));
    const port = await freePort();
    const server = new ZooKeeperServer(dir, port, options);
    await fs.promises.mkdir(path.join(dir, 'data'));
    await fs.promises.writeFile(path.join(dir, 'zoo.cfg'), server.config());
    try {
      await server.launch();
    } catch (err) {
      await server.cleanup();
      throw err;
    }
    return server;
  }

  /** Stops (SIGTERM) and starts again on the same port with the same data. */
  async restart(): Promise<void> {
    await this.stop();
    await this.launch();
  }

  /** Starts a stopped server again (same port, same data). */
  async startAgain(): Promise<void> {
    if (this.running) return;
    await this.launch();
  }

  async stop(): Promise<void> {
    await this.signal('SIGTERM');
  }

  async kill(): Promise<void> {
    await this.signal('SIGKILL');
  }

  /** Freezes the server (SIGSTOP): connections stay open, nothing is answered. */
  freeze(): void {
    if (this.running) this.child!.kill('SIGSTOP');
  }

  /** Lets a frozen server run again (SIGCONT). */
  thaw(): void {
    if (this.running) this.child!.kill('SIGCONT');
  }

  /** Stops the server and removes its directory. Safe to call twice. */
  async cleanup(): Promise<void> {
    this.thaw();
    await this.kill();
    await fs.promises.rm(this.dir, { recursive: true, force: true });
  }

  private config(): string {
    const lines: Record<string, string | number> = {
      tickTime: this.options.tickTime ?? 200,
      initLimit: 10,
      syncLimit: 5,
      dataDir: path.join(this.dir, 'data'),
      clientPort: this.port,
      clientPortAddress: '127.0.0.1',
      '4lw.commands.whitelist': '*',
      'admin.enableServer': 'false',
      maxClientCnxns: 0,
      ...this.options.extraConfig,
    };
    return Object.entries(lines)
      .map(([k, v]) => `${k}=${v}`)
      .join('\n') + '\n';
  }

  private async launch(): Promise<void> {
    const classpath = [ZOOKEEPER_JAR, ...(fs.existsSync(QUIET_LOGGING_JAR) ? [QUIET_LOGGING_JAR] : [])].join(':');
    this.output = '';
    const child = spawn(
      'java',
      ['-Xmx256m', '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1', '-cp', classpath, 'org.apache.zookeeper.server.quorum.QuorumPeerMain', path.join(this.dir, 'zoo.cfg')],
      { cwd: this.dir, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.child = child;
    const keep = (c: Buffer): void => {
      this.output = (this.output + c.toString('utf8')).slice(-8000);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    const deadline = Date.now() + (this.options.startTimeoutMs ?? 30_000);
    for (;;) {
      if (!this.running) throw new Error(`ZooKeeper exited during start-up:\n${this.output}`);
      if ((await fourLetterWord(this.port, 'ruok', 500)) === 'imok') {
        // `imok` means the process serves; wait until it also accepts sessions (not still loading).
        const stat = await fourLetterWord(this.port, 'srvr', 1000);
        if (stat && /Mode: standalone/.test(stat)) return;
      }
      if (Date.now() > deadline) {
        await this.kill();
        throw new Error(`ZooKeeper did not answer ruok within the start timeout:\n${this.output}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  private async signal(sig: NodeJS.Signals): Promise<void> {
    const child = this.child;
    if (!child || !this.running) return;
    child.kill(sig);
    const bound = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await this.exited;
    clearTimeout(bound);
  }
}

/**
 * One real ZooKeeper server for the enclosing describe block (or test file): started before its
 * tests, stopped after them. Returns an accessor, since the server exists only once started.
 */
export function useZooKeeperServer(): () => ZooKeeperServer {
  let server: ZooKeeperServer | undefined;
  beforeAll(async () => {
    server = await ZooKeeperServer.start();
  }, 60_000);
  afterAll(async () => {
    await server?.cleanup();
  });
  return () => {
    if (!server) throw new Error('the ZooKeeper server has not started');
    return server;
  };
}
