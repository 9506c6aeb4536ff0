/**
 * An error a command answers with. Handlers throw it for bad arguments; dispatch writes it as
 * a RESP error and counts a failed call. The message starts with the error code (`ERR ...`).
 */
export class ReplyError extends Error {}

/** Redis's wording for the common cases, so clients that match on text keep working. */
export const errors = {
  syntax: () => new ReplyError('ERR syntax error'),
  notInteger: () => new ReplyError('ERR value is not an integer or out of range'),
  notFloat: () => new ReplyError('ERR value is not a valid float'),
  wrongArgs: (name: string) => new ReplyError(`ERR wrong number of arguments for '${name}' command`),
  unknownSubcommand: (sub: string, parent: string) =>
    new ReplyError(`ERR unknown subcommand '${sub.slice(0, 128)}'. Try ${parent.toUpperCase()} HELP.`),
};

/** Parses a whole decimal integer argument (as Redis's string2ll), else throws notInteger. */
export function parseInteger(arg: Buffer): number {
  const len = arg.length;
  if (len === 0 || len > 20) throw errors.notInteger();
  let i = 0;
  let negative = false;
  if (arg[0] === 45) {
    negative = true;
    i = 1;
    if (len === 1) throw errors.notInteger();
  }
  if (arg[i] === 48 && len > i + 1) throw errors.notInteger();
  let n = 0;
  for (; i < len; i++) {
    const c = arg[i] - 48;
    if (c < 0 || c > 9) throw errors.notInteger();
    n = n * 10 + c;
  }
  if (n > Number.MAX_SAFE_INTEGER) throw errors.notInteger();
  return negative ? -n : n;
}
