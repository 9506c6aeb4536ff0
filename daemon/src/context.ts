/**
 * What a command handler sees, as types only (a leaf module: it imports no other module of the
 * daemon at run time, so handlers never reach the server or the connection through an import).
 *
 * A handler receives a Context: the session (the client connection as a command may see and change
 * it) and the server services it may use. It writes its reply to the ReplyWriter, or returns a
 * LaterReply for work finished off the event loop.
 */
import type { CommandSpec, ReplyWriter } from '@sluice/protocol';
import type { Config, OptionSpec } from './config';

/** Writes a reply computed later (off the event loop). */
export type LaterReply = Promise<(w: ReplyWriter) => void>;

/**
 * Runs a command. `args[0]` is the command name; arity and auth are already checked. Write the
 * reply to `w`, or return a LaterReply; throw ReplyError for a bad argument.
 *
 * `args` are views of the shared read buffer, which the next read overwrites: they are valid
 * until the handler returns. Work that outlives the call (a LaterReply) must own copies of what
 * it uses; the native `tok*Async` functions copy their inputs before they return.
 */
export type Handler = (ctx: Context, args: Buffer[], w: ReplyWriter) => void | LaterReply;

export interface Context {
  readonly session: Session;
  readonly server: Services;
}

/** One client connection, as commands see it. */
export interface Session {
  readonly id: number;
  /** `ip:port` of the client and of our end. */
  readonly addr: string;
  readonly laddr: string;
  /** Connected on the TLS port (cluster replies then give nodes' TLS ports). */
  readonly tls: boolean;
  /** Protocol 3 after HELLO 3. */
  resp3: boolean;
  authenticated: boolean;
  /** The user it acts as (acl.ts): `default` until AUTH names another. */
  user: SessionUser;
  name: string;
  libName: string;
  libVersion: string;
  /** Wall-clock ms. */
  readonly createdAt: number;
  readonly lastInteraction: number;
  /** Table name of the last command run (CLIENT LIST cmd=). */
  lastCommand: string;
  /** The transaction being queued after MULTI, or null. */
  transaction: Transaction | null;
  /** Bytes held for an incomplete command (CLIENT LIST qbuf). */
  readonly queryBufferBytes: number;
  /** Replies queued but not yet sent (CLIENT LIST omem). */
  readonly outputBytes: number;
  /** Sends bytes at once, outside the reply order (MONITOR's feed). */
  pushOutOfBand(bytes: Buffer): void;
  /** Answers what is queued, then closes (QUIT, CLIENT KILL of itself). */
  closeAfterReplies(): void;
  /** Closes now, dropping unsent replies. */
  kill(): void;
  /** True once the connection is closed. */
  readonly closed: boolean;
}

/** The user a session acts as, as dispatch sees it (the model is acl.ts's AclUser). */
export interface SessionUser {
  readonly name: string;
  /** Allowed every command and every key: dispatch skips the check, the fast path may serve it. */
  readonly unrestricted: boolean;
  /** Why it may not run `spec` with `args`: `{ key: -1 }` for the command, else a key's position; null if it may. */
  refusal(spec: CommandSpec, args: readonly Buffer[]): { key: number } | null;
}

/** Which connections watch which keys, and which saw one change (WATCH; watches.ts). */
export interface WatchRegistry {
  /** How many keys are watched. */
  readonly size: number;
  watch(session: Session, keys: Buffer[]): void;
  /** Forgets every key `session` watches (UNWATCH, EXEC, DISCARD, a closed connection). */
  unwatch(session: Session): void;
  /** Did a key `session` watches change since it watched it? */
  touched(session: Session): boolean;
  /** `key` changed. */
  touch(key: Buffer): void;
  /** Every key changed (FLUSHALL). */
  touchAll(): void;
}

/** Clients in MONITOR mode (monitors.ts). */
export interface MonitorRegistry {
  readonly size: number;
  add(session: Session): void;
  remove(session: Session): void;
  /** `from` runs a command (table name `name`, arguments `args`). */
  feed(from: Session, name: string, args: Buffer[]): void;
}

/** Commands queued between MULTI and EXEC. */
export interface Transaction {
  /** The queued commands (their own copies of the arguments). */
  readonly queued: Buffer[][];
  /** A command was refused while queueing (unknown, wrong arity): EXEC answers EXECABORT. */
  aborted: boolean;
}

/** Counters INFO stats reports. */
export interface ServerStats {
  connectionsReceived: number;
  rejectedConnections: number;
  /** Clients closed because all clients' buffers passed maxmemory-clients (Redis 7's name). */
  evictedClients: number;
  commandsProcessed: number;
  /** Of those, how many the native fast path answered (fast-path.ts). */
  fastPathCommands: number;
  netInputBytes: number;
  netOutputBytes: number;
}

/** A command's statistics (INFO commandstats). */
export interface CommandStats {
  /** The table name (`client|list`). */
  readonly name: string;
  calls: number;
  /** Calls that were timed, and their total time in µs (every ordinary call; one fast-path run in TIMING_SAMPLE). */
  timedCalls: number;
  usec: number;
  failedCalls: number;
  rejectedCalls: number;
  /** Calls per latency bucket (command-timer.ts), made on the first timed call. */
  histogram?: Float64Array;
}

/** What the server offers commands. */
export interface Services {
  readonly config: Config;
  /** The monotonic clock (ms) native operations take as their time; read once per read batch. */
  readonly now: number;
  /** Wall-clock ms when the server started. */
  readonly startedAt: number;
  /** The TCP port it listens on. */
  readonly port: number;
  readonly stats: ServerStats;
  /** Memory all clients hold in buffers (maxmemory-clients counts it; INFO mem_clients_normal). */
  readonly clientMemory: number;
  readonly clients: ReadonlyMap<number, Session>;
  /** Every command family, in the order they are listed (families.ts). */
  readonly families: readonly Family[];
  /** Every command and subcommand with its statistics. */
  commandStats(): Iterable<CommandStats>;
  /** WATCHed keys of every connection (watches.ts). */
  readonly watches: WatchRegistry;
  /** Clients in MONITOR mode. */
  readonly monitors: MonitorRegistry;
  /**
   * Runs a command as if the session had sent it (EXEC runs its queue with it). A reply computed
   * later goes to `replyLater` instead of the session's reply queue.
   */
  run(ctx: Context, args: Buffer[], w: ReplyWriter, replyLater: (later: LaterReply, entry: CommandStats) => void): void;
  /** Applies configuration changed at run time (CONFIG SET). */
  configChanged(): void;
  /** Zeroes the server's, every command's and every family's statistics (CONFIG RESETSTAT). */
  resetStats(): void;
  /**
   * Write commands run since start (a refused RL.HIT counts too): the persistence family saves
   * when it moved (INFO rdb_changes_since_last_save).
   */
  readonly changes: number;
  /**
   * Stops gracefully (SHUTDOWN); resolves once every connection is closed and every family has
   * stopped (the final snapshot is written unless `save` is false).
   */
  shutdown(reason: string, options?: { save?: boolean }): Promise<void>;
}

/** A section of INFO that a family reports. */
export interface InfoSection {
  /** Lower-case name (`INFO tokens`); the title is the name capitalised. */
  name: string;
  lines(server: Services): string[];
}

/**
 * A command family as one unit: the daemon lists families once (families.ts) and everything
 * that spans families (dispatch, CONFIG, INFO, RESETSTAT, start-up) iterates that list.
 * Its commands are declared in protocol/src/commands/<name>.ts; `handlers` holds one handler per
 * table entry (subcommands as `parent|sub`).
 */
export interface Family {
  /** The key of its command list in protocol's `commandFamilies`. */
  name: string;
  handlers: Record<string, Handler>;
  /** Its configuration options (flags, YAML keys, SLUICE_* variables, CONFIG GET/SET). */
  options?: OptionSpec[];
  /** Top-level YAML sections of the config file it reads (e.g. `policies`). */
  configSections?: string[];
  /** Its sections of INFO, in order (after the server's own, before commandstats). */
  info?: InfoSection[];
  /**
   * Called once before the server listens: read its config sections, prepare its state. A
   * ConfigError thrown here stops the start with that message.
   */
  start?(config: Config): void;
  /** Called after CONFIG SET changed an option. */
  configChanged?(config: Config): void;
  /** Zeroes its statistics (CONFIG RESETSTAT). */
  resetStats?(): void;
  /** A client connection closed (drop what it waits for). */
  sessionClosed?(session: Session): void;
  /** Its Prometheus metric families (the metrics endpoint, issue #14, reads them). */
  metrics?(): MetricFamily[];
  /** Called once the server listens (timers that need the server start here). */
  serve?(server: Services): void;
  /**
   * Called at shutdown once every connection is closed; `save` is false after SHUTDOWN NOSAVE.
   * A rejection is logged and makes the process exit 1.
   */
  stop?(server: Services, save: boolean): Promise<void>;
  // State is not saved through families: every stateful part lives in the native core and
  // implements its `Family` trait (native/core/src/family.rs), which the snapshot file walks
  // (native/core/src/snapshot.rs; the persistence family only decides when to save).
}

/** One metric family in Prometheus's text format terms. */
export interface MetricFamily {
  name: string;
  help: string;
  type: 'counter' | 'gauge' | 'histogram';
  /** `suffix`: a histogram's `_bucket`, `_sum` or `_count` (appended to the name). */
  samples: { suffix?: string; labels?: Record<string, string>; value: number }[];
}
