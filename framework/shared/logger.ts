/** The logging seam every Polly component accepts; winston or anything else can sit behind it. */
export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
  /** A logger that adds these fields to every entry (optional: plain loggers may not have it). */
  child?(fields: Record<string, unknown>): Logger;
}

const noop = (): void => undefined;

/** Discards everything; the default when no logger is given. */
export const silentLogger: Logger = { debug: noop, info: noop, warn: noop, error: noop };
