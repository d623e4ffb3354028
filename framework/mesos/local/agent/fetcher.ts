/**
 * The Mesos fetcher, for the local agent: before a task starts, each `CommandInfo.uris` entry is
 * copied into the sandbox (`file://` or an absolute path, `http://`, `https://`), named by
 * `output_file` or the URI's last segment, made executable when asked, and archives (.tar, .tgz,
 * .tar.gz, .tar.bz2, .tbz2, .tar.xz, .txz, .zip) extracted into the sandbox when `extract` (the
 * default). `cache` is accepted and ignored: every fetch downloads. A failure fails the launch with
 * the fetcher's message, as a real agent does.
 */
import { execFile } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import type { mesos } from '../../generated/mesos';
import { ContainerLaunchError } from './errors';

const run = promisify(execFile);
const TAR = /\.(tar|tgz|tar\.gz|tbz2|tar\.bz2|txz|tar\.xz)$/i;
const ZIP = /\.zip$/i;

function targetName(uri: mesos.v1.CommandInfo.IURI): string {
  const raw = uri.output_file || decodeURIComponent(new URL(uri.value, 'file:///').pathname.split('/').pop() || 'download');
  if (raw.startsWith('/') || raw.split('/').includes('..')) throw new ContainerLaunchError(`Failed to fetch ${uri.value}: output_file '${raw}' leaves the sandbox`);
  return raw;
}

async function download(value: string, target: string): Promise<void> {
  if (/^https?:\/\//i.test(value)) {
    const res = await fetch(value);
    if (!res.ok) throw new Error(`HTTP ${res.status} ${res.statusText}`);
    await fsp.writeFile(target, Buffer.from(await res.arrayBuffer()));
    return;
  }
  const source = value.startsWith('file://') ? new URL(value).pathname : value;
  if (!source.startsWith('/')) throw new Error('unsupported URI scheme (file://, http:// and https:// are fetched)');
  await fsp.copyFile(source, target);
}

/** Fetches every URI into `sandbox`; `owner` gets the files when the task runs as another user. */
export async function fetchUris(uris: readonly mesos.v1.CommandInfo.IURI[], sandbox: string, owner?: { uid: number; gid: number }): Promise<void> {
  for (const uri of uris) {
    const name = targetName(uri);
    const target = path.join(sandbox, name);
    try {
      await fsp.mkdir(path.dirname(target), { recursive: true });
      await download(uri.value, target);
      if (uri.executable) await fsp.chmod(target, 0o755);
      if (!uri.executable && uri.extract !== false) {
        if (TAR.test(name)) await run('tar', ['-xf', target, '-C', sandbox]);
        else if (ZIP.test(name)) await run('unzip', ['-o', '-q', target, '-d', sandbox]);
      }
      if (owner) await run('chown', ['-R', `${owner.uid}:${owner.gid}`, sandbox]);
    } catch (err) {
      throw new ContainerLaunchError(`Failed to fetch all URIs for container: ${uri.value}: ${(err as Error).message.split('\n')[0]}`);
    }
  }
}
