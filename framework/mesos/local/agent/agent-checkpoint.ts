/**
 * The simulated agent's checkpoint, laid out like a real agent's `meta/` (src/slave/paths.cpp), so a
 * restarted agent keeps its ID and learns what it was running:
 *
 *   <workDir>/meta/boot_id
 *   <workDir>/meta/slaves/latest -> <agentId>
 *   <workDir>/meta/slaves/<agentId>/slave.info                          AgentInfo
 *   <workDir>/meta/slaves/<agentId>/resources.json                      (checkpointed-resources.ts)
 *   .../<agentId>/frameworks/<frameworkId>/framework.info               FrameworkInfo
 *   .../frameworks/<fid>/executors/<eid>/runs/<containerId>/pids/forked.pid          a command task's process
 *   .../runs/<containerId>/containers/<childContainerId>/pids/forked.pid             a task-group task's process
 *   .../runs/<containerId>/tasks/<taskId>/task.info                     TaskInfo, sandbox, task group
 *   .../runs/<containerId>/tasks/<taskId>/task.updates                  status updates and acks, one JSON line each
 *
 * Records are Mesos JSON rather than protobuf, so they can be read with `cat`. As on a real agent
 * only the tasks of frameworks with `checkpoint: true` are checkpointed; pid files are written for
 * every task (on a real agent the containerizer's runtime directory plays that part), so no task
 * process of any framework outlives an agent restart unnoticed. Files are replaced with a temp file
 * + rename; the update log is appended to, and a torn last line (the agent died mid-append, so the
 * update was never sent) is dropped on recovery.
 *
 * A forgotten task's records leave the checkpoint at once (one rename into `meta/trash/`) and are
 * deleted in the background, as a real agent's garbage collector deletes them later: an agent whose
 * thousand tasks end together does not stop the (in-process) master while it deletes directories.
 * `framework.info` is written when it changes, not with every task.
 */
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { mesos } from '../../generated/mesos';
import { fromMesosJson, toMesosJson, type MessageType } from '../../codec';
import { AgentCheckpointError } from './errors';
import { bootId } from './process-identity';
import { assertPathComponent } from './sandbox';

/** Where one task lives in the checkpoint. */
export interface TaskPlacement {
  agentId: string;
  frameworkId: string;
  executorId: string;
  /** The executor's container. */
  containerId: string;
  /** The task's nested container (task groups); absent for command tasks. */
  childContainerId?: string;
  taskId: string;
}

/** A checkpointed task as recovery finds it. */
export interface RecoveredTask {
  placement: TaskPlacement;
  framework: mesos.v1.IFrameworkInfo;
  info: mesos.v1.ITaskInfo;
  sandbox: string;
  /** The tasks launched with it in one LAUNCH_GROUP (its own ID included); absent for command tasks. */
  group?: string[];
  /** The last update the agent generated, if any. */
  latest?: mesos.v1.ITaskStatus;
  /** Updates not acknowledged yet, oldest first (they are resent after re-registration). */
  pending: mesos.v1.ITaskStatus[];
}

interface TaskInfoRecord {
  task: unknown;
  sandbox: string;
  group?: string[];
}

export class AgentCheckpoint {
  readonly metaDir: string;
  /** Records of forgotten tasks, out of the checkpoint, waiting to be deleted. */
  private readonly trashDir: string;
  /** The deletions of forgotten records, one after another. */
  private cleanup: Promise<void> = Promise.resolve();
  /** framework.info files as this checkpoint last wrote them. */
  private readonly frameworkFiles = new Map<string, string>();

  constructor(readonly workDir: string) {
    this.metaDir = path.join(workDir, 'meta');
    this.trashDir = path.join(this.metaDir, 'trash');
  }

  /** Resolves once the records of every task forgotten so far are deleted. */
  idle(): Promise<void> {
    return this.cleanup;
  }

  /** Deletes what an earlier run left in the trash (it died before deleting it). */
  emptyTrash(): void {
    fs.rmSync(this.trashDir, { recursive: true, force: true });
  }

  // ---- the agent ---------------------------------------------------------------------------

  /** The agent ID of the last run in this work dir (`meta/slaves/latest`), if it recorded one. */
  latestAgentId(): string | undefined {
    let target: string;
    try {
      target = fs.readlinkSync(path.join(this.metaDir, 'slaves', 'latest'));
    } catch {
      return undefined;
    }
    const agentId = path.basename(target);
    try {
      assertPathComponent('agent ID', agentId);
    } catch {
      return undefined;
    }
    return fs.existsSync(path.join(this.agentDir(agentId), 'slave.info')) ? agentId : undefined;
  }

  /** The boot this work dir was last used in (undefined before the first run). */
  recordedBootId(): string | undefined {
    try {
      return fs.readFileSync(path.join(this.metaDir, 'boot_id'), 'utf8').trim() || undefined;
    } catch {
      return undefined;
    }
  }

  /** Records the agent's identity: `slave.info`, `boot_id` and the `latest` link. */
  recordAgent(info: mesos.v1.IAgentInfo): void {
    const agentId = info.id?.value ?? '';
    writeAtomic(path.join(this.agentDir(agentId), 'slave.info'), toJson(mesos.v1.AgentInfo, info));
    writeAtomic(path.join(this.metaDir, 'boot_id'), `${bootId()}\n`);
    const latest = path.join(this.metaDir, 'slaves', 'latest');
    const tmp = `${latest}.tmp-${process.pid}`;
    fs.rmSync(tmp, { force: true });
    fs.symlinkSync(agentId, tmp);
    fs.renameSync(tmp, latest);
  }

  agentDir(agentId: string): string {
    assertPathComponent('agent ID', agentId);
    return path.join(this.metaDir, 'slaves', agentId);
  }

  // ---- frameworks and tasks ------------------------------------------------------------------

  recordFramework(agentId: string, info: mesos.v1.IFrameworkInfo): void {
    const frameworkId = info.id?.value ?? '';
    const file = path.join(this.frameworkDir(agentId, frameworkId), 'framework.info');
    const text = toJson(mesos.v1.FrameworkInfo, info);
    if (this.frameworkFiles.get(file) === text) return;
    writeAtomic(file, text);
    this.frameworkFiles.set(file, text);
  }

  /** The file a task's process is recorded in while it runs. */
  pidFile(p: Omit<TaskPlacement, 'taskId'>): string {
    const run = this.runDir(p);
    if (p.childContainerId === undefined) return path.join(run, 'pids', 'forked.pid');
    assertPathComponent('container ID', p.childContainerId);
    return path.join(run, 'containers', p.childContainerId, 'pids', 'forked.pid');
  }

  recordTask(p: TaskPlacement, task: mesos.v1.ITaskInfo, where: { sandbox: string; group?: string[] }): void {
    const record: TaskInfoRecord = { task: toMesosJson(mesos.v1.TaskInfo, task), sandbox: where.sandbox };
    if (where.group) record.group = where.group;
    writeAtomic(path.join(this.taskDir(p), 'task.info'), `${JSON.stringify(record, null, 2)}\n`);
  }

  /** Appends an update; it is on disk before it is sent. */
  recordUpdate(p: TaskPlacement, status: mesos.v1.ITaskStatus): void {
    fs.appendFileSync(path.join(this.taskDir(p), 'task.updates'), `${JSON.stringify({ update: toMesosJson(mesos.v1.TaskStatus, status) })}\n`);
  }

  recordAck(p: TaskPlacement, uuid: Uint8Array): void {
    fs.appendFileSync(path.join(this.taskDir(p), 'task.updates'), `${JSON.stringify({ ack: Buffer.from(uuid).toString('hex') })}\n`);
  }

  /**
   * The task is done with (its terminal update acknowledged): its records leave the checkpoint now,
   * and are deleted — with its run's, when it was the last — in the background.
   */
  forgetTask(p: TaskPlacement): void {
    const dir = this.taskDir(p);
    const trash = path.join(this.trashDir, randomUUID());
    try {
      fs.mkdirSync(this.trashDir, { recursive: true });
      fs.renameSync(dir, trash);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      return; // never recorded
    }
    const run = this.runDir(p);
    this.cleanup = this.cleanup.then(() => removeForgotten(trash, run)).catch(() => undefined);
  }

  // ---- recovery ------------------------------------------------------------------------------

  /** Every pid file under this work dir, of any agent ID it ever had. */
  pidFiles(): string[] {
    const out: string[] = [];
    for (const run of this.runDirs()) {
      const own = path.join(run.dir, 'pids', 'forked.pid');
      if (fs.existsSync(own)) out.push(own);
      for (const child of list(path.join(run.dir, 'containers'))) {
        const nested = path.join(run.dir, 'containers', child, 'pids', 'forked.pid');
        if (fs.existsSync(nested)) out.push(nested);
      }
    }
    return out;
  }

  /**
   * The checkpointed tasks of agent `agentId`, with their unacknowledged updates. Throws
   * AgentCheckpointError (naming the file and the way out) when a record cannot be read.
   */
  recoverTasks(agentId: string): RecoveredTask[] {
    try {
      return this.readTasks(agentId);
    } catch (err) {
      if (!(err instanceof AgentCheckpointError)) throw err;
      throw new AgentCheckpointError(
        `Agent checkpoint ${err.message}. The agent does not guess what it was running: move its checkpoint ` +
          `(${this.metaDir}) aside to start it as a new agent, after making sure no process of its tasks still runs.`,
      );
    }
  }

  private readTasks(agentId: string): RecoveredTask[] {
    const out: RecoveredTask[] = [];
    const frameworks = new Map<string, mesos.v1.IFrameworkInfo | undefined>();
    for (const run of this.runDirs(agentId)) {
      if (!frameworks.has(run.frameworkId)) frameworks.set(run.frameworkId, this.readFramework(agentId, run.frameworkId));
      const framework = frameworks.get(run.frameworkId);
      for (const taskId of list(path.join(run.dir, 'tasks'))) {
        const dir = path.join(run.dir, 'tasks', taskId);
        const infoFile = path.join(dir, 'task.info');
        if (!fs.existsSync(infoFile)) continue; // never got as far as recording: nothing was launched
        if (!framework) throw corrupt(path.join(this.frameworkDir(agentId, run.frameworkId), 'framework.info'), 'missing or unreadable');
        const record = readJson<TaskInfoRecord>(infoFile);
        if (!record || typeof record.sandbox !== 'string' || typeof record.task !== 'object') throw corrupt(infoFile, 'not a task record');
        const info = fromJson(mesos.v1.TaskInfo, record.task, infoFile);
        const { latest, pending } = replayUpdates(path.join(dir, 'task.updates'));
        const placement: TaskPlacement = { agentId, frameworkId: run.frameworkId, executorId: run.executorId, containerId: run.containerId, taskId };
        const recovered: RecoveredTask = { placement, framework, info, sandbox: record.sandbox, pending };
        if (Array.isArray(record.group)) {
          recovered.group = record.group.filter((t): t is string => typeof t === 'string');
          const child = path.basename(record.sandbox);
          if (child !== run.containerId) placement.childContainerId = child;
        }
        if (latest) recovered.latest = latest;
        out.push(recovered);
      }
    }
    return out;
  }

  private readFramework(agentId: string, frameworkId: string): mesos.v1.IFrameworkInfo | undefined {
    const file = path.join(this.frameworkDir(agentId, frameworkId), 'framework.info');
    const json = readJson<unknown>(file);
    return json === undefined ? undefined : fromJson(mesos.v1.FrameworkInfo, json, file);
  }

  private frameworkDir(agentId: string, frameworkId: string): string {
    assertPathComponent('framework ID', frameworkId);
    return path.join(this.agentDir(agentId), 'frameworks', frameworkId);
  }

  private runDir(p: Omit<TaskPlacement, 'taskId' | 'childContainerId'>): string {
    assertPathComponent('executor ID', p.executorId);
    assertPathComponent('container ID', p.containerId);
    return path.join(this.frameworkDir(p.agentId, p.frameworkId), 'executors', p.executorId, 'runs', p.containerId);
  }

  private taskDir(p: TaskPlacement): string {
    assertPathComponent('task ID', p.taskId);
    return path.join(this.runDir(p), 'tasks', p.taskId);
  }

  /** Every executor run directory (of one agent ID, or of all). */
  private runDirs(agentId?: string): Array<{ dir: string; frameworkId: string; executorId: string; containerId: string }> {
    const out: Array<{ dir: string; frameworkId: string; executorId: string; containerId: string }> = [];
    const agents = agentId !== undefined ? [agentId] : list(path.join(this.metaDir, 'slaves')).filter((a) => a !== 'latest');
    for (const agent of agents) {
      const frameworksDir = path.join(this.metaDir, 'slaves', agent, 'frameworks');
      for (const frameworkId of list(frameworksDir)) {
        const executorsDir = path.join(frameworksDir, frameworkId, 'executors');
        for (const executorId of list(executorsDir)) {
          const runsDir = path.join(executorsDir, executorId, 'runs');
          for (const containerId of list(runsDir)) out.push({ dir: path.join(runsDir, containerId), frameworkId, executorId, containerId });
        }
      }
    }
    return out;
  }
}

/** Replays a task's update log: every update, minus those acknowledged in order. */
function replayUpdates(file: string): { latest?: mesos.v1.ITaskStatus; pending: mesos.v1.ITaskStatus[] } {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return { pending: [] };
  }
  const lines = text.split('\n');
  const last = lines.length - 1;
  const pending: mesos.v1.ITaskStatus[] = [];
  let latest: mesos.v1.ITaskStatus | undefined;
  for (let i = 0; i <= last; i++) {
    const line = lines[i];
    if (line === '') continue;
    let entry: { update?: unknown; ack?: unknown };
    try {
      entry = JSON.parse(line) as { update?: unknown; ack?: unknown };
    } catch {
      // A torn last line: the agent died while appending it, so the update was never sent.
      if (i === last) break;
      throw corrupt(file, `line ${i + 1} is not a record`);
    }
    if (entry.update !== undefined) {
      const status = fromJson(mesos.v1.TaskStatus, entry.update, file);
      pending.push(status);
      latest = status;
    } else if (typeof entry.ack === 'string') {
      const head = pending[0];
      // The manager only ever takes the acknowledgement of the update in flight.
      if (head?.uuid && Buffer.from(head.uuid).toString('hex') === entry.ack) pending.shift();
    } else {
      throw corrupt(file, `line ${i + 1} is neither an update nor an acknowledgement`);
    }
  }
  return latest ? { latest, pending } : { pending };
}

function corrupt(file: string, what: string): AgentCheckpointError {
  return new AgentCheckpointError(`${file}: ${what}`);
}

function toJson<T, I>(type: MessageType<T, I>, message: T | I): string {
  return `${JSON.stringify(toMesosJson(type, message), null, 2)}\n`;
}

/** A message from its checkpointed JSON, as a plain object (numeric enums, Uint8Array bytes). */
function fromJson<T, I>(type: MessageType<T, I>, json: unknown, file: string): I {
  try {
    return type.toObject(fromMesosJson(type, json), { longs: Number }) as unknown as I;
  } catch (err) {
    throw corrupt(file, (err as Error).message);
  }
}

function readJson<T>(file: string): T | undefined {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  try {
    return JSON.parse(text) as T;
  } catch {
    throw corrupt(file, 'not valid JSON');
  }
}

/** Deletes a forgotten task's records, then its run when nothing of it is left, then empty parents. */
async function removeForgotten(trash: string, run: string): Promise<void> {
  await fs.promises.rm(trash, { recursive: true, force: true });
  const entries = async (dir: string): Promise<string[]> => fs.promises.readdir(dir).catch(() => []);
  const exists = async (file: string): Promise<boolean> => fs.promises.access(file).then(() => true, () => false);
  if ((await entries(path.join(run, 'tasks'))).length > 0 || (await exists(path.join(run, 'pids', 'forked.pid')))) return;
  for (const child of await entries(path.join(run, 'containers'))) if (await exists(path.join(run, 'containers', child, 'pids', 'forked.pid'))) return;
  await fs.promises.rm(run, { recursive: true, force: true });
  // Empty parents up to the framework directory (which keeps framework.info).
  const executor = path.dirname(path.dirname(run));
  for (const dir of [path.dirname(run), executor, path.dirname(executor)]) {
    try {
      await fs.promises.rmdir(dir);
    } catch {
      break;
    }
  }
}

function writeAtomic(file: string, text: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, text);
  fs.renameSync(tmp, file);
}

function list(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch {
    return [];
  }
}
