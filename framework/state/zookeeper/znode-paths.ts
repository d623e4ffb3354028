/**
 * Store keys ↔ znode paths. `volumes/<id>` under root `/polly` is `/polly/volumes/<id>`: one key
 * segment is one znode name. A few characters that store keys allow are not allowed in znode names
 * (ZooKeeper refuses UTF-16 surrogates — every character outside the BMP —, U+E000–U+F8FF and
 * U+FFF0–U+FFFF; and the names `.`, `..`), so those are written as `%XX` of their UTF-8 bytes, and
 * `%` itself as `%25`. A leading `.` is escaped too: names starting with `.` are reserved for
 * Polly's own bookkeeping (`/polly/.chunks`), so they can never collide with a key (`.chunks`, `.leader` are not keys).
 */
export const CHUNKS_DIR = '.chunks';
/** Where Polly instances elect their leader (beside the keys, never one of them). */
export const LEADER_DIR = '.leader';

function needsEscape(cp: number): boolean {
  return cp === 0x25 || cp > 0xffff || (cp >= 0xd800 && cp <= 0xf8ff) || cp >= 0xfff0;
}

function escapeChar(ch: string): string {
  return [...Buffer.from(ch, 'utf8')].map((b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`).join('');
}

export function encodeSegment(segment: string): string {
  let out = '';
  let first = true;
  for (const ch of segment) {
    const cp = ch.codePointAt(0)!;
    out += needsEscape(cp) || (first && ch === '.') ? escapeChar(ch) : ch;
    first = false;
  }
  return out;
}

export function decodeSegment(name: string): string {
  if (!name.includes('%')) return name;
  return name.replace(/(?:%[0-9A-F]{2})+/g, (run) => Buffer.from(run.replace(/%/g, ''), 'hex').toString('utf8'));
}

/** Normalises a configured root (`polly`, `/polly/`) to `/polly`; `/` stays `/`. */
export function normaliseRoot(root: string): string {
  const trimmed = root.trim().replace(/\/+$/, '');
  if (trimmed === '') return '/';
  return trimmed.startsWith('/') ? trimmed : `/${trimmed}`;
}

export function joinPath(parent: string, name: string): string {
  return parent === '/' ? `/${name}` : `${parent}/${name}`;
}

export function keyToPath(root: string, key: string): string {
  return joinPath(root, key.split('/').map(encodeSegment).join('/'));
}

/** The path of the node above `path` (never above the root). */
export function parentPath(path: string): string {
  const i = path.lastIndexOf('/');
  return i <= 0 ? '/' : path.slice(0, i);
}

/**
 * Where a prefix scan starts: the node of the prefix's whole segments, and the start of the next
 * segment that a child's name must have. `claims-by-volume/v1` → dir `/polly/claims-by-volume`,
 * partial `v1`; `volumes/` → `/polly/volumes`, ''; '' → the root, ''.
 */
export function prefixToBase(root: string, prefix: string): { dir: string; dirKey: string; partial: string } {
  const cut = prefix.lastIndexOf('/');
  const dirKey = cut < 0 ? '' : prefix.slice(0, cut);
  const partial = cut < 0 ? prefix : prefix.slice(cut + 1);
  return { dir: dirKey === '' ? root : keyToPath(root, dirKey), dirKey, partial };
}

export function childKey(dirKey: string, name: string): string {
  const segment = decodeSegment(name);
  return dirKey === '' ? segment : `${dirKey}/${segment}`;
}
