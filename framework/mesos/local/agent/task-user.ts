/**
 * `CommandInfo.user`, as an agent with `--switch_user` (the default) honours it: the task runs as
 * that user, which must exist on the agent. The local agent can switch users only when it runs as
 * root; otherwise a task asking for another user fails, as it would on an agent that cannot
 * switch to it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as os from 'node:os';
import { ContainerLaunchError } from './errors';

export interface TaskUser {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

/** The user's entry in /etc/passwd. */
function lookup(name: string): TaskUser | undefined {
  let text: string;
  try {
    text = fs.readFileSync('/etc/passwd', 'utf8');
  } catch {
    return undefined;
  }
  for (const line of text.split('\n')) {
    const [user, , uid, gid, , home] = line.split(':');
    if (user === name && /^\d+$/.test(uid ?? '') && /^\d+$/.test(gid ?? '')) return { name, uid: Number(uid), gid: Number(gid), home: home ?? '/' };
  }
  return undefined;
}

/** The identity to run the task as: undefined to keep the agent's own. Throws when it cannot. */
export function taskUser(user: string | null | undefined): TaskUser | undefined {
  if (user === undefined || user === null || user === '') return undefined;
  const me = os.userInfo();
  if (user === me.username) return undefined;
  const entry = lookup(user);
  if (!entry) throw new ContainerLaunchError(`Failed to switch to user '${user}': no such user on the agent`);
  if (process.getuid?.() !== 0) {
    throw new ContainerLaunchError(`Failed to switch to user '${user}': the agent runs as ${me.username}, not root`);
  }
  return entry;
}

/** A task running as another user owns its sandbox, as the agent chowns it; volume links are not followed. */
export async function chownTree(dir: string, user: TaskUser): Promise<void> {
  await fs.promises.lchown(dir, user.uid, user.gid);
  const stat = await fs.promises.lstat(dir);
  if (!stat.isDirectory()) return;
  for (const entry of await fs.promises.readdir(dir)) await chownTree(path.join(dir, entry), user);
}
