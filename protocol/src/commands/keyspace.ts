import { command, reply, subcommand, type ArgSpec, type CommandSpec, type ReplySpec } from '../command-table';

const { field } = reply;

/**
 * The keyspace, in Redis's words, over every kind of state Sluice keeps (limiter keys of each
 * algorithm, lease keys). See docs/keyspace.md for what TYPE, PTTL and EXPIRE mean for them.
 */

const SINCE = '0.1.0';
const GROUP = 'generic';
const KEY1 = { first: 1, last: 1, step: 1 };
const ALL_KEYS = { first: 1, last: -1, step: 1 };
const SUB_KEY = { first: 2, last: 2, step: 1 };
const key: ArgSpec = { name: 'key', type: 'key' };
const keys: ArgSpec = { name: 'key', type: 'key', multiple: true };

const expireCondition: ArgSpec = {
  name: 'condition', type: 'oneof', optional: true,
  arguments: [
    { name: 'nx', type: 'pure-token', token: 'NX' },
    { name: 'xx', type: 'pure-token', token: 'XX' },
    { name: 'gt', type: 'pure-token', token: 'GT' },
    { name: 'lt', type: 'pure-token', token: 'LT' },
  ],
};

const aKey = reply.bulk('A key.');
const helpLines: ReplySpec = reply.array('Help lines.', { type: 'simple', description: 'A line of help.' });
const missingIsNil = (r: ReplySpec): ReplySpec => ({ ...r, none: 'nil' });

const objectSubs: CommandSpec[] = [
  subcommand('object', {
    name: 'encoding', arity: 3, flags: ['readonly'], keys: SUB_KEY, acl: ['keyspace', 'read', 'slow'],
    reply: reply.bulk('inline, boxed or leases; nil if the key is missing.', 'nil'),
    summary: 'How the key is stored: `inline` (keys of up to 32 bytes live in the table slot), `boxed` (longer keys), or `leases` for a lease key; nil if missing.',
    complexity: 'O(1)', arguments: [key],
  }),
  subcommand('object', {
    name: 'refcount', arity: 3, flags: ['readonly'], keys: SUB_KEY, acl: ['keyspace', 'read', 'slow'],
    reply: missingIsNil(reply.integer('1; nil if the key is missing.')),
    summary: 'Always 1 for an existing key (state is never shared); nil if missing.', complexity: 'O(1)', arguments: [key],
  }),
  subcommand('object', { name: 'help', arity: 2, flags: ['loading', 'stale'], acl: ['keyspace', 'slow'], reply: helpLines, summary: 'Lists the OBJECT subcommands.' }),
];

const memorySubs: CommandSpec[] = [
  subcommand('memory', {
    name: 'usage', arity: -3, flags: ['readonly'], keys: SUB_KEY, acl: ['read', 'slow'],
    reply: missingIsNil(reply.integer('Bytes; nil if the key is missing.')),
    summary: "Estimated bytes the key's state takes (table slot or entry, key bytes, algorithm state; see docs/keyspace.md); nil if missing.",
    complexity: 'O(1)',
    arguments: [key, { name: 'count', type: 'integer', token: 'SAMPLES', optional: true }],
  }),
  subcommand('memory', { name: 'help', arity: 2, flags: ['loading', 'stale'], acl: ['slow'], reply: helpLines, summary: 'Lists the MEMORY subcommands.' }),
];

export const keyspaceCommands: CommandSpec[] = [
  command({
    name: 'scan', arity: -2, flags: ['readonly'], group: GROUP, since: SINCE, acl: ['keyspace', 'read', 'slow'],
    reply: reply.tuple('The cursor to continue from and the keys of this step.', [field('cursor', 'bulk', 'Where to continue; "0" when the scan is complete.'), field('keys', 'array', 'The keys found in this step.', { items: aKey })]),
    summary: 'Iterates over the keys in bounded steps: replies [next cursor (0 when done), keys]. Every key present for the whole scan is returned.',
    complexity: 'O(1) for every call. O(N) for a complete iteration.',
    arguments: [
      { name: 'cursor', type: 'integer' },
      { name: 'pattern', type: 'pattern', token: 'MATCH', optional: true },
      { name: 'count', type: 'integer', token: 'COUNT', optional: true },
      { name: 'type', type: 'string', token: 'TYPE', optional: true },
    ],
  }),
  command({
    name: 'keys', arity: 2, flags: ['readonly'], group: GROUP, since: SINCE, acl: ['keyspace', 'read', 'slow', 'dangerous'],
    reply: reply.array('Every matching key.', aKey),
    summary: 'Returns every key matching the pattern (walks the whole keyspace at once: use SCAN on a busy server).',
    complexity: 'O(N) with N being the number of keys', arguments: [{ name: 'pattern', type: 'pattern' }],
  }),
  command({
    name: 'del', arity: -2, flags: ['write'], group: GROUP, since: SINCE, keys: ALL_KEYS, acl: ['keyspace', 'write', 'slow'],
    reply: reply.integer('How many of the keys existed (and are gone now).'),
    summary: 'Removes the keys (what RL.RESET does, and every lease on them): returns how many existed.',
    complexity: 'O(N) for N keys', arguments: [keys],
  }),
  command({
    name: 'unlink', arity: -2, flags: ['write', 'fast'], group: GROUP, since: SINCE, keys: ALL_KEYS, acl: ['keyspace', 'write', 'fast'],
    reply: reply.integer('How many of the keys existed (and are gone now).'),
    summary: 'Same as DEL (nothing is large enough to free in the background).',
    complexity: 'O(N) for N keys', arguments: [keys],
  }),
  command({
    name: 'exists', arity: -2, flags: ['readonly', 'fast'], group: GROUP, since: SINCE, keys: ALL_KEYS, acl: ['keyspace', 'read', 'fast'],
    reply: reply.integer('How many of the named keys exist, repeats included.'),
    summary: 'Returns how many of the keys exist (a key named twice counts twice).',
    complexity: 'O(N) for N keys', arguments: [keys],
  }),
  command({
    name: 'type', arity: 2, flags: ['readonly', 'fast'], group: GROUP, since: SINCE, keys: KEY1, acl: ['keyspace', 'read', 'fast'],
    reply: { type: 'simple', description: 'gcra, sliding, fixed, lease, or none.' },
    summary: 'The kind of state the key holds: gcra, sliding, fixed or lease (the first of these it holds), or none.',
    complexity: 'O(1)', arguments: [key],
  }),
  command({
    name: 'ttl', arity: 2, flags: ['readonly', 'fast'], group: GROUP, since: SINCE, keys: KEY1, acl: ['keyspace', 'read', 'fast'],
    reply: reply.integer('Seconds until the key is forgotten, or -2 if it is missing.'),
    summary: 'Seconds until the key is forgotten (its limiter back to full, its last lease expired); -2 if missing.',
    complexity: 'O(1)', arguments: [key],
  }),
  command({
    name: 'pttl', arity: 2, flags: ['readonly', 'fast'], group: GROUP, since: SINCE, keys: KEY1, acl: ['keyspace', 'read', 'fast'],
    reply: reply.integer('Milliseconds until the key is forgotten, or -2 if it is missing.'),
    summary: 'Milliseconds until the key is forgotten (its limiter back to full, its last lease expired); -2 if missing.',
    complexity: 'O(1)', arguments: [key],
  }),
  command({
    name: 'expire', arity: -3, flags: ['write', 'fast'], group: GROUP, since: SINCE, keys: KEY1, acl: ['keyspace', 'write', 'fast'],
    reply: reply.boolean('1 if the key is now forgotten sooner, 0 if not or if it is missing.'),
    summary: 'Makes the key forgotten within the given seconds (a limiter is full again by then): 1 if that is sooner than it would be, else 0.',
    complexity: 'O(1)', arguments: [key, { name: 'seconds', type: 'integer' }, expireCondition],
  }),
  command({
    name: 'pexpire', arity: -3, flags: ['write', 'fast'], group: GROUP, since: SINCE, keys: KEY1, acl: ['keyspace', 'write', 'fast'],
    reply: reply.boolean('1 if the key is now forgotten sooner, 0 if not or if it is missing.'),
    summary: 'Makes the key forgotten within the given milliseconds (a limiter is full again by then): 1 if that is sooner than it would be, else 0.',
    complexity: 'O(1)', arguments: [key, { name: 'milliseconds', type: 'integer' }, expireCondition],
  }),
  command({
    name: 'persist', arity: 2, flags: ['write', 'fast'], group: GROUP, since: SINCE, keys: KEY1, acl: ['keyspace', 'write', 'fast'],
    reply: reply.boolean('0: the key is missing (an existing key gets an error).'),
    summary: 'Refused for an existing key (limiter and lease state always ends); 0 if the key is missing.',
    complexity: 'O(1)', arguments: [key],
  }),
  command({ name: 'object', arity: -2, flags: [], group: GROUP, since: SINCE, acl: ['slow'], summary: 'Inspects how a key is stored: ENCODING, REFCOUNT.', subcommands: objectSubs }),
  command({ name: 'memory', arity: -2, flags: [], group: 'server', since: SINCE, acl: ['slow'], summary: 'Memory introspection: USAGE.', subcommands: memorySubs }),
];
