import { command, subcommand, type ArgSpec, type CommandSpec } from '../command-table';

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
  { name: 'limit-spec', type: 'oneof', arguments: [
    { name: 'policy', type: 'string', token: 'POLICY' },
    { name: 'inline', type: 'block', arguments: inlineLimit },
  ] },
  { name: 'c', type: 'integer', token: 'COST', optional: true },
];

const policySubs: CommandSpec[] = [
  subcommand('rl.policy', {
    name: 'set', arity: -6, flags: ['write', 'denyoom'], acl: ['write', 'slow'],
    summary: 'Declares or replaces a named limit. Replies OK.',
    arguments: [{ name: 'name', type: 'string' }, ...inlineLimit],
  }),
  subcommand('rl.policy', {
    name: 'get', arity: 3, flags: ['readonly', 'fast'], acl: ['read', 'fast'],
    summary: 'Returns a policy as limit, per, burst, algo (a map in RESP3), or nil.',
    arguments: [{ name: 'name', type: 'string' }],
  }),
  subcommand('rl.policy', {
    name: 'del', arity: 3, flags: ['write', 'fast'], acl: ['write', 'fast'],
    summary: 'Deletes a policy: 1 if it existed, else 0.',
    arguments: [{ name: 'name', type: 'string' }],
  }),
  subcommand('rl.policy', { name: 'list', arity: 2, flags: ['readonly'], acl: ['read', 'slow'], summary: 'Lists policy names, sorted.' }),
  subcommand('rl.policy', { name: 'help', arity: 2, flags: ['loading', 'stale'], acl: ['slow'], summary: 'Lists the RL.POLICY subcommands.' }),
];

export const limitsCommands: CommandSpec[] = [
  command({
    name: 'cl.throttle', arity: -5, flags: ['write', 'denyoom', 'fast'], group: 'limits', since: SINCE, keys: KEY1, acl: ['write', 'fast'],
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
    summary: 'Takes COST tokens (default 1) if they fit: replies [allowed 1|0, limit, remaining, retry_after_ms (-1 if allowed or never), reset_after_ms].',
    complexity: 'O(1)',
    arguments: limitArgs,
  }),
  command({
    name: 'rl.peek', arity: -4, flags: ['readonly', 'fast'], group: 'limits', since: SINCE, keys: KEY1, acl: ['read', 'fast'],
    summary: 'Like RL.HIT but consumes nothing: [would_allow 1|0, limit, remaining now, retry_after_ms, reset_after_ms].',
    complexity: 'O(1)',
    arguments: limitArgs,
  }),
  command({
    name: 'rl.all', arity: -4, flags: ['write', 'denyoom'], group: 'limits', since: SINCE, keys: { first: 2, last: -1, step: 3 }, acl: ['write', 'slow'],
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
    summary: 'Charges (delta > 0, may go into debt) or refunds (delta < 0, never past full) without refusing; replies the tokens remaining (negative: in debt).',
    complexity: 'O(1)',
    arguments: [{ name: 'key', type: 'key' }, { name: 'policy', type: 'string' }, { name: 'delta', type: 'integer' }],
  }),
  command({
    name: 'rl.reset', arity: -2, flags: ['write', 'fast'], group: 'limits', since: SINCE, keys: { first: 1, last: -1, step: 1 }, acl: ['write', 'fast'],
    summary: 'Forgets the keys\' limiter state (back to full); replies how many held state.',
    complexity: 'O(N) for N keys',
    arguments: [{ name: 'key', type: 'key', multiple: true }],
  }),
  command({
    name: 'rl.policy', arity: -2, flags: [], group: 'limits', since: SINCE, acl: ['slow'],
    summary: 'Named limits: SET, GET, DEL, LIST.', subcommands: policySubs,
  }),
];
