import { command, reply, subcommand, type CommandSpec, type ReplyField } from '../command-table';

const { field } = reply;

/**
 * Deployment routing (ROUTE.*): which deployment of a model group takes a request, shared by
 * every app instance (see docs/routing.md). The group (or the lease, which carries the group's
 * hash tag) is the key, so a cluster routes every command of a group to one node.
 */

const SINCE = '0.2.0';
const GROUP = { first: 1, last: 1, step: 1 };

/** ROUTE.PICK's reply. */
const picked = reply.map('The deployment to call and the lease to settle with ROUTE.DONE.', [
  field('deployment', 'bulk', 'The deployment id (model_info.id, or the id LiteLLM derives).'),
  field('lease', 'bulk', 'The lease, `{tag}:n`, to pass to ROUTE.DONE.'),
  field('group', 'bulk', 'The group that served (after aliases and fallbacks).'),
  field('model', 'bulk', 'The provider model string (litellm_params.model).'),
  field('api_base', 'bulk', 'The deployment\'s api_base.', { none: 'nil' }),
  field('api_version', 'bulk', 'The deployment\'s api_version.', { none: 'nil' }),
  field('region', 'bulk', 'The deployment\'s region_name.', { none: 'nil' }),
  field('tokens', 'integer', 'Tokens reserved against its tpm (TOKENS, or the CHAT count).'),
  field('fallback', 'bulk', 'The group it fell back from.', { none: 'nil' }),
]);

const num = (name: string, description: string, none = false): ReplyField => field(name, 'integer', description, none ? { none: 'nil' } : {});
/** One deployment of ROUTE.LIST. */
const listed = reply.map('A deployment, its configuration and live state.', [
  field('id', 'bulk', 'The deployment id.'),
  field('model', 'bulk', 'The provider model string.'),
  field('provider', 'bulk', 'The provider (before the / of model).'),
  field('api_base', 'bulk', 'api_base.', { none: 'nil' }),
  field('api_version', 'bulk', 'api_version.', { none: 'nil' }),
  field('region', 'bulk', 'region_name.', { none: 'nil' }),
  num('order', 'Its tier (lower first).', true),
  field('weight', 'double', 'Its weight for simple-shuffle.', { none: 'nil' }),
  num('rpm', 'Requests per minute it takes.', true),
  num('tpm', 'Tokens per minute it takes.', true),
  num('max_parallel_requests', 'Most requests in flight (LiteLLM\'s rule: its own, else from rpm or tpm, else the router default).', true),
  field('tags', 'array', 'Its tags.', { items: reply.bulk('A tag.') }),
  field('input_cost_per_token', 'double', 'Cost of an input token.'),
  field('output_cost_per_token', 'double', 'Cost of an output token.'),
  num('max_input_tokens', 'Its context window, for pre-call checks.', true),
  field('max_budget', 'double', 'Budget per budget_duration.', { none: 'nil' }),
  num('budget_duration_ms', 'The budget window.', true),
  num('cooldown_time_ms', 'Its own cooldown length.', true),
  num('in_flight', 'Leases open now.'),
  num('rpm_used', 'Requests this minute.'),
  num('tpm_used', 'Tokens this minute.'),
  field('latency_ms', 'double', 'Average latency (per output token when known) over recent samples.', { none: 'nil' }),
  num('cooldown_ms', 'Cooldown left (0: none).'),
  num('fails', 'Failures this minute.'),
  field('budget_spent', 'double', 'Spent in the current budget window.'),
]);

const settingsSubs: CommandSpec[] = [
  subcommand('route.settings', { name: 'get', arity: 2, flags: ['readonly'], acl: ['read', 'slow'], reply: reply.bulk('The settings as JSON.'), summary: 'Returns the router settings as JSON (LiteLLM router_settings form).' }),
  subcommand('route.settings', {
    name: 'set', arity: 3, flags: ['write'], acl: ['write', 'slow'], reply: reply.ok(),
    summary: 'Replaces the router settings (JSON: routing_strategy, allowed_fails, cooldown_time, fallbacks, ...).',
    arguments: [{ name: 'json', type: 'string' }],
  }),
  subcommand('route.settings', { name: 'help', arity: 2, flags: ['loading', 'stale'], acl: ['slow'], reply: reply.array('Help lines.', { type: 'simple', description: 'A line.' }), summary: 'Lists the ROUTE.SETTINGS subcommands.' }),
];

export const routingCommands: CommandSpec[] = [
  command({
    name: 'route.pick', arity: -2, flags: ['write', 'denyoom'], group: 'routing', since: SINCE, keys: GROUP, acl: ['write', 'slow'],
    reply: picked,
    summary: 'Picks a deployment of the group and reserves it (in flight +1, rpm +1, tpm + tokens): replies deployment, lease, group, model, api_base, api_version, region, tokens, fallback; or NODEPLOYMENT with why and when to retry.',
    complexity: 'O(N) for N deployments in the group',
    arguments: [
      { name: 'group', type: 'key' },
      { name: 'size', type: 'oneof', optional: true, arguments: [
        { name: 'n', type: 'integer', token: 'TOKENS' },
        { name: 'messages-json', type: 'string', token: 'CHAT' },
      ] },
      { name: 'name', type: 'string', token: 'STRATEGY', optional: true },
      { name: 'tag', type: 'string', token: 'TAGS', optional: true, multiple: true },
      { name: 'id', type: 'string', token: 'EXCLUDE', optional: true, multiple: true },
      { name: 'ms', type: 'integer', token: 'TTL', optional: true },
      { name: 'wait', type: 'block', optional: true, arguments: [
        { name: 'ms', type: 'integer', token: 'WAIT' },
        { name: 'p', type: 'integer', token: 'PRIORITY', optional: true },
      ] },
    ],
  }),
  command({
    name: 'route.done', arity: -2, flags: ['write', 'fast'], group: 'routing', since: SINCE, keys: GROUP, acl: ['write', 'fast'],
    reply: reply.boolean('1 if the lease was open (settled now), 0 if it was already done or expired.'),
    summary: 'Settles a lease: frees its slot, records status, latency and real tokens, applies cooldown rules. 1 if the lease was open, 0 if already done or expired.',
    complexity: 'O(1)',
    arguments: [
      { name: 'lease', type: 'key' },
      { name: 'code', type: 'integer', token: 'STATUS', optional: true },
      { name: 'ms', type: 'integer', token: 'LATENCY', optional: true },
      { name: 'ttft', type: 'integer', token: 'TTFT', optional: true },
      { name: 'usage', type: 'oneof', optional: true, arguments: [
        { name: 'total', type: 'integer', token: 'TOKENS' },
        { name: 'split', type: 'block', arguments: [
          { name: 'input', type: 'integer', token: 'INPUT' },
          { name: 'output', type: 'integer', token: 'OUTPUT' },
        ] },
      ] },
    ],
  }),
  command({
    name: 'route.set', arity: -3, flags: ['write', 'denyoom'], group: 'routing', since: SINCE, keys: GROUP, acl: ['write', 'slow'],
    reply: reply.array('The ids of the deployments given, in order.', reply.bulk('A deployment id.')),
    summary: "Adds or replaces deployments of the group (LiteLLM model_list entries as JSON; credentials are dropped); replies their ids. A replaced deployment keeps its live state. REPLACE: the group becomes exactly these deployments (the others are removed).",
    complexity: 'O(N) for N deployments',
    arguments: [
      { name: 'group', type: 'key' },
      { name: 'replace', type: 'pure-token', token: 'REPLACE', optional: true },
      { name: 'deployment-json', type: 'string', multiple: true },
    ],
  }),
  command({
    name: 'route.del', arity: -2, flags: ['write'], group: 'routing', since: SINCE, keys: GROUP, acl: ['write', 'slow'],
    reply: reply.integer('Deployments removed.'),
    summary: 'Removes deployments of the group by id (no id: the whole group); replies how many.',
    complexity: 'O(N) for N deployments',
    arguments: [{ name: 'group', type: 'key' }, { name: 'id', type: 'string', optional: true, multiple: true }],
  }),
  command({
    name: 'route.groups', arity: 1, flags: ['readonly'], group: 'routing', since: SINCE, acl: ['read', 'slow'],
    reply: reply.array('Group names, sorted.', reply.bulk('A group.')),
    summary: 'Lists the groups, sorted.',
  }),
  command({
    name: 'route.list', arity: 2, flags: ['readonly'], group: 'routing', since: SINCE, keys: GROUP, acl: ['read', 'slow'],
    reply: reply.array('The deployments, in order.', listed),
    summary: 'Lists the deployments of the group with their live state: in_flight, rpm_used, tpm_used (this minute), latency_ms, cooldown_ms, fails, budget_spent.',
    complexity: 'O(N) for N deployments',
    arguments: [{ name: 'group', type: 'key' }],
  }),
  command({
    name: 'route.cooldown', arity: 4, flags: ['write', 'fast'], group: 'routing', since: SINCE, keys: GROUP, acl: ['write', 'fast'],
    reply: reply.ok(),
    summary: 'Cools a deployment down for ms by hand (0 lifts a cooldown).',
    complexity: 'O(1)',
    arguments: [{ name: 'group', type: 'key' }, { name: 'id', type: 'string' }, { name: 'ms', type: 'integer' }],
  }),
  command({
    name: 'route.reload', arity: 1, flags: ['admin', 'write'], group: 'routing', since: SINCE, acl: ['admin', 'write', 'slow', 'dangerous'],
    reply: reply.ok(),
    summary: 'Reads the routing configuration file again (as SIGHUP does); deployments that still exist keep their live state.',
  }),
  command({ name: 'route.settings', arity: -2, flags: [], group: 'routing', since: SINCE, acl: ['slow'], summary: 'Router settings: GET, SET.', subcommands: settingsSubs }),
];
