/**
 * Log lines: time, level, message. Messages say what happened and what to do.
 * `log-format text` (the default) writes Redis-like lines (`pid:mark time message`);
 * `log-format json` writes one JSON object per line: time, pid, level, message, and any
 * structured fields the caller gives (the start-up summary gives the effective configuration).
 */

const LEVELS = { debug: 0, verbose: 1, notice: 2, warning: 3 } as const;
export type LogLevel = keyof typeof LEVELS;

let threshold: number = LEVELS.notice;
let json = false;

export function setLogLevel(level: string): void {
  threshold = LEVELS[level as LogLevel] ?? LEVELS.notice;
}

/** Applies `loglevel` and `log-format` (at start and after CONFIG SET). */
export function configureLog(config: { str(name: string): string }): void {
  setLogLevel(config.str('loglevel'));
  json = config.str('log-format') === 'json';
}

/** Structured fields of a line: shown as JSON in either format. */
export type LogFields = Record<string, unknown>;

function write(level: LogLevel, mark: string, message: string, fields?: LogFields): void {
  if (LEVELS[level] < threshold) return;
  const time = new Date().toISOString();
  if (json) {
    process.stdout.write(JSON.stringify({ time, pid: process.pid, level, message, ...fields }) + '\n');
    return;
  }
  process.stdout.write(`${process.pid}:${mark} ${time} ${message}${fields === undefined ? '' : ' ' + JSON.stringify(fields)}\n`);
}

export const log = {
  debug: (m: string, fields?: LogFields) => write('debug', '.', m, fields),
  verbose: (m: string, fields?: LogFields) => write('verbose', '-', m, fields),
  notice: (m: string, fields?: LogFields) => write('notice', '*', m, fields),
  warning: (m: string, fields?: LogFields) => write('warning', '#', m, fields),
};
