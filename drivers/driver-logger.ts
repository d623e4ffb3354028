/**
 * The logging seam drivers accept. Structurally identical to the framework's `Logger`, declared
 * here because nothing under drivers/ imports from framework/.
 */
export interface DriverLogger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

const noop = (): void => undefined;

export const silentDriverLogger: DriverLogger = { debug: noop, info: noop, warn: noop, error: noop };
