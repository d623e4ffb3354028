/**
 * Polly highly available (`state.backend: zookeeper`): several instances share one ZooKeeper
 * session-backed store and elect a leader. Only the leader runs the PollyService (storage recovery,
 * the Mesos subscription with the framework ID kept in the shared store, reconciliation, the
 * scheduler and the full API). A standby listens on the same API address and answers every request
 * but `/health` and `/metrics` with a 307 to the leader's advertised URL (503 while none is known),
 * so clients that follow redirects always reach the one instance that holds the state in memory.
 *
 * Every instance opens the installation when it starts, before it joins the election (so a lost or
 * foreign store refuses the start on every host, not only on the one that would lead): on a new
 * ZooKeeper store the first instance initialises it and the others adopt its installation marker.
 *
 * Losing the lead stops the leader's work at once: the store's writes are fenced on the election
 * node (they fail as soon as the node is gone), the Mesos stream is closed immediately, then the
 * service drains and the instance queues up again as a standby.
 *
 * Handing over: a stopping leader (SIGTERM) stops its API, drains its requests and driver calls,
 * closes its Mesos stream and finishes its writes, and only then resigns (removes its election
 * node): the next candidate leads at once. A leader that dies is replaced when its heartbeat stands
 * still (state.leaderTimeoutMs after its last beat), or when its session expires if it died before
 * its first beat.
 */
import express from 'express';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from './shared/logger';
import { PollyService, PollyServiceOptions } from './polly-service';
import { leaderRedirect } from './api/middleware/leader-redirect';
import { errorHandler } from './api/middleware/error-handler';
import { TypedEmitter } from './shared/typed-emitter';
import { ConfigError } from './config/config-loader';
import { ZkSession } from './shared/zookeeper/zk-session';
import { ZookeeperStore } from './state/zookeeper/zookeeper-store';
import { LeaderElection } from './state/zookeeper/leader-election';
import { openInstallation } from './state/open-installation';
import { csiServices } from './api/csi/csi-proto';
import { joinPath, LEADER_DIR, normaliseRoot } from './state/zookeeper/znode-paths';

interface HaEvents {
  elected: void;
  /** The leader's service is running (storage recovered, scheduler subscribing). */
  leading: void;
  deposed: { reason: string };
  leaderChanged: string | undefined;
}

export type HaRole = 'standby' | 'starting' | 'leader' | 'stopping';

export class HaPollyService extends TypedEmitter<HaEvents> {
  private service: PollyService | undefined;
  private standby: http.Server | undefined;
  private port = 0;
  private advertised = '';
  private currentRole: HaRole = 'standby';
  private transitions: Promise<void> = Promise.resolve();
  private stopped = false;
  private election: LeaderElection | undefined;
  /**
   * `--init` applies to this instance's first attempt to lead only: by any later one, state has
   * been written (by it or by another leader), and `--init` over state is refused.
   */
  private init: boolean;

  private constructor(
    private readonly options: PollyServiceOptions,
    private readonly session: ZkSession,
    readonly store: ZookeeperStore,
    private readonly logger: Logger,
  ) {
    super();
    this.init = options.init === true;
  }

  get role(): HaRole {
    return this.currentRole;
  }
  get isLeader(): boolean {
    return this.currentRole === 'leader';
  }
  /** The running leader service (undefined on a standby). */
  get leaderService(): PollyService | undefined {
    return this.service;
  }
  /** This instance's API URL (the same in both roles). */
  get apiUrl(): string {
    return `http://${this.options.config.api.host}:${this.port}`;
  }
  get advertisedUrl(): string {
    return this.advertised;
  }
  get leaderUrl(): string | undefined {
    return this.election?.leaderUrl;
  }

  static async start(options: PollyServiceOptions): Promise<HaPollyService> {
    const { config } = options;
    const logger = options.logger.child?.({ component: 'ha' }) ?? options.logger;
    if (config.state.backend !== 'zookeeper') throw new ConfigError('HA needs state.backend: zookeeper');
    if (!config.state.servers.trim()) throw new ConfigError('state.backend is zookeeper but state.servers is empty');
    if (config.master === 'local') throw new ConfigError('HA Polly needs a shared Mesos master (http:// or zk://), not --master local');
    const session = new ZkSession({ servers: config.state.servers.trim(), sessionTimeoutMs: config.state.sessionTimeoutMs, logger });
    await session.start();
    const root = normaliseRoot(config.state.path);
    const store = new ZookeeperStore({ session, root, logger });
    const ha = new HaPollyService(options, session, store, logger);
    try {
      await store.open();
      await openInstallation(store, { home: config.home, init: options.init, logger });
      // Parsed now, not when this instance takes the lead: loading the CSI definitions takes
      // ~200 ms, which would otherwise be part of every failover.
      if (config.csi.enabled) csiServices();
      await ha.startStandby(config.api.port);
      ha.advertised = config.state.advertiseUrl || ha.apiUrl;
      const election = new LeaderElection({
        session,
        path: joinPath(root, LEADER_DIR),
        url: ha.advertised,
        heartbeat: { intervalMs: config.state.leaderHeartbeatMs, timeoutMs: config.state.leaderTimeoutMs },
        logger,
      });
      ha.election = election;
      election.on('elected', () => ha.queue(() => ha.becomeLeader()));
      election.on('deposed', ({ reason }) => ha.onDeposed(reason));
      election.on('leaderChanged', (url) => ha.emit('leaderChanged', url));
      await election.start();
    } catch (err) {
      await ha.stop().catch(() => undefined);
      throw err;
    }
    return ha;
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.currentRole = 'stopping';
    // A clean stop drains the leader's work while it still holds the lead (its writes are fenced
    // on the election node), then leaves the election so a standby takes over.
    await this.transitions;
    const service = this.service;
    this.service = undefined;
    if (service) await service.stop();
    await this.election?.stop();
    await this.closeStandby();
    await this.store.close();
    this.session.close();
  }

  private queue(step: () => Promise<void>): void {
    this.transitions = this.transitions.then(step).catch((err: unknown) => {
      this.logger.error('leadership transition failed', { error: (err as Error).message });
    });
  }

  private async becomeLeader(): Promise<void> {
    const election = this.election!;
    if (this.stopped || !election.isLeader || this.service) return;
    this.currentRole = 'starting';
    this.logger.info('taking the lead: recovering storage and subscribing to Mesos', { url: this.advertised });
    // From now on every write must prove this instance still holds the election node.
    this.store.setFence(election.nodePath);
    await this.store.open();
    await this.closeStandby();
    const config = { ...this.options.config, api: { ...this.options.config.api, port: this.port } };
    try {
      const init = this.init;
      this.init = false;
      this.service = await PollyService.start({
        ...this.options,
        config,
        store: this.store,
        init,
        onFatal: (reason) => this.onServiceFatal(reason),
      });
    } catch (err) {
      this.logger.error('could not start as leader; stepping back', { error: (err as Error).message });
      await this.store.open().catch(() => undefined);
      await this.startStandby(this.port);
      this.currentRole = 'standby';
      // Let another candidate try first; come back after a pause (no hot loop on a persistent fault).
      await election.abdicate(5000);
      return;
    }
    if (!election.isLeader) {
      // Deposed while starting: the deposed handler queued behind us stops it.
      return;
    }
    this.currentRole = 'leader';
    // Started: from now on the next in line replaces this instance as soon as its heartbeat stops.
    election.startHeartbeat();
    this.emit('leading');
  }

  /**
   * Mesos ended this instance's subscription for good. "Framework failed over" means another
   * scheduler subscribed with the framework ID — in HA, the instance that now leads (it read the ID
   * from the shared store): this one was replaced while it could not tell (paused, or cut off from
   * ZooKeeper). It steps down and queues up again, as when deposed, instead of exiting.
   */
  private onServiceFatal(reason: string): void {
    if (!/failed over/i.test(reason)) {
      this.options.onFatal?.(reason);
      return;
    }
    this.logger.warn('Mesos gave the framework to another instance: stepping down', { reason });
    void this.election
      ?.abdicate()
      .catch((err: unknown) => this.logger.warn('could not re-join the election', { error: (err as Error).message }));
  }

  private onDeposed(reason: string): void {
    this.emit('deposed', { reason });
    // Immediately: no more Mesos calls from this instance (store writes are already fenced).
    const service = this.service;
    if (service) void service.scheduler.stop().catch(() => undefined);
    this.queue(async () => {
      const running = this.service;
      this.service = undefined;
      if (!running) return;
      this.currentRole = 'stopping';
      this.logger.warn('lost the lead: stopping the scheduler and storage', { reason });
      await running
        .stop()
        .catch((err: unknown) => this.logger.warn('error while stopping the deposed service', { error: (err as Error).message }));
      if (this.stopped) return;
      // Serve as a standby at once: ZooKeeper may be unreachable (often why we were deposed), and
      // the store cannot reopen until it is back; becomeLeader opens it again in any case.
      await this.startStandby(this.port);
      this.currentRole = 'standby';
      await this.store
        .open()
        .catch((err: unknown) =>
          this.logger.warn('state store not reopened yet; will be on the next election', { error: (err as Error).message }),
        );
    });
  }

  private async startStandby(port: number): Promise<void> {
    const app = express();
    app.disable('x-powered-by');
    // No keep-alive on a standby: it only redirects, and a pooled socket it closes when it takes the
    // lead would reset a client's next request (a mutation whose fate the client can then not know).
    app.use((_req, res, next) => {
      res.setHeader('Connection', 'close');
      next();
    });
    app.use(leaderRedirect({ isLeader: () => false, leaderUrl: () => this.otherLeaderUrl() }));
    app.get('/health', (_req, res) => {
      res.json({ status: 'ok', role: this.currentRole, leader: this.otherLeaderUrl() ?? null });
    });
    app.get('/health/ready', (_req, res) => {
      res.status(503).json({ status: 'standby', role: this.currentRole, leader: this.otherLeaderUrl() ?? null });
    });
    app.use((_req, res) => {
      res.status(404).json({ message: 'Not found on a standby', status: 404 });
    });
    app.use(errorHandler(this.logger));
    const server = http.createServer(app);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, this.options.config.api.host, () => resolve());
    });
    this.port = (server.address() as AddressInfo).port;
    this.standby = server;
  }

  /**
   * The leader a standby redirects to. Never this instance itself: after stepping down (ZooKeeper
   * unreachable, or abdicating) the election still names our own URL until it learns better, and
   * a redirect to ourselves would loop; a client is better told 503 (no leader yet).
   */
  private otherLeaderUrl(): string | undefined {
    const url = this.election?.leaderUrl;
    return url === this.advertised ? undefined : url;
  }

  private async closeStandby(): Promise<void> {
    const server = this.standby;
    this.standby = undefined;
    if (!server) return;
    // Answers already being written (307s, health) finish: a reset one would leave a client unsure
    // whether its redirected mutation happened. Stragglers are cut after a short bound.
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    const bound = setTimeout(() => server.closeAllConnections(), 1000);
    await closed;
    clearTimeout(bound);
  }
}
