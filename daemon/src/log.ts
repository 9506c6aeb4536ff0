/** Log lines: time, level, message. Messages say what happened and what to do. */

const LEVELS = { debug: 0, verbose: 1, notice: 2, warning: 3 } as const;
export type LogLevel = keyof typeof LEVELS;

let threshold: number = LEVELS.notice;

export function setLogLevel(level: string): void {
  threshold = LEVELS[level as LogLevel] ?? LEVELS.notice;
}

function write(level: LogLevel, mark: string, message: string): void {
  if (LEVELS[level] < threshold) return;
  process.stdout.write(`${process.pid}:${mark} ${new Date().toISOString()} ${message}\n`);
}

export const log = {
  debug: (m: string) => write('debug', '.', m),
  verbose: (m: string) => write('verbose', '-', m),
  notice: (m: string) => write('notice', '*', m),
  warning: (m: string) => write('warning', '#', m),
};
