/**
 * The names Polly gives what it creates through a CSI plugin. CSI names are the plugin's
 * idempotency keys (a CreateVolume repeated with the same name returns the volume the first one
 * made), so each is a pure function of what Polly intends: the service's prefix and the volume's
 * name (case-insensitive, as Polly compares names), or for a snapshot its volume and name. A retry
 * after a crash therefore asks for the same name and finds the same volume. Names that are short
 * and plain stay readable (`polly-disks-data1`); others keep a readable part and end in a hash.
 */
import { createHash } from 'node:crypto';
import { nameKey } from '../name-rules';

/** CSI's limit on a name (and on most strings): 128 bytes. */
export const MAX_CSI_NAME_BYTES = 128;
/** What a name prefix may be (it starts every CSI name of a service). */
export const CSI_NAME_PREFIX_PATTERN = /^[a-z0-9][a-z0-9._-]{0,47}$/;

const PLAIN = /^[a-z0-9][a-z0-9._-]*$/;

function hash16(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex').slice(0, 16);
}

function readable(text: string, room: number): string {
  return text
    .replace(/[^a-z0-9._-]+/g, '-')
    .replace(/^[-._]+|[-._]+$/g, '')
    .slice(0, Math.max(0, room));
}

/** The CSI name of the volume Polly names `name`. */
export function csiVolumeName(prefix: string, name: string): string {
  const key = nameKey(name);
  const plain = `${prefix}${key}`;
  if (PLAIN.test(key) && Buffer.byteLength(plain) <= MAX_CSI_NAME_BYTES) return plain;
  const hash = hash16(key);
  const part = readable(key, MAX_CSI_NAME_BYTES - prefix.length - hash.length - 1);
  return `${prefix}${part ? `${part}-` : ''}${hash}`;
}

/** The CSI name of snapshot `name` of the plugin's volume `volumeId` (CSI snapshot names are plugin-wide). */
export function csiSnapshotName(prefix: string, volumeId: string, name: string): string {
  const key = nameKey(name);
  const hash = hash16(`${volumeId}\u0000${key}`);
  const head = `${prefix}snap-`;
  const part = readable(key, MAX_CSI_NAME_BYTES - head.length - hash.length - 1);
  return `${head}${part ? `${part}-` : ''}${hash}`;
}
