import { command, reply, subcommand, type ArgSpec, type CommandSpec, type ReplySpec } from '../command-table';

const { field } = reply;

/** Rate limits: redis-cell's CL.THROTTLE and the RL.* family (see docs/limits.md). */

const SINCE = '0.1.0';
const KEY1 = { first: 1, last: 1, step: 1 };

/** `LIMIT n PER ms [BURST b] [ALGO gcra|sliding|fixed]`: a limit given inline or to RL.POLICY SET. */
const inlineLimit: ArgSpec[] = [
  { name: 'n', type: 'integer', token: 'LIMIT' },
  { name: 'ms', type: 'integer', token: 'PER' },
  { name: 'b', type: 'integer', token: 'BURST', optional: true },
  { name: 'algo', type: 'oneof', token: 'ALGO', optional: true, arguments: [
    { name: 'gcra', type: 'pure-token', token: 'gcra' },
    { name: 'sliding', type: 'pure-token', token: 'sliding' },
    { name: 'fixed', type: 'pure-token', token: 'fixed' },
  ] },
];

/** `POLICY name | LIMIT n PER ms [BURST b] [ALGO gcra|sliding|fixed]`, then `[COST c]`. */
const limitArgs: ArgSpec[] = [
  { name: 'key', type: 'key' },
  // The inline form first: redis-cli 7.0 drops one word of its hint per word typed, so only the
  // first alternative's hints come out right there (docs/redis-compat.md); LIMIT is the form
  // the README and docs type.
  { name: 'limit-spec', type: 'oneof', arguments: [
    { name: 'inline', type: 'block', arguments: inlineLimit },
    { name: 'policy', type: 'string', token: 'POLICY' },
  ] },
  { name: 'c', type: 'integer', token: 'COST', optional: true },
];

/** RL.HIT's and RL.PEEK's reply: one shape whether admitted or refused. */
const hitReply = (allowed: string): ReplySpec =>
  reply.tuple('The outcome and the key\'s state after it.', [
    field('allowed', 'boolean', allowed),
    field('limit', 'integer', 'The capacity `remaining` counts against (BURST for gcra, LIMIT for the windows).'),
    field('remaining', 'integer', 'Tokens left after this call.'),
    field('retry_after_ms', 'integer', 'Milliseconds until the same call would be admitted.', { none: -1 }),
    field('reset_after_ms', 'integer', 'Milliseconds until the key is full again.'),
  ]);

const policySubs: CommandSpec[] = [
  subcommand('rl.policy', {
    name: 'set', arity: -6, flags: ['write', 'denyoom'], acl: ['write', 'slow'],
    reply: reply.ok(),
    summary: 'Declares or replaces a named limit. Replies OK.',
    arguments: [{ name: 'name', type: 'string' }, ...inlineLimit],
  }),
  subcommand('rl.policy', {
    name: 'get', arity: 3, flags: ['readonly', 'fast'], acl: ['read', 'fast'],
    reply: reply.map('The policy, or nil when there is none by that name.', [
      field('limit', 'integer', 'Tokens per window (LIMIT).'),
      field('per', 'integer', 'The window in milliseconds (PER).', { client: 'perMs' }),
      field('burst', 'integer', 'Most tokens a gcra bucket holds (BURST); nil for sliding and fixed windows, which have none.', { none: 'nil' }),
      field('algo', 'bulk', 'gcra, sliding or fixed.'),
    ], 'nil'),
    summary: 'Returns a policy as limit, per, burst, algo (a map in RESP3), or nil.',
    arguments: [{ name: 'name', type: 'string' }],
  }),
  subcommand('rl.policy', {
    name: 'del', arity: 3, flags: ['write', 'fast'], acl: ['write', 'fast'],
    reply: reply.boolean('1 if the policy existed, else 0.'),
    summary: 'Deletes a policy: 1 if it existed, else 0.',
    arguments: [{ name: 'name', type: 'string' }],
  }),
  subcommand('rl.policy', { name: 'list', arity: 2, flags: ['readonly'], acl: ['read', 'slow'], reply: reply.array('Policy names, sorted.', reply.bulk('A policy name.')),
    summary: 'Lists policy names, sorted.' }),
  subcommand('rl.policy', { name: 'help', arity: 2, flags: ['loading', 'stale'], acl: ['slow'], reply: reply.array('Help lines.', { type: 'simple', description: 'A line of help.' }),
    summary: 'Lists the RL.POLICY subcommands.' }),
];

export const limitsCommands: CommandSpec[] = [
  command({
    name: 'cl.throttle', arity: -5, flags: ['write', 'denyoom', 'fast'], group: 'limits', since: SINCE, keys: KEY1, acl: ['write', 'fast'],
    reply: reply.tuple('redis-cell\'s reply, durations in whole seconds.', [
      field('limited', 'boolean', '1 if refused, 0 if admitted.'),
      field('limit', 'integer', 'max_burst + 1.'),
      field('remaining', 'integer', 'Requests left in the burst.'),
      field('retry_after_seconds', 'integer', 'Seconds until the request would be admitted.', { none: -1 }),
      field('reset_after_seconds', 'integer', 'Seconds until the limit is full again.'),
    ]),
    summary: 'redis-cell drop-in GCRA: replies [limited 0|1, limit = max_burst+1, remaining, retry_after s (-1 if allowed or never), reset_after s].',
    complexity: 'O(1)',
    arguments: [
      { name: 'key', type: 'key' },
      { name: 'max_burst', type: 'integer' },
      { name: 'count', type: 'integer' },
      { name: 'period', type: 'integer' },
      { name: 'quantity', type: 'integer', optional: true },
    ],
  }),
  command({
    name: 'rl.hit', arity: -4, flags: ['write', 'denyoom', 'fast'], group: 'limits', since: SINCE, keys: KEY1, acl: ['write', 'fast'],
    reply: hitReply('1 if the cost was taken, 0 if refused (nothing taken).'),
    summary: 'Takes COST tokens (default 1) if they fit: replies [allowed 1|0, limit, remaining, retry_after_ms (-1 if allowed or never), reset_after_ms].',
    complexity: 'O(1)',
    arguments: limitArgs,
  }),
  command({
    name: 'rl.peek', arity: -4, flags: ['readonly', 'fast'], group: 'limits', since: SINCE, keys: KEY1, acl: ['read', 'fast'],
    reply: hitReply('1 if RL.HIT would take the cost now (nothing is taken).'),
    summary: 'Like RL.HIT but consumes nothing: [would_allow 1|0, limit, remaining now, retry_after_ms, reset_after_ms].',
    complexity: 'O(1)',
    arguments: limitArgs,
  }),
  command({
    name: 'rl.all', arity: -4, flags: ['write', 'denyoom'], group: 'limits', since: SINCE, keys: { first: 2, last: -1, step: 3 }, acl: ['write', 'slow'],
    reply: reply.tuple('All or nothing: the outcome, then every key\'s remaining tokens.', [
      field('allowed', 'boolean', '1 if every key took its cost, 0 if none did.'),
      field('refused_index', 'integer', 'Index (0-based, in the order given) of the first key that refused.', { none: -1 }),
      field('retry_after_ms', 'integer', 'Milliseconds until that key would admit its cost.', { none: -1 }),
    ], field('remaining', 'integer', 'Tokens left on each key, in the order given.')),
    summary: 'All or nothing over several keys: replies [allowed 1|0, index of the first refusing key (0-based) or -1, retry_after_ms or -1, remaining of each key...].',
    complexity: 'O(N) for N keys',
    arguments: [
      { name: 'numkeys', type: 'integer' },
      { name: 'data', type: 'block', multiple: true, arguments: [
        { name: 'key', type: 'key' }, { name: 'policy', type: 'string' }, { name: 'cost', type: 'integer' },
      ] },
    ],
  }),
  command({
    name: 'rl.adjust', arity: 4, flags: ['write', 'denyoom', 'fast'], group: 'limits', since: SINCE, keys: KEY1, acl: ['write', 'fast'],
    reply: reply.integer('Tokens remaining after the change (negative: in debt).'),
    summary: 'Charges (delta > 0, may go into debt) or refunds (delta < 0, never past full) without refusing; replies the tokens remaining (negative: in debt).',
    complexity: 'O(1)',
    arguments: [{ name: 'key', type: 'key' }, { name: 'policy', type: 'string' }, { name: 'delta', type: 'integer' }],
  }),
  command({
    name: 'rl.reset', arity: -2, flags: ['write', 'fast'], group: 'limits', since: SINCE, keys: { first: 1, last: -1, step: 1 }, acl: ['write', 'fast'],
    reply: reply.integer('How many of the keys held state.'),
    summary: 'Forgets the keys\' limiter state (back to full); replies how many held state.',
    complexity: 'O(N) for N keys',
    arguments: [{ name: 'key', type: 'key', multiple: true }],
  }),
  command({
    name: 'rl.policy', arity: -2, flags: [], group: 'limits', since: SINCE, acl: ['slow'],
    summary: 'Named limits: SET, GET, DEL, LIST.', subcommands: policySubs,
  }),
];
