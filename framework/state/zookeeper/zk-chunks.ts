/**
 * Values too large for one znode (ZooKeeper refuses nodes and requests over ~1 MB): written as
 * chunk nodes under `<root>/.chunks/<set id>/`, one request each, before the multi that commits the
 * header pointing to them; the set a write replaced is removed after it commits. A reader that
 * finds a chunk missing (the value was replaced meanwhile) reads the header again. A crash between
 * writing a set and committing its header leaves an unreferenced set, which `sweep()` removes.
 */
import { randomBytes } from 'node:crypto';
import type { NodeHeader } from './node-header';
import { isZkCode, ZK_CODES, ZkSession } from '../../shared/zookeeper/zk-session';
import { CHUNKS_DIR, joinPath } from './znode-paths';

/** Inline values up to this many bytes; larger ones are chunked (ZooKeeper's default jute.maxbuffer is 1 MiB). */
export const CHUNK_THRESHOLD = 512 * 1024;
const CHUNK_SIZE = 512 * 1024;

export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

const chunkName = (i: number): string => String(i).padStart(6, '0');

export class ZkChunks {
  readonly dir: string;

  constructor(
    root: string,
    private readonly session: () => ZkSession,
  ) {
    this.dir = joinPath(root, CHUNKS_DIR);
  }

  /** Writes `raw` as a new chunk set and returns the header that points to it. */
  async write(raw: Buffer, version: number, writeId: string): Promise<NodeHeader & { c: NonNullable<NodeHeader['c']> }> {
    const id = `${writeId}-${randomBytes(4).toString('hex')}`;
    const dir = joinPath(this.dir, id);
    const session = this.session();
    await session.create(dir, Buffer.alloc(0));
    const n = Math.ceil(raw.length / CHUNK_SIZE);
    try {
      await mapLimit(
        Array.from({ length: n }, (_, i) => i),
        4,
        (i) => session.create(joinPath(dir, chunkName(i)), raw.subarray(i * CHUNK_SIZE, (i + 1) * CHUNK_SIZE)),
      );
    } catch (err) {
      await this.remove(id).catch(() => undefined);
      throw err;
    }
    return { v: version, w: writeId, c: { id, n, bytes: raw.length } };
  }

  /** The value a header stands for; `found: false` when its chunks were replaced meanwhile. */
  async read(header: NodeHeader): Promise<{ found: boolean; value?: unknown }> {
    if (!header.c) return { found: true, value: header.d };
    const dir = joinPath(this.dir, header.c.id);
    const session = this.session();
    const parts = await mapLimit(
      Array.from({ length: header.c.n }, (_, i) => i),
      4,
      async (i) => (await session.getData(joinPath(dir, chunkName(i))))?.data,
    );
    if (parts.some((p) => p === undefined)) return { found: false };
    const raw = Buffer.concat(parts as Buffer[]);
    if (raw.length !== header.c.bytes) return { found: false };
    return { found: true, value: JSON.parse(raw.toString('utf8')) };
  }

  async remove(id: string): Promise<void> {
    const session = this.session();
    const dir = joinPath(this.dir, id);
    const ignoreGone = (err: unknown): Promise<void> => (isZkCode(err, ZK_CODES.NO_NODE) ? Promise.resolve() : Promise.reject(err));
    const children = (await session.getChildren(dir)) ?? [];
    await mapLimit(children, 8, (c) => session.remove(joinPath(dir, c)).catch(ignoreGone));
    await session.remove(dir).catch(ignoreGone);
  }

  /** Removes chunk sets that no key points to and that are over a minute old; returns how many. */
  async sweep(usedIds: () => Promise<Set<string>>): Promise<number> {
    const session = this.session();
    const sets = (await session.getChildren(this.dir)) ?? [];
    if (sets.length === 0) return 0;
    const used = await usedIds();
    let removed = 0;
    for (const id of sets) {
      if (used.has(id)) continue;
      // Only sets older than a minute: a set this young may belong to a write about to commit.
      const stat = await session.exists(joinPath(this.dir, id));
      if (!stat || Date.now() - Number(stat.ctime.readBigInt64BE()) < 60_000) continue;
      await this.remove(id);
      removed++;
    }
    return removed;
  }
}
