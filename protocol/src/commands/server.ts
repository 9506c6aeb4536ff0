import { command, reply, subcommand, type CommandSpec, type ReplySpec } from '../command-table';

const { field } = reply;
const helpLines: ReplySpec = reply.array('Help lines.', { type: 'simple', description: 'A line of help.' });
const commandInfo: ReplySpec = reply.array('One entry per command: [name, arity, flags, first key, last key, step, ACL categories, tips, key specs, subcommands].', {
  type: 'array', description: "A command's description, as Redis 7's COMMAND INFO gives it (nil for an unknown name).", none: 'nil',
});

/** Connection and server management: what every Redis client and tool expects to find. */

const SINCE = '0.1.0';
const conn = (name: string, extra: Partial<CommandSpec> & Pick<CommandSpec, 'arity' | 'summary'>): CommandSpec =>
  command({ name, group: 'connection', since: SINCE, flags: ['fast', 'loading', 'stale'], acl: ['fast', 'connection'], ...extra });
const server = (name: string, extra: Partial<CommandSpec> & Pick<CommandSpec, 'arity' | 'summary'>): CommandSpec =>
  command({ name, group: 'server', since: SINCE, flags: ['loading', 'stale'], acl: [], ...extra });

const clientSubs: CommandSpec[] = [
  subcommand('client', { name: 'id', arity: 2, flags: ['loading', 'stale'], acl: ['slow', 'connection'], reply: reply.integer('The connection id.'), summary: "Returns the connection's unique id." }),
  subcommand('client', { name: 'getname', arity: 2, flags: ['loading', 'stale'], acl: ['slow', 'connection'], reply: reply.bulk('The name, or nil when none was set.', 'nil'), summary: "Returns the connection's name." }),
  subcommand('client', {
    name: 'setname', arity: 3, flags: ['loading', 'stale'], acl: ['slow', 'connection'],
    reply: reply.ok(), summary: "Sets the connection's name (no spaces).",
    arguments: [{ name: 'connection-name', type: 'string' }],
  }),
  subcommand('client', {
    name: 'setinfo', arity: 4, flags: ['loading', 'stale'], acl: ['slow', 'connection'],
    reply: reply.ok(), summary: 'Records the client library name or version (shown by CLIENT LIST).',
    arguments: [{ name: 'attr', type: 'oneof', arguments: [
      { name: 'libname', type: 'string', token: 'LIB-NAME' },
      { name: 'libver', type: 'string', token: 'LIB-VER' },
    ] }],
  }),
  subcommand('client', {
    name: 'list', arity: -2, flags: ['admin', 'loading', 'stale'], acl: ['admin', 'slow', 'dangerous', 'connection'],
    reply: reply.bulk('One CLIENT INFO line per connection.'), summary: 'Lists open connections.',
    arguments: [{ name: 'client-id', type: 'integer', token: 'ID', optional: true, multiple: true }],
  }),
  subcommand('client', { name: 'info', arity: 2, flags: ['loading', 'stale'], acl: ['slow', 'connection'], reply: reply.bulk('This connection as a CLIENT LIST line.'), summary: 'Describes this connection, as a CLIENT LIST line.' }),
  subcommand('client', {
    name: 'kill', arity: -3, flags: ['admin', 'loading', 'stale'], acl: ['admin', 'slow', 'dangerous', 'connection'],
    reply: { type: 'oneof', description: 'OK for the old form (CLIENT KILL ip:port); with filters, how many were closed.', options: [reply.ok(), reply.integer('Connections closed.')] }, summary: 'Closes connections by address or filter.',
    arguments: [{ name: 'filter', type: 'oneof', arguments: [
      { name: 'ip:port', type: 'string' },
      { name: 'client-id', type: 'integer', token: 'ID' },
      { name: 'ip:port', type: 'string', token: 'ADDR' },
      { name: 'ip:port', type: 'string', token: 'LADDR' },
      { name: 'yes/no', type: 'string', token: 'SKIPME' },
    ] }],
  }),
  subcommand('client', { name: 'help', arity: 2, flags: ['loading', 'stale'], acl: ['slow', 'connection'], reply: helpLines, summary: 'Lists the CLIENT subcommands.' }),
];

const commandSubs: CommandSpec[] = [
  subcommand('command', { name: 'count', arity: 2, flags: ['loading', 'stale'], acl: ['slow', 'connection'], reply: reply.integer('How many top-level commands there are.'), summary: 'Returns how many commands there are.' }),
  subcommand('command', {
    name: 'info', arity: -2, flags: ['loading', 'stale'], acl: ['slow', 'connection'],
    reply: commandInfo, summary: 'Describes commands (all when none is named).',
    arguments: [{ name: 'command-name', type: 'string', optional: true, multiple: true }],
  }),
  subcommand('command', {
    name: 'docs', arity: -2, flags: ['loading', 'stale'], acl: ['slow', 'connection'],
    reply: { type: 'map', description: "Command name -> its documentation.", items: { type: 'map', description: 'summary, since, group, complexity, arguments, subcommands (Redis 7\'s COMMAND DOCS fields).' } }, summary: "Returns commands' documentation: summary, group, arguments (redis-cli builds its hints from it).",
    arguments: [{ name: 'command-name', type: 'string', optional: true, multiple: true }],
  }),
  subcommand('command', {
    name: 'list', arity: -2, flags: ['loading', 'stale'], acl: ['slow', 'connection'],
    reply: reply.array('Command names (subcommands as parent|sub).', reply.bulk('A command name.')), summary: 'Lists command names, optionally filtered.',
    arguments: [{ name: 'filterby', type: 'oneof', optional: true, token: 'FILTERBY', arguments: [
      { name: 'module-name', type: 'string', token: 'MODULE' },
      { name: 'category', type: 'string', token: 'ACLCAT' },
      { name: 'pattern', type: 'pattern', token: 'PATTERN' },
    ] }],
  }),
  subcommand('command', {
    name: 'getkeys', arity: -3, flags: ['loading', 'stale'], acl: ['slow', 'connection'],
    reply: reply.array('The key arguments.', reply.bulk('A key.')), summary: 'Extracts the key names from a full command.',
    arguments: [{ name: 'command', type: 'string' }, { name: 'arg', type: 'string', optional: true, multiple: true }],
  }),
  subcommand('command', { name: 'help', arity: 2, flags: ['loading', 'stale'], acl: ['slow', 'connection'], reply: helpLines, summary: 'Lists the COMMAND subcommands.' }),
];

const configSubs: CommandSpec[] = [
  subcommand('config', {
    name: 'get', arity: -3, flags: ['admin', 'noscript', 'loading', 'stale'], acl: ['admin', 'slow', 'dangerous'],
    reply: { type: 'map', description: 'Parameter name -> value, for every parameter a pattern matches.', items: reply.bulk('The value.') }, summary: 'Returns configuration parameters matching glob patterns.',
    arguments: [{ name: 'parameter', type: 'pattern', multiple: true }],
  }),
  subcommand('config', {
    name: 'set', arity: -4, flags: ['admin', 'noscript', 'loading', 'stale'], acl: ['admin', 'slow', 'dangerous'],
    reply: reply.ok(), summary: 'Changes configuration parameters at run time (those that can change without a restart).',
    arguments: [{ name: 'data', type: 'block', multiple: true, arguments: [
      { name: 'parameter', type: 'string' }, { name: 'value', type: 'string' },
    ] }],
  }),
  subcommand('config', { name: 'resetstat', arity: 2, flags: ['admin', 'noscript', 'loading', 'stale'], acl: ['admin', 'slow', 'dangerous'], reply: reply.ok(), summary: 'Resets the statistics INFO reports.' }),
  subcommand('config', { name: 'help', arity: 2, flags: ['loading', 'stale'], acl: ['slow'], reply: helpLines, summary: 'Lists the CONFIG subcommands.' }),
];

export const serverCommands: CommandSpec[] = [
  conn('ping', { arity: -1, reply: { type: 'oneof', description: 'PONG, or the message.', options: [{ type: 'simple', value: 'PONG', description: 'Without a message.' }, reply.bulk('The message.')] }, summary: 'Answers PONG, or echoes the message.', arguments: [{ name: 'message', type: 'string', optional: true }] }),
  conn('echo', { arity: 2, reply: reply.bulk('The message.'), summary: 'Returns the message.', arguments: [{ name: 'message', type: 'string' }] }),
  conn('hello', {
    arity: -1, flags: ['noscript', 'loading', 'stale', 'fast', 'no_auth'], acl: ['fast', 'connection'],
    reply: reply.map('Server facts.', [
      field('server', 'bulk', 'sluice'),
      field('version', 'bulk', 'The Redis version Sluice answers as.'),
      field('sluice_version', 'bulk', "Sluice's version."),
      field('proto', 'integer', 'The protocol now in use: 2 or 3.'),
      field('id', 'integer', 'The connection id.'),
      field('mode', 'bulk', 'standalone'),
      field('role', 'bulk', 'master'),
      field('modules', 'array', 'Always empty.', { items: { type: 'map', description: 'A module.' } }),
    ]), summary: 'Chooses the protocol (2 or 3), optionally authenticates and names the connection; returns server facts.',
    arguments: [{ name: 'arguments', type: 'block', optional: true, arguments: [
      { name: 'protover', type: 'integer' },
      { name: 'auth', type: 'block', optional: true, token: 'AUTH', arguments: [{ name: 'username', type: 'string' }, { name: 'password', type: 'string' }] },
      { name: 'clientname', type: 'string', optional: true, token: 'SETNAME' },
    ] }],
  }),
  conn('auth', {
    arity: -2, flags: ['noscript', 'loading', 'stale', 'fast', 'no_auth'], acl: ['fast', 'connection'],
    reply: reply.ok(), summary: 'Authenticates the connection (requirepass; the user is "default").',
    arguments: [{ name: 'username', type: 'string', optional: true }, { name: 'password', type: 'string' }],
  }),
  conn('quit', { arity: -1, flags: ['noscript', 'loading', 'stale', 'fast', 'no_auth'], reply: reply.ok('OK, then the connection closes.'), summary: 'Answers OK and closes the connection.' }),
  conn('select', { arity: 2, reply: reply.ok(), summary: 'Selects the database; Sluice has database 0 only.', arguments: [{ name: 'index', type: 'integer' }] }),
  command({ name: 'client', arity: -2, flags: [], group: 'connection', since: SINCE, acl: ['slow'], summary: 'Connection management: ID, GETNAME, SETNAME, SETINFO, LIST, INFO, KILL.', subcommands: clientSubs }),
  command({ name: 'command', arity: -1, flags: ['loading', 'stale'], group: 'server', since: SINCE, acl: ['slow', 'connection'], reply: commandInfo, summary: 'Describes the commands Sluice knows (with no subcommand: all of them).', subcommands: commandSubs }),
  command({ name: 'config', arity: -2, flags: [], group: 'server', since: SINCE, acl: ['slow'], summary: 'Reads and changes configuration: GET, SET, RESETSTAT.', subcommands: configSubs }),
  server('info', {
    arity: -1, acl: ['slow', 'dangerous'],
    reply: reply.bulk('`# Section` headers and `name:value` lines, CRLF-separated.'), summary: 'Reports server facts and statistics by section: server, clients, memory, persistence, stats, commandstats, keyspace, tokens (INFO all for every one).',
    arguments: [{ name: 'section', type: 'string', optional: true, multiple: true }],
  }),
  server('time', { arity: 1, flags: ['loading', 'stale', 'fast'], acl: ['fast'], reply: reply.tuple('The server clock.', [field('seconds', 'bulk', 'Unix time in seconds.'), field('microseconds', 'bulk', 'Microseconds into that second.')]), summary: 'Returns the server time: seconds and microseconds.' }),
  command({ name: 'dbsize', arity: 1, flags: ['readonly', 'fast'], group: 'server', since: SINCE, acl: ['keyspace', 'read', 'fast'], reply: reply.integer('Keys across all families.'), summary: 'Returns how many keys Sluice holds across all families.' }),
  server('monitor', {
    arity: 1, flags: ['admin', 'noscript', 'loading', 'stale'], acl: ['admin', 'slow', 'dangerous'],
    reply: reply.ok('OK; then one simple string per command the daemon runs, until the connection closes.'),
    summary: 'Streams every command the daemon runs, as Redis does (AUTH and HELLO are not shown).',
  }),
  command({
    name: 'flushall', arity: -1, flags: ['write'], group: 'server', since: SINCE, acl: ['keyspace', 'write', 'slow', 'dangerous'],
    reply: reply.ok(), summary: 'Removes every key of every family (limits, leases, caches).',
    arguments: [{ name: 'flush-type', type: 'oneof', optional: true, arguments: [{ name: 'async', type: 'pure-token', token: 'ASYNC' }, { name: 'sync', type: 'pure-token', token: 'SYNC' }] }],
  }),
  command({
    name: 'flushdb', arity: -1, flags: ['write'], group: 'server', since: SINCE, acl: ['keyspace', 'write', 'slow', 'dangerous'],
    reply: reply.ok(), summary: 'Same as FLUSHALL: Sluice has one database.',
    arguments: [{ name: 'flush-type', type: 'oneof', optional: true, arguments: [{ name: 'async', type: 'pure-token', token: 'ASYNC' }, { name: 'sync', type: 'pure-token', token: 'SYNC' }] }],
  }),
  server('shutdown', {
    arity: -1, flags: ['admin', 'noscript', 'loading', 'stale', 'no_multi', 'allow_busy'], acl: ['admin', 'slow', 'dangerous'],
    reply: { type: 'none', description: 'No reply: the connection closes once earlier replies are sent (an error if refused).' }, summary: 'Stops the daemon gracefully: stops accepting, answers what is in flight, exits 0.',
    arguments: [{ name: 'mode', type: 'oneof', optional: true, arguments: [{ name: 'nosave', type: 'pure-token', token: 'NOSAVE' }, { name: 'save', type: 'pure-token', token: 'SAVE' }, { name: 'now', type: 'pure-token', token: 'NOW' }, { name: 'force', type: 'pure-token', token: 'FORCE' }] }],
  }),
];
