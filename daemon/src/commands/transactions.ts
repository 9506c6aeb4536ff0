/**
 * The transactions family: MULTI, EXEC, DISCARD, WATCH, UNWATCH, with Redis's semantics.
 * Queueing happens in dispatch (a command after MULTI answers QUEUED, or an error that makes EXEC
 * answer EXECABORT); EXEC runs the queue with no other client's command in between: the event
 * loop runs one command at a time, and EXEC runs its whole queue in one go.
 *
 * A queued command that finishes off the event loop (a large TOK.COUNT counted on a worker
 * thread) keeps its place in EXEC's reply: EXEC's reply is then written when the last such part
 * is ready. Such commands read no state (the token count cache holds derived data only), so every
 * state change of the transaction still happens at EXEC, together.
 */
import { ReplyWriter } from '@sluice/protocol';
import type { CommandStats, Family, Handler, LaterReply } from '../context';
import { settle } from '../dispatch';
import { ReplyError } from '../reply-error';

/** One reply of EXEC's array: its bytes, or a writer that is ready later. */
type Part = Buffer | Promise<(w: ReplyWriter) => void>;

const exec: Handler = (ctx, _args, w) => {
  const session = ctx.session;
  const transaction = session.transaction;
  if (transaction === null) throw new ReplyError('ERR EXEC without MULTI');
  session.transaction = null;
  const touched = ctx.server.watches.touched(session);
  ctx.server.watches.unwatch(session);
  if (transaction.aborted) throw new ReplyError('EXECABORT Transaction discarded because of previous errors.');
  if (touched) return w.nullArray();
  // Each queued command's reply is written into a writer of EXEC's own, then placed in the array.
  const own = new ReplyWriter();
  own.resp3 = session.resp3;
  const parts: Part[] = [];
  let later: Promise<(w: ReplyWriter) => void> | null = null;
  const replyLater = (reply: LaterReply, entry: CommandStats) => (later = settle(reply, entry));
  for (const args of transaction.queued) {
    later = null;
    ctx.server.run(ctx, args, own, replyLater);
    const bytes = own.take();
    parts.push(later ?? bytes ?? Buffer.alloc(0));
  }
  const writeAll = (out: ReplyWriter, ready: (Buffer | ((w: ReplyWriter) => void))[]) => {
    out.array(ready.length);
    for (const part of ready) {
      if (typeof part === 'function') part(out);
      else out.raw(part);
    }
  };
  if (parts.every((p) => p instanceof Buffer)) return writeAll(w, parts as Buffer[]);
  return Promise.all(parts).then((ready) => (out: ReplyWriter) => writeAll(out, ready));
};

const handlers: Record<string, Handler> = {
  multi: (ctx, _args, w) => {
    if (ctx.session.transaction !== null) throw new ReplyError('ERR MULTI calls can not be nested');
    ctx.session.transaction = { queued: [], aborted: false };
    w.ok();
  },
  exec,
  discard: (ctx, _args, w) => {
    if (ctx.session.transaction === null) throw new ReplyError('ERR DISCARD without MULTI');
    ctx.session.transaction = null;
    ctx.server.watches.unwatch(ctx.session);
    w.ok();
  },
  watch: (ctx, args, w) => {
    if (ctx.session.transaction !== null) throw new ReplyError('ERR WATCH inside MULTI is not allowed');
    ctx.server.watches.watch(ctx.session, args.slice(1));
    w.ok();
  },
  unwatch: (ctx, _args, w) => {
    ctx.server.watches.unwatch(ctx.session);
    w.ok();
  },
};

export const transactionsFamily: Family = { name: 'transactions', handlers };
