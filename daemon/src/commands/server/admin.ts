/** Server administration: TIME, DBSIZE, MONITOR, FLUSHALL / FLUSHDB, SHUTDOWN. */
import type { Handler } from '../../context';
import { ArgReader } from '../../args';
import { errors, ReplyError } from '../../reply-error';
import native from '../../native';

const reader = new ArgReader();

const flush: Handler = (ctx, args, w) => {
  const r = reader.over(args, 1);
  if (r.left > 0 && !r.word('async') && !r.word('sync')) throw errors.syntax();
  r.finish();
  native.flushAll();
  ctx.server.watches.touchAll();
  w.ok();
};

export const adminHandlers: Record<string, Handler> = {
  time: (_ctx, _args, w) => {
    const micros = Math.floor((performance.timeOrigin + performance.now()) * 1000);
    w.array(2);
    w.bulk(String(Math.floor(micros / 1e6)));
    w.bulk(String(micros % 1e6));
  },
  dbsize: (_ctx, _args, w) => w.integer(native.keyCount()),
  monitor: (ctx, _args, w) => {
    if (ctx.session.transaction !== null) throw new ReplyError('ERR MONITOR inside MULTI is not allowed');
    ctx.server.monitors.add(ctx.session);
    w.ok();
  },
  flushall: flush,
  flushdb: flush,
  shutdown: (ctx, args) => {
    const r = reader.over(args, 1);
    let abort = false;
    let save = true;
    while (r.left > 0) {
      if (r.word('abort')) abort = true;
      else if (r.word('nosave')) save = false;
      else if (!r.word('save') && !r.word('now') && !r.word('force')) throw errors.syntax();
    }
    if (abort) throw new ReplyError('ERR No shutdown in progress.');
    // Like Redis, no reply: the connection closes once earlier replies are sent. The final
    // snapshot is written after that, unless NOSAVE.
    const s = ctx.session;
    void ctx.server.shutdown(`SHUTDOWN from client ${s.id} (${s.addr})${save ? '' : ' NOSAVE'}`, { save });
  },
};
