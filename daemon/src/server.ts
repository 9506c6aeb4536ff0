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
import { enabledFamilies, handlersFor } from './families';
import { FastPath } from './fast-path';
import { log } from './log';
import { listenTls } from './tls';
import type tls from 'node:tls';
import native from './native';

/** Every tick of the expiry sweep examines about this many entries per store: small, so it never stalls. */
const SWEEP_BUDGET = 2048;
const SWEEP_INTERVAL_MS = 100;

export class Server implements ConnectionHost {
  readonly config: Config;
  /** The families that run (the `features` option; families.ts). */
  readonly families: readonly Family[];
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
  /** The TLS listener (tls.ts), when tls-port is set. */
  private tlsListener: tls.Server | null = null;
  private nextClientId = 1;
  private idleTimer: NodeJS.Timeout | null = null;
  private shuttingDown = false;
  port = 0;

  constructor(config: Config) {
    this.config = config;
    this.families = enabledFamilies(config);
    this.commands = new CommandRegistry(handlersFor(config), this.watches, this.monitors);
    this.nativeFastPath = new FastPath(this.commands);
    this.parserLimits = limitsFrom(config);
    this.fastPath = this.fastPathOn() ? this.nativeFastPath : null;
    // Paused: a Connection re-wraps the socket to read into a shared buffer (connection.ts).
    this.listener = net.createServer({ noDelay: true, pauseOnConnect: true }, (socket) => this.accept(socket));
    this.coarseTimer = setInterval(() => (this.coarseTime = Date.now()), 100);
    this.coarseTimer.unref();
  }

  /** Starts listening (and on tls-port, if set); resolves with the TCP port once bound. */
  async listen(): Promise<number> {
    const port = await this.listenTcp();
    this.tlsListener = await listenTls(this.config, (socket) => this.accept(socket)).catch((err) => {
      this.listener.close();
      throw err;
    });
    return port;
  }

  private listenTcp(): Promise<number> {
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
    this.fastPath = this.fastPathOn() ? this.nativeFastPath : null;
    for (const c of this.connections.values()) c.refreshLimits();
    for (const f of this.families) f.configChanged?.(this.config);
    this.scheduleIdleCheck();
    const clientLimit = this.config.num('maxmemory-clients');
    if (clientLimit > 0 && this.clientMemory > clientLimit) this.evictClients(clientLimit);
  }

  /** The fast path answers RL.HIT, RL.PEEK and CL.THROTTLE itself: only while limits run. */
  private fastPathOn(): boolean {
    return this.config.get('native-fast-path') === true && this.families.some((f) => f.name === 'limits');
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

  /** Memory all clients hold in buffers, as last counted (the sum of their `countedMemory`). */
  clientMemory = 0;

  clientMemoryChanged(conn: Connection): void {
    this.recount(conn);
    const limit = this.config.num('maxmemory-clients');
    if (limit > 0 && this.clientMemory > limit) this.evictClients(limit);
  }

  /**
   * Closes the clients holding the most buffer memory, largest first, until all together hold
   * at most `limit` (maxmemory-clients), as Redis 7 does. Runs only past the limit: a scan of
   * every connection then is fine.
   */
  private evictClients(limit: number): void {
    for (const c of this.connections.values()) this.recount(c);
    const bySize = [...this.connections.values()].filter((c) => !c.closed).sort((a, b) => b.countedMemory - a.countedMemory);
    for (const c of bySize) {
      if (this.clientMemory <= limit || c.countedMemory === 0) break;
      const held = c.countedMemory;
      log.notice(
        `client ${c.id} (${c.addr}) closed: it held ${mb(held)} of buffers, the most of any client, and all clients held ${mb(this.clientMemory)}, ` +
          `over maxmemory-clients ${mb(limit)}; raise maxmemory-clients (CONFIG SET maxmemory-clients) if clients need that much`,
      );
      this.stats.evictedClients++;
      c.kill();
      this.clientMemory -= held;
      c.countedMemory = 0;
    }
  }

  /** Counts `conn`'s buffers again into the total. */
  private recount(conn: Connection): void {
    const now = conn.closed ? 0 : conn.bufferMemory;
    this.clientMemory += now - conn.countedMemory;
    conn.countedMemory = now;
  }

  forget(conn: Connection): void {
    this.clientMemory -= conn.countedMemory;
    conn.countedMemory = 0;
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
    this.tlsListener?.close();
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
  return { connectionsReceived: 0, rejectedConnections: 0, evictedClients: 0, commandsProcessed: 0, fastPathCommands: 0, netInputBytes: 0, netOutputBytes: 0 };
}

function mb(bytes: number): string {
  return `${(bytes / 1048576).toFixed(1)} MB`;
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
  const running = enabledFamilies(config);
  for (const f of running) f.start?.(config);
  const server = new Server(config);
  await server.listen();
  for (const f of running) f.serve?.(server);
  return server;
}
