/**
 * The keyspace family: Redis's words for every kind of state Sluice keeps (limiter keys of each
 * algorithm, lease keys): SCAN, KEYS, DEL / UNLINK, EXISTS, TYPE, TTL / PTTL, EXPIRE / PEXPIRE,
 * PERSIST, OBJECT, MEMORY USAGE. One native call per key (SCAN: per step); what each means for
 * limiter state is in docs/keyspace.md and native/core/src/keyspace.rs.
 */
import type { Family, Handler } from '../context';
import { ArgReader, integerOrNaN, isWord } from '../args';
import { errors, ReplyError } from '../reply-error';
import { writeHelp } from '../replies';
import type { ReplyWriter } from '@sluice/protocol';
import native from '../native';

/** Type names by native code (TYPE answers them, SCAN's TYPE filter takes them). */
const KINDS = ['gcra', 'sliding', 'fixed', 'lease'];
const LEASE = 3;
const MATCH_ALL = Buffer.from('*');
const EMPTY = Buffer.alloc(0);
/** SCAN's COUNT when none is given (Redis's default). */
const DEFAULT_COUNT = 10;
/** KEYS walks the keyspace in steps of this many entries (one native call each). */
const KEYS_STEP = 65_536;

const out = new Float64Array(2);
const reader = new ArgReader();

/**
 * The native scan returns a step's keys already encoded as RESP bulk strings (the same bytes in
 * RESP2 and RESP3) in one Buffer, with their number in `out[1]`: the reply is an array header
 * and those bytes, with no per-key work in JavaScript.
 */
function writeKeys(w: ReplyWriter, chunks: Buffer[], count: number): void {
  w.array(count);
  for (const c of chunks) w.raw(c);
}

/** A SCAN cursor: an unsigned decimal (Redis's `invalid cursor` otherwise). */
function parseCursor(arg: Buffer): number {
  const n = integerOrNaN(arg);
  if (n >= 0) return n;
  // Digits only but beyond 2^53: past every cursor Sluice hands out, so the scan is over.
  if (Number.isNaN(n) && arg.length > 0 && arg.length <= 20 && /^[0-9]+$/.test(arg.toString('latin1'))) return Number.MAX_SAFE_INTEGER;
  throw new ReplyError('ERR invalid cursor');
}

function kindCode(arg: Buffer): number {
  const name = arg.toString('latin1').toLowerCase();
  return KINDS.indexOf(name);
}

/** Milliseconds until `key` is forgotten (rounded up), or -2 when it is missing. */
function pttl(key: Buffer, now: number): number {
  const ns = native.keyForgottenIn(key, now);
  return ns < 0 ? -2 : Math.ceil(ns / 1e6);
}

const scan: Handler = (ctx, args, w) => {
  const cursor = parseCursor(args[1]);
  let pattern: Buffer = MATCH_ALL;
  let count = DEFAULT_COUNT;
  let kind = -1;
  let unknownType = false;
  const r = reader.over(args, 2);
  while (r.left > 0) {
    if (r.left < 2) throw errors.syntax();
    if (r.word('match')) pattern = r.next();
    else if (r.word('count')) {
      count = r.integer();
      if (count < 1) throw errors.syntax();
    } else if (r.word('type')) {
      kind = kindCode(r.next());
      // Redis 7 answers nothing for a type name it does not know (no error): so does Sluice.
      unknownType = kind < 0;
    } else throw errors.syntax();
  }
  let keys: Buffer = EMPTY;
  out[0] = out[1] = 0;
  if (!unknownType) keys = native.keyspaceScan(cursor, Math.min(count, 0x7fffffff), pattern, kind, ctx.server.now, out);
  w.array(2);
  w.bulk(String(out[0]));
  writeKeys(w, [keys], out[1]);
};

const handlers: Record<string, Handler> = {
  scan,
  keys: (ctx, args, w) => {
    const chunks: Buffer[] = [];
    let count = 0;
    let cursor = 0;
    do {
      chunks.push(native.keyspaceScan(cursor, KEYS_STEP, args[1], -1, ctx.server.now, out));
      count += out[1];
      cursor = out[0];
    } while (cursor !== 0);
    // One write of the whole reply: the reply writer grows to exactly what a write needs, so
    // writing chunk by chunk would copy what it holds once per chunk.
    writeKeys(w, [Buffer.concat(chunks)], count);
  },
  del: (ctx, args, w) => w.integer(deleteKeys(args, ctx.server.now)),
  unlink: (ctx, args, w) => w.integer(deleteKeys(args, ctx.server.now)),
  exists: (ctx, args, w) => {
    let n = 0;
    for (let i = 1; i < args.length; i++) if (native.keyType(args[i], ctx.server.now) >= 0) n++;
    w.integer(n);
  },
  type: (ctx, args, w) => {
    const code = native.keyType(args[1], ctx.server.now);
    w.simple(code < 0 ? 'none' : KINDS[code]);
  },
  pttl: (ctx, args, w) => w.integer(pttl(args[1], ctx.server.now)),
  ttl: (ctx, args, w) => {
    const ms = pttl(args[1], ctx.server.now);
    w.integer(ms < 0 ? ms : Math.floor((ms + 500) / 1000));
  },
  expire: expire(1000, 'expire'),
  pexpire: expire(1, 'pexpire'),
  persist: (ctx, args, w) => {
    if (native.keyType(args[1], ctx.server.now) < 0) return w.integer(0);
    throw new ReplyError('ERR limiter and lease state always ends (when the limiter is full again, when the last lease expires): the key cannot be made persistent');
  },
  'object|encoding': (ctx, args, w) => {
    const code = native.keyType(args[2], ctx.server.now);
    if (code < 0) return w.null();
    w.bulk(code === LEASE ? 'leases' : args[2].length <= native.KEY_INLINE_MAX ? 'inline' : 'boxed');
  },
  'object|refcount': (ctx, args, w) => {
    if (native.keyType(args[2], ctx.server.now) < 0) return w.null();
    w.integer(1);
  },
  'object|help': (_ctx, _args, w) =>
    writeHelp(w, [
      'OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:',
      'ENCODING <key>',
      "    Return the kind of internal representation used to store the key's state:",
      `    inline (keys of up to ${native.KEY_INLINE_MAX} bytes, in the table slot), boxed (longer keys), leases.`,
      'REFCOUNT <key>',
      '    Return the number of references of the value associated with the specified key (always 1).',
      'HELP',
      '    Print this help.',
    ]),
  'memory|usage': (ctx, args, w) => {
    const r = reader.over(args, 3);
    if (r.word('samples')) r.integer(); // Sluice's estimate is exact per key: nothing to sample.
    r.finish();
    const bytes = native.keyMemoryUsage(args[2], ctx.server.now);
    if (bytes < 0) return w.null();
    w.integer(bytes);
  },
  'memory|help': (_ctx, _args, w) =>
    writeHelp(w, [
      'MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:',
      'USAGE <key> [SAMPLES <count>]',
      '    Return memory in bytes used by <key> and its value (see docs/keyspace.md for how it is estimated).',
      'HELP',
      '    Print this help.',
    ]),
};

function deleteKeys(args: Buffer[], now: number): number {
  let n = 0;
  for (let i = 1; i < args.length; i++) if (native.keyDelete(args[i], now)) n++;
  return n;
}

/**
 * EXPIRE / PEXPIRE `key amount [NX|XX|GT|LT]`. Limiter and lease state always ends, and ends on
 * its own schedule: EXPIRE can bring the end forward (a limiter is then full again by the new
 * time, a lease ends by then), never push it back. So it answers 1 when the key will now be
 * forgotten sooner, 0 when the key is missing or the time asked for is not sooner; NX (only
 * keys without a timeout) and GT (only a later timeout) can never apply: 0.
 */
function expire(unitMs: number, name: string): Handler {
  return (ctx, args, w) => {
    const r = reader.over(args, 2);
    const amount = r.integer();
    let nx = false;
    let xx = false;
    let gt = false;
    let lt = false;
    while (r.left > 0) {
      const opt = r.next();
      if (isWord(opt, 'nx')) nx = true;
      else if (isWord(opt, 'xx')) xx = true;
      else if (isWord(opt, 'gt')) gt = true;
      else if (isWord(opt, 'lt')) lt = true;
      else throw new ReplyError(`ERR Unsupported option ${opt.toString().slice(0, 128)}`);
    }
    if (nx && (xx || gt || lt)) throw new ReplyError('ERR NX and XX, GT or LT options at the same time are not compatible');
    if (gt && lt) throw new ReplyError('ERR GT and LT options at the same time are not compatible');
    const ms = amount * unitMs;
    if (!Number.isSafeInteger(ms)) throw new ReplyError(`ERR invalid expire time in '${name}' command`);
    const now = ctx.server.now;
    if (native.keyType(args[1], now) < 0 || nx || gt) return w.integer(0);
    w.integer(native.keyShorten(args[1], ms, now) ? 1 : 0);
  };
}

export const keyspaceFamily: Family = { name: 'keyspace', handlers };
