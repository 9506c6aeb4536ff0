/**
 * Reading a command's arguments: one cursor for every handler, so keywords, integers and their
 * Redis error texts are written once. Nothing here makes a string from an argument unless an
 * error needs one, and a handler reuses one ArgReader (module state), so reading costs no
 * allocation on hot paths.
 *
 *   const r = reader.over(args, 2);        // start after the name and the key
 *   if (r.word('ttl')) ttl = r.positive('TTL');
 *   r.finish();                            // anything left is a syntax error
 */
import { errors, ReplyError } from './reply-error';

/** Is `arg` the word `lower` (given in lower case), in any letter case? No string is made. */
export function isWord(arg: Buffer, lower: string): boolean {
  if (arg.length !== lower.length) return false;
  for (let i = 0; i < arg.length; i++) if ((arg[i] | 0x20) !== lower.charCodeAt(i)) return false;
  return true;
}

/** Parses a whole decimal integer argument (as Redis's string2ll), else throws notInteger. */
export function parseInteger(arg: Buffer): number {
  const n = integerOrNaN(arg);
  if (Number.isNaN(n)) throw errors.notInteger();
  return n;
}

/** The integer `arg` spells in Redis's strict form (no sign but '-', no leading zero), or NaN. */
export function integerOrNaN(arg: Buffer): number {
  const len = arg.length;
  if (len === 0 || len > 20) return NaN;
  let i = 0;
  let negative = false;
  if (arg[0] === 45) {
    negative = true;
    i = 1;
    if (len === 1) return NaN;
  }
  if (arg[i] === 48 && len > i + 1) return NaN;
  let n = 0;
  for (; i < len; i++) {
    const c = arg[i] - 48;
    if (c < 0 || c > 9) return NaN;
    n = n * 10 + c;
  }
  if (n > Number.MAX_SAFE_INTEGER) return NaN;
  return negative ? -n : n;
}

/** A cursor over `args[from, end)`. */
export class ArgReader {
  private args: Buffer[] = [];
  private at = 0;
  private end = 0;

  /** Points the reader at `args[from, end)` and returns it. */
  over(args: Buffer[], from: number, end = args.length): this {
    this.args = args;
    this.at = from;
    this.end = end;
    return this;
  }

  /** Arguments not read yet. */
  get left(): number {
    return this.end - this.at;
  }

  /** The next argument; a syntax error if there is none. */
  next(): Buffer {
    if (this.at >= this.end) throw errors.syntax();
    return this.args[this.at++];
  }

  /** The next argument without consuming it, or undefined at the end. */
  peek(): Buffer | undefined {
    return this.at < this.end ? this.args[this.at] : undefined;
  }

  /** Every argument not read yet (consumes them). */
  rest(): Buffer[] {
    const out = this.args.slice(this.at, this.end);
    this.at = this.end;
    return out;
  }

  /** Is the next argument the keyword `lower`? Consumes it if so. */
  word(lower: string): boolean {
    if (this.at < this.end && isWord(this.args[this.at], lower)) {
      this.at++;
      return true;
    }
    return false;
  }

  /** Is the next argument the keyword `lower`? Does not consume it. */
  peekWord(lower: string): boolean {
    return this.at < this.end && isWord(this.args[this.at], lower);
  }

  /** The next argument as an integer (`ERR value is not an integer or out of range`). */
  integer(): number {
    return parseInteger(this.next());
  }

  /** The next argument as an integer, or `error` (a whole RESP error text) if it is not one. */
  integerOr(error: string): number {
    const n = integerOrNaN(this.next());
    if (Number.isNaN(n)) throw new ReplyError(error);
    return n;
  }

  /** An integer from 1 to `max` (`ERR <what> must be a positive integer` / `... at most max`). */
  positive(what: string, max = Number.MAX_SAFE_INTEGER): number {
    const n = this.integer();
    if (n < 1) throw new ReplyError(`ERR ${what} must be a positive integer`);
    if (n > max) throw new ReplyError(`ERR ${what} must be at most ${max}`);
    return n;
  }

  /** A syntax error if anything is left. */
  finish(): void {
    if (this.at < this.end) throw errors.syntax();
  }
}
