/** The connection group: PING, ECHO, HELLO, AUTH, QUIT, SELECT and CLIENT. */
import type { Handler, Session } from '../../context';
import { users } from '../../acl';
import { authenticate } from '../access';
import { ArgReader, isWord } from '../../args';
import { errors, ReplyError } from '../../reply-error';
import { writeHelp } from '../../replies';
import { REDIS_COMPAT_VERSION, VERSION } from '../../version';

const reader = new ArgReader();

/** A name without spaces or control characters (client names, library names). */
function checkName(name: Buffer, what: string): string {
  for (const c of name) {
    if (c < 33 || c > 126) throw new ReplyError(`ERR ${what} cannot contain spaces, newlines or special characters.`);
  }
  return name.toString();
}

const ping: Handler = (_ctx, args, w) => {
  if (args.length === 1) w.simple('PONG');
  else if (args.length === 2) w.bulk(args[1]);
  else throw errors.wrongArgs('ping');
};

const hello: Handler = (ctx, args, w) => {
  const session = ctx.session;
  let proto = session.resp3 ? 3 : 2;
  const r = reader.over(args, 1);
  if (r.left > 0) {
    const v = r.integerOr('ERR Protocol version is not an integer or out of range');
    if (v !== 2 && v !== 3) throw new ReplyError('NOPROTO unsupported protocol version');
    proto = v;
  }
  let auth: [Buffer, Buffer] | null = null;
  let setName: string | null = null;
  while (r.left > 0) {
    if (r.left >= 3 && r.word('auth')) auth = [r.next(), r.next()];
    else if (r.left >= 2 && r.word('setname')) setName = checkName(r.next(), 'Client names');
    else throw new ReplyError(`ERR Syntax error in HELLO option '${r.next().toString().slice(0, 128)}'`);
  }
  if (auth) authenticate(ctx, auth[0], auth[1]);
  if (!session.authenticated) {
    throw new ReplyError(
      'NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time',
    );
  }
  if (setName !== null) session.name = setName;
  session.resp3 = proto === 3;
  w.resp3 = session.resp3;
  w.map(8);
  w.bulk('server');
  w.bulk('sluice');
  w.bulk('version');
  w.bulk(REDIS_COMPAT_VERSION);
  w.bulk('sluice_version');
  w.bulk(VERSION);
  w.bulk('proto');
  w.integer(proto);
  w.bulk('id');
  w.integer(session.id);
  w.bulk('mode');
  w.bulk(ctx.server.config.get('cluster-enabled') === true ? 'cluster' : 'standalone');
  w.bulk('role');
  w.bulk('master');
  w.bulk('modules');
  w.array(0);
};

const auth: Handler = (ctx, args, w) => {
  if (args.length > 3) throw errors.syntax();
  if (args.length === 2 && users.defaultUser.nopass) {
    throw new ReplyError(
      'ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?',
    );
  }
  if (args.length === 2) authenticate(ctx, Buffer.from('default'), args[1]);
  else authenticate(ctx, args[1], args[2]);
  w.ok();
};

const select: Handler = (_ctx, args, w) => {
  if (reader.over(args, 1).integer() !== 0) throw new ReplyError('ERR DB index is out of range');
  w.ok();
};

// --- CLIENT ---------------------------------------------------------------------------------

function clientLine(c: Session, now: number): string {
  const age = Math.floor((now - c.createdAt) / 1000);
  const idle = Math.floor((now - c.lastInteraction) / 1000);
  return (
    `id=${c.id} addr=${c.addr} laddr=${c.laddr} fd=-1 name=${c.name} age=${age} idle=${idle} flags=N db=0 ` +
    `sub=0 psub=0 ssub=0 multi=-1 qbuf=${c.queryBufferBytes} qbuf-free=0 argv-mem=0 multi-mem=0 ` +
    `obl=0 oll=0 omem=${c.outputBytes} tot-mem=0 events=r cmd=${c.lastCommand} user=${c.user.name} redir=-1 ` +
    `resp=${c.resp3 ? 3 : 2} lib-name=${c.libName} lib-ver=${c.libVersion}`
  );
}

const clientHelp = [
  'CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:',
  'ID', "    Return the ID of the current connection.",
  'GETNAME', '    Return the name of the current connection.',
  'SETNAME <name>', '    Assign the name <name> to the current connection.',
  'SETINFO <LIB-NAME|LIB-VER> <value>', '    Record the client library name or version.',
  'LIST [ID <id> ...]', '    Return information about client connections.',
  'INFO', '    Return information about the current connection.',
  'KILL <ip:port> | KILL <ID id|ADDR ip:port|LADDR ip:port|SKIPME yes/no> ...', '    Kill connections.',
  'HELP', '    Print this help.',
];

function kill(self: Session, victim: Session): void {
  if (victim === self) victim.closeAfterReplies();
  else victim.kill();
}

const client: Record<string, Handler> = {
  'client|id': (ctx, _args, w) => w.integer(ctx.session.id),
  'client|getname': (ctx, _args, w) => (ctx.session.name ? w.bulk(ctx.session.name) : w.null()),
  'client|setname': (ctx, args, w) => {
    ctx.session.name = checkName(args[2], 'Client names');
    w.ok();
  },
  'client|setinfo': (ctx, args, w) => {
    if (isWord(args[2], 'lib-name')) ctx.session.libName = checkName(args[3], 'lib-name');
    else if (isWord(args[2], 'lib-ver')) ctx.session.libVersion = checkName(args[3], 'lib-ver');
    else throw new ReplyError(`ERR Unrecognized option '${args[2].toString().slice(0, 128)}'`);
    w.ok();
  },
  'client|list': (ctx, args, w) => {
    let ids: Set<number> | null = null;
    const r = reader.over(args, 2);
    if (r.left > 0) {
      if (!r.word('id') || r.left === 0) throw errors.syntax();
      ids = new Set();
      while (r.left > 0) ids.add(r.integerOr('ERR Invalid client ID'));
    }
    const now = Date.now();
    const lines: string[] = [];
    for (const c of ctx.server.clients.values()) if (!ids || ids.has(c.id)) lines.push(clientLine(c, now) + '\n');
    w.bulk(lines.join(''));
  },
  'client|info': (ctx, _args, w) => w.bulk(clientLine(ctx.session, Date.now()) + '\n'),
  'client|kill': (ctx, args, w) => {
    const all = [...ctx.server.clients.values()];
    if (args.length === 3) {
      const target = args[2].toString();
      const victim = all.find((c) => c.addr === target);
      if (!victim) throw new ReplyError('ERR No such client');
      kill(ctx.session, victim);
      w.ok();
      return;
    }
    if (args.length % 2 !== 0) throw errors.syntax();
    let victims = all;
    let skipMe = true;
    const r = reader.over(args, 2);
    while (r.left > 0) {
      if (r.word('id')) {
        const id = r.integerOr('ERR client-id should be greater than 0');
        victims = victims.filter((c) => c.id === id);
        continue;
      }
      if (r.word('skipme')) {
        if (r.word('yes')) skipMe = true;
        else if (r.word('no')) skipMe = false;
        else throw errors.syntax();
        continue;
      }
      const filter = r.next();
      const value = r.next().toString();
      if (isWord(filter, 'addr')) victims = victims.filter((c) => c.addr === value);
      else if (isWord(filter, 'laddr')) victims = victims.filter((c) => c.laddr === value);
      else if (isWord(filter, 'user')) victims = victims.filter((c) => c.user.name === value);
      else throw errors.syntax();
    }
    if (skipMe) victims = victims.filter((c) => c !== ctx.session);
    for (const v of victims) kill(ctx.session, v);
    w.integer(victims.length);
  },
  'client|help': (_ctx, _args, w) => writeHelp(w, clientHelp),
};

export const connectionHandlers: Record<string, Handler> = {
  ping,
  echo: (_ctx, args, w) => w.bulk(args[1]),
  hello,
  auth,
  quit: (ctx, _args, w) => {
    w.ok();
    ctx.session.closeAfterReplies();
  },
  select,
  ...client,
};
