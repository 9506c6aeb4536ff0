/**
 * The access family: users from the config file's `users:` section, the ACL command, the
 * checks AUTH and dispatch call, protected mode, and the defences of authentication (failed
 * AUTHs limited per client address with Sluice's own limiter; connections that have not
 * authenticated get a deadline and a cap of their own). The user model is daemon/src/acl.ts.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { parse as parseYaml, parseDocument } from 'yaml';
import { aclCategories, commandTable, findSpec, arityAllows, type CommandSpec } from '@sluice/protocol';
import type { Context, Family, Handler, MetricFamily, Services, Session } from '../context';
import { AclRuleError, AclUser, UserRegistry, refusalMessage, users } from '../acl';
import { ArgReader, isWord } from '../args';
import { ConfigError, type Config, type OptionSpec } from '../config';
import { errors, ReplyError } from '../reply-error';
import { writeHelp } from '../replies';
import { log } from '../log';
import native from '../native';

const options: OptionSpec[] = [
  { name: 'protected-mode', type: 'boolean', default: 'yes', mutable: false, help: 'Refuse to start when listening on an address other than loopback while the default user needs no password (no requirepass). Set a password, or say "no" to accept that anyone who reaches the port may run every command.' },
  { name: 'auth-failures-per-minute', type: 'integer', default: '10', min: 0, mutable: true, help: 'Failed AUTH (and HELLO AUTH) attempts allowed per client address per minute (a burst of this many, then one per 60/N s); further attempts are refused without checking the password. 0: no limit.' },
  { name: 'auth-timeout', type: 'integer', default: '5', min: 0, mutable: true, help: 'Seconds a connection may stay open without authenticating when a password is required; then it is closed. 0: no deadline.' },
  { name: 'maxclients-unauthenticated', type: 'integer', default: '0', min: 0, mutable: true, help: 'Most connections at once that have not authenticated yet (when a password is required); a new one closes the oldest of them, so idle connections cannot take every maxclients slot nor lock out a client that authenticates. 0: half of maxclients.' },
  { name: 'acllog-max-len', type: 'integer', default: '128', min: 0, mutable: true, help: 'Most entries ACL LOG keeps.' },
];

/** The limiter's keys for failed AUTHs, one per client address (they are ordinary RL keys). */
const FAILURE_KEY_PREFIX = 'sluice:auth-failures:';
const FAILURE_WINDOW_MS = 60_000;
const GCRA = 0;

const stats = {
  deniedAuth: 0,
  deniedCommand: 0,
  deniedKey: 0,
  authRateLimited: 0,
  unauthenticatedEvicted: 0,
  unauthenticatedTimedOut: 0,
};

/** The client's address without the port (`::1`, `10.0.0.7`). */
function hostOf(session: Session): string {
  const colon = session.addr.lastIndexOf(':');
  return colon < 0 ? session.addr : session.addr.slice(0, colon);
}

// --- ACL LOG ---------------------------------------------------------------------------------

interface LogEntry {
  count: number;
  reason: 'auth' | 'command' | 'key';
  context: 'toplevel' | 'multi';
  object: string;
  username: string;
  clientInfo: string;
  entryId: number;
  created: number;
  updated: number;
}

/** Newest first, as Redis keeps it; a repeat within 60 s of the same refusal bumps its count. */
const aclLog: LogEntry[] = [];
let nextEntryId = 0;
let logMaxLen = 128;

function clientInfo(s: Session): string {
  return `id=${s.id} addr=${s.addr} laddr=${s.laddr} name=${s.name} user=${s.user.name} resp=${s.resp3 ? 3 : 2}`;
}

function logRefusal(session: Session, reason: LogEntry['reason'], object: string, username: string): void {
  const now = Date.now();
  const context = session.transaction !== null ? 'multi' : 'toplevel';
  const same = aclLog.find(
    (e) => e.reason === reason && e.context === context && e.object === object && e.username === username && now - e.updated < 60_000,
  );
  if (same) {
    same.count++;
    same.updated = now;
    same.clientInfo = clientInfo(session);
    return;
  }
  aclLog.unshift({ count: 1, reason, context, object, username, clientInfo: clientInfo(session), entryId: nextEntryId++, created: now, updated: now });
  if (aclLog.length > logMaxLen) aclLog.length = logMaxLen;
}

// --- the checks ------------------------------------------------------------------------------

/**
 * Dispatch's check, for a session whose user is not unrestricted: the NOPERM error for running
 * `spec` with `args`, or null when allowed. Refusals are counted and logged (ACL LOG).
 */
export function permissionRefusal(session: Session, spec: CommandSpec, args: Buffer[]): string | null {
  const user = session.user;
  const refusal = user.refusal(spec, args);
  if (refusal === null) return null;
  if (refusal.key < 0) {
    stats.deniedCommand++;
    logRefusal(session, 'command', spec.name, user.name);
  } else {
    stats.deniedKey++;
    logRefusal(session, 'key', args[refusal.key].toString(), user.name);
  }
  return 'NOPERM ' + refusalMessage(user, spec, args, refusal, false);
}

const limiterOut = new Float64Array(8);

/**
 * AUTH's and HELLO AUTH's check: makes the session `name`'s if the password is right. A client
 * address past `auth-failures-per-minute` failures is refused without a look at the password;
 * each failure is counted, logged at warning level and spends one token of its address's limit.
 */
export function authenticate(ctx: Context, name: Buffer, password: Buffer): void {
  const session = ctx.session;
  const server = ctx.server;
  const perMinute = server.config.num('auth-failures-per-minute');
  const host = hostOf(session);
  const key = Buffer.from(FAILURE_KEY_PREFIX + host);
  if (perMinute > 0) {
    native.rlHit(key, perMinute, FAILURE_WINDOW_MS, perMinute, GCRA, 1, true, server.now, limiterOut);
    if (limiterOut[0] === 0) {
      stats.authRateLimited++;
      const seconds = Math.ceil(limiterOut[3] / 1000);
      log.warning(`AUTH refused for ${host}: more than ${perMinute} failed attempts per minute from that address (auth-failures-per-minute); it may try again in ${seconds} s`);
      throw new ReplyError(`ERR too many failed authentication attempts from ${host}; try again in ${seconds} seconds`);
    }
  }
  const userName = name.toString();
  const user = users.authenticate(userName, password);
  if (user === null) {
    stats.deniedAuth++;
    if (perMinute > 0) native.rlHit(key, perMinute, FAILURE_WINDOW_MS, perMinute, GCRA, 1, false, server.now, limiterOut);
    logRefusal(session, 'auth', 'AUTH', userName);
    log.warning(`AUTH failed from ${session.addr} for user '${userName.slice(0, 64)}' (wrong password, unknown or disabled user); failed AUTHs so far: ${stats.deniedAuth}`);
    throw new ReplyError('WRONGPASS invalid username-password pair or user is disabled.');
  }
  session.user = user;
  session.authenticated = true;
}

/** A new connection starts authenticated (as `default`) when that user is on and needs no password. */
export function authenticatedOnConnect(): boolean {
  return users.defaultUser.enabled && users.defaultUser.nopass;
}

/** Connections closed to make room for newer ones (they are still in the client list until closed). */
const evicted = new WeakSet<Session>();

/**
 * The server calls this before it accepts a connection. When `maxclients-unauthenticated`
 * connections are already waiting to authenticate, the oldest of them is told why and closed:
 * idle connections that never authenticate cannot hold the door shut, and a client that
 * authenticates promptly after connecting always gets in (the cap keeps the other slots of
 * maxclients for authenticated clients). When every maxclients slot is taken (`full`), the
 * oldest unauthenticated connection makes room too. Returns true if one was closed.
 */
export function makeRoomToAuthenticate(server: Services, full: boolean): boolean {
  if (authenticatedOnConnect()) return false;
  const cap = unauthenticatedCap(server.config);
  let waiting = 0;
  let oldest: Session | null = null;
  for (const c of server.clients.values()) {
    if (c.authenticated || evicted.has(c)) continue;
    waiting++;
    if (oldest === null || c.id < oldest.id) oldest = c;
  }
  if ((waiting < cap && !full) || oldest === null) return false;
  stats.unauthenticatedEvicted++;
  evicted.add(oldest);
  log.warning(`client ${oldest.id} (${oldest.addr}) closed: ${waiting} connections were waiting to authenticate (maxclients-unauthenticated ${cap}${full ? ', and maxclients is reached' : ''}); the oldest makes room`);
  oldest.pushOutOfBand(Buffer.from('-ERR closed: too many connections waiting to authenticate (maxclients-unauthenticated); authenticate right after connecting\r\n'));
  oldest.closeAfterReplies();
  return true;
}

function unauthenticatedCap(config: Config): number {
  const set = config.num('maxclients-unauthenticated');
  return set > 0 ? set : Math.max(1, Math.floor(config.num('maxclients') / 2));
}

// --- start: users from the config file, requirepass, protected mode ------------------------

/**
 * Reads a `users:` section (name: rules) into users built from nothing, as in a Redis ACL file
 * (the default user too), without touching the running ones. Throws ConfigError naming the
 * user and the rule at the first bad one.
 */
function readUsersSection(section: unknown, filePath: string): AclUser[] {
  if (section === undefined || section === null) return [];
  if (typeof section !== 'object' || Array.isArray(section)) {
    throw new ConfigError(`config file ${filePath}: 'users' must be a mapping of user name: ACL rules (for example "dashboard: on #<sha256 hex> +@read ~*")`);
  }
  const read: AclUser[] = [];
  for (const [name, rules] of Object.entries(section as Record<string, unknown>)) {
    if (typeof rules !== 'string') throw new ConfigError(`config file ${filePath}: users.${name} must be a string of ACL rules, such as "on #<sha256 hex> +@read ~*"`);
    if (/[\s\0]/.test(name)) throw new ConfigError(`config file ${filePath}: user name '${name}' has a space or a null character`);
    const user = new AclUser(name);
    try {
      user.apply(['reset', ...rules.split(/\s+/).filter((r) => r !== '')]);
    } catch (err) {
      if (err instanceof AclRuleError) throw new ConfigError(`config file ${filePath}: users.${name}: rule '${err.rule}': ${err.message}`);
      throw err;
    }
    if (user.enabled && !user.nopass && user.passwords.length === 0) {
      log.warning(
        `config file ${filePath}: user '${name}' has no password and is not nopass: nobody can authenticate as it. ` +
          `If its rules have a #<sha256> password, quote them ("on #... +@read"): unquoted, YAML reads # as the start of a comment.`,
      );
    }
    read.push(user);
  }
  return read;
}

/**
 * Makes `read` the users (then requirepass the default user's password). A user that exists
 * already is changed in place, so its connections see the new rules; the others are deleted
 * and returned, for their connections to be closed.
 */
function replaceUsers(read: AclUser[], config: Config): AclUser[] {
  const names = new Set(read.map((u) => u.name));
  const removed = users.all().filter((u) => u.name !== 'default' && !names.has(u.name));
  for (const u of removed) users.delete(u.name);
  if (!names.has('default')) users.defaultUser.copyFrom(UserRegistry.newDefault());
  for (const u of read) users.put(u);
  appliedRequirepass = '';
  applyRequirepass(config);
  return removed;
}

let appliedRequirepass = '';

/** `requirepass` is the default user's password (empty: no password), as in Redis. */
function applyRequirepass(config: Config): void {
  const pass = config.str('requirepass');
  if (pass !== '') users.setUser('default', ['resetpass', '>' + pass]);
  else if (appliedRequirepass !== '') users.setUser('default', ['nopass']);
  appliedRequirepass = pass;
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || (isIP(host) === 4 && host.startsWith('127.'));
}

function checkProtectedMode(config: Config): void {
  const bind = config.str('bind');
  if (!config.get('protected-mode') || isLoopback(bind) || !authenticatedOnConnect()) return;
  throw new ConfigError(
    `refusing to listen on ${bind} with no password (protected mode): anyone who reaches this port could run every command. ` +
      'Set one with --requirepass <password> (or users: in the config file, with a password for the default user), ' +
      'listen on 127.0.0.1 only (--bind 127.0.0.1), or, if the network is trusted, start with --protected-mode no.',
  );
}

const NO_CONFIG_FILE =
  'ERR This instance was started without a config file (--config FILE), so there is no users: section to load or save. Start it with one to use ACL LOAD and ACL SAVE.';

// --- ACL SAVE --------------------------------------------------------------------------------

/** Writes every user back into the config file's `users:` section, keeping the rest of the file. */
function saveUsers(config: Config): void {
  if (config.filePath === '') {
    throw new ReplyError(NO_CONFIG_FILE);
  }
  let doc;
  try {
    doc = parseDocument(readFileSync(config.filePath, 'utf8'));
  } catch (err) {
    log.warning(`ACL SAVE: cannot read ${config.filePath}: ${(err as Error).message}`);
    throw new ReplyError('ERR There was an error trying to save the ACLs. Please check the server logs for more information');
  }
  const section: Record<string, string> = {};
  for (const u of users.all()) section[u.name] = u.describe();
  doc.set('users', section);
  const temp = `${config.filePath}.tmp-${process.pid}`;
  try {
    writeFileSync(temp, doc.toString({ lineWidth: 0 }));
    renameSync(temp, config.filePath);
  } catch (err) {
    log.warning(`ACL SAVE: cannot write ${config.filePath}: ${(err as Error).message}; check the file's directory is writable`);
    throw new ReplyError('ERR There was an error trying to save the ACLs. Please check the server logs for more information');
  }
  log.notice(`ACL SAVE: ${users.all().length} user(s) written to ${config.filePath}`);
}

// --- the ACL command -------------------------------------------------------------------------

const reader = new ArgReader();

const aclHelp = [
  'ACL <subcommand> [<arg> [value] [opt] ...]. Subcommands are:',
  'CAT [<category>]', '    List all commands that belong to <category>, or all command categories when no category is specified.',
  'DELUSER <username> [<username> ...]', '    Delete a list of users.',
  'DRYRUN <username> <command> [<arg> ...]', '    Returns whether the user can execute the given command without executing the command.',
  'GETUSER <username>', "    Get the user's details.",
  'GENPASS [<bits>]', '    Generate a secure 256-bit user password. The optional `bits` argument can be used to specify a different size.',
  'LIST', '    Show users details in config file format.',
  'LOG [<count> | RESET]', '    Show the ACL log entries.',
  'LOAD', "    Reload the users from the config file's users: section.",
  'SAVE', "    Save the current users to the config file's users: section.",
  'SETUSER <username> <attribute> [<attribute> ...]', '    Create or modify a user with the specified attributes.',
  'USERS', '    List all the registered usernames.',
  'WHOAMI', '    Return the current connection username.',
  'HELP', '    Print this help.',
];

/** Closes every connection authenticated as `user` (ACL DELUSER), the caller's own after its reply. */
function closeSessionsOf(ctx: Context, user: AclUser): void {
  for (const c of ctx.server.clients.values()) {
    if (c.user !== user) continue;
    if (c === ctx.session) c.closeAfterReplies();
    else c.kill();
  }
}

const handlers: Record<string, Handler> = {
  'acl|whoami': (ctx, _args, w) => w.bulk(ctx.session.user.name),
  'acl|users': (_ctx, _args, w) => w.bulks(users.all().map((u) => u.name)),
  'acl|list': (_ctx, _args, w) => w.bulks(users.all().map((u) => `user ${u.name} ${u.describe()}`)),
  'acl|cat': (_ctx, args, w) => {
    if (args.length === 2) return w.bulks([...aclCategories]);
    if (args.length > 3) throw errors.wrongArgs('acl|cat');
    const category = args[2].toString().toLowerCase(); // without '@', as Redis takes it
    if (!aclCategories.includes(category)) throw new ReplyError(`ERR Unknown category '${args[2].toString().slice(0, 128)}'`);
    const names: string[] = [];
    for (const spec of commandTable.values()) {
      for (const s of [spec, ...(spec.subcommands ?? [])]) if (s.acl.includes(category)) names.push(s.name);
    }
    w.bulks(names);
  },
  'acl|setuser': (_ctx, args, w) => {
    const name = args[2].toString();
    if (/[\s\0]/.test(name)) throw new ReplyError("ERR Usernames can't contain spaces or null characters");
    const rules = args.slice(3).map((a) => a.toString());
    try {
      users.setUser(name, rules);
    } catch (err) {
      if (err instanceof AclRuleError) throw new ReplyError(`ERR Error in ACL SETUSER modifier '${err.rule.slice(0, 128)}': ${err.message}`);
      throw err;
    }
    w.ok();
  },
  'acl|deluser': (ctx, args, w) => {
    const names = args.slice(2).map((a) => a.toString());
    if (names.includes('default')) throw new ReplyError("ERR The 'default' user cannot be removed");
    let deleted = 0;
    for (const name of names) {
      const user = users.get(name);
      if (user === undefined || !users.delete(name)) continue;
      deleted++;
      closeSessionsOf(ctx, user);
    }
    w.integer(deleted);
  },
  'acl|getuser': (_ctx, args, w) => {
    const user = users.get(args[2].toString());
    if (user === undefined) return w.null();
    w.map(6);
    w.bulk('flags');
    const flags = [user.enabled ? 'on' : 'off', ...(user.nopass ? ['nopass'] : [])];
    w.set(flags.length);
    for (const f of flags) w.bulk(f);
    w.bulk('passwords');
    w.bulks(user.passwords);
    w.bulk('commands');
    w.bulk(user.describeCommands());
    w.bulk('keys');
    w.bulk(user.describeKeys());
    w.bulk('channels');
    w.bulk(user.describeChannels());
    w.bulk('selectors');
    w.array(0);
  },
  'acl|dryrun': (_ctx, args, w) => {
    const user = users.get(args[2].toString());
    if (user === undefined) throw new ReplyError(`ERR User '${args[2].toString().slice(0, 128)}' not found`);
    const target = args.slice(3);
    let spec = commandTable.get(target[0].toString().toLowerCase());
    if (spec?.subcommands && target.length > 1) spec = findSpec(commandTable, `${spec.name}|${target[1].toString()}`) ?? undefined;
    if (spec === undefined) throw new ReplyError(`ERR Command '${target[0].toString().slice(0, 128)}' not found`);
    if (!arityAllows(spec.arity, target.length)) throw new ReplyError(`ERR wrong number of arguments for '${spec.name}' command`);
    const refusal = user.refusal(spec, target);
    if (refusal === null) return w.ok();
    w.bulk(refusalMessage(user, spec, target, refusal, true));
  },
  'acl|genpass': (_ctx, args, w) => {
    let bits = 256;
    if (args.length === 3) bits = reader.over(args, 2).integer();
    if (args.length > 3) throw errors.wrongArgs('acl|genpass');
    if (bits <= 0 || bits > 4096) throw new ReplyError('ERR ACL GENPASS argument must be the number of bits for the output password, a positive number up to 4096');
    const chars = Math.ceil(bits / 4);
    w.bulk(randomBytes(Math.ceil(chars / 2)).toString('hex').slice(0, chars));
  },
  'acl|log': (_ctx, args, w) => {
    let count = 10;
    if (args.length > 3) throw errors.wrongArgs('acl|log');
    if (args.length === 3) {
      if (isWord(args[2], 'reset')) {
        aclLog.length = 0;
        return w.ok();
      }
      count = Math.max(0, reader.over(args, 2).integer());
    }
    const now = Date.now();
    const entries = aclLog.slice(0, count);
    w.array(entries.length);
    for (const e of entries) {
      w.map(10);
      w.bulk('count'); w.integer(e.count);
      w.bulk('reason'); w.bulk(e.reason);
      w.bulk('context'); w.bulk(e.context);
      w.bulk('object'); w.bulk(e.object);
      w.bulk('username'); w.bulk(e.username);
      w.bulk('age-seconds'); w.double((now - e.updated) / 1000);
      w.bulk('client-info'); w.bulk(e.clientInfo);
      w.bulk('entry-id'); w.integer(e.entryId);
      w.bulk('timestamp-created'); w.integer(e.created);
      w.bulk('timestamp-last-updated'); w.integer(e.updated);
    }
  },
  'acl|load': (ctx, _args, w) => {
    const config = ctx.server.config;
    if (config.filePath === '') throw new ReplyError(NO_CONFIG_FILE);
    let read: AclUser[];
    try {
      const doc = parseYaml(readFileSync(config.filePath, 'utf8')) as Record<string, unknown> | null;
      read = readUsersSection(doc?.users, config.filePath);
    } catch (err) {
      throw new ReplyError(`ERR ${(err as Error).message}; no user was changed`);
    }
    for (const gone of replaceUsers(read, config)) closeSessionsOf(ctx, gone);
    log.notice(`ACL LOAD: ${users.all().length} user(s) from ${config.filePath}`);
    w.ok();
  },
  'acl|save': (ctx, _args, w) => {
    saveUsers(ctx.server.config);
    w.ok();
  },
  'acl|help': (_ctx, _args, w) => writeHelp(w, aclHelp),
};

// --- the unauthenticated deadline ------------------------------------------------------------

let deadlineTimer: NodeJS.Timeout | null = null;

/** Every second, closes connections that have not authenticated within `auth-timeout` seconds. */
function watchDeadlines(server: Services): void {
  deadlineTimer = setInterval(() => {
    const timeout = server.config.num('auth-timeout');
    if (timeout === 0) return;
    const cutoff = Date.now() - timeout * 1000;
    for (const c of server.clients.values()) {
      if (c.authenticated || c.createdAt > cutoff || c.closed) continue;
      stats.unauthenticatedTimedOut++;
      log.verbose(`client ${c.id} (${c.addr}) closed: not authenticated within ${timeout} s (auth-timeout)`);
      c.kill();
    }
  }, 250);
  deadlineTimer.unref();
}

export const accessFamily: Family = {
  name: 'access',
  handlers,
  options,
  configSections: ['users'],
  start(config) {
    replaceUsers(readUsersSection(config.file.users, config.filePath), config);
    checkProtectedMode(config);
    logMaxLen = config.num('acllog-max-len');
  },
  configChanged(config) {
    if (config.str('requirepass') !== appliedRequirepass) applyRequirepass(config);
    logMaxLen = config.num('acllog-max-len');
  },
  serve: watchDeadlines,
  async stop() {
    if (deadlineTimer) clearInterval(deadlineTimer);
  },
  resetStats() {
    for (const k of Object.keys(stats) as (keyof typeof stats)[]) stats[k] = 0;
  },
  info: [
    {
      name: 'access',
      lines: (server) => {
        let waiting = 0;
        for (const c of server.clients.values()) if (!c.authenticated) waiting++;
        return [
          `users:${users.all().length}`,
          `acl_access_denied_auth:${stats.deniedAuth}`,
          `acl_access_denied_cmd:${stats.deniedCommand}`,
          `acl_access_denied_key:${stats.deniedKey}`,
          `auth_failures_rate_limited:${stats.authRateLimited}`,
          `unauthenticated_clients:${waiting}`,
          `unauthenticated_clients_evicted:${stats.unauthenticatedEvicted}`,
          `unauthenticated_clients_timed_out:${stats.unauthenticatedTimedOut}`,
        ];
      },
    },
  ],
  metrics(): MetricFamily[] {
    const counter = (name: string, help: string, value: number): MetricFamily => ({ name, help, type: 'counter', samples: [{ value }] });
    return [
      counter('sluice_auth_failures_total', 'Failed AUTH and HELLO AUTH attempts (wrong password, unknown or disabled user).', stats.deniedAuth),
      counter('sluice_auth_rate_limited_total', 'AUTH attempts refused because their address passed auth-failures-per-minute.', stats.authRateLimited),
      { name: 'sluice_acl_denied_total', help: 'Commands refused with NOPERM, by reason.', type: 'counter', samples: [
        { labels: { reason: 'command' }, value: stats.deniedCommand },
        { labels: { reason: 'key' }, value: stats.deniedKey },
      ] },
      counter('sluice_unauthenticated_evicted_total', 'Connections closed, oldest first, because maxclients-unauthenticated were waiting to authenticate.', stats.unauthenticatedEvicted),
      counter('sluice_unauthenticated_timed_out_total', 'Connections closed for not authenticating within auth-timeout.', stats.unauthenticatedTimedOut),
    ];
  },
};
