/**
 * Encodes replies in RESP2 or RESP3 into one shared output pool, so that all replies to one
 * read batch leave in a single socket write without a Buffer per reply.
 *
 * Use: set `resp3` for the connection being answered, write replies, then `take()` the bytes
 * written since the last take and hand them to the socket. The pool region handed out is never
 * written again (a full pool is replaced, not reused), so writes still queued in the socket
 * keep valid bytes. Only one connection writes between two takes: the daemon takes at the end
 * of every read batch and in every async completion.
 *
 * RESP3-only types are written in their RESP2 forms for RESP2 clients: map -> flat array,
 * set -> array, double -> bulk string, boolean -> integer 0/1, null -> null bulk.
 */

const POOL_BYTES = 64 * 1024;

/**
 * Node's Buffer has fixed-encoding write methods (what `buf.write(s, o, enc)` calls after
 * normalizing its arguments); calling them directly skips that work on every reply.
 */
type PoolBuffer = Buffer & {
  latin1Write(text: string, offset: number): number;
  utf8Write(text: string, offset: number): number;
};
const allocPool = (bytes: number) => Buffer.allocUnsafe(bytes) as PoolBuffer;
const CRLF = '\r\n';

/** Writes whole number `n` (|n| < 2^53) in decimal at `o`; returns the offset after it. */
function writeDecimal(buf: Buffer, o: number, n: number): number {
  if (n < 0) {
    buf[o++] = 45; // '-'
    n = -n;
  }
  if (n < 10) {
    buf[o++] = 48 + n;
    return o;
  }
  let digits = 1;
  for (let t = n; t >= 10; t = Math.floor(t / 10)) digits++;
  const end = o + digits;
  for (let p = end - 1; p >= o; p--) {
    buf[p] = 48 + (n % 10);
    n = Math.floor(n / 10);
  }
  return end;
}

export class ReplyWriter {
  /** Encode RESP3 types natively (the connection said HELLO 3). */
  resp3 = false;

  private pool = allocPool(POOL_BYTES);
  private offset = 0;
  private segmentStart = 0;

  /** Bytes moved from a full pool to its successor so far: what large replies cost in copies. */
  carriedBytes = 0;

  /** Bytes written since the last take. */
  get pendingBytes(): number {
    return this.offset - this.segmentStart;
  }

  /** The bytes written since the last take, or null if none. */
  take(): Buffer | null {
    if (this.offset === this.segmentStart) return null;
    const out = this.pool.subarray(this.segmentStart, this.offset);
    this.segmentStart = this.offset;
    return out;
  }

  /**
   * For native code that encodes replies itself: makes room for at least `bytes` more bytes
   * and returns the pool; write from `writeOffset`, then `advanceTo` the end of what was written.
   */
  room(bytes: number): Buffer {
    this.reserve(bytes);
    return this.pool;
  }

  get writeOffset(): number {
    return this.offset;
  }

  advanceTo(offset: number): void {
    this.offset = offset;
  }

  /** Drops the bytes written since the last take (a client that went away). */
  discard(): void {
    this.offset = this.segmentStart;
  }

  /**
   * Makes room for `bytes` more bytes. A full pool is replaced, never reused (its taken region
   * may still be queued in a socket), and the untaken bytes move to the new pool. The new pool
   * holds at least twice what it must (carried + bytes): a reply made of many small writes
   * then moves each byte O(1) times in all, not once per write (COMMAND DOCS, thousands of
   * pipelined replies in one read batch). Once the big segment is taken, the next pool is
   * sized by what it carries again, so a single huge reply does not keep a huge pool.
   */
  private reserve(bytes: number): void {
    if (this.offset + bytes <= this.pool.length) return;
    const carried = this.offset - this.segmentStart;
    const next = allocPool(Math.max(POOL_BYTES, 2 * (carried + bytes)));
    this.pool.copy(next, 0, this.segmentStart, this.offset);
    this.carriedBytes += carried;
    this.pool = next;
    this.segmentStart = 0;
    this.offset = carried;
  }

  /** Writes an ASCII string (protocol text, numbers) as-is. */
  private ascii(s: string): void {
    const len = s.length;
    this.reserve(len);
    if (len > 24) {
      this.offset += this.pool.latin1Write(s, this.offset);
      return;
    }
    // Short protocol text: a loop beats the native call.
    const pool = this.pool;
    let o = this.offset;
    for (let i = 0; i < len; i++) pool[o++] = s.charCodeAt(i);
    this.offset = o;
  }

  /** `+text` — text must not contain CR or LF. */
  simple(text: string): void {
    this.ascii('+' + text + CRLF);
  }

  ok(): void {
    this.ascii('+OK\r\n');
  }

  /** `-CODE message`; CR and LF in the message become spaces, as Redis does. */
  error(message: string): void {
    const clean = /[\r\n]/.test(message) ? message.replace(/[\r\n]+/g, ' ') : message;
    const bytes = Buffer.byteLength(clean);
    this.reserve(bytes + 3);
    this.pool[this.offset++] = 45;
    this.offset += this.pool.utf8Write(clean, this.offset);
    this.pool[this.offset++] = 13;
    this.pool[this.offset++] = 10;
  }

  integer(n: number | bigint): void {
    this.ascii(':' + (typeof n === 'number' ? Math.trunc(n) : n) + CRLF);
  }

  /** A bulk string from bytes or from text (UTF-8). */
  bulk(value: Buffer | Uint8Array | string): void {
    if (typeof value === 'string') {
      const bytes = Buffer.byteLength(value);
      const header = '$' + bytes + CRLF;
      this.reserve(header.length + bytes + 2);
      this.offset += this.pool.latin1Write(header, this.offset);
      this.offset += this.pool.utf8Write(value, this.offset);
    } else {
      const header = '$' + value.length + CRLF;
      this.reserve(header.length + value.length + 2);
      this.offset += this.pool.latin1Write(header, this.offset);
      this.pool.set(value, this.offset);
      this.offset += value.length;
    }
    this.pool[this.offset++] = 13;
    this.pool[this.offset++] = 10;
  }

  /** A missing value: `_` in RESP3, the null bulk `$-1` in RESP2. */
  null(): void {
    this.ascii(this.resp3 ? '_\r\n' : '$-1\r\n');
  }

  /** A missing array: `_` in RESP3, `*-1` in RESP2. */
  nullArray(): void {
    this.ascii(this.resp3 ? '_\r\n' : '*-1\r\n');
  }

  /** Header of an array of `length` elements; write the elements next. */
  array(length: number): void {
    this.ascii('*' + length + CRLF);
  }

  /** Header of a map of `pairs` key/value pairs (a flat array of 2*pairs in RESP2). */
  map(pairs: number): void {
    this.ascii(this.resp3 ? '%' + pairs + CRLF : '*' + pairs * 2 + CRLF);
  }

  /** Header of a set (an array in RESP2). */
  set(length: number): void {
    this.ascii((this.resp3 ? '~' : '*') + length + CRLF);
  }

  /** A double (`,1.5` in RESP3, a bulk string in RESP2). */
  double(x: number): void {
    const text = Number.isFinite(x) ? String(x) : x > 0 ? 'inf' : x < 0 ? '-inf' : 'nan';
    if (this.resp3) this.ascii(',' + text + CRLF);
    else this.bulk(text);
  }

  /** A boolean (`#t`/`#f` in RESP3, integer 1/0 in RESP2). */
  boolean(b: boolean): void {
    if (this.resp3) this.ascii(b ? '#t\r\n' : '#f\r\n');
    else this.ascii(b ? ':1\r\n' : ':0\r\n');
  }

  /** A verbatim text (`=len\r\ntxt:...` in RESP3, a bulk string in RESP2). */
  verbatim(text: string, format = 'txt'): void {
    if (!this.resp3) return this.bulk(text);
    const body = format + ':' + text;
    const bytes = Buffer.byteLength(body);
    const header = '=' + bytes + CRLF;
    this.reserve(header.length + bytes + 2);
    this.offset += this.pool.latin1Write(header, this.offset);
    this.offset += this.pool.utf8Write(body, this.offset);
    this.pool[this.offset++] = 13;
    this.pool[this.offset++] = 10;
  }

  /** An array of integers, e.g. a limiter's reply read from a typed array. */
  integers(values: ArrayLike<number>, count = values.length): void {
    // Digits go straight into the pool: no string per reply (a limiter answers with this on
    // every call, so it is a hot path). 22 bytes hold ':' + sign + 17 digits + CRLF.
    this.reserve(16 + count * 22);
    const pool = this.pool;
    let o = this.offset;
    pool[o++] = 42; // '*'
    o = writeDecimal(pool, o, count);
    pool[o++] = 13;
    pool[o++] = 10;
    for (let i = 0; i < count; i++) {
      pool[o++] = 58; // ':'
      o = writeDecimal(pool, o, Math.trunc(values[i]));
      pool[o++] = 13;
      pool[o++] = 10;
    }
    this.offset = o;
  }

  /** An array of bulk strings. */
  bulks(values: ReadonlyArray<string | Buffer>): void {
    this.array(values.length);
    for (const v of values) this.bulk(v);
  }

  /** Already-encoded RESP bytes. */
  raw(bytes: Buffer | string): void {
    if (typeof bytes === 'string') return this.ascii(bytes);
    this.reserve(bytes.length);
    this.pool.set(bytes, this.offset);
    this.offset += bytes.length;
  }
}
