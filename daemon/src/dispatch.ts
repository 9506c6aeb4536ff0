/**
 * From a parsed request to a reply: look the command up, check arity and authentication, call
 * its family's handler, count the call. The command table (protocol/) is the only place a
 * command is declared; a CommandRegistry joins each table entry to its handler (given by the
 * families) and refuses to be built if one lacks the other.
 */
import { arityAllows, commandTable, type CommandSpec, type ReplyWriter } from '@sluice/protocol';
import type { CommandStats, Context, Handler, LaterReply } from './context';
import { errors, ReplyError } from './reply-error';
import { log } from './log';

/**
 * Finds commands by name in any letter case without turning the name into a string: names are
 * bucketed by length and compared byte by byte, ASCII letters folded to lower case.
 */
export class CommandIndex {
  private readonly byLength: { name: Uint8Array; entry: CommandEntry }[][] = [];

  constructor(entries: Iterable<[string, CommandEntry]>) {
    for (const [name, entry] of entries) {
      (this.byLength[name.length] ??= []).push({ name: Buffer.from(name, 'latin1'), entry });
    }
  }

  get(name: Buffer): CommandEntry | undefined {
    const bucket = this.byLength[name.length];
    if (bucket === undefined) return undefined;
    const len = name.length;
    for (let b = 0; b < bucket.length; b++) {
      const candidate = bucket[b].name;
      let i = 0;
      for (; i < len; i++) {
        let c = name[i];
        if (c >= 65 && c <= 90) c += 32;
        if (c !== candidate[i]) break;
      }
      if (i === len) return bucket[b].entry;
    }
    return undefined;
  }
}

/** A command as dispatch sees it: its spec, its handler, its statistics. */
export interface CommandEntry extends CommandStats {
  spec: CommandSpec;
  /** Runs the command. Undefined for a container whose bare form is not a command (CLIENT). */
  handler: Handler | undefined;
  noAuth: boolean;
  subcommandList: CommandEntry[];
  subcommands: CommandIndex | null;
}

/** What a connection needs to queue a reply computed later. */
export interface ReplyQueue {
  replyLater(later: LaterReply, entry: CommandEntry): void;
}

/** Calls are timed one in TIMING_SAMPLE: INFO commandstats scales the sampled time up. */
export const TIMING_SAMPLE = 64;

/** Every command of the table, joined to its handler. */
export class CommandRegistry {
  private readonly entries: CommandEntry[];
  private readonly index: CommandIndex;
  private untilTimed = 1;

  /** `handlers` maps table names (`rl.hit`, `client|list`) to handlers, one for each entry. */
  constructor(handlers: Record<string, Handler>) {
    const entryFor = (spec: CommandSpec): CommandEntry => {
      const handler = handlers[spec.name];
      const subs = spec.subcommands?.map((s): [string, CommandEntry] => [s.name.split('|')[1], entryFor(s)]);
      if (!handler && !subs) throw new Error(`command '${spec.name}' is in the command table but has no handler`);
      return {
        spec,
        name: spec.name,
        handler,
        noAuth: spec.flags.includes('no_auth'),
        subcommands: subs ? new CommandIndex(subs) : null,
        subcommandList: subs?.map(([, e]) => e) ?? [],
        calls: 0,
        timedCalls: 0,
        usec: 0,
        failedCalls: 0,
        rejectedCalls: 0,
      };
    };
    this.entries = [...commandTable.values()].map(entryFor);
    this.index = new CommandIndex(this.entries.map((e) => [e.name, e]));
    const declared = new Set([...this.all()].map((e) => e.name));
    for (const name of Object.keys(handlers)) {
      if (!declared.has(name)) throw new Error(`handler '${name}' has no entry in the command table`);
    }
  }

  /** Every entry including subcommands (INFO commandstats, CONFIG RESETSTAT). */
  *all(): Generator<CommandEntry> {
    for (const e of this.entries) {
      yield e;
      yield* e.subcommandList;
    }
  }

  /** The entry of a top-level command, by its table name. */
  named(name: string): CommandEntry {
    const entry = this.entries.find((e) => e.name === name);
    if (entry === undefined) throw new Error(`no command '${name}' in the command table`);
    return entry;
  }

  /** Runs one command; its reply goes to the writer (or, if async, into the connection's queue). */
  dispatch(ctx: Context & ReplyQueue, args: Buffer[], w: ReplyWriter): void {
    let entry = this.index.get(args[0]);
    if (entry === undefined) {
      w.error(unknownCommandMessage(args));
      return;
    }
    if (entry.subcommands !== null && (args.length > 1 || entry.handler === undefined)) {
      if (args.length < 2) {
        entry.rejectedCalls++;
        w.error(errors.wrongArgs(entry.spec.name).message);
        return;
      }
      const sub = entry.subcommands.get(args[1]);
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
    const session = ctx.session;
    if (!session.authenticated && !entry.noAuth) {
      entry.rejectedCalls++;
      w.error('NOAUTH Authentication required.');
      return;
    }
    entry.calls++;
    session.lastCommand = entry.name;
    const timed = --this.untilTimed === 0;
    const started = timed ? performance.now() : 0;
    try {
      const later = entry.handler!(ctx, args, w);
      if (later !== undefined) ctx.replyLater(later, entry);
    } catch (err) {
      entry.failedCalls++;
      if (err instanceof ReplyError) {
        w.error(err.message);
      } else {
        log.warning(`command '${entry.spec.name}' failed unexpectedly: ${(err as Error).stack ?? err}. Please report this.`);
        w.error(`ERR internal error in '${entry.spec.name}': ${(err as Error).message}`);
      }
    }
    if (timed) {
      this.untilTimed = TIMING_SAMPLE;
      entry.timedCalls++;
      entry.usec += (performance.now() - started) * 1000;
    }
  }
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
