/** Handlers of the leases family (SEM.*): concurrency slots with a TTL, one native call each. */
import type { Handler } from './index';
import { errors, parseInteger, ReplyError } from '../reply-error';
import { MAX_PER_MS } from './limits';
import native from '../native';

const DEFAULT_TTL_MS = 60_000;
const out = new Float64Array(3);

function positive(arg: Buffer, what: string, max = Number.MAX_SAFE_INTEGER): number {
  const n = parseInteger(arg);
  if (n < 1) throw new ReplyError(`ERR ${what} must be a positive integer`);
  if (n > max) throw new ReplyError(`ERR ${what} must be at most ${max}`);
  return n;
}

export const leasesHandlers: Record<string, Handler> = {
  'sem.acquire': (conn, args, w) => {
    const limit = positive(args[2], 'limit');
    let ttl = DEFAULT_TTL_MS;
    if (args.length === 5 && args[3].toString().toLowerCase() === 'ttl') ttl = positive(args[4], 'TTL', MAX_PER_MS);
    else if (args.length !== 3) throw errors.syntax();
    native.semAcquire(args[1], limit, ttl, conn.server.now, out);
    w.integers(out, 3);
  },
  'sem.release': (conn, args, w) => w.integer(native.semRelease(args[1], positive(args[2], 'lease'), conn.server.now) ? 1 : 0),
  'sem.extend': (conn, args, w) => {
    const lease = positive(args[2], 'lease');
    const ttl = positive(args[3], 'ttl', MAX_PER_MS);
    w.integer(native.semExtend(args[1], lease, ttl, conn.server.now) ? 1 : 0);
  },
  'sem.count': (conn, args, w) => w.integer(native.semCount(args[1], conn.server.now)),
};
