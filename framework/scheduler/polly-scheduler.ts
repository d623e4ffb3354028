/**
 * Polly as a Mesos framework: subscribes, keeps its framework ID, reconciles after every
 * (re)subscription, and is a good citizen with offers it does not need (decline with a filter,
 * then SUPPRESS until there is work). Storage offers and app launching build on this.
 */
import { mesos } from '../mesos/generated/mesos';
import type { Logger } from '../shared/logger';
import type { MasterDetector } from '../mesos/master-detector';
import { SchedulerClient } from '../mesos/scheduler/scheduler-client';
import type { AppLauncher } from './app-launcher';
import type { FrameworkIdStore } from './framework-id-store';
import { buildFrameworkInfo, FrameworkIdentity } from './framework-info';

export interface PollySchedulerOptions {
  identity: Omit<FrameworkIdentity, 'frameworkId'>;
  detector: MasterDetector;
  frameworkIds: FrameworkIdStore;
  logger: Logger;
  format?: 'protobuf' | 'json';
  credentials?: { principal: string; secret: string };
  tls?: { ca?: string | Buffer; rejectUnauthorized?: boolean };
  missedHeartbeats?: number;
  /** Called when Mesos ends this framework for good (failed over to another instance, removed). */
  onFatal?: (reason: string) => void;
  /** Runs volume-bound apps on the offers; it also declines what it does not need and suppresses when idle. */
  launcher: AppLauncher;
  /** Counts offers received (the launcher's driver counts accepts and declines). */
  onOffersReceived?: (count: number) => void;
  /** Client options for tests (heartbeat timeout, re-subscription backoff). */
  client?: { heartbeatTimeoutMs?: number; backoff?: { minMs?: number; maxMs?: number } };
}

export class PollyScheduler {
  private client: SchedulerClient | undefined;
  private subscribed = false;
  private stopping = false;

  constructor(private readonly options: PollySchedulerOptions) {}

  get frameworkId(): string | undefined {
    return this.client?.frameworkId;
  }

  /** The Mesos connection (for the app launcher's calls); undefined before start(). */
  get mesos(): SchedulerClient | undefined {
    return this.client;
  }

  get isSubscribed(): boolean {
    return this.subscribed;
  }

  async start(): Promise<void> {
    const { logger } = this.options;
    const frameworkId = await this.options.frameworkIds.load();
    const frameworkInfo = buildFrameworkInfo({ ...this.options.identity, frameworkId });
    logger.info(frameworkId ? 'resuming Mesos framework' : 'registering new Mesos framework', {
      frameworkId,
      name: frameworkInfo.name,
      roles: frameworkInfo.roles,
      failoverTimeoutSeconds: frameworkInfo.failover_timeout,
    });
    const client = new SchedulerClient({
      detector: this.options.detector,
      frameworkInfo,
      format: this.options.format,
      credentials: this.options.credentials,
      tls: this.options.tls,
      missedHeartbeats: this.options.missedHeartbeats,
      heartbeatTimeoutMs: this.options.client?.heartbeatTimeoutMs,
      backoff: this.options.client?.backoff,
      logger,
    });
    this.client = client;
    client.on('connected', (url) => logger.info('connected to Mesos master', { master: url.toString() }));
    client.on('subscribed', (event) => void this.onSubscribed(event.frameworkId, event.resubscribed));
    client.on('disconnected', ({ reason, willRetry }) => {
      this.subscribed = false;
      if (this.stopping) return;
      logger.warn('Mesos subscription lost', { reason, willRetry });
    });
    client.on('offers', (offers) => void this.onOffers(offers));
    client.on('rescind', (offerId) => logger.debug('offer rescinded', { offerId }));
    client.on('update', (status) => this.onUpdate(status));
    client.on('failure', (failure) => {
      logger.warn(failure.executorId ? 'executor failed' : 'agent lost', { agentId: failure.agentId, executorId: failure.executorId, status: failure.status });
      this.options.launcher?.onFailure(failure);
    });
    client.on('mesosError', (message) => logger.error('Mesos master reported an error', { message }));
    client.on('stopped', ({ reason }) => {
      this.subscribed = false;
      if (this.stopping) return;
      if (reason === 'Framework has been removed') void this.options.frameworkIds.clear();
      if (reason) {
        logger.error('Mesos subscription ended for good', { reason });
        this.options.onFatal?.(reason);
      }
    });
    client.start();
  }

  async stop(): Promise<void> {
    // Close the stream without TEARDOWN: within failover_timeout our tasks keep running.
    this.stopping = true;
    await this.client?.stop();
  }

  private async onSubscribed(frameworkId: string, resubscribed: boolean): Promise<void> {
    this.subscribed = true;
    this.options.logger.info(resubscribed ? 're-subscribed to Mesos' : 'subscribed to Mesos', { frameworkId });
    try {
      await this.options.frameworkIds.save(frameworkId);
      // Explicit reconciliation of every known task, then implicit (the launcher does both).
      await this.options.launcher.onSubscribed();
    } catch (err) {
      this.options.logger.error('post-subscription work failed', { error: (err as Error).message });
    }
  }

  private async onOffers(offers: mesos.v1.IOffer[]): Promise<void> {
    if (!this.client) return;
    this.options.onOffersReceived?.(offers.length);
    try {
      await this.options.launcher.onOffers(offers);
    } catch (err) {
      this.options.logger.error('offer handling failed', { error: (err as Error).message });
    }
  }

  private onUpdate(status: mesos.v1.ITaskStatus): void {
    this.options.launcher.onUpdate(status).catch((err: Error) =>
      this.options.logger.error('task status handling failed', { taskId: status.task_id.value, error: err.message }),
    );
    // Fields only when the update carries them (a decoded message's prototype has every default).
    const fields: Record<string, unknown> = { taskId: status.task_id.value, agentId: status.agent_id?.value, state: mesos.v1.TaskState[status.state] };
    if (Object.prototype.hasOwnProperty.call(status, 'reason') && status.reason !== null && status.reason !== undefined) {
      fields.reason = mesos.v1.TaskStatus.Reason[status.reason];
    }
    if (Object.prototype.hasOwnProperty.call(status, 'healthy') && status.healthy !== null && status.healthy !== undefined) fields.healthy = status.healthy;
    if (status.message) fields.message = status.message;
    this.options.logger.info('task status', fields);
  }
}
