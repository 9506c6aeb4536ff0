/**
 * From a parsed request to a reply: look the command up in the command table, check arity and
 * authentication, call the family's handler, count the call. The table (protocol/) is the only
 * place a command is declared; this file joins each table entry to its handler.
 */
import { arityAllows, commandTable, type CommandSpec, type ReplyWriter } from '@sluice/protocol';
import type { Connection } from './connection';
import { handlers, type Handler } from './commands';
import { errors, ReplyError } from './reply-error';
import { log } from './log';

/** A command as dispatch sees it: its spec, its handler, its statistics. */
export interface CommandEntry {
  spec: CommandSpec;
  /** Runs the command. Undefined for a container whose bare form is not a command (CLIENT). */
  handler: Handler | undefined;
  noAuth: boolean;
  subcommands: Map<string, CommandEntry> | null;
  calls: number;
  usec: number;
  failedCalls: number;
  rejectedCalls: number;
}

function entryFor(spec: CommandSpec): CommandEntry {
  const handler = handlers[spec.name];
  const subcommands = spec.subcommands ? new Map(spec.subcommands.map((s) => [s.name.split('|')[1], entryFor(s)])) : null;
  if (!handler && !subcommands) throw new Error(`command '${spec.name}' is in the command table but has no handler`);
  return { spec, handler, noAuth: spec.flags.includes('no_auth'), subcommands, calls: 0, usec: 0, failedCalls: 0, rejectedCalls: 0 };
}

/** Every command, by lowercase name. */
export const commands = new Map<string, CommandEntry>();
for (const spec of commandTable.values()) commands.set(spec.name, entryFor(spec));
for (const name of Object.keys(handlers)) {
  const [top, sub] = name.split('|');
  const entry = commands.get(top);
  if (!entry || (sub !== undefined && !entry.subcommands?.has(sub))) {
    throw new Error(`handler '${name}' has no entry in the command table`);
  }
}

/** Every entry including subcommands (INFO commandstats, CONFIG RESETSTAT). */
export function* allEntries(): Generator<CommandEntry> {
  for (const e of commands.values()) {
    yield e;
    if (e.subcommands) yield* e.subcommands.values();
  }
}

/** Finds a command by name in any letter case. */
export function lookup(map: Map<string, CommandEntry>, name: Buffer): CommandEntry | undefined {
  const text = name.toString('latin1');
  return map.get(text) ?? map.get(text.toLowerCase());
}

const stats = { unknownCommands: 0 };
export const dispatchStats = stats;

/** Runs one command; its reply goes to the writer (or, if async, into the connection's queue). */
export function dispatch(conn: Connection, args: Buffer[], w: ReplyWriter): void {
  let entry = lookup(commands, args[0]);
  if (entry === undefined) {
    stats.unknownCommands++;
    w.error(unknownCommandMessage(args));
    return;
  }
  if (entry.subcommands !== null && (args.length > 1 || entry.handler === undefined)) {
    if (args.length < 2) {
      entry.rejectedCalls++;
      w.error(errors.wrongArgs(entry.spec.name).message);
      return;
    }
    const sub = lookup(entry.subcommands, args[1]);
    if (sub === undefined) {
      entry.rejectedCalls++;
      w.error(errors.unknownSubcommand(args[1].toString(), entry.spec.name).message);
      return;
    }
    entry = sub;
  }
  if (!arityAllows(entry.spec.arity, args.length)) {
    entry.rejectedCalls++;
    w.error(errors.wrongArgs(entry.spec.name).message);
    return;
  }
  if (!conn.authenticated && !entry.noAuth) {
    entry.rejectedCalls++;
    w.error('NOAUTH Authentication required.');
    return;
  }
  entry.calls++;
  const started = performance.now();
  try {
    const later = entry.handler!(conn, args, w);
    if (later !== undefined) conn.replyLater(later, entry);
  } catch (err) {
    entry.failedCalls++;
    if (err instanceof ReplyError) {
      w.error(err.message);
    } else {
      log.warning(`command '${entry.spec.name}' failed unexpectedly: ${(err as Error).stack ?? err}. Please report this.`);
      w.error(`ERR internal error in '${entry.spec.name}': ${(err as Error).message}`);
    }
  }
  entry.usec += (performance.now() - started) * 1000;
}

/** Redis's wording: `ERR unknown command 'x', with args beginning with: 'a' 'b' `. */
function unknownCommandMessage(args: Buffer[]): string {
  let msg = `ERR unknown command '${clip(args[0])}', with args beginning with: `;
  for (let i = 1; i < args.length && msg.length < 128; i++) msg += `'${clip(args[i])}' `;
  return msg;
}

function clip(arg: Buffer): string {
  return arg.subarray(0, 128).toString();
}
