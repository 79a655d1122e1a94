/**
 * JSON logs, one object per line on stdout (the Apps runtime collects stdout/stderr as the app's logs).
 * Callers pass structured fields; nothing here knows about secrets, so callers never pass tokens.
 */
export type Level = "debug" | "info" | "warn" | "error";

export interface Logger {
  log(level: Level, msg: string, fields?: Record<string, unknown>): void;
}

export type LogSink = (line: string) => void;

export function jsonLogger(
  sink: LogSink = (line) => process.stdout.write(`${line}\n`),
  now: () => Date = () => new Date(),
): Logger {
  return {
    log(level, msg, fields = {}) {
      sink(JSON.stringify({ time: now().toISOString(), level, msg, ...fields }));
    },
  };
}

/** An Error as loggable fields: message, Postgres/Node error code, no stack for expected failures. */
export function errorFields(error: unknown): { error: string; code?: string } {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return typeof code === "string" ? { error: error.message, code } : { error: error.message };
  }
  return { error: String(error) };
}
