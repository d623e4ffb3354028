/**
 * What a libStorage request carries besides its path and body (reference §1.2): the caller's
 * instance IDs (one header per driver or driver:service), local devices, transaction, and who it
 * is. Headers are read case-insensitively and repeated headers are kept apart (Node would join
 * them with ", ", which collides with the commas inside an instance ID).
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import {
  HeaderFormatError,
  ParsedInstanceId,
  ParsedLocalDevices,
  ParsedTransaction,
  parseInstanceIdHeader,
  parseLocalDevicesHeader,
  parseTransactionHeader,
} from '../../../drivers/libstorage/instance-id-header';
import type { Caller } from './libstorage-auth';
import { LibStorageError } from './libstorage-error';

export interface RequestContext {
  instanceIds: ParsedInstanceId[];
  localDevices: ParsedLocalDevices[];
  tx: ParsedTransaction;
  caller: Caller;
}

function headerValues(req: IncomingMessage, name: string): string[] {
  const values = req.headersDistinct[name.toLowerCase()];
  return values ? [...values] : [];
}

/** Parses the headers; a malformed one is a 400 with upstream's message and the raw value. */
export function readRequestContext(req: IncomingMessage, caller: Caller): RequestContext {
  const parse = <T>(name: string, fn: (v: string) => T): T[] =>
    headerValues(req, name).map((v) => {
      try {
        return fn(v);
      } catch (err) {
        if (err instanceof HeaderFormatError) throw LibStorageError.badRequest(err.message, { value: err.value.slice(0, 300) });
        throw err;
      }
    });
  const txs = parse('libstorage-tx', parseTransactionHeader);
  return {
    instanceIds: parse('libstorage-instanceid', parseInstanceIdHeader),
    localDevices: parse('libstorage-localdevices', parseLocalDevicesHeader),
    tx: txs[0] ?? { id: randomUUID(), created: Math.floor(Date.now() / 1000) },
    caller,
  };
}

/**
 * The caller's instance ID for a service: a `DRIVER:SERVICE=` header for this service wins, else a
 * header whose driver is the service's advertised driver (reference §1.2).
 */
export function instanceIdFor(ctx: RequestContext, service: string, driverName: string): ParsedInstanceId | undefined {
  const byService = ctx.instanceIds.find((i) => i.service !== undefined && i.service.toLowerCase() === service.toLowerCase());
  if (byService) return byService;
  const driver = driverName.toLowerCase();
  return ctx.instanceIds.find((i) => i.service === undefined && i.driver === driver);
}

export function localDevicesFor(ctx: RequestContext, driverName: string): Record<string, string> | undefined {
  const driver = driverName.toLowerCase();
  return ctx.localDevices.find((d) => d.driver === driver)?.devices;
}
