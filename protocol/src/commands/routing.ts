import { command, subcommand, type CommandSpec } from '../command-table';

/**
 * Deployment routing (ROUTE.*): which deployment of a model group takes a request, shared by
 * every app instance (see docs/routing.md). The group (or the lease, which carries the group's
 * hash tag) is the key, so a cluster routes every command of a group to one node.
 */

const SINCE = '0.2.0';
const GROUP = { first: 1, last: 1, step: 1 };

const settingsSubs: CommandSpec[] = [
  subcommand('route.settings', { name: 'get', arity: 2, flags: ['readonly'], acl: ['read', 'slow', 'routing'], summary: 'Returns the router settings as JSON (LiteLLM router_settings form).' }),
  subcommand('route.settings', {
    name: 'set', arity: 3, flags: ['write'], acl: ['write', 'slow', 'routing'],
    summary: 'Replaces the router settings (JSON: routing_strategy, allowed_fails, cooldown_time, fallbacks, ...).',
    arguments: [{ name: 'json', type: 'string' }],
  }),
  subcommand('route.settings', { name: 'help', arity: 2, flags: ['loading', 'stale'], acl: ['slow'], summary: 'Lists the ROUTE.SETTINGS subcommands.' }),
];

export const routingCommands: CommandSpec[] = [
  command({
    name: 'route.pick', arity: -2, flags: ['write', 'denyoom'], group: 'routing', since: SINCE, keys: GROUP, acl: ['write', 'slow', 'routing'],
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
    name: 'route.done', arity: -2, flags: ['write', 'fast'], group: 'routing', since: SINCE, keys: GROUP, acl: ['write', 'fast', 'routing'],
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
    name: 'route.set', arity: -3, flags: ['write', 'denyoom'], group: 'routing', since: SINCE, keys: GROUP, acl: ['write', 'slow', 'routing'],
    summary: "Adds or replaces deployments of the group (LiteLLM model_list entries as JSON; credentials are dropped); replies their ids. A replaced deployment keeps its live state.",
    complexity: 'O(N) for N deployments',
    arguments: [{ name: 'group', type: 'key' }, { name: 'deployment-json', type: 'string', multiple: true }],
  }),
  command({
    name: 'route.del', arity: -2, flags: ['write'], group: 'routing', since: SINCE, keys: GROUP, acl: ['write', 'slow', 'routing'],
    summary: 'Removes deployments of the group by id (no id: the whole group); replies how many.',
    complexity: 'O(N) for N deployments',
    arguments: [{ name: 'group', type: 'key' }, { name: 'id', type: 'string', optional: true, multiple: true }],
  }),
  command({
    name: 'route.groups', arity: 1, flags: ['readonly'], group: 'routing', since: SINCE, acl: ['read', 'slow', 'routing'],
    summary: 'Lists the groups, sorted.',
  }),
  command({
    name: 'route.list', arity: 2, flags: ['readonly'], group: 'routing', since: SINCE, keys: GROUP, acl: ['read', 'slow', 'routing'],
    summary: 'Lists the deployments of the group with their live state: in_flight, rpm_used, tpm_used (this minute), latency_ms, cooldown_ms, fails, budget_spent.',
    complexity: 'O(N) for N deployments',
    arguments: [{ name: 'group', type: 'key' }],
  }),
  command({
    name: 'route.cooldown', arity: 4, flags: ['write', 'fast'], group: 'routing', since: SINCE, keys: GROUP, acl: ['write', 'fast', 'routing'],
    summary: 'Cools a deployment down for ms by hand (0 lifts a cooldown).',
    complexity: 'O(1)',
    arguments: [{ name: 'group', type: 'key' }, { name: 'id', type: 'string' }, { name: 'ms', type: 'integer' }],
  }),
  command({
    name: 'route.reload', arity: 1, flags: ['admin', 'write'], group: 'routing', since: SINCE, acl: ['admin', 'write', 'slow', 'dangerous', 'routing'],
    summary: 'Reads the routing configuration file again (as SIGHUP does); deployments that still exist keep their live state.',
  }),
  command({ name: 'route.settings', arity: -2, flags: [], group: 'routing', since: SINCE, acl: ['slow', 'routing'], summary: 'Router settings: GET, SET.', subcommands: settingsSubs }),
];
