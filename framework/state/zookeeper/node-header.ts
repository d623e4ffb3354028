/**
 * What a key's znode holds, and what the store knows about a znode when it decides a write.
 *
 * A key's znode holds a small JSON header `{"v":<version>,"w":<write id>,"d":<value>}` (or, for a
 * chunked value, `"c":{id,n,bytes}` instead of `"d"`); a znode with empty data is only a parent of
 * other keys and is not a key itself.
 */
import type { Stat } from 'node-zookeeper-client';

export interface NodeHeader {
  v: number;
  w: string;
  d?: unknown;
  /** Chunked value: chunk set ID, chunk count, total bytes. */
  c?: { id: string; n: number; bytes: number };
}

export function parseHeader(data: Buffer | undefined): NodeHeader | undefined {
  if (!data || data.length === 0) return undefined;
  return JSON.parse(data.toString('utf8')) as NodeHeader;
}

/**
 * A znode as last read or written by this store: enough to make the next write to it conditional
 * (setData/remove at `zkVersion`) without reading it again.
 */
export interface KnownNode {
  /** The znode's dataVersion; -1 when there is no znode. */
  zkVersion: number;
  numChildren: number;
  /** The key's version (the header's `v`); 0 when the znode is not a key (absent, or a parent only). */
  version: number;
  /** The chunk set its value lives in, if chunked. */
  chunkSet?: string;
}

export const ABSENT: KnownNode = Object.freeze({ zkVersion: -1, numChildren: 0, version: 0 });

export function knownFromRead(node: { data: Buffer; stat: Stat } | undefined, header = parseHeader(node?.data)): KnownNode {
  if (!node) return ABSENT;
  const known: KnownNode = { zkVersion: node.stat.version, numChildren: node.stat.numChildren, version: header?.v ?? 0 };
  if (header?.c) known.chunkSet = header.c.id;
  return known;
}
