/**
 * The `Libstorage-Instanceid` and `Libstorage-Localdevices` request headers (reference §1.2), both
 * directions: the libstorage driver formats them, Polly's libStorage API parses them.
 *
 *   Libstorage-Instanceid:   DRIVER[:SERVICE]=ID[,FIELDS[,METADATA]]
 *                            FIELDS = URL-query-encoded k=v pairs, METADATA = base64(JSON)
 *   Libstorage-Localdevices: DRIVER=KEY::DEVPATH[,KEY::DEVPATH…]   (an empty map `ebs=` is allowed)
 */

export interface ParsedInstanceId {
  /** Lower-cased, as libStorage compares it. */
  driver: string;
  /** Present for the `DRIVER:SERVICE=` form, which wins for that service. */
  service?: string;
  /** May be empty when the client sent only metadata (it must ask `?instance` first). */
  id: string;
  fields?: Record<string, string>;
  /** Decoded metadata JSON. */
  metadata?: unknown;
  /** The header value as sent. */
  raw: string;
}

export interface ParsedLocalDevices {
  driver: string;
  /** Device key (e.g. `/dev/xvdb`, or a volume ID) → path (mount point or device). */
  devices: Record<string, string>;
}

export class HeaderFormatError extends Error {
  override name = 'HeaderFormatError';
  constructor(
    message: string,
    readonly value: string,
  ) {
    super(message);
  }
}

// The upstream regex: (?i)^([^=]+)=([^,]*)(?:,(.*?))?(?:,(.+))?$
const INSTANCE_ID = /^([^=]+)=([^,]*)(?:,(.*?))?(?:,(.+))?$/i;
const LOCAL_DEVICES = /^(.+?)=(\S+::\S*(?:\s*,\s*\S+::\S*)*)?$/;
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const MAX_HEADER = 8192;

export function parseInstanceIdHeader(value: string): ParsedInstanceId {
  if (value.length > MAX_HEADER) throw new HeaderFormatError('invalid InstanceID', value.slice(0, 100));
  const m = INSTANCE_ID.exec(value.trim());
  if (!m) throw new HeaderFormatError('invalid InstanceID', value);
  const [driverPart, service] = m[1]!.split(':', 2) as [string, string | undefined];
  const driver = driverPart.trim().toLowerCase();
  if (!NAME.test(driver) || (service !== undefined && !NAME.test(service))) throw new HeaderFormatError('invalid InstanceID', value);
  const out: ParsedInstanceId = { driver, id: m[2]!.trim(), raw: value };
  if (service !== undefined) out.service = service;
  if (m[3]) {
    const fields: Record<string, string> = {};
    for (const [k, v] of new URLSearchParams(m[3])) if (k !== '__proto__') fields[k] = v;
    if (Object.keys(fields).length > 0) out.fields = fields;
  }
  if (m[4]) {
    try {
      out.metadata = JSON.parse(Buffer.from(m[4], 'base64').toString('utf8')) as unknown;
    } catch {
      throw new HeaderFormatError('invalid InstanceID', value);
    }
  }
  return out;
}

export function formatInstanceIdHeader(iid: {
  driver: string;
  service?: string;
  id: string;
  fields?: Record<string, string>;
  metadata?: unknown;
}): string {
  let out = `${iid.driver}${iid.service ? `:${iid.service}` : ''}=${iid.id}`;
  const fields = iid.fields && Object.keys(iid.fields).length > 0 ? new URLSearchParams(iid.fields).toString() : '';
  if (fields || iid.metadata !== undefined) out += `,${fields}`;
  if (iid.metadata !== undefined) out += `,${Buffer.from(JSON.stringify(iid.metadata), 'utf8').toString('base64')}`;
  return out;
}

export function parseLocalDevicesHeader(value: string): ParsedLocalDevices {
  if (value.length > MAX_HEADER) throw new HeaderFormatError('invalid LocalDevices', value.slice(0, 100));
  const m = LOCAL_DEVICES.exec(value.trim());
  if (!m) throw new HeaderFormatError('invalid LocalDevices', value);
  const devices: Record<string, string> = {};
  if (m[2]) {
    for (const pair of m[2].split(',')) {
      const at = pair.indexOf('::');
      const key = pair.slice(0, at).trim();
      if (key && key !== '__proto__') devices[key] = pair.slice(at + 2).trim();
    }
  }
  return { driver: m[1]!.trim().toLowerCase(), devices };
}

export function formatLocalDevicesHeader(driver: string, devices: Record<string, string>): string {
  return `${driver}=${Object.entries(devices)
    .map(([k, v]) => `${k}::${v}`)
    .join(',')}`;
}

/** `txID=<uuid>, txCR=<epoch secs>`. */
export interface ParsedTransaction {
  id: string;
  created: number;
}

const TX = /^\s*txID=([0-9a-fA-F-]{36})\s*,\s*txCR=(\d{1,12})\s*$/;

export function parseTransactionHeader(value: string): ParsedTransaction {
  const m = TX.exec(value);
  if (!m) throw new HeaderFormatError('invalid transaction', value.slice(0, 200));
  return { id: m[1]!.toLowerCase(), created: Number(m[2]) };
}

export function formatTransactionHeader(tx: ParsedTransaction): string {
  return `txID=${tx.id}, txCR=${tx.created}`;
}
