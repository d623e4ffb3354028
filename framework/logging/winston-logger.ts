/**
 * Winston behind Polly's Logger seam: JSON lines in production, readable lines in a terminal.
 */
import winston from 'winston';
import type { Logger } from '../shared/logger';

export type LogFormat = 'json' | 'pretty';
export type LogLevel = 'error' | 'warn' | 'info' | 'debug';

export interface LoggerOptions {
  level?: LogLevel;
  /** Default: pretty on a TTY, JSON otherwise. */
  format?: LogFormat;
  /** Tests and the CLI may log to stderr so stdout stays machine-readable. */
  stream?: NodeJS.WritableStream;
}

function prettyFormat(): winston.Logform.Format {
  return winston.format.combine(
    winston.format.timestamp({ format: 'HH:mm:ss.SSS' }),
    winston.format.colorize({ level: true }),
    winston.format.printf((info) => {
      const { timestamp, level, message, ...fields } = info;
      const rest = Object.entries(fields)
        .filter(([k]) => typeof k === 'string')
        .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
        .join(' ');
      return `${String(timestamp)} ${level} ${String(message)}${rest ? ' ' + rest : ''}`;
    }),
  );
}

class WinstonLogger implements Logger {
  constructor(private readonly inner: winston.Logger) {}
  debug(message: string, fields?: Record<string, unknown>): void {
    this.inner.debug(message, fields);
  }
  info(message: string, fields?: Record<string, unknown>): void {
    this.inner.info(message, fields);
  }
  warn(message: string, fields?: Record<string, unknown>): void {
    this.inner.warn(message, fields);
  }
  error(message: string, fields?: Record<string, unknown>): void {
    this.inner.error(message, fields);
  }
  child(fields: Record<string, unknown>): Logger {
    return new WinstonLogger(this.inner.child(fields));
  }
}

export function createLogger(options: LoggerOptions = {}): Logger & { child(fields: Record<string, unknown>): Logger } {
  const stream = options.stream ?? process.stdout;
  const isTty = Boolean((stream as NodeJS.WriteStream).isTTY);
  const format = options.format ?? (isTty ? 'pretty' : 'json');
  const inner = winston.createLogger({
    level: options.level ?? 'info',
    format:
      format === 'json'
        ? winston.format.combine(winston.format.timestamp(), winston.format.errors({ stack: true }), winston.format.json())
        : prettyFormat(),
    transports: [new winston.transports.Stream({ stream })],
  });
  return new WinstonLogger(inner);
}
