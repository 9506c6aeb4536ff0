/**
 * Parses client requests: RESP multibulk frames (`*N\r\n$len\r\narg\r\n...`) and inline
 * commands (`PING\r\n`, as telnet and nc send them), with the limits a server needs.
 *
 * Why not npm `redis-parser` here: it parses *replies* for clients. It accepts any byte as a
 * digit (`$-2` and `$9x` become garbage lengths instead of errors), has no inline commands,
 * no limits, and returns large bulks as slices of a module-wide pool it later overwrites,
 * which a server that holds arguments across async work cannot allow. Requests are only
 * arrays of bulk strings, so a strict parser is short; the tests use redis-parser as the
 * independent decoder of our replies.
 *
 * Arguments are zero-copy views of the chunk being parsed, valid while the sink runs: the
 * daemon reads every socket into one shared buffer and reuses it for the next read. What the
 * parser keeps between chunks (the start of an incomplete frame, the finished arguments of a
 * frame in progress) it copies into buffers of its own. A frame that arrives in pieces is
 * resumed, not re-parsed, and a large bulk is gathered into one buffer that grows by doubling
 * (never sized from the declared length alone, so a client cannot make it allocate by lying).
 */

export interface ParserLimits {
  /** Largest bulk string accepted (`proto-max-bulk-len`). */
  maxBulkLen: number;
  /** Most arguments in one command. */
  maxArgs: number;
  /** Most bytes buffered for one incomplete command (`client-query-buffer-limit`). */
  maxQueryBuffer: number;
  /** Which words the errors use: Redis says "unauthenticated" for the pre-auth limits. */
  unauthenticated?: boolean;
}

/** Redis's inline and header-line cap (PROTO_INLINE_MAX_SIZE). */
export const MAX_INLINE_BYTES = 64 * 1024;

/** A malformed or over-limit request. `message` is the reply text, ready to send after `-`. */
export class ProtocolError extends Error {}

/** Called once per complete command. Return false to stop parsing (QUIT, closed client). */
export type CommandSink = (args: Buffer[]) => boolean | void;

/**
 * Arguments are views of the socket's chunk. `Buffer.subarray` finds the constructor through
 * the species protocol (~50 ns here); constructing a Uint8Array subclass whose prototype chain
 * includes Buffer.prototype directly costs ~22 ns and gives an object that is a Buffer in every
 * respect (instanceof, methods, napi). A command with six arguments saves ~170 ns.
 */
class ArgBuffer extends Uint8Array {}
Object.setPrototypeOf(ArgBuffer.prototype, Buffer.prototype);

function view(buf: Buffer, start: number, length: number): Buffer {
  return new ArgBuffer(buf.buffer as ArrayBuffer, buf.byteOffset + start, length) as unknown as Buffer;
}

const CR = 13;
const LF = 10;
const STAR = 42;
const DOLLAR = 36;

export class RequestParser {
  limits: ParserLimits;

  /** Unparsed bytes (the start of an incomplete frame): `held[0, heldBytes)`, owned by the parser. */
  private held: Buffer | null = null;
  private heldBytes = 0;
  /** Bytes needed in `held` before parsing can make progress again. */
  private needBytes = 0;

  /** The multibulk frame in progress: arguments so far and how many are still to come. */
  private args: Buffer[] | null = null;
  private argsLeft = 0;
  /** Bytes of `args` (their total length), kept as they arrive: `memoryBytes` reads it. */
  private argsBytes = 0;

  constructor(limits: ParserLimits) {
    this.limits = limits;
  }

  /** Bytes held for an incomplete command (for CLIENT LIST `qbuf`). */
  get bufferedBytes(): number {
    return this.heldBytes;
  }

  /**
   * Memory this parser holds for an incomplete command: its buffer's whole size (it grows by
   * doubling) plus the arguments of the frame in progress. `maxmemory-clients` counts it.
   */
  get memoryBytes(): number {
    return (this.held?.length ?? 0) + (this.args !== null ? this.argsBytes : 0);
  }

  /** True between frames: nothing of an incomplete command is held. */
  get idle(): boolean {
    return this.heldBytes === 0 && this.args === null;
  }

  /** Forget any partial frame. */
  reset(): void {
    this.held = null;
    this.heldBytes = 0;
    this.needBytes = 0;
    this.args = null;
    this.argsLeft = 0;
  }

  /**
   * Parses `chunk`, calling `sink` for each complete command. Throws ProtocolError. The caller
   * may overwrite `chunk` once this returns. Returns `chunk.length`, or -1 if the sink said stop.
   */
  feed(chunk: Buffer, sink: CommandSink): number {
    this.commandsLeft = Infinity;
    this.unparsed = null;
    return this.parseChunk(chunk, sink);
  }

  /**
   * Like `feed`, but stops after one command: returns the offset in `chunk` just past it, or
   * `chunk.length` if the chunk held no complete command (its start is kept, as by `feed`),
   * or -1 if the sink said stop. Lets the daemon hand the bytes after one command back to its
   * native fast path. Call it between frames (`idle`).
   */
  feedOne(chunk: Buffer, sink: CommandSink): number {
    if (!this.idle) return this.feed(chunk, sink);
    this.commandsLeft = 1;
    this.unparsed = null;
    return this.parseChunk(chunk, sink);
  }

  /** Commands `parse` may still deliver before it returns (feedOne). */
  private commandsLeft = Infinity;

  /** What was left unparsed when the sink last said stop (see `takeUnparsed`). */
  private unparsed: Buffer | null = null;

  /**
   * The bytes after the command at which the sink last said stop, not parsed (null if none):
   * a view of the chunk given to `feed` (valid only until the caller reuses it) or of the
   * parser's own copy. The parser is idle then; feed them again to go on. Cleared by the call.
   */
  takeUnparsed(): Buffer | null {
    const rest = this.unparsed;
    this.unparsed = null;
    return rest;
  }

  private stopped(buf: Buffer, pos: number): number {
    this.unparsed = pos < buf.length ? buf.subarray(pos) : null;
    return -1;
  }

  private parseChunk(chunk: Buffer, sink: CommandSink): number {
    let data: Buffer;
    if (this.heldBytes === 0) {
      data = chunk;
    } else {
      this.hold(chunk);
      if (this.heldBytes < this.needBytes) {
        this.checkQueryBuffer();
        return chunk.length;
      }
      // The held buffer is parsed once and never written again: views into it stay valid.
      data = this.held!.subarray(0, this.heldBytes);
      this.held = null;
      this.heldBytes = 0;
    }
    const stopAt = this.parse(data, sink);
    if (stopAt < 0) return -1;
    if (this.commandsLeft === 0) return stopAt; // only feedOne, only when idle: data is chunk
    if (data === chunk && this.args !== null) {
      // The finished arguments of the frame in progress are views of the caller's chunk.
      for (let i = 0; i < this.args.length; i++) this.args[i] = Buffer.from(this.args[i]);
    }
    if (stopAt < data.length) {
      this.hold(data.subarray(stopAt));
      this.checkQueryBuffer();
    }
    return chunk.length;
  }

  /** Appends `bytes` to the held bytes, growing the held buffer by doubling. */
  private hold(bytes: Buffer): void {
    const need = this.heldBytes + bytes.length;
    if (this.held === null || need > this.held.length) {
      const size = Math.max(need, Math.min(this.needBytes, 2 * need), 4096);
      const next = Buffer.allocUnsafe(size);
      if (this.held !== null) this.held.copy(next, 0, 0, this.heldBytes);
      this.held = next;
    }
    bytes.copy(this.held, this.heldBytes);
    this.heldBytes = need;
  }

  private checkQueryBuffer(): void {
    let held = this.heldBytes;
    if (this.args !== null) for (const a of this.args) held += a.length;
    if (held > this.limits.maxQueryBuffer) {
      this.reset();
      throw new ProtocolError('ERR Protocol error: query buffer limit reached (client-query-buffer-limit)');
    }
  }

  /** Returns the offset where parsing stopped for lack of bytes, or -1 if the sink said stop. */
  private parse(buf: Buffer, sink: CommandSink): number {
    const end = buf.length;
    let pos = 0;
    while (pos < end) {
      if (this.args === null) {
        if (buf[pos] !== STAR) {
          // Inline command: one line, words separated by spaces.
          const lf = buf.indexOf(LF, pos);
          if (lf === -1) {
            if (end - pos > MAX_INLINE_BYTES) throw new ProtocolError('ERR Protocol error: too big inline request');
            this.needBytes = end - pos + 1;
            return pos;
          }
          if (lf - pos > MAX_INLINE_BYTES) throw new ProtocolError('ERR Protocol error: too big inline request');
          const lineEnd = lf > pos && buf[lf - 1] === CR ? lf - 1 : lf;
          const words = splitInline(buf, pos, lineEnd);
          pos = lf + 1;
          if (words.length === 0) continue;
          if (!this.checkArgCount(words.length)) continue;
          if (sink(words) === false) return this.stopped(buf, pos);
          if (--this.commandsLeft === 0) return pos;
          continue;
        }
        // Multibulk header.
        const count = this.readNumber(buf, pos + 1, 'multibulk count');
        if (count === undefined) {
          this.needBytes = end - pos + 1;
          return pos;
        }
        pos = this.lineEnd;
        if (count <= 0) continue; // Redis ignores empty and negative counts.
        if (!this.checkArgCount(count)) continue;
        this.args = []; // grows as arguments arrive: a huge declared count costs nothing up front
        this.argsLeft = count;
        this.argsBytes = 0;
      }
      // Bulk arguments of the frame in progress.
      while (this.argsLeft > 0) {
        if (pos >= end) {
          this.needBytes = 1;
          return pos;
        }
        if (buf[pos] !== DOLLAR) {
          const got = String.fromCharCode(buf[pos]);
          this.args = null;
          throw new ProtocolError(`ERR Protocol error: expected '$', got '${printable(got)}'`);
        }
        const len = this.readNumber(buf, pos + 1, 'bulk count');
        if (len === undefined) {
          this.needBytes = end - pos + 1;
          return pos;
        }
        if (len < 0 || len > this.limits.maxBulkLen) {
          this.args = null;
          throw new ProtocolError(
            this.limits.unauthenticated && len >= 0
              ? 'ERR Protocol error: unauthenticated bulk length'
              : 'ERR Protocol error: invalid bulk length',
          );
        }
        const dataStart = this.lineEnd;
        if (dataStart + len + 2 > end) {
          this.needBytes = dataStart + len + 2 - pos;
          if (this.needBytes > this.limits.maxQueryBuffer) {
            this.args = null;
            throw new ProtocolError('ERR Protocol error: query buffer limit reached (client-query-buffer-limit)');
          }
          return pos;
        }
        if (buf[dataStart + len] !== CR || buf[dataStart + len + 1] !== LF) {
          this.args = null;
          throw new ProtocolError('ERR Protocol error: bulk string not followed by CRLF');
        }
        this.args.push(view(buf, dataStart, len));
        this.argsBytes += len;
        this.argsLeft--;
        pos = dataStart + len + 2;
      }
      const args = this.args;
      this.args = null;
      this.needBytes = 0;
      if (sink(args) === false) return this.stopped(buf, pos);
      if (--this.commandsLeft === 0) return pos;
    }
    this.needBytes = 0;
    return end;
  }

  private checkArgCount(count: number): boolean {
    if (count > this.limits.maxArgs) {
      throw new ProtocolError(
        this.limits.unauthenticated
          ? 'ERR Protocol error: unauthenticated multibulk length'
          : 'ERR Protocol error: invalid multibulk length',
      );
    }
    return true;
  }

  /** Where the line read by readNumber ended (just past its CRLF). */
  private lineEnd = 0;

  /** Reads a decimal integer line starting at `pos`. undefined: the line is not complete yet. */
  private readNumber(buf: Buffer, pos: number, what: string): number | undefined {
    const end = buf.length;
    let i = pos;
    let negative = false;
    if (i < end && buf[i] === 45) {
      negative = true;
      i++;
    }
    let n = 0;
    let digits = 0;
    while (i < end) {
      const c = buf[i];
      if (c === CR) break;
      if (c < 48 || c > 57 || digits >= 18) {
        throw new ProtocolError(`ERR Protocol error: invalid ${what === 'bulk count' ? 'bulk' : 'multibulk'} length`);
      }
      n = n * 10 + (c - 48);
      digits++;
      i++;
    }
    if (i + 1 >= end) {
      if (end - pos > MAX_INLINE_BYTES) throw new ProtocolError(`ERR Protocol error: too big ${what} string`);
      return undefined;
    }
    if (buf[i + 1] !== LF || digits === 0) {
      throw new ProtocolError(`ERR Protocol error: invalid ${what === 'bulk count' ? 'bulk' : 'multibulk'} length`);
    }
    this.lineEnd = i + 2;
    return negative ? -n : n;
  }
}

function printable(ch: string): string {
  const c = ch.charCodeAt(0);
  return c >= 32 && c < 127 ? ch : `\\x${c.toString(16).padStart(2, '0')}`;
}

const SPACE = 32;
const TAB = 9;
const DQUOTE = 34;
const SQUOTE = 39;
const BACKSLASH = 92;

/**
 * Splits an inline command line into arguments the way Redis's sdssplitargs does: spaces
 * separate, "double quotes" understand \n \r \t \b \a \\ \" and \xHH, 'single quotes'
 * understand \' only. A closing quote must be followed by a space or the end of the line.
 */
export function splitInline(buf: Buffer, start: number, end: number): Buffer[] {
  const out: Buffer[] = [];
  let i = start;
  while (i < end) {
    while (i < end && (buf[i] === SPACE || buf[i] === TAB || buf[i] === CR || buf[i] === LF)) i++;
    if (i >= end) break;
    const q = buf[i];
    if (q !== DQUOTE && q !== SQUOTE) {
      const s = i;
      while (i < end && buf[i] !== SPACE && buf[i] !== TAB) i++;
      out.push(view(buf, s, i - s));
      continue;
    }
    const bytes: number[] = [];
    i++;
    let closed = false;
    while (i < end) {
      const c = buf[i];
      if (q === DQUOTE && c === BACKSLASH && i + 1 < end) {
        const e = buf[i + 1];
        if (e === 120 /* x */ && i + 3 < end && isHex(buf[i + 2]) && isHex(buf[i + 3])) {
          bytes.push(parseInt(String.fromCharCode(buf[i + 2], buf[i + 3]), 16));
          i += 4;
          continue;
        }
        const map: Record<number, number> = { 110: 10, 114: 13, 116: 9, 98: 8, 97: 7 };
        bytes.push(map[e] ?? e);
        i += 2;
        continue;
      }
      if (q === SQUOTE && c === BACKSLASH && i + 1 < end && buf[i + 1] === SQUOTE) {
        bytes.push(SQUOTE);
        i += 2;
        continue;
      }
      if (c === q) {
        i++;
        if (i < end && buf[i] !== SPACE && buf[i] !== TAB) break;
        closed = true;
        break;
      }
      bytes.push(c);
      i++;
    }
    if (!closed) throw new ProtocolError('ERR Protocol error: unbalanced quotes in request');
    out.push(Buffer.from(bytes));
  }
  return out;
}

function isHex(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 97 && c <= 102) || (c >= 65 && c <= 70);
}
