/**
 * The CSI plugin configurations of an agent's `--csi_plugin_config_dir`, read as Mesos' CSI server
 * reads them (src/slave/csi_server.cpp): every regular file is one CSIPluginInfo as JSON
 * (`type`, `name` default "default", `containers` for a managed plugin or `endpoints` for an
 * unmanaged one, `target_path_root`, `target_path_exists`); directories are skipped; a second file
 * for the same type is skipped with an error; a file that is not JSON fails the lookup. The local
 * agent runs no plugin containers, so only unmanaged plugins (with a NODE_SERVICE endpoint) work.
 */
import fs from 'node:fs';
import path from 'node:path';
import { readCsiEndpoint, type CsiEndpoint } from '../../../../drivers/csi/csi-endpoint';
import type { Logger } from '../../../shared/logger';

export interface CsiPluginInfo {
  type: string;
  name: string;
  nodeEndpoint: CsiEndpoint;
  /** Where volumes are published (default `<work_dir>/csi/<type>/<name>/mounts`). */
  targetPathRoot?: string;
  /** The plugin expects the target path to exist before NodePublishVolume (not CSI-compliant, but common). */
  targetPathExists: boolean;
}

/** A plugin configuration that cannot be used; its message is what the task's failure says. */
export class CsiPluginConfigError extends Error {
  override name = 'CsiPluginConfigError';
}

interface RawPluginInfo {
  type?: unknown;
  name?: unknown;
  containers?: unknown;
  endpoints?: Array<{ csi_service?: unknown; endpoint?: unknown }>;
  target_path_root?: unknown;
  target_path_exists?: unknown;
}

/** The configuration of plugin `type` in `dir` (Mesos' initializePlugin for one name). */
export function readCsiPluginInfo(dir: string, type: string, logger?: Logger): CsiPluginInfo {
  let entries: string[];
  try {
    entries = fs.readdirSync(dir).sort();
  } catch (err) {
    throw new CsiPluginConfigError(
      `Unable to list the CSI plugin configuration directory '${dir}': ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    );
  }
  let found: { file: string; info: RawPluginInfo } | undefined;
  for (const entry of entries) {
    const file = path.join(dir, entry);
    let stat: fs.Stats;
    try {
      stat = fs.statSync(file);
    } catch {
      continue;
    }
    if (stat.isDirectory()) continue;
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (err) {
      logger?.error('Failed to read CSI plugin configuration file', { file, error: (err as Error).message });
      continue;
    }
    let info: RawPluginInfo;
    try {
      info = JSON.parse(text) as RawPluginInfo;
    } catch (err) {
      throw new CsiPluginConfigError(`JSON parse of '${file}' failed: ${(err as Error).message}`);
    }
    if (typeof info !== 'object' || info === null || typeof info.type !== 'string' || info.type === '') {
      throw new CsiPluginConfigError(`Protobuf parse of '${file}' failed: Missing required fields: type`);
    }
    if (info.type !== type) continue;
    if (found) {
      logger?.error('Multiple configurations for a CSI plugin are not allowed; skipping one', { file, plugin: type });
      continue;
    }
    found = { file, info };
  }
  if (!found) throw new CsiPluginConfigError(`No valid CSI plugin configurations found in '${dir}'`);
  const { file, info } = found;
  if (Array.isArray(info.containers) && info.containers.length > 0) {
    throw new CsiPluginConfigError(
      `CSI plugin '${type}' (${file}) is a managed plugin (containers): the local agent runs no plugin containers; run the plugin yourself and give its NODE_SERVICE endpoint`,
    );
  }
  const node = (info.endpoints ?? []).find((e) => e?.csi_service === 'NODE_SERVICE');
  if (!node || typeof node.endpoint !== 'string') {
    throw new CsiPluginConfigError(`CSI plugin '${type}' (${file}) has no NODE_SERVICE endpoint`);
  }
  const endpoint = readCsiEndpoint(node.endpoint, `the NODE_SERVICE endpoint of ${file}`);
  if ('problem' in endpoint) throw new CsiPluginConfigError(endpoint.problem);
  const out: CsiPluginInfo = {
    type,
    name: typeof info.name === 'string' && info.name !== '' ? info.name : 'default',
    nodeEndpoint: endpoint.endpoint,
    targetPathExists: info.target_path_exists === true,
  };
  if (typeof info.target_path_root === 'string' && info.target_path_root !== '') out.targetPathRoot = info.target_path_root;
  return out;
}

/** The directory an agent reads: `<dir>/<hostname>` when it exists, else `<dir>` (one directory per host, as each real agent has). */
export function agentPluginConfigDir(dir: string, hostname: string): string {
  const own = path.join(dir, hostname);
  try {
    if (fs.statSync(own).isDirectory()) return own;
  } catch {
    // no per-host directory
  }
  return dir;
}
