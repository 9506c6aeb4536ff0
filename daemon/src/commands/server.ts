/** Handlers of the server family: connection, introspection and administration commands. */
import { timingSafeEqual, createHash } from 'node:crypto';
import os from 'node:os';
import {
  commandTable,
  globMatch,
  keyPositions,
  writeCommandDocs,
  writeCommandInfo,
  type ReplyWriter,
} from '@sluice/protocol';
import type { Handler } from './index';
import type { Connection } from '../connection';
import { allEntries } from '../dispatch';
import { errors, parseInteger, ReplyError } from '../reply-error';
import { ConfigError, optionSpec, options } from '../config';
import { REDIS_COMPAT_VERSION, VERSION } from '../server';
import { setLogLevel } from '../log';
import native from '../native';
import { resetTokensStats, tokensInfo } from './tokens';

const lower = (b: Buffer) => b.toString().toLowerCase();

function passwordMatches(conn: Connection, given: Buffer): boolean {
  // Compare digests so the comparison takes the same time whatever the password's length.
  const digest = (b: Buffer | string) => createHash('sha256').update(b).digest();
  return timingSafeEqual(digest(given), digest(conn.server.config.str('requirepass')));
}

/** AUTH's and HELLO's check. Throws WRONGPASS; marks the connection authenticated. */
function authenticate(conn: Connection, user: Buffer, password: Buffer): void {
  const required = conn.server.config.str('requirepass') !== '';
  if (user.toString() !== 'default' || (required && !passwordMatches(conn, password))) {
    throw new ReplyError('WRONGPASS invalid username-password pair or user is disabled.');
  }
  conn.authenticated = true;
}

function checkName(name: Buffer, what: string): string {
  for (const c of name) {
    if (c < 33 || c > 126) throw new ReplyError(`ERR ${what} cannot contain spaces, newlines or special characters.`);
  }
  return name.toString();
}

const ping: Handler = (_conn, args, w) => {
  if (args.length === 1) w.simple('PONG');
  else if (args.length === 2) w.bulk(args[1]);
  else throw errors.wrongArgs('ping');
};

const hello: Handler = (conn, args, w) => {
  let proto = conn.resp3 ? 3 : 2;
  let i = 1;
  if (args.length > 1) {
    let v: number;
    try {
      v = parseInteger(args[1]);
    } catch {
      throw new ReplyError('ERR Protocol version is not an integer or out of range');
    }
    if (v !== 2 && v !== 3) throw new ReplyError('NOPROTO unsupported protocol version');
    proto = v;
    i = 2;
  }
  let auth: [Buffer, Buffer] | null = null;
  let setName: string | null = null;
  for (; i < args.length; i++) {
    const opt = lower(args[i]);
    if (opt === 'auth' && i + 2 < args.length) {
      auth = [args[i + 1], args[i + 2]];
      i += 2;
    } else if (opt === 'setname' && i + 1 < args.length) {
      setName = checkName(args[i + 1], 'Client names');
      i += 1;
    } else {
      throw new ReplyError(`ERR Syntax error in HELLO option '${args[i].toString().slice(0, 128)}'`);
    }
  }
  if (auth) authenticate(conn, auth[0], auth[1]);
  if (!conn.authenticated) {
    throw new ReplyError(
      'NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time',
    );
  }
  if (setName !== null) conn.name = setName;
  conn.resp3 = proto === 3;
  w.resp3 = conn.resp3;
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
  w.integer(conn.id);
  w.bulk('mode');
  w.bulk('standalone');
  w.bulk('role');
  w.bulk('master');
  w.bulk('modules');
  w.array(0);
};

const auth: Handler = (conn, args, w) => {
  if (args.length > 3) throw errors.syntax();
  if (args.length === 2 && conn.server.config.str('requirepass') === '') {
    throw new ReplyError(
      'ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?',
    );
  }
  if (args.length === 2) authenticate(conn, Buffer.from('default'), args[1]);
  else authenticate(conn, args[1], args[2]);
  w.ok();
};

const select: Handler = (_conn, args, w) => {
  const db = parseInteger(args[1]);
  if (db !== 0) throw new ReplyError('ERR DB index is out of range');
  w.ok();
};

// --- CLIENT ---------------------------------------------------------------------------------

function clientLine(c: Connection, now: number): string {
  const age = Math.floor((now - c.createdAt) / 1000);
  const idle = Math.floor((now - c.lastInteraction) / 1000);
  return (
    `id=${c.id} addr=${c.addr} laddr=${c.laddr} fd=-1 name=${c.name} age=${age} idle=${idle} flags=N db=0 ` +
    `sub=0 psub=0 ssub=0 multi=-1 qbuf=${c.parser.bufferedBytes} qbuf-free=0 argv-mem=0 multi-mem=0 ` +
    `obl=0 oll=0 omem=${c.outputBytes} tot-mem=0 events=r cmd=${c.lastCommand} user=default redir=-1 ` +
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

export function writeHelp(w: ReplyWriter, lines: string[]): void {
  w.array(lines.length);
  for (const l of lines) w.simple(l);
}

const client: Record<string, Handler> = {
  'client|id': (conn, _args, w) => w.integer(conn.id),
  'client|getname': (conn, _args, w) => (conn.name ? w.bulk(conn.name) : w.null()),
  'client|setname': (conn, args, w) => {
    conn.name = checkName(args[2], 'Client names');
    w.ok();
  },
  'client|setinfo': (conn, args, w) => {
    const attr = lower(args[2]);
    if (attr === 'lib-name') conn.libName = checkName(args[3], 'lib-name');
    else if (attr === 'lib-ver') conn.libVersion = checkName(args[3], 'lib-ver');
    else throw new ReplyError(`ERR Unrecognized option '${args[2].toString().slice(0, 128)}'`);
    w.ok();
  },
  'client|list': (conn, args, w) => {
    let ids: Set<number> | null = null;
    if (args.length > 2) {
      if (lower(args[2]) !== 'id' || args.length < 4) throw errors.syntax();
      ids = new Set(args.slice(3).map((a) => {
        try {
          return parseInteger(a);
        } catch {
          throw new ReplyError('ERR Invalid client ID');
        }
      }));
    }
    const now = Date.now();
    const lines: string[] = [];
    for (const c of conn.server.connections.values()) if (!ids || ids.has(c.id)) lines.push(clientLine(c, now) + '\n');
    w.bulk(lines.join(''));
  },
  'client|info': (conn, _args, w) => w.bulk(clientLine(conn, Date.now()) + '\n'),
  'client|kill': (conn, args, w) => {
    const all = [...conn.server.connections.values()];
    if (args.length === 3) {
      const target = args[2].toString();
      const victim = all.find((c) => c.addr === target);
      if (!victim) throw new ReplyError('ERR No such client');
      kill(conn, victim);
      w.ok();
      return;
    }
    if (args.length % 2 !== 0) throw errors.syntax();
    let victims = all;
    let skipMe = true;
    for (let i = 2; i < args.length; i += 2) {
      const filter = lower(args[i]);
      const value = args[i + 1].toString();
      if (filter === 'id') {
        let id: number;
        try {
          id = parseInteger(args[i + 1]);
        } catch {
          throw new ReplyError('ERR client-id should be greater than 0');
        }
        victims = victims.filter((c) => c.id === id);
      } else if (filter === 'addr') victims = victims.filter((c) => c.addr === value);
      else if (filter === 'laddr') victims = victims.filter((c) => c.laddr === value);
      else if (filter === 'user') victims = value === 'default' ? victims : [];
      else if (filter === 'skipme') {
        const v = value.toLowerCase();
        if (v !== 'yes' && v !== 'no') throw errors.syntax();
        skipMe = v === 'yes';
      } else throw errors.syntax();
    }
    if (skipMe) victims = victims.filter((c) => c !== conn);
    for (const v of victims) kill(conn, v);
    w.integer(victims.length);
  },
  'client|help': (_conn, _args, w) => writeHelp(w, clientHelp),
};

function kill(self: Connection, victim: Connection): void {
  if (victim === self) victim.closeAfterReplies();
  else victim.kill();
}

// --- COMMAND --------------------------------------------------------------------------------

function writeAllInfo(w: ReplyWriter): void {
  w.array(commandTable.size);
  for (const spec of commandTable.values()) writeCommandInfo(w, spec);
}

/** The table entry for a name such as `ping` or `client|setname`. */
function specByName(name: string) {
  const [top, sub] = name.toLowerCase().split('|');
  const spec = commandTable.get(top);
  if (!spec || sub === undefined) return spec;
  return spec.subcommands?.find((s) => s.name === `${top}|${sub}`);
}

const command: Record<string, Handler> = {
  command: (_conn, _args, w) => writeAllInfo(w),
  'command|count': (_conn, _args, w) => w.integer(commandTable.size),
  'command|info': (_conn, args, w) => {
    if (args.length === 2) return writeAllInfo(w);
    w.array(args.length - 2);
    for (const a of args.slice(2)) {
      const spec = specByName(a.toString());
      if (spec) writeCommandInfo(w, spec);
      else w.nullArray();
    }
  },
  'command|docs': (_conn, args, w) => {
    const specs = args.length === 2 ? [...commandTable.values()] : args.slice(2).map((a) => specByName(a.toString())).filter((s) => s !== undefined);
    w.map(specs.length);
    for (const spec of specs) {
      w.bulk(spec.name);
      writeCommandDocs(w, spec);
    }
  },
  'command|list': (_conn, args, w) => {
    let names = [...commandTable.values()].flatMap((s) => [s.name, ...(s.subcommands ?? []).map((c) => c.name)]);
    if (args.length > 2) {
      if (args.length !== 5 || lower(args[2]) !== 'filterby') throw errors.syntax();
      const kind = lower(args[3]);
      const value = args[4].toString();
      if (kind === 'pattern') names = names.filter((n) => globMatch(value, n, true));
      else if (kind === 'aclcat') {
        const cat = value.replace(/^@/, '').toLowerCase();
        names = names.filter((n) => specByName(n)?.acl.includes(cat));
      } else if (kind === 'module') names = [];
      else throw errors.syntax();
    }
    w.bulks(names);
  },
  'command|getkeys': (_conn, args, w) => {
    const target = args.slice(2);
    const spec = specByName(target[0].toString());
    if (!spec) throw new ReplyError('ERR Invalid command specified');
    const positions = keyPositions(spec, target.length);
    if (positions.length === 0) throw new ReplyError('ERR The command has no key arguments');
    w.bulks(positions.map((p) => target[p]));
  },
  'command|help': (_conn, _args, w) =>
    writeHelp(w, [
      'COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:',
      '(no subcommand)', '    Return details about all commands.',
      'COUNT', '    Return the total number of commands.',
      'INFO [<command-name> ...]', '    Return details about the named commands (all when none).',
      'DOCS [<command-name> ...]', '    Return documentation about the named commands (all when none).',
      'LIST [FILTERBY (MODULE <name>|ACLCAT <category>|PATTERN <pattern>)]', '    Return command names.',
      'GETKEYS <full-command>', '    Return the keys of a full command.',
      'HELP', '    Print this help.',
    ]),
};

// --- CONFIG ---------------------------------------------------------------------------------

/** Values redis-benchmark and other tools read at start-up; fixed in Sluice. */
const COMPAT_CONFIG: Record<string, string> = { save: '', appendonly: 'no', databases: '1' };

const config: Record<string, Handler> = {
  'config|get': (conn, args, w) => {
    const cfg = conn.server.config;
    const found = new Map<string, string>();
    for (const a of args.slice(2)) {
      const pattern = a.toString();
      for (const o of options) if (globMatch(pattern, o.name, true)) found.set(o.name, cfg.show(o.name));
      for (const [k, v] of Object.entries(COMPAT_CONFIG)) if (globMatch(pattern, k, true)) found.set(k, v);
    }
    w.map(found.size);
    for (const [k, v] of found) {
      w.bulk(k);
      w.bulk(v);
    }
  },
  'config|set': (conn, args, w) => {
    if (args.length % 2 !== 0) throw errors.wrongArgs('config|set');
    const cfg = conn.server.config;
    const changes: [string, string][] = [];
    for (let i = 2; i < args.length; i += 2) {
      const name = args[i].toString().toLowerCase();
      const spec = optionSpec(name);
      if (!spec) throw new ReplyError(`ERR Unknown option or number of arguments for CONFIG SET - '${name}'`);
      if (!spec.mutable) throw new ReplyError(`ERR CONFIG SET failed (possibly related to argument '${name}') - can't set immutable config`);
      changes.push([name, args[i + 1].toString()]);
    }
    const before = changes.map(([name]) => cfg.show(name));
    try {
      for (const [name, value] of changes) cfg.set(name, value, 'CONFIG SET');
    } catch (err) {
      changes.forEach(([name], k) => cfg.set(name, before[k], 'rollback'));
      if (err instanceof ConfigError) throw new ReplyError(`ERR CONFIG SET failed - ${err.message}`);
      throw err;
    }
    setLogLevel(cfg.str('loglevel'));
    conn.server.configChanged();
    w.ok();
  },
  'config|resetstat': (conn, _args, w) => {
    conn.server.resetStats();
    resetTokensStats();
    for (const e of allEntries()) {
      e.calls = 0;
      e.usec = 0;
      e.timedCalls = 0;
      e.failedCalls = 0;
      e.rejectedCalls = 0;
    }
    w.ok();
  },
  'config|help': (_conn, _args, w) =>
    writeHelp(w, [
      'CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:',
      'GET <pattern> [<pattern> ...]', '    Return parameters matching the glob-like patterns and their values.',
      'SET <directive> <value> [<directive> <value> ...]', '    Set the configuration directives to the values.',
      'RESETSTAT', '    Reset statistics reported by the INFO command.',
      'HELP', '    Print this help.',
    ]),
};

// --- INFO -----------------------------------------------------------------------------------

const DEFAULT_SECTIONS = ['server', 'clients', 'memory', 'persistence', 'stats', 'keyspace'];
const ALL_SECTIONS = [...DEFAULT_SECTIONS.slice(0, 5), 'tokens', 'commandstats', 'keyspace'];

function human(bytes: number): string {
  if (bytes < 1024) return `${bytes}B`;
  const units = ['K', 'M', 'G', 'T'];
  let v = bytes;
  let u = -1;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(2)}${units[u]}`;
}

function infoSection(conn: Connection, section: string): string[] | null {
  const server = conn.server;
  const uptime = Math.floor((Date.now() - server.startedAt) / 1000);
  switch (section) {
    case 'server':
      return [
        `redis_version:${REDIS_COMPAT_VERSION}`,
        `sluice_version:${VERSION}`,
        'redis_mode:standalone',
        `os:${os.type()} ${os.release()} ${os.arch()}`,
        `arch_bits:${process.arch.includes('64') ? 64 : 32}`,
        `node_version:${process.versions.node}`,
        `process_id:${process.pid}`,
        `tcp_port:${server.port}`,
        `uptime_in_seconds:${uptime}`,
        `uptime_in_days:${Math.floor(uptime / 86400)}`,
        `executable:${process.argv[1] ?? ''}`,
        `config_file:${server.config.filePath}`,
      ];
    case 'clients':
      return [
        `connected_clients:${server.connections.size}`,
        `maxclients:${server.config.num('maxclients')}`,
        'blocked_clients:0',
      ];
    case 'memory': {
      const m = process.memoryUsage();
      return [
        // Sluice's state lives in native memory that V8 does not see: RSS is the honest total.
        `used_memory:${m.rss}`,
        `used_memory_human:${human(m.rss)}`,
        `used_memory_rss:${m.rss}`,
        `used_memory_rss_human:${human(m.rss)}`,
        `used_memory_js_heap:${m.heapUsed}`,
        'maxmemory:0',
        'maxmemory_policy:noeviction',
      ];
    }
    case 'persistence':
      return ['loading:0', 'async_loading:0', 'rdb_changes_since_last_save:0', 'aof_enabled:0'];
    case 'stats': {
      const s = server.stats;
      return [
        `total_connections_received:${s.connectionsReceived}`,
        `total_commands_processed:${s.commandsProcessed}`,
        `native_fast_path_commands:${s.fastPathCommands}`,
        `total_net_input_bytes:${s.netInputBytes}`,
        `total_net_output_bytes:${s.netOutputBytes}`,
        `rejected_connections:${s.rejectedConnections}`,
      ];
    }
    case 'commandstats': {
      const lines: string[] = [];
      for (const e of allEntries()) {
        if (e.calls === 0 && e.failedCalls === 0 && e.rejectedCalls === 0) continue;
        // Time is measured on a sample of calls (see dispatch.ts) and scaled to all calls.
        const perCall = e.timedCalls ? e.usec / e.timedCalls : 0;
        const usec = Math.round(perCall * e.calls);
        lines.push(
          `cmdstat_${e.spec.name}:calls=${e.calls},usec=${usec},usec_per_call=${perCall.toFixed(2)},rejected_calls=${e.rejectedCalls},failed_calls=${e.failedCalls}`,
        );
      }
      return lines;
    }
    case 'tokens':
      return tokensInfo();
    case 'keyspace': {
      const keys = native.keyCount();
      return keys > 0 ? [`db0:keys=${keys},expires=0,avg_ttl=0`] : [];
    }
    default:
      return null;
  }
}

const info: Handler = (conn, args, w) => {
  let wanted = args.length === 1 ? DEFAULT_SECTIONS : args.slice(1).map(lower);
  if (wanted.includes('all') || wanted.includes('everything')) wanted = ALL_SECTIONS;
  else if (wanted.includes('default')) wanted = [...new Set([...DEFAULT_SECTIONS, ...wanted.filter((s) => s !== 'default')])];
  const parts: string[] = [];
  for (const section of wanted) {
    const lines = infoSection(conn, section);
    if (lines === null) continue;
    const title = section === 'commandstats' ? 'Commandstats' : section[0].toUpperCase() + section.slice(1);
    parts.push(`# ${title}\r\n` + lines.map((l) => l + '\r\n').join(''));
  }
  w.bulk(parts.join('\r\n'));
};

// --- the rest -------------------------------------------------------------------------------

const flush: Handler = (_conn, args, w) => {
  if (args.length > 2) throw errors.syntax();
  if (args.length === 2 && !['async', 'sync'].includes(lower(args[1]))) throw errors.syntax();
  native.flushAll();
  w.ok();
};

export const serverHandlers: Record<string, Handler> = {
  ping,
  echo: (_conn, args, w) => w.bulk(args[1]),
  hello,
  auth,
  quit: (conn, _args, w) => {
    w.ok();
    conn.closeAfterReplies();
  },
  select,
  ...client,
  ...command,
  ...config,
  info,
  time: (_conn, _args, w) => {
    const micros = Math.floor((performance.timeOrigin + performance.now()) * 1000);
    w.array(2);
    w.bulk(String(Math.floor(micros / 1e6)));
    w.bulk(String(micros % 1e6));
  },
  dbsize: (_conn, _args, w) => w.integer(native.keyCount()),
  flushall: flush,
  flushdb: flush,
  shutdown: (conn, args) => {
    for (const a of args.slice(1)) {
      if (!['nosave', 'save', 'now', 'force', 'abort'].includes(lower(a))) throw errors.syntax();
    }
    if (args.slice(1).some((a) => lower(a) === 'abort')) throw new ReplyError('ERR No shutdown in progress.');
    // Like Redis, no reply: the connection closes once earlier replies are sent.
    void conn.server.shutdown(`SHUTDOWN from client ${conn.id} (${conn.addr})`);
  },
};

