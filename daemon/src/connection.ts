/**
 * One client connection: parse what it sends, dispatch each command, and send the replies in
 * request order with one socket write per read batch.
 *
 * Reply order with async replies: while no reply is pending, replies go from the shared writer
 * straight to the socket at the end of the batch. A command answered later (a large token
 * count on a worker thread) takes a slot in `queue`; replies written after it wait in the
 * queue behind it, and the queue drains from the head as slots fill. Other connections never
 * wait for it.
 *
 * Reading: every socket reads into one shared buffer (net.Socket's `onread` option), so a
 * read costs no allocation and skips the Readable stream machinery ('data' events, a new
 * Buffer per read). That buffer is overwritten by the next read of any client, so arguments
 * are valid only while their command runs: the parser copies what it keeps of an incomplete
 * frame, and a handler that keeps an argument (work offloaded to a thread) copies it.
 *
 * Back-pressure: when the socket's buffer is full we stop reading from the client until it
 * drains; a client whose unsent output passes `client-output-limit` is disconnected.
 */
import { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import { ProtocolError, RequestParser, type ParserLimits, type ReplyWriter } from '@sluice/protocol';
import type { CommandStats, Context, LaterReply, Services, Session, Transaction } from './context';
import { settle, type CommandRegistry, type ReplyQueue } from './dispatch';
import { bindFastPath, type FastPath } from './fast-path';
import { log } from './log';
import { commandTimer } from './command-timer';
import { users, type AclUser } from './acl';
import { authenticatedOnConnect } from './commands/access';

/** What a connection needs of the server beyond what commands see (server.ts implements it). */
export interface ConnectionHost extends Services {
  /** The reply writer every connection shares (one connection writes between two takes). */
  readonly writer: ReplyWriter;
  readonly commands: CommandRegistry;
  /** The fast path, or null when `native-fast-path` is off. */
  readonly fastPath: FastPath | null;
  readonly parserLimits: ParserLimits;
  /** Wall-clock ms, refreshed every 100 ms. */
  readonly coarseTime: number;
  /** A new read batch starts: the next `now` reads the clock again. */
  staleClock(): void;
  /** The connection closed. */
  forget(conn: Connection): void;
  /** The memory `conn` holds in buffers changed (maxmemory-clients); may close clients. */
  clientMemoryChanged(conn: Connection): void;
}

interface Slot {
  bytes: Buffer | null;
  ready: boolean;
}

/** Limits for a client that has not authenticated yet (Redis's values). */
const UNAUTHENTICATED_LIMITS = { maxBulkLen: 16 * 1024, maxArgs: 10, maxQueryBuffer: 1024 * 1024, unauthenticated: true };

/** Replies of one batch past this size are sent before the batch ends. */
const EARLY_SEND_BYTES = 256 * 1024;

/**
 * Fairness: the most event-loop time (ms) one connection's commands take before the daemon
 * turns to other connections. The bytes of a read not handled when the turn ends are kept
 * (`unread`) and handled in a later turn (setImmediate), while reading from that client pauses.
 */
const TURN_MS = 2;
/** The clock is read every this many commands, or after any command once replies pass CHECK_BYTES. */
const CHECK_EVERY = 16;
const CHECK_BYTES = 16 * 1024;

/** The buffer every socket reads into; see the top of this file. Node reads 64 KB at most too. */
const readBuffer = Buffer.allocUnsafe(64 * 1024);
bindFastPath(readBuffer);

/**
 * Re-wraps an accepted socket (created paused by the server's `pauseOnConnect`) so that it reads
 * into `readBuffer` and calls `onRead` with the byte count. net.Server offers no `onread`
 * option, so its handle moves to a new net.Socket, as Node does internally for handles it
 * passes between processes; the server's connection count moves with it.
 */
function adoptWithSharedReads(accepted: Socket, onRead: (bytes: number) => boolean): Socket {
  type Internals = { _handle: unknown; _server: unknown };
  const from = accepted as unknown as Internals;
  const socket = new Socket({
    handle: from._handle,
    readable: true,
    writable: true,
    onread: { buffer: readBuffer, callback: onRead },
  } as ConstructorParameters<typeof Socket>[0]);
  (socket as unknown as Internals)._server = from._server;
  from._handle = null;
  from._server = null;
  return socket;
}

/**
 * A TLS socket's decrypted bytes cannot be read into a buffer of ours: each 'data' chunk is
 * copied into `readBuffer` (64 KB at a time) and handled as a read of that many bytes.
 */
function readTlsIntoSharedBuffer(socket: TLSSocket, onRead: (bytes: number) => boolean): Socket {
  socket.on('data', (chunk: Buffer) => {
    for (let at = 0; at < chunk.length; at += readBuffer.length) onRead(chunk.copy(readBuffer, 0, at, at + readBuffer.length));
  });
  return socket;
}

/** What a client is told when its input cannot be handled: a protocol error, or (a bug) an internal one. */
function asClientError(err: unknown, conn: Connection): ProtocolError {
  if (err instanceof ProtocolError) {
    log.verbose(`client ${conn.id} (${conn.addr}) sent a malformed request: ${err.message}; closing it`);
    return err;
  }
  // A bug, not the client's fault: keep the daemon up, close only this connection.
  log.warning(`client ${conn.id} (${conn.addr}): unexpected error, closing the connection: ${(err as Error).stack ?? err}`);
  return new ProtocolError('ERR internal error; the connection is closed, please report this');
}

export class Connection implements Session, Context, ReplyQueue {
  readonly id: number;
  readonly server: ConnectionHost;
  /** Handlers get the connection as their Context: it is its own session. */
  readonly session: Session = this;
  readonly socket: Socket;
  readonly parser: RequestParser;
  readonly addr: string;
  readonly laddr: string;
  readonly tls: boolean;
  readonly createdAt = Date.now();
  lastInteraction = Date.now();
  lastCommand = 'NULL';

  /** Protocol 3 after HELLO 3. */
  resp3 = false;
  name = '';
  libName = '';
  libVersion = '';
  transaction: Transaction | null = null;
  user: AclUser = users.defaultUser;
  private authenticatedFlag: boolean;

  private queue: Slot[] | null = null;
  private closingAfterReplies = false;
  /** Reading paused because the socket's buffer is full (until 'drain'). */
  private readPaused = false;
  /**
   * Input already read but not handled yet because this connection's turn ran out: its own copy,
   * or null. Reading from the socket is paused while it is not null.
   */
  private unread: Buffer | null = null;
  /** This connection's turn ran out during the current parse: the sink says stop. */
  private turnOver = false;
  /** When this connection's turn began (performance.now()), and commands since the clock was read. */
  private turnStart = 0;
  private sinceClockRead = 0;
  /** True while this connection's read batch is being dispatched (its replies are in the writer). */
  private inBatch = false;
  closed = false;
  /** `bufferMemory` when the server last counted it (its total for maxmemory-clients). */
  countedMemory = 0;

  constructor(server: ConnectionHost, accepted: Socket, id: number) {
    this.server = server;
    const onRead = (bytes: number) => this.onRead(bytes);
    this.tls = accepted instanceof TLSSocket;
    const socket = this.tls ? readTlsIntoSharedBuffer(accepted as TLSSocket, onRead) : adoptWithSharedReads(accepted, onRead);
    this.socket = socket;
    this.id = id;
    this.addr = `${socket.remoteAddress}:${socket.remotePort}`;
    this.laddr = `${socket.localAddress}:${socket.localPort}`;
    this.authenticatedFlag = authenticatedOnConnect();
    this.parser = new RequestParser(this.authenticatedFlag ? server.parserLimits : UNAUTHENTICATED_LIMITS);
    socket.setNoDelay(true);
    socket.on('error', (err) => log.verbose(`client ${this.id} (${this.addr}): ${err.message}`));
    socket.on('close', () => this.onClose());
    socket.on('drain', () => this.onDrain());
  }

  get authenticated(): boolean {
    return this.authenticatedFlag;
  }

  set authenticated(yes: boolean) {
    this.authenticatedFlag = yes;
    this.parser.limits = yes ? this.server.parserLimits : UNAUTHENTICATED_LIMITS;
  }

  /** Called by the server when configuration changes the parser limits. */
  refreshLimits(): void {
    if (this.authenticatedFlag) this.parser.limits = this.server.parserLimits;
  }

  private readonly sink = (args: Buffer[]): boolean => {
    const server = this.server;
    server.stats.commandsProcessed++;
    const w = server.writer;
    server.commands.dispatch(this, args, w);
    // A batch with large replies is sent as it goes, so that client-output-limit applies to it.
    if (w.pendingBytes > EARLY_SEND_BYTES) this.flush();
    if (this.turnIsOver()) this.turnOver = true;
    return !this.closingAfterReplies && !this.closed && !this.turnOver;
  };

  /** Has this connection used up its turn (TURN_MS)? Reads the clock only now and then. */
  private turnIsOver(): boolean {
    if (++this.sinceClockRead < CHECK_EVERY && this.server.writer.pendingBytes < CHECK_BYTES) return false;
    this.sinceClockRead = 0;
    return performance.now() - this.turnStart > TURN_MS;
  }

  /** Starts a turn: the budget counts from now. */
  private startTurn(): void {
    this.turnStart = performance.now();
    this.sinceClockRead = 0;
    commandTimer.batchBegins(this.turnStart);
  }

  /** `bytes` new bytes are at the start of readBuffer. Returning false would stop reading. */
  private onRead(bytes: number): boolean {
    if (this.closingAfterReplies) return true;
    this.server.stats.netInputBytes += bytes;
    this.handle(bytes);
    return true;
  }

  /** Handles `readBuffer[0, bytes)` in one turn; what the turn leaves is kept for the next. */
  private handle(bytes: number): void {
    const server = this.server;
    server.staleClock();
    this.lastInteraction = server.coarseTime;
    const w = server.writer;
    w.resp3 = this.resp3;
    this.inBatch = true;
    this.startTurn();
    try {
      if (server.fastPath !== null) this.readWithFastPath(server.fastPath, bytes);
      else if (this.parser.feed(readBuffer.subarray(0, bytes), this.sink) < 0) this.keepUnread();
    } catch (err) {
      this.parser.reset();
      w.error(asClientError(err, this).message);
      this.closingAfterReplies = true;
    } finally {
      this.inBatch = false;
      commandTimer.interrupted();
    }
    this.flush();
    this.server.clientMemoryChanged(this);
  }

  /**
   * The sink said stop. If this connection's turn is over (not QUIT, not closed), keeps a copy of
   * what the parser left, stops reading, and handles it in a later turn.
   */
  private keepUnread(): void {
    const rest = this.parser.takeUnparsed();
    if (!this.turnOver || this.closingAfterReplies || this.closed) return;
    this.turnOver = false;
    if (rest === null) return;
    this.unread = Buffer.from(rest);
    if (!this.readPaused) this.socket.pause();
    setImmediate(this.nextTurn);
  }

  /** Handles the input a turn left (`unread`) through the same path as a read; reading resumes after it. */
  private readonly nextTurn = (): void => {
    const unread = this.unread;
    this.unread = null;
    if (unread === null || this.closed || this.closingAfterReplies) return;
    unread.copy(readBuffer); // nothing else reads in between: the buffer is free until the next read
    this.handle(unread.length);
    if (this.unread === null && !this.readPaused && !this.closed) this.socket.resume();
  };

  /**
   * Parses `readBuffer[0, bytes)` taking turns: the native fast path answers the run of hot
   * commands it can (fast-path.ts), the ordinary path answers the one command it stopped at,
   * and so on. Until the client has authenticated, and for a user with restricted
   * permissions (ACL), every command takes the ordinary path, which checks them. A frame that is still incomplete stays with the parser, which then takes the
   * rest of this read.
   */
  private readWithFastPath(fastPath: FastPath, bytes: number): void {
    const w = this.server.writer;
    const stats = this.server.stats;
    let from = 0;
    while (from < bytes && !this.closingAfterReplies && !this.closed) {
      if (this.parser.idle) {
        // The fast path bypasses dispatch: not for a transaction being queued, nor while keys are
        // WATCHed or clients MONITOR (dispatch tells them).
        if (this.authenticatedFlag && this.user.unrestricted && this.transaction === null && this.server.watches.size === 0 && this.server.monitors.size === 0) {
          from = fastPath.run(this, stats, w, from, bytes);
          if (from >= bytes) return;
        }
        const used = this.parser.feedOne(readBuffer.subarray(from, bytes), this.sink);
        if (used < 0) return this.keepUnread(); // the sink said stop (QUIT, a closed client, the turn is over)
        from += used;
      } else {
        if (this.parser.feed(readBuffer.subarray(from, bytes), this.sink) < 0) this.keepUnread();
        return;
      }
    }
  }

  /** Sends (or queues behind pending async replies) what the writer holds for this client. */
  flush(): void {
    const w = this.server.writer;
    const bytes = w.take();
    if (bytes !== null) {
      if (this.closed) return;
      if (this.queue === null) this.send(bytes);
      else this.queue.push({ bytes, ready: true });
    }
    if (this.closingAfterReplies && this.queue === null) this.end();
  }

  /** Sends bytes at once, outside the reply order (MONITOR's feed). */
  pushOutOfBand(bytes: Buffer): void {
    if (this.closed) return;
    if (this.queue === null) this.send(bytes);
    else this.queue.push({ bytes, ready: true });
  }

  /** A reply that will be written later, in its place among this client's replies. */
  replyLater(later: LaterReply, entry: CommandStats): void {
    this.flush(); // replies before this one leave first
    const slot: Slot = { bytes: null, ready: false };
    (this.queue ??= []).push(slot);
    void settle(later, entry).then((write) => this.fill(slot, write));
  }

  private fill(slot: Slot, write: (w: ReplyWriter) => void): void {
    const w = this.server.writer;
    w.resp3 = this.resp3;
    write(w);
    slot.bytes = w.take();
    slot.ready = true;
    const queue = this.queue!;
    let n = 0;
    while (n < queue.length && queue[n].ready) n++;
    if (n === 0) return;
    const ready = queue.splice(0, n);
    if (queue.length === 0) this.queue = null;
    const parts = ready.map((s) => s.bytes).filter((b): b is Buffer => b !== null);
    if (!this.closed && parts.length > 0) this.send(parts.length === 1 ? parts[0] : Buffer.concat(parts));
    if (this.closingAfterReplies && this.queue === null) this.end();
    this.server.clientMemoryChanged(this);
  }

  private send(bytes: Buffer): void {
    this.server.stats.netOutputBytes += bytes.length;
    if (this.socket.write(bytes)) return;
    const limit = this.server.config.num('client-output-limit');
    if (limit > 0 && this.socket.writableLength > limit) {
      log.notice(`client ${this.id} (${this.addr}) closed: ${this.socket.writableLength} bytes of replies unread, over client-output-limit ${limit}`);
      this.kill();
      return;
    }
    if (!this.readPaused) {
      this.readPaused = true;
      this.socket.pause();
    }
  }

  private onDrain(): void {
    this.server.clientMemoryChanged(this);
    if (this.readPaused && !this.closed) {
      this.readPaused = false;
      if (this.unread === null) this.socket.resume();
    }
  }

  /** Answers what is queued, then closes (QUIT, protocol errors, shutdown). */
  closeAfterReplies(): void {
    this.closingAfterReplies = true;
    if (this.queue === null && !this.inBatch) this.end();
  }

  /** Whether replies are still being computed for this client. */
  get busy(): boolean {
    return this.queue !== null;
  }

  private end(): void {
    if (this.closed) return;
    this.socket.end();
    // Read on (input is ignored once closing) so the client's FIN arrives and the socket closes.
    this.unread = null;
    if (this.socket.isPaused()) this.socket.resume();
  }

  /** Closes now, dropping unsent replies (CLIENT KILL, output limit, idle timeout). */
  kill(): void {
    this.closed = true;
    this.socket.destroy();
  }

  private onClose(): void {
    this.closed = true;
    this.transaction = null;
    this.server.forget(this);
  }

  /** Queued-but-unsent output bytes (CLIENT LIST omem). */
  get outputBytes(): number {
    return this.socket.writableLength;
  }

  /**
   * Memory held in this client's buffers: the parser's (an incomplete command), input left for
   * a later turn, replies queued behind a pending one and replies the socket has not sent.
   */
  get bufferMemory(): number {
    let bytes = this.parser.memoryBytes + (this.unread?.length ?? 0) + this.socket.writableLength;
    if (this.queue !== null) for (const slot of this.queue) bytes += slot.bytes?.length ?? 0;
    return bytes;
  }

  /** Bytes held for an incomplete command (CLIENT LIST qbuf). */
  get queryBufferBytes(): number {
    return this.parser.bufferedBytes;
  }
}
