/**
 * Structured JSON logs (pino) with a `component` field on every line, so logs from ingest,
 * the API and the workers can be filtered apart after aggregation.
 */
import { pino, type DestinationStream, type Logger } from 'pino';
import { ConfigError, LOG_LEVELS, type LogLevel } from './config.js';

export type { Logger };

export interface LoggerOptions {
  /** Service or worker name, e.g. "ingest"; emitted as `component` on every line. */
  component: string;
  /** Defaults to $LOG_LEVEL, then "info". */
  level?: string;
  /** Where lines go; defaults to stdout. Tests pass a collecting stream. */
  destination?: DestinationStream;
  /** Extra fields on every line (e.g. version). */
  base?: Record<string, unknown>;
}

export function parseLogLevel(value: string | undefined, variable = 'LOG_LEVEL'): LogLevel {
  const level = (value ?? 'info').trim().toLowerCase();
  if ((LOG_LEVELS as readonly string[]).includes(level)) return level as LogLevel;
  throw new ConfigError([{ variable, message: `expected one of ${LOG_LEVELS.join('|')}` }]);
}

export function createLogger(opts: LoggerOptions): Logger {
  const level = parseLogLevel(opts.level ?? (process.env.LOG_LEVEL || undefined));
  return pino(
    {
      level,
      base: { component: opts.component, pid: process.pid, ...opts.base },
      // ISO time and level names instead of epoch millis and numbers: readable without tooling,
      // and what log pipelines (Loki, Elastic) parse without a custom mapping.
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    // undefined = pino's default: synchronous stdout, so the last lines before process.exit()
    // in a shutdown path are not lost in an async buffer.
    opts.destination,
  );
}

/**
 * A child logger for a part of a component. Uses `module`, not `component`: pino does not merge
 * duplicate keys, so re-binding `component` would print it twice.
 */
export function childLogger(logger: Logger, module: string, bindings: Record<string, unknown> = {}): Logger {
  return logger.child({ module, ...bindings });
}
