/**
 * Command handlers, one file per family. Each file exports a record from command name (as in
 * the command table; subcommands as `parent|sub`) to handler. dispatch.ts checks at start-up
 * that the table and the handlers match one to one.
 */
import type { ReplyWriter } from '@sluice/protocol';
import type { Connection } from '../connection';
import { serverHandlers } from './server';
import { limitsHandlers } from './limits';
import { leasesHandlers } from './leases';
import { tokenHandlers } from './tokens';

/** Writes a reply computed later (off the event loop). */
export type LaterReply = Promise<(w: ReplyWriter) => void>;

/**
 * Runs a command. `args[0]` is the command name; arity and auth are already checked. Write the
 * reply to `w`, or return a LaterReply; throw ReplyError for a bad argument.
 *
 * `args` are views of the connection's read buffer, which the next read overwrites: they are
 * valid until the handler returns. Work that outlives the call (a LaterReply) must own copies
 * of what it uses; the native `tok*Async` functions copy their inputs before they return.
 */
export type Handler = (conn: Connection, args: Buffer[], w: ReplyWriter) => void | LaterReply;

export const handlers: Record<string, Handler> = {
  ...serverHandlers,
  ...limitsHandlers,
  ...leasesHandlers,
  ...tokenHandlers,
};
