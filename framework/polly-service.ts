/**
 * Wires one Polly process together from its configuration: state store, Mesos master (a real
 * one, or the local development cluster) and the Polly framework. The CLI stays thin; this is
 * the composition root.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { PollyConfig } from './config/config-schema';
import { UnavailableError } from './errors';
import type { Logger } from './shared/logger';
import { MasterDetector, StaticMasterDetector } from './mesos/master-detector';
import { ZookeeperMasterDetector } from './mesos/zookeeper-master-detector';
import { createStore } from './state/create-store';
import { LocalCluster } from './mesos/local/local-cluster';
import type { AgentSpecInput } from './mesos/local/agent-spec';
import { openInstallation } from './state/open-installation';
import type { Store } from './state/store';
import { StoreWriteMonitor } from './state/store-write-monitor';
import { ZookeeperStore } from './state/zookeeper/zookeeper-store';
import { FrameworkIdStore } from './scheduler/framework-id-store';
import { PollyScheduler } from './scheduler/polly-scheduler';
import { AgentRegistry } from './scheduler/agent-registry';
import { AppLauncher } from './scheduler/app-launcher';
import { InstanceTracker } from './scheduler/instance-tracker';
import { SchedulerFacade } from './scheduler/scheduler-api';
import { meteredDriver, SchedulerMetrics } from './scheduler/scheduler-metrics';
import { StorageOfferBook } from './scheduler/storage-offers';
import { CapacityRefresher } from './scheduler/capacity-refresher';
import { HolderFencing } from './scheduler/holder-fencing';
import { csiNodeIdsOf, instanceIdResolver } from './scheduler/csi-node-ids';
import { agentsRoutes } from './api/v1/agents-routes';
import { appsRoutes } from './api/v1/apps-routes';
import { tasksRoutes } from './api/v1/tasks-routes';
import { feedSchedulerEvents } from './api/scheduler-event-feed';
import { offersRoutes } from './api/v1/offers-routes';
import { createApiAuth } from './api/auth/api-auth';
import { ApiServer, createApiServer, MountedRouter } from './api/api-server';
import { dashboardUrl } from './api/ui/dashboard-url';
import { EventJournal } from './api/event-journal';
import { instrumentDriverFactory } from './api/metrics/instrumented-driver';
import { PollyMetrics } from './api/metrics/polly-metrics';
import { feedStorageEvents } from './api/storage-event-feed';
import { driverFactory } from './storage/driver-factory';
import { ServiceRegistry } from './storage/service-registry';
import { StorageService } from './storage/storage-service';
import { RunningLibStorage, startLibStorage } from './api/libstorage/start-libstorage';
import type { PreemptPolicy } from './api/libstorage/libstorage-backend';
import { RunningCsiController, startCsiController } from './api/csi/start-csi-controller';

export interface PollyServiceOptions {
  config: PollyConfig;
  logger: Logger;
  /** Called when the process should end (e.g. another Polly took over the framework). */
  onFatal?: (reason: string) => void;
  /** Extra API routers (the scheduler's `/v1/apps`, `/v1/agents`, `/v1/offers`), mounted after Polly's own. */
  routers?: MountedRouter[];
  /** An open store to use instead of the configured one (HA: the ZooKeeper store of the election's session). */
  store?: Store;
  /**
   * `polly start --init`: start a new installation where there is no state, even though the home
   * remembers one (its store was lost and is not coming back). Refused over a store that holds state.
   */
  init?: boolean;
}

/** `node0, node1` in zone-a and `node2` in zone-b, and so on: two zones whatever the count. */
export function localAgents(count: number): AgentSpecInput[] {
  return Array.from({ length: count }, (_, i) => ({
    hostname: `node${i}`,
    zone: i % 3 === 2 ? 'zone-b' : 'zone-a',
    region: 'region-1',
  }));
}

/** The scheduler's parts: agents, storage offers, app records and the launcher. */
export interface SchedulerParts {
  agents: AgentRegistry;
  offers: StorageOfferBook;
  tracker: InstanceTracker;
  launcher: AppLauncher;
  facade: SchedulerFacade;
  /** Keeps the offers' driver capacity current (the dashboard's capacity chart reads it). */
  capacity?: CapacityRefresher;
}

/** The operator-facing half of a running Polly: storage core, events, metrics and the HTTP API. */
export interface PollySurfaces {
  storage: StorageService;
  journal: EventJournal;
  metrics: PollyMetrics;
  api: ApiServer;
  /** The API's bound URL (tests pass api.port 0). */
  apiUrl: string;
  stopFeed: () => void;
  /** The libStorage-compatible API, unless `libstorage.enabled` is false. */
  libstorage?: RunningLibStorage;
  /** The CSI controller (Identity + Controller), unless `csi.enabled` is false. */
  csi?: RunningCsiController;
}

export class PollyService {
  private constructor(
    readonly config: PollyConfig,
    readonly store: Store,
    readonly scheduler: PollyScheduler,
    readonly cluster: LocalCluster | undefined,
    private readonly detector: MasterDetector,
    private readonly logger: Logger,
    private readonly surfaces: PollySurfaces,
    readonly parts: SchedulerParts,
    private readonly storeWrites: StoreWriteMonitor,
  ) {}

  get storage(): StorageService {
    return this.surfaces.storage;
  }
  get metrics(): PollyMetrics {
    return this.surfaces.metrics;
  }
  get events(): EventJournal {
    return this.surfaces.journal;
  }
  get apiUrl(): string {
    return this.surfaces.apiUrl;
  }
  /** The libStorage API's URL (`http://localhost` for a unix socket); undefined when it is disabled. */
  get libstorageUrl(): string | undefined {
    return this.surfaces.libstorage?.address.url;
  }
  /** The CSI controller's endpoints (`unix:///…`), empty when `csi.enabled` is false. */
  get csiEndpoints(): string[] {
    return this.surfaces.csi?.endpoints ?? [];
  }

  static async start(options: PollyServiceOptions): Promise<PollyService> {
    const { config, logger } = options;
    // Refuse an unauthenticated API off loopback before touching anything.
    const auth = createApiAuth(config.api);
    fs.mkdirSync(config.home, { recursive: true, mode: 0o700 });
    const metrics = new PollyMetrics();
    const raw = options.store ?? createStore(config, config.home, { logger });
    // Every write is observed from here on: failures are counted and make /health/ready 503.
    const storeWrites = PollyService.storeWriteMonitor(config, raw, metrics, logger);
    const store = storeWrites.observe(raw);
    let cluster: LocalCluster | undefined;
    let surfaces: PollySurfaces | undefined;
    try {
      // An existing installation, or a new one only where nothing says one existed (or with --init).
      await openInstallation(store, { home: config.home, init: options.init, logger });
      storeWrites.start();
      // Readiness asks the scheduler, which is created after the API is listening (for webui_url).
      const schedulerRef: { current?: PollyScheduler } = {};
      // The scheduler's routers need its parts, which need the storage service: build them lazily.
      const partsRef: { current?: SchedulerParts } = {};
      // libStorage `force` preempts a holder the scheduler knows is gone (its agents and tasks, once built).
      const fencingRef: { current?: HolderFencing } = {};
      const preempt: PreemptPolicy = { fencedBecause: (claim) => fencingRef.current?.fencedBecause(claim) };
      const schedulerRouters: MountedRouter[] = [
        { path: '/v1', router: agentsRoutes(lazyFacade(partsRef)) },
        { path: '/v1', router: offersRoutes(lazyFacade(partsRef)) },
        { path: '/v1', router: appsRoutes(lazyFacade(partsRef)) },
        { path: '/v1', router: tasksRoutes(lazyFacade(partsRef)) },
      ];
      surfaces = await PollyService.startSurfaces(
        config,
        store,
        auth,
        logger,
        () => schedulerRef.current?.isSubscribed === true,
        [...schedulerRouters, ...(options.routers ?? [])],
        { metrics, storeWrites, init: options.init === true, preempt, agents: () => partsRef.current?.agents },
      );
      const schedulerMetrics: SchedulerMetrics = {
        offersReceived: (n) => metrics.offersReceived.inc(n),
        offersDeclined: (n) => metrics.offersDeclined.inc(n),
        offersAccepted: (n) => metrics.offersAccepted.inc(n),
        reconciliation: (kind) => metrics.reconciliations.inc({ kind }),
      };
      const storage = surfaces.storage;
      const schedulerLogger = logger.child?.({ component: 'scheduler' }) ?? logger;
      const agents = new AgentRegistry({
        zoneAttribute: config.scheduler.zoneAttribute,
        services: () => storage.registry.list().map((s) => s.name),
        // CSI services know an agent by its node ID for their plugin; the others by its host name.
        instanceId: instanceIdResolver(storage.registry),
        csiNodeIds: (agent) => csiNodeIdsOf(agent, storage.registry.list()),
        logger: schedulerLogger,
      });
      const offers = new StorageOfferBook({ storage, agents });
      offers.start();
      const capacity = new CapacityRefresher(offers, agents);
      const tracker = new InstanceTracker(store);
      fencingRef.current = new HolderFencing(agents, tracker);
      const launcher = new AppLauncher({
        storage,
        agents,
        tracker,
        driver: () => {
          const client = schedulerRef.current?.mesos;
          return client ? meteredDriver(client, schedulerMetrics) : undefined;
        },
        logger: schedulerLogger,
        declineRefuseSeconds: config.mesos.declineRefuseSeconds,
        pendingRefuseSeconds: config.scheduler.pendingRefuseSeconds,
        unreachableTimeoutSeconds: config.scheduler.unreachableTimeoutSeconds,
        unknownTaskTimeoutSeconds: config.scheduler.unknownTaskTimeoutSeconds,
        volumeDrivers: config.scheduler.volumeDrivers,
        roles: config.mesos.roles,
      });
      const stopSchedulerFeed = feedSchedulerEvents(launcher.events, surfaces.journal);
      surfaces.stopFeed = chain(surfaces.stopFeed, stopSchedulerFeed);
      await launcher.start();
      partsRef.current = { agents, offers, tracker, launcher, facade: new SchedulerFacade({ agents, offers, launcher }), capacity };
      let masters: string[] = [];
      let zkDetector: MasterDetector | undefined;
      if (config.master === 'local') {
        cluster = await LocalCluster.start({
          host: config.local.host,
          port: config.local.port,
          workDir: path.join(config.home, 'local-cluster'),
          agents: localAgents(config.local.agents),
          heartbeatIntervalSeconds: config.local.heartbeatIntervalSeconds,
          allocationIntervalMs: config.local.allocationIntervalMs,
          imageTasks: config.local.imageTasks,
          ...(config.local.csiPluginConfigDir ? { csiPluginConfigDir: path.resolve(config.home, config.local.csiPluginConfigDir) } : {}),
          logger: logger.child?.({ component: 'local-cluster' }) ?? logger,
        });
        logger.info('local Mesos cluster started (development and test use only)', {
          master: cluster.url,
          agents: cluster.agents().map((a) => a.info().hostname),
        });
        masters = [cluster.url];
      } else if (config.master.startsWith('zk://')) {
        zkDetector = new ZookeeperMasterDetector({ url: config.master, logger: logger.child?.({ component: 'master-detector' }) ?? logger });
      } else {
        masters = config.master.split(',').map((s) => s.trim()).filter(Boolean);
      }
      const detector = zkDetector ?? new StaticMasterDetector(masters);
      const webuiUrl = dashboardUrl(surfaces.apiUrl, config.mesos.webuiUrl, config.mesos.hostname || os.hostname());
      const scheduler = new PollyScheduler({
        identity: {
          name: config.mesos.frameworkName,
          user: config.mesos.user,
          roles: config.mesos.roles,
          principal: config.mesos.principal || undefined,
          failoverTimeoutSeconds: config.mesos.failoverTimeoutSeconds,
          hostname: config.mesos.hostname,
          webuiUrl,
        },
        detector,
        frameworkIds: new FrameworkIdStore(store),
        logger,
        format: config.mesos.format,
        credentials: config.mesos.principal && config.mesos.secret ? { principal: config.mesos.principal, secret: config.mesos.secret } : undefined,
        tls: config.mesos.tls.caFile
          ? { ca: fs.readFileSync(config.mesos.tls.caFile), rejectUnauthorized: config.mesos.tls.rejectUnauthorized }
          : { rejectUnauthorized: config.mesos.tls.rejectUnauthorized },
        missedHeartbeats: config.mesos.missedHeartbeats,
        onFatal: options.onFatal,
        launcher,
        onOffersReceived: (n) => metrics.offersReceived.inc(n),
      });
      schedulerRef.current = scheduler;
      await scheduler.start();
      return new PollyService(config, store, scheduler, cluster, detector, logger, surfaces, partsRef.current, storeWrites);
    } catch (err) {
      await storeWrites.stop().catch(() => undefined);
      if (surfaces) await PollyService.stopSurfaces(surfaces, config, logger).catch(() => undefined);
      await cluster?.stop().catch(() => undefined);
      await store.close().catch(() => undefined);
      throw err;
    }
  }

  /**
   * Watches the store's writes for readiness and the failure counter; a ZooKeeper store is also
   * not writable while its session is disconnected.
   */
  private static storeWriteMonitor(config: PollyConfig, store: Store, metrics: PollyMetrics, logger: Logger): StoreWriteMonitor {
    const backend = store.backend;
    const connection =
      store instanceof ZookeeperStore
        ? (): string | undefined =>
            store.isOpen && !store.zkSession.isConnected
              ? `ZooKeeper is disconnected (${config.state.servers || 'the ensemble'}); the state store cannot write`
              : undefined
        : undefined;
    return new StoreWriteMonitor({
      backend,
      intervalMs: config.state.writeProbe.intervalMs,
      stallMs: config.state.writeProbe.stallMs,
      onFailure: (cause) => metrics.storeWriteFailures.inc({ backend, cause }),
      ...(connection ? { connection } : {}),
      logger: logger.child?.({ component: 'store' }) ?? logger,
    });
  }

  /** Storage core (drivers instrumented for metrics), event journal and the API, listening. */
  private static async startSurfaces(
    config: PollyConfig,
    store: Store,
    auth: ReturnType<typeof createApiAuth>,
    logger: Logger,
    subscribed: () => boolean,
    routers: MountedRouter[] | undefined,
    {
      metrics,
      storeWrites,
      init,
      preempt,
      agents,
    }: {
      metrics: PollyMetrics;
      storeWrites: StoreWriteMonitor;
      init: boolean;
      preempt: PreemptPolicy;
      agents: () => AgentRegistry | undefined;
    },
  ): Promise<PollySurfaces> {
    const registry = new ServiceRegistry({
      services: config.services,
      home: config.home,
      store,
      createDriver: instrumentDriverFactory(driverFactory({ logger }), metrics),
      logger,
    });
    const storage = new StorageService({
      store,
      registry,
      logger: logger.child?.({ component: 'storage' }) ?? logger,
      claimRetention: { maxAgeMs: config.state.finishedClaims.keepHours * 3600 * 1000, maxKept: config.state.finishedClaims.keepMax },
      // A new installation started knowingly takes over backends that name an earlier one.
      adoptBackends: init,
    });
    const journal = new EventJournal(config.api.eventJournalSize);
    const stopFeed = feedStorageEvents(storage.events, journal);
    // CSI listens before recovery, so a CO's Probe hears "not ready" (not "no plugin") meanwhile.
    const csi = config.csi.enabled
      ? await startCsiController(
          { storage, home: config.home, logger: logger.child?.({ component: 'csi' }) ?? logger, registry: metrics.registry, events: journal, agents },
          config.csi,
        )
      : undefined;
    try {
      await storage.start();
    } catch (err) {
      await csi?.stop(0);
      stopFeed();
      throw err;
    }
    metrics.attachSources({
      claimsByState: () => storage.ledger.countByState(),
      pendingIntents: async () => (await storage.intents.pending()).length,
    });
    const api = createApiServer({
      storage,
      auth,
      readiness: () => {
        const writes = storeWrites.status();
        return {
          storeOpen: store.isOpen !== false,
          subscribed: subscribed(),
          storeWritable: writes.writable,
          ...(writes.reason ? { reasons: [writes.reason] } : {}),
        };
      },
      metrics,
      events: journal,
      logger: logger.child?.({ component: 'api' }) ?? logger,
      routers,
      bodyLimitBytes: config.api.bodyLimitBytes,
    });
    const { certFile, keyFile } = config.api.tls;
    let address;
    try {
      address = await api.listen({ host: config.api.host, port: config.api.port, tls: certFile && keyFile ? { certFile, keyFile } : undefined });
    } catch (err) {
      await csi?.stop(0);
      stopFeed();
      await storage.stop().catch(() => undefined);
      throw err;
    }
    let libstorage: RunningLibStorage | undefined;
    try {
      libstorage = await startLibStorage({ storage, apiAuth: auth, logger, preempt }, config.libstorage);
    } catch (err) {
      await csi?.stop(0);
      await api.close(0).catch(() => undefined);
      stopFeed();
      await storage.stop().catch(() => undefined);
      throw err;
    }
    return { storage, journal, metrics, api, apiUrl: address.url, stopFeed, ...(libstorage ? { libstorage } : {}), ...(csi ? { csi } : {}) };
  }

  /**
   * Stops accepting API work and ends event streams, then lets in-flight requests and driver calls
   * finish (each bounded by api.shutdownTimeoutMs).
   */
  private static async stopSurfaces(s: PollySurfaces, config: PollyConfig, logger: Logger): Promise<void> {
    await s.csi?.stop(config.api.shutdownTimeoutMs);
    await s.libstorage?.stop(config.api.shutdownTimeoutMs);
    await s.api.close(config.api.shutdownTimeoutMs);
    let timer: NodeJS.Timeout | undefined;
    const bound = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), config.api.shutdownTimeoutMs);
      timer.unref();
    });
    const outcome = await Promise.race([s.storage.stop().then(() => 'drained' as const), bound]);
    clearTimeout(timer);
    if (outcome === 'timeout') logger.warn('driver calls still running at shutdown; their intents will be settled by recovery', {});
    s.stopFeed();
  }

  /**
   * Stops cleanly (SIGTERM): the API stops accepting work, in-flight driver calls finish (bounded),
   * the Mesos stream is closed without tearing the framework down, and the store is flushed and closed.
   */
  async stop(): Promise<void> {
    this.logger.info('stopping Polly');
    await this.storeWrites.stop();
    await PollyService.stopSurfaces(this.surfaces, this.config, this.logger);
    this.parts.launcher.stop();
    this.parts.capacity?.stop();
    this.parts.offers.stop();
    await this.scheduler.stop();
    this.detector.close();
    if (this.cluster) await this.cluster.stop();
    await this.store.close();
    this.logger.info('Polly stopped');
  }
}

/** Both stop functions, in order. */
function chain(first: () => void, second: () => void): () => void {
  return () => {
    first();
    second();
  };
}

/**
 * The scheduler facade for routers mounted before the scheduler exists: every call goes to the
 * real facade once it is built; a request in the moment between the two gets a 503.
 */
function lazyFacade(ref: { current?: SchedulerParts }): SchedulerFacade {
  return new Proxy({} as SchedulerFacade, {
    get(_target, property) {
      const facade = ref.current?.facade;
      if (!facade) throw new UnavailableError('The scheduler is starting');
      const value = (facade as unknown as Record<string | symbol, unknown>)[property];
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(facade) : value;
    },
  });
}
