import { command, reply, subcommand, type CommandSpec, type ReplySpec } from '../command-table';

const { field } = reply;

/** Access control: Redis 7's ACL command (users, their passwords, commands and key patterns). */

const SINCE = '0.1.0';
const ADMIN = { flags: ['admin', 'noscript', 'loading', 'stale'], acl: ['admin', 'slow', 'dangerous'] } satisfies Partial<CommandSpec>;
const INFO = { flags: ['noscript', 'loading', 'stale'], acl: ['slow'] } satisfies Partial<CommandSpec>;
const names = (description: string, item: string): ReplySpec => reply.array(description, reply.bulk(item));

const aclSubs: CommandSpec[] = [
  subcommand('acl', {
    name: 'cat', arity: -2, ...INFO,
    reply: names('Every category, or the commands in the one named.', 'A category or a command name (`client|list`).'),
    summary: 'Lists the ACL categories, or the commands of one category.',
    arguments: [{ name: 'category', type: 'string', optional: true }],
  }),
  subcommand('acl', {
    name: 'deluser', arity: -3, ...ADMIN,
    reply: reply.integer('How many of the named users existed and were deleted.'),
    summary: "Deletes users and closes their connections. The 'default' user cannot be deleted.",
    arguments: [{ name: 'username', type: 'string', multiple: true }],
  }),
  subcommand('acl', {
    name: 'dryrun', arity: -4, ...ADMIN,
    reply: { type: 'oneof', description: 'OK if the user may run the command, else why not.', options: [reply.ok('The user may run it.'), reply.bulk('The reason it would be refused.')] },
    summary: 'Says whether a user may run a command with the given arguments, without running it.',
    arguments: [{ name: 'username', type: 'string' }, { name: 'command', type: 'string' }, { name: 'arg', type: 'string', optional: true, multiple: true }],
  }),
  subcommand('acl', {
    name: 'genpass', arity: -2, ...INFO,
    reply: reply.bulk('A random password in hexadecimal.'),
    summary: 'Returns a random password (256 bits, or the number of bits given), as hexadecimal.',
    arguments: [{ name: 'bits', type: 'integer', optional: true }],
  }),
  subcommand('acl', {
    name: 'getuser', arity: 3, ...ADMIN,
    reply: reply.map('The user, or nil when there is none by that name.', [
      field('flags', 'array', 'on or off, and nopass.', { items: reply.bulk('A flag.') }),
      field('passwords', 'array', 'SHA-256 hashes of the passwords, in hexadecimal.', { items: reply.bulk('A hash.') }),
      field('commands', 'bulk', 'The command rules (`+@all -flushall`).'),
      field('keys', 'bulk', 'The key patterns (`~tenant-a:*`).'),
      field('channels', 'bulk', 'The channel patterns (Sluice has no channels; kept for Redis tools).'),
      field('selectors', 'array', 'Always empty: Sluice has no selectors.', { items: { type: 'map', description: 'A selector.' } }),
    ], 'nil'),
    summary: "Describes a user: flags, password hashes, commands, keys.",
    arguments: [{ name: 'username', type: 'string' }],
  }),
  subcommand('acl', {
    name: 'list', arity: 2, ...ADMIN,
    reply: names('One line per user, in the rule syntax (`user default on nopass ~* &* +@all`).', 'A user.'),
    summary: 'Lists the users as ACL rules.',
  }),
  subcommand('acl', {
    name: 'log', arity: -2, ...ADMIN,
    reply: { type: 'oneof', description: 'Recent refusals, newest first, or OK after RESET.', options: [
      reply.array('The entries.', reply.map('One refusal (repeats of the same one are counted).', [
        field('count', 'integer', 'How many times it happened.'),
        field('reason', 'bulk', 'auth, command or key.'),
        field('context', 'bulk', 'toplevel or multi.'),
        field('object', 'bulk', 'The command, key or AUTH.'),
        field('username', 'bulk', 'The user.'),
        field('age-seconds', 'double', 'Seconds since the last time.'),
        field('client-info', 'bulk', 'The client, as CLIENT INFO describes it.'),
        field('entry-id', 'integer', 'A number that identifies the entry.'),
        field('timestamp-created', 'integer', 'Unix ms of the first time.'),
        field('timestamp-last-updated', 'integer', 'Unix ms of the last time.'),
      ])),
      reply.ok('After RESET.'),
    ] },
    summary: 'Lists recent refused commands, keys and AUTHs (10, or the count given); RESET clears it.',
    arguments: [{ name: 'operation', type: 'oneof', optional: true, arguments: [{ name: 'count', type: 'integer' }, { name: 'reset', type: 'pure-token', token: 'RESET' }] }],
  }),
  subcommand('acl', {
    name: 'load', arity: 2, ...ADMIN,
    reply: reply.ok(), summary: "Reloads the users from the config file's `users:` section: all of them or, at the first bad rule, none. Connections of users no longer there are closed.",
  }),
  subcommand('acl', {
    name: 'save', arity: 2, ...ADMIN,
    reply: reply.ok(), summary: "Writes the users back to the config file's `users:` section (other settings and comments are kept).",
  }),
  subcommand('acl', {
    name: 'setuser', arity: -3, ...ADMIN,
    reply: reply.ok(), summary: 'Creates or changes a user with Redis rules (`on >password +@read ~tenant-a:*`); all rules apply or none.',
    arguments: [{ name: 'username', type: 'string' }, { name: 'rule', type: 'string', optional: true, multiple: true }],
  }),
  subcommand('acl', { name: 'users', arity: 2, ...ADMIN, reply: names('User names, sorted.', 'A user name.'), summary: 'Lists user names.' }),
  subcommand('acl', { name: 'whoami', arity: 2, ...INFO, reply: reply.bulk('The user name.'), summary: 'Returns the user this connection is authenticated as.' }),
  subcommand('acl', { name: 'help', arity: 2, flags: ['loading', 'stale'], acl: ['slow'], reply: reply.array('Help lines.', { type: 'simple', description: 'A line of help.' }), summary: 'Lists the ACL subcommands.' }),
];

export const accessCommands: CommandSpec[] = [
  command({ name: 'acl', arity: -2, flags: [], group: 'server', since: SINCE, acl: ['slow'], summary: 'Access control: users, their commands and keys (SETUSER, GETUSER, LIST, CAT, DRYRUN, WHOAMI, LOAD, SAVE...).', subcommands: aclSubs }),
];
