/**
 * The storage core wired together: service registry (drivers), volume catalog, claim ledger,
 * snapshots, intent log, per-volume queue, backend check, quarantine, foreign attachments, recovery
 * and finished-claim retention. `start()` opens the store, loads the catalog and the claims (one prefix scan each),
 * cross-checks each backend's mark against the store (refusing a backend older than the store's
 * records before anything is tidied or repaired), initialises the drivers and runs recovery before
 * anything is served, then starts pruning finished claims and recording backend marks; `stop()`
 * lets the operations in flight finish. Each part stays usable (and tested) on its own.
 */
import { Logger, silentLogger } from '../shared/logger';
import { storeUnreadable } from '../state/installation-refused-error';
import { isLevelReadFailure } from '../state/level-store';
import { describeStore } from '../state/open-installation';
import { PREFIXES } from '../state/keys';
import { readAhead, scanAllValues } from '../state/scan-all';
import { openStore } from '../state/schema';
import type { Store } from '../state/store';
import { BackendCheck } from './backend-check';
import { ClaimLedger } from './claim-ledger';
import type { ClaimRecord } from './claim-record';
import { ClaimRetention, DEFAULT_CLAIM_RETENTION } from './claim-retention';
import { ForeignAttachments } from './foreign-attachments';
import { IntentLog } from './intent-log';
import { KeyedSerialQueue } from './keyed-queue';
import { QuarantineBook } from './quarantine-book';
import type { RetryOptions } from './retry';
import type { ServiceRegistry } from './service-registry';
import { SnapshotBook } from './snapshot-book';
import { StorageEvents } from './storage-events';
import { RecoveryReport, StorageRecovery } from './storage-recovery';
import { VolumeCatalog } from './volume-catalog';
import { VolumeExpander } from './volume-expander';

export interface StorageServiceOptions {
  store: Store;
  registry: ServiceRegistry;
  logger?: Logger;
  /** Operations running at once across volumes (one at a time per volume). Default 16. */
  concurrency?: number;
  /** Backoff for "maybe" (timed-out) driver calls. */
  retry?: RetryOptions;
  /** How long finished claims are kept, and how many (defaults: DEFAULT_CLAIM_RETENTION). */
  claimRetention?: Partial<typeof DEFAULT_CLAIM_RETENTION>;
  /**
   * Take over backends bound to another Polly installation (rebinding them, with a warning) instead
   * of refusing to start: only for a new installation started knowingly (`polly start --init`).
   */
  adoptBackends?: boolean;
  /** How often backend marks are recorded while running (when they changed), ms. Default 60 000. */
  backendMarkEveryMs?: number;
}

export class StorageService {
  readonly store: Store;
  readonly registry: ServiceRegistry;
  readonly events = new StorageEvents();
  readonly queue: KeyedSerialQueue;
  readonly intents: IntentLog;
  readonly catalog: VolumeCatalog;
  readonly ledger: ClaimLedger;
  readonly foreignAttachments: ForeignAttachments;
  readonly recovery: StorageRecovery;
  readonly retention: ClaimRetention;
  readonly snapshots: SnapshotBook;
  readonly expander: VolumeExpander;
  readonly backends: BackendCheck;
  readonly quarantine: QuarantineBook;
  private readonly logger: Logger;
  private started = false;

  constructor(options: StorageServiceOptions) {
    this.store = options.store;
    this.registry = options.registry;
    this.logger = options.logger ?? silentLogger;
    this.queue = new KeyedSerialQueue({ concurrency: options.concurrency ?? 16 });
    this.intents = new IntentLog(this.store);
    const common = {
      store: this.store,
      registry: this.registry,
      queue: this.queue,
      intents: this.intents,
      events: this.events,
      logger: this.logger,
      retry: options.retry,
    };
    this.catalog = new VolumeCatalog(common);
    this.ledger = new ClaimLedger({ ...common, catalog: this.catalog });
    this.snapshots = new SnapshotBook(common);
    this.expander = new VolumeExpander({ ...common, catalog: this.catalog, ledger: this.ledger });
    this.foreignAttachments = new ForeignAttachments({ ...common, catalog: this.catalog, ledger: this.ledger });
    this.recovery = new StorageRecovery({
      ...common,
      catalog: this.catalog,
      ledger: this.ledger,
      foreign: this.foreignAttachments,
      snapshots: this.snapshots,
      expander: this.expander,
    });
    this.backends = new BackendCheck({
      store: this.store,
      registry: this.registry,
      catalog: this.catalog,
      logger: this.logger,
      adopt: options.adoptBackends,
      recordEveryMs: options.backendMarkEveryMs,
    });
    this.quarantine = new QuarantineBook({ registry: this.registry, catalog: this.catalog, events: this.events, logger: this.logger });
    this.retention = new ClaimRetention({
      ...DEFAULT_CLAIM_RETENTION,
      ...options.claimRetention,
      ledger: this.ledger,
      intents: this.intents,
      logger: this.logger,
    });
  }

  get isStarted(): boolean {
    return this.started;
  }

  /**
   * Opens the store (migrating it if needed), loads state, checks the backends against it (nothing is
   * tidied or repaired on either side when they disagree: BackendMismatchError), starts the drivers
   * and recovers. A store whose files cannot be read is refused (InstallationRefusedError).
   */
  async start(): Promise<RecoveryReport> {
    try {
      return await this.startParts();
    } catch (err) {
      // The store opened but its data cannot be read (a damaged table): refused with the way out.
      throw isLevelReadFailure(err) ? storeUnreadable(describeStore(this.store), err) : err;
    }
  }

  private async startParts(): Promise<RecoveryReport> {
    await openStore(this.store, { logger: this.logger });
    // The catalog first: the ledger shares the strings its records hold (claim-ledger.ts). Each
    // scan reads one batch ahead, so LevelDB's reads overlap the parsing either way; the claims'
    // scan starts now too (on ZooKeeper it reads every claim before its first batch).
    const claimBatches = readAhead(scanAllValues<ClaimRecord>(this.store, PREFIXES.claims));
    let volumes: number;
    try {
      volumes = await this.catalog.load();
    } catch (err) {
      await claimBatches.close().catch(() => undefined);
      throw err;
    }
    const claims = await this.ledger.load(claimBatches);
    this.logger.info('storage state loaded', { volumes, claims });
    await this.backends.check();
    await this.registry.start();
    const report = await this.recovery.recover();
    this.started = true;
    this.retention.start();
    this.backends.startRecording();
    return report;
  }

  /** Waits for queued and running operations, records the backends' marks, then closes the drivers (the store is the caller's). */
  async stop(): Promise<void> {
    this.started = false;
    await this.retention.stop();
    await this.queue.drain();
    await this.backends.stop().catch((err: unknown) =>
      this.logger.warn('could not record the storage backends\' marks at stop', { error: (err as Error).message }),
    );
    await this.registry.close();
  }
}
