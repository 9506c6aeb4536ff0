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

/** A native error (a JS Error whose message is a RESP error, `ERR ...`) as a ReplyError. */
export function asReplyError(err: unknown): unknown {
  return err instanceof Error && err.message.startsWith('ERR ') ? new ReplyError(err.message) : err;
}
