/**
 * The Sluice server: a TCP listener speaking RESP2/RESP3, its connections, statistics and
 * graceful shutdown. Start it with `startServer(config)`; the CLI (cli.ts) does that. It knows
 * the command families only through their list (families.ts).
 */
import net from 'node:net';
import { ReplyWriter, type ParserLimits } from '@sluice/protocol';
import type { Config } from './config';
import { Connection, type ConnectionHost } from './connection';
import type { CommandStats, Context, Family, LaterReply, ServerStats } from './context';
import { CommandRegistry } from './dispatch';
import { Monitors } from './monitors';
import { Watches } from './watches';
import { families } from './families';
import { FastPath } from './fast-path';
import { log } from './log';
import native from './native';

/** Every tick of the expiry sweep examines about this many entries per store: small, so it never stalls. */
const SWEEP_BUDGET = 2048;
const SWEEP_INTERVAL_MS = 100;

export class Server implements ConnectionHost {
  readonly config: Config;
  readonly families: readonly Family[] = families;
  readonly commands: CommandRegistry;
  readonly watches = new Watches();
  readonly monitors = new Monitors();
  readonly writer = new ReplyWriter();
  readonly connections = new Map<number, Connection>();
  readonly startedAt = Date.now();
  stats: ServerStats = newStats();
  parserLimits: ParserLimits;
  /** The fast path, or null when `native-fast-path` is off (see fast-path.ts). */
  fastPath: FastPath | null;
  private readonly nativeFastPath: FastPath;
  private clockMs = native.clockMs();
  private clockStale = false;
  /**
   * Wall-clock ms, updated every 100 ms: good enough for idle times and ages (CLIENT LIST,
   * `timeout`) without a clock read per read batch.
   */
  coarseTime = Date.now();
  private coarseTimer: NodeJS.Timeout;

  private listener: net.Server;
  private nextClientId = 1;
  private idleTimer: NodeJS.Timeout | null = null;
  private shuttingDown = false;
  port = 0;

  constructor(config: Config) {
    this.config = config;
    this.commands = new CommandRegistry(Object.assign({}, ...families.map((f) => f.handlers)), this.watches, this.monitors);
    this.nativeFastPath = new FastPath(this.commands);
    this.parserLimits = limitsFrom(config);
    this.fastPath = fastPathOn(config) ? this.nativeFastPath : null;
    // Paused: a Connection re-wraps the socket to read into a shared buffer (connection.ts).
    this.listener = net.createServer({ noDelay: true, pauseOnConnect: true }, (socket) => this.accept(socket));
    this.coarseTimer = setInterval(() => (this.coarseTime = Date.now()), 100);
    this.coarseTimer.unref();
  }

  /** Starts listening; resolves with the port once bound. */
  listen(): Promise<number> {
    const port = this.config.num('port');
    const host = this.config.str('bind');
    return new Promise((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException) => {
        const hint =
          err.code === 'EADDRINUSE'
            ? `port ${port} is in use: stop the other process or start Sluice with --port <another port>`
            : err.code === 'EADDRNOTAVAIL'
              ? `address ${host} is not on this machine: use --bind 127.0.0.1 or an address this machine has`
              : err.message;
        reject(new Error(`cannot listen on ${host}:${port}: ${hint}`));
      };
      this.listener.once('error', onError);
      this.listener.listen({ port, host, backlog: 511 }, () => {
        this.listener.off('error', onError);
        this.port = (this.listener.address() as net.AddressInfo).port;
        this.scheduleIdleCheck();
        resolve(this.port);
      });
    });
  }

  /**
   * The monotonic clock (ms) that native operations take as their time. It is read at most once
   * per read batch, and only if a command of that batch needs it.
   */
  get now(): number {
    if (this.clockStale) {
      this.clockMs = native.clockMs();
      this.clockStale = false;
    }
    return this.clockMs;
  }

  /** A new read batch starts: the next `now` reads the clock again. */
  staleClock(): void {
    this.clockStale = true;
  }

  get clients(): ReadonlyMap<number, Connection> {
    return this.connections;
  }

  get changes(): number {
    return this.commands.writes;
  }

  commandStats(): Iterable<CommandStats> {
    return this.commands.all();
  }

  run(ctx: Context, args: Buffer[], w: ReplyWriter, replyLater: (later: LaterReply, entry: CommandStats) => void): void {
    this.commands.dispatch({ session: ctx.session, server: ctx.server, replyLater }, args, w);
  }

  /** Applies configuration changed at run time (CONFIG SET). */
  configChanged(): void {
    this.parserLimits = limitsFrom(this.config);
    this.fastPath = fastPathOn(this.config) ? this.nativeFastPath : null;
    for (const c of this.connections.values()) c.refreshLimits();
    for (const f of this.families) f.configChanged?.(this.config);
    this.scheduleIdleCheck();
  }

  private accept(socket: net.Socket): void {
    if (this.shuttingDown) {
      socket.destroy();
      return;
    }
    this.stats.connectionsReceived++;
    if (this.connections.size >= this.config.num('maxclients')) {
      this.stats.rejectedConnections++;
      socket.on('error', () => {});
      socket.end('-ERR max number of clients reached\r\n');
      socket.resume(); // read to the client's close, so the socket is released
      return;
    }
    const conn = new Connection(this, socket, this.nextClientId++);
    this.connections.set(conn.id, conn);
  }

  forget(conn: Connection): void {
    this.connections.delete(conn.id);
    this.watches.unwatch(conn);
    this.monitors.remove(conn);
    for (const f of this.families) f.sessionClosed?.(conn);
    if (this.shuttingDown && this.connections.size === 0) this.finishShutdown?.();
  }

  private scheduleIdleCheck(): void {
    if (this.idleTimer) clearInterval(this.idleTimer);
    this.idleTimer = null;
    const timeout = this.config.num('timeout');
    if (timeout <= 0) return;
    this.idleTimer = setInterval(() => {
      const cutoff = this.coarseTime - timeout * 1000;
      for (const c of this.connections.values()) {
        if (c.lastInteraction < cutoff && !c.busy) {
          log.verbose(`client ${c.id} (${c.addr}) closed after ${timeout}s idle (timeout)`);
          c.kill();
        }
      }
    }, 1000);
    this.idleTimer.unref();
  }

  private finishShutdown: (() => void) | null = null;
  private resolveStopped!: () => void;
  /** Resolves once a shutdown (SHUTDOWN, SIGINT, SIGTERM) has closed every connection. */
  readonly stopped: Promise<void> = new Promise((resolve) => (this.resolveStopped = resolve));

  /**
   * Stops accepting, lets every connection receive the replies already in flight, then closes
   * them. Resolves when all are closed (or after shutdown-timeout seconds).
   */
  shutdown(reason: string, options: { save?: boolean } = {}): Promise<void> {
    if (this.shuttingDown) return this.stopped;
    this.shuttingDown = true;
    log.notice(`shutting down (${reason}): no new connections; answering ${this.connections.size} open connection(s)`);
    this.listener.close();
    if (this.idleTimer) clearInterval(this.idleTimer);
    clearInterval(this.coarseTimer);
    clearInterval(this.sweepTimer);
    new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        log.warning(`shutdown-timeout reached with ${this.connections.size} connection(s) still busy; closing them`);
        for (const c of this.connections.values()) c.kill();
        resolve();
      }, this.config.num('shutdown-timeout') * 1000);
      timer.unref();
      this.finishShutdown = () => {
        clearTimeout(timer);
        resolve();
      };
      if (this.connections.size === 0) this.finishShutdown();
      else for (const c of [...this.connections.values()]) c.closeAfterReplies();
    })
      .then(() => this.stopFamilies(options.save ?? true))
      .then(() => this.resolveStopped());
    return this.stopped;
  }

  /** True when a family failed to stop cleanly (the final snapshot could not be written). */
  stopFailed = false;

  private async stopFamilies(save: boolean): Promise<void> {
    for (const f of this.families) {
      try {
        await f.stop?.(this, save);
      } catch (err) {
        this.stopFailed = true;
        log.warning(`${f.name}: ${(err as Error).message}`);
      }
    }
  }

  get isShuttingDown(): boolean {
    return this.shuttingDown;
  }

  resetStats(): void {
    this.stats = newStats();
    for (const e of this.commands.all()) {
      e.calls = 0;
      e.usec = 0;
      e.timedCalls = 0;
      e.failedCalls = 0;
      e.rejectedCalls = 0;
    }
    for (const f of this.families) f.resetStats?.();
  }

  /** Expires idle keys of every family in the background, a few shards per tick. */
  private readonly sweepTimer = setInterval(() => native.sweep(native.clockMs(), SWEEP_BUDGET), SWEEP_INTERVAL_MS).unref();
}

function newStats(): ServerStats {
  return { connectionsReceived: 0, rejectedConnections: 0, commandsProcessed: 0, fastPathCommands: 0, netInputBytes: 0, netOutputBytes: 0 };
}

/** The fast path answers keyed commands without dispatch's cluster redirect: off in cluster mode. */
function fastPathOn(config: Config): boolean {
  return config.get('native-fast-path') === true && config.get('cluster-enabled') !== true;
}

function limitsFrom(config: Config): ParserLimits {
  return {
    maxBulkLen: config.num('proto-max-bulk-len'),
    maxArgs: config.num('max-multibulk-length'),
    maxQueryBuffer: config.num('client-query-buffer-limit'),
  };
}

/** Creates and starts a server: every family starts (reads its config sections), then it listens. */
export async function startServer(config: Config): Promise<Server> {
  for (const f of families) f.start?.(config);
  const server = new Server(config);
  await server.listen();
  for (const f of families) f.serve?.(server);
  return server;
}
