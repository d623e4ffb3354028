/**
 * The scheduler facade the HTTP routes and the CLI use: agents, storage offers, apps and tasks.
 * It only delegates; validation happens in the parts (app-spec, launcher) and errors are typed.
 */
import { NotFoundError } from '../errors/not-found-error';
import { ValidationError } from '../errors/validation-error';
import { checkSchedulerName } from '../storage/volume-record';
import type { AgentRegistry, AgentView } from './agent-registry';
import type { AppLauncher, AppView, KillOptions, TaskView } from './app-launcher';
import type { StorageOfferBook, StorageOfferView } from './storage-offers';
import type { DeleteOptions } from './task-resolver';

export interface SchedulerApi {
  agents(): AgentView[];
  agent(id: string): AgentView;
  offers(filter: { scheduler: string; agentId?: string }): StorageOfferView[];
  apps(): AppView[];
  app(id: string): AppView;
  createApp(spec: unknown): Promise<AppView>;
  scaleApp(id: string, instances: unknown): Promise<AppView>;
  /** Replaces the definition and rolls the instances onto it; creates the app when there is none. */
  updateApp(id: string, body: unknown): Promise<{ app: AppView; created: boolean }>;
  /** Kills the app's tasks; they are relaunched unless `scale` (then instances become 0). */
  killApp(id: string, options?: KillOptions): Promise<AppView>;
  restartApp(id: string): Promise<AppView>;
  /** Resolves when the delete is under way; the app is gone once `app(id)` says not found. */
  deleteApp(id: string, options?: DeleteOptions): Promise<void>;
  tasks(appId?: string): TaskView[];
}

/** Operator interventions on tasks (audited). */
export interface TaskOperatorApi {
  /** An operator says a task Mesos cannot account for is not running. */
  resolveTask(taskId: string, request: { reason?: unknown; by?: string }): Promise<TaskView>;
}

export class SchedulerFacade implements SchedulerApi, TaskOperatorApi {
  constructor(
    private readonly parts: { agents: AgentRegistry; offers: StorageOfferBook; launcher: AppLauncher },
  ) {}

  agents(): AgentView[] {
    return this.parts.agents
      .list()
      .sort((a, b) => a.hostname.localeCompare(b.hostname))
      .map((a) => this.parts.agents.view(a));
  }

  agent(id: string): AgentView {
    const agent = this.parts.agents.get(id) ?? this.parts.agents.byHost(id);
    if (!agent) throw new NotFoundError(`Agent ${JSON.stringify(String(id).slice(0, 200))} not found`, { agentId: id });
    return this.parts.agents.view(agent);
  }

  offers(filter: { scheduler: string; agentId?: string }): StorageOfferView[] {
    if (typeof filter.scheduler !== 'string' || filter.scheduler === '') throw ValidationError.field('scheduler', 'scheduler is required');
    checkSchedulerName(filter.scheduler);
    if (filter.agentId !== undefined) this.agent(filter.agentId);
    return this.parts.offers.list(filter);
  }

  apps(): AppView[] {
    return this.parts.launcher.apps();
  }

  app(id: string): AppView {
    return this.parts.launcher.appView(id);
  }

  createApp(spec: unknown): Promise<AppView> {
    return this.parts.launcher.createApp(spec);
  }

  scaleApp(id: string, instances: unknown): Promise<AppView> {
    return this.parts.launcher.scaleApp(id, instances);
  }

  updateApp(id: string, body: unknown): Promise<{ app: AppView; created: boolean }> {
    return this.parts.launcher.updateApp(id, body);
  }

  killApp(id: string, options?: KillOptions): Promise<AppView> {
    return this.parts.launcher.killApp(id, options);
  }

  restartApp(id: string): Promise<AppView> {
    return this.parts.launcher.restartApp(id);
  }

  deleteApp(id: string, options?: DeleteOptions): Promise<void> {
    return this.parts.launcher.deleteApp(id, options);
  }

  resolveTask(taskId: string, request: { reason?: unknown; by?: string }): Promise<TaskView> {
    return this.parts.launcher.resolveTask(taskId, request);
  }

  tasks(appId?: string): TaskView[] {
    return this.parts.launcher.tasks(appId);
  }
}
