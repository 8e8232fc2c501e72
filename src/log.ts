/**
 * A small structured logger: one JSON object per line on stderr, so logs stay machine-readable
 * on servers and edge platforms alike. The level comes from configuration (`FAILFAST_LOG_LEVEL`).
 */

export const LOG_LEVELS = ["debug", "info", "warn", "error", "silent"] as const;
export type LogLevel = typeof LOG_LEVELS[number];

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

export type LogFields = Record<string, unknown>;
export type LogSink = (line: string) => void;

/** Structured logger with a minimum level and fixed context fields (e.g. a request id). */
export class Logger {
  constructor(
    readonly level: LogLevel = "info",
    private readonly context: LogFields = {},
    private readonly sink: LogSink = (line) => console.error(line),
  ) {}

  /** A logger that adds `fields` to every record (e.g. `{ request: "chatcmpl-1" }`). */
  child(fields: LogFields): Logger {
    return new Logger(this.level, { ...this.context, ...fields }, this.sink);
  }

  enabled(level: LogLevel): boolean {
    return RANK[level] >= RANK[this.level];
  }

  debug(msg: string, fields?: LogFields): void {
    this.write("debug", msg, fields);
  }
  info(msg: string, fields?: LogFields): void {
    this.write("info", msg, fields);
  }
  warn(msg: string, fields?: LogFields): void {
    this.write("warn", msg, fields);
  }
  error(msg: string, fields?: LogFields): void {
    this.write("error", msg, fields);
  }

  private write(level: Exclude<LogLevel, "silent">, msg: string, fields?: LogFields): void {
    if (!this.enabled(level)) return;
    const record: LogFields = { time: new Date().toISOString(), level, msg, ...this.context };
    for (const [key, value] of Object.entries(fields ?? {})) {
      record[key] = value instanceof Error ? { name: value.name, message: value.message } : value;
    }
    this.sink(JSON.stringify(record));
  }
}
