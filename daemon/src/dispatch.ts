/**
 * From a parsed request to a reply: look the command up, check arity and authentication, call
 * its family's handler, count the call. The command table (protocol/) is the only place a
 * command is declared; a CommandRegistry joins each table entry to its handler (given by the
 * families) and refuses to be built if one lacks the other.
 */
import { arityAllows, commandTable, keyPositions, type CommandSpec, type ReplyWriter } from '@sluice/protocol';
import type { CommandStats, Context, Handler, LaterReply, MonitorRegistry, WatchRegistry } from './context';
import { errors, ReplyError } from './reply-error';
import { log } from './log';
import { commandTimer } from './command-timer';
import { permissionRefusal } from './commands/access';
import { clusterRedirect } from './cluster-redirect';

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
  /** Changes state (the `write` flag): WATCHers of its keys are told. */
  write: boolean;
  /** Refused between MULTI and EXEC (the `no_multi` flag). */
  noMulti: boolean;
  /** Runs at once between MULTI and EXEC instead of being queued (MULTI, EXEC, DISCARD, WATCH, QUIT). */
  controlsTransaction: boolean;
  subcommandList: CommandEntry[];
  subcommands: CommandIndex | null;
}

/** What a connection needs to queue a reply computed later. */
export interface ReplyQueue {
  replyLater(later: LaterReply, entry: CommandStats): void;
}

/** Commands that act on the transaction itself, run at once after MULTI (as in Redis). */
const TRANSACTION_CONTROL = new Set(['multi', 'exec', 'discard', 'watch', 'quit']);

/**
 * A reply computed later, as a writer that never fails: a rejection becomes the error reply (a
 * ReplyError's text, or an internal error that is logged) and counts as a failed call.
 */
export function settle(later: LaterReply, entry: CommandStats): Promise<(w: ReplyWriter) => void> {
  return later.then(
    (write) => write,
    (err) => {
      entry.failedCalls++;
      if (err instanceof ReplyError) return (w: ReplyWriter) => w.error(err.message);
      log.warning(`command '${entry.name}' failed unexpectedly: ${(err as Error).stack ?? err}`);
      const message = `ERR internal error in '${entry.name}': ${(err as Error).message}`;
      return (w: ReplyWriter) => w.error(message);
    },
  );
}

/** Fast-path runs are timed one in TIMING_SAMPLE (fast-path.ts); INFO commandstats scales the sampled time up. */
export const TIMING_SAMPLE = 64;

/** Every command of the table, joined to its handler. */
export class CommandRegistry {
  private readonly entries: CommandEntry[];
  /** Write commands run (the fast path adds its RL.HIT and CL.THROTTLE): Services.changes. */
  writes = 0;
  private readonly index: CommandIndex;

  /**
   * `handlers` maps table names (`rl.hit`, `client|list`) to handlers, one for each entry;
   * `watches` is told the keys of every write command that runs, `monitors` every command.
   */
  constructor(
    handlers: Record<string, Handler>,
    private readonly watches: WatchRegistry,
    private readonly monitors: MonitorRegistry,
  ) {
    const entryFor = (spec: CommandSpec): CommandEntry => {
      const handler = handlers[spec.name];
      const subs = spec.subcommands?.map((s): [string, CommandEntry] => [s.name.split('|')[1], entryFor(s)]);
      if (!handler && !subs) throw new Error(`command '${spec.name}' is in the command table but has no handler`);
      return {
        spec,
        name: spec.name,
        handler,
        noAuth: spec.flags.includes('no_auth'),
        write: spec.flags.includes('write'),
        noMulti: spec.flags.includes('no_multi'),
        controlsTransaction: TRANSACTION_CONTROL.has(spec.name),
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

  /** A command refused before it ran; between MULTI and EXEC the refusal also aborts the transaction. */
  private refuse(ctx: Context, entry: CommandEntry | null, w: ReplyWriter, message: string): void {
    if (entry !== null) entry.rejectedCalls++;
    if (ctx.session.transaction !== null) ctx.session.transaction.aborted = true;
    w.error(message);
  }

  /** Runs one command; its reply goes to the writer (or, if async, into the connection's queue). */
  dispatch(ctx: Context & ReplyQueue, args: Buffer[], w: ReplyWriter): void {
    const session = ctx.session;
    let entry = this.index.get(args[0]);
    if (entry === undefined) {
      this.refuse(ctx, null, w, unknownCommandMessage(args));
      return;
    }
    if (entry.subcommands !== null && (args.length > 1 || entry.handler === undefined)) {
      if (args.length < 2) {
        this.refuse(ctx, entry, w, errors.wrongArgs(entry.spec.name).message);
        return;
      }
      const sub = entry.subcommands.get(args[1]);
      if (sub === undefined) {
        this.refuse(ctx, entry, w, errors.unknownSubcommand(args[1].toString(), entry.spec.name).message);
        return;
      }
      entry = sub;
    }
    if (!arityAllows(entry.spec.arity, args.length)) {
      this.refuse(ctx, entry, w, errors.wrongArgs(entry.spec.name).message);
      return;
    }
    if (!session.authenticated && !entry.noAuth) {
      this.refuse(ctx, entry, w, 'NOAUTH Authentication required.');
      return;
    }
    if (!session.user.unrestricted && !entry.noAuth) {
      const refusal = permissionRefusal(session, entry.spec, args);
      if (refusal !== null) return this.refuse(ctx, entry, w, refusal);
    }
    const redirect = clusterRedirect(entry.spec, args, session.tls);
    if (redirect !== null) return this.refuse(ctx, entry, w, redirect);
    const transaction = session.transaction;
    if (transaction !== null && !entry.controlsTransaction) {
      if (entry.noMulti) {
        this.refuse(ctx, entry, w, 'ERR Command not allowed inside a transaction');
        return;
      }
      // Queued with its own copy of the arguments: they are views of the shared read buffer.
      transaction.queued.push(args.map((a) => Buffer.from(a)));
      w.simple('QUEUED');
      return;
    }
    entry.calls++;
    if (entry.write) this.writes++;
    session.lastCommand = entry.name;
    if (this.monitors.size > 0) this.monitors.feed(session, entry.name, args);
    const started = commandTimer.begin();
    try {
      const later = entry.handler!(ctx, args, w);
      if (later !== undefined) ctx.replyLater(later, entry);
      if (entry.write && this.watches.size > 0) {
        for (const p of keyPositions(entry.spec, args.length)) this.watches.touch(args[p]);
      }
    } catch (err) {
      entry.failedCalls++;
      if (err instanceof ReplyError) {
        w.error(err.message);
      } else {
        log.warning(`command '${entry.spec.name}' failed unexpectedly: ${(err as Error).stack ?? err}. Please report this.`);
        w.error(`ERR internal error in '${entry.spec.name}': ${(err as Error).message}`);
      }
    }
    commandTimer.end(session, entry, args, started);
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
