import { command, reply, subcommand, type CommandSpec, type ReplySpec } from '../command-table';

/**
 * Seeing what the daemon does: LATENCY and SLOWLOG as Redis 7 answers them, and SLUICE.DOCTOR,
 * plain-language advice from what the daemon has seen (docs/operations.md).
 */

const SINCE = '0.1.0';
const helpLines: ReplySpec = reply.array('Help lines.', { type: 'simple', description: 'A line of help.' });
const ADMIN = { flags: ['admin', 'noscript', 'loading', 'stale'] as CommandSpec['flags'], acl: ['admin', 'slow', 'dangerous'] };

const latencySubs: CommandSpec[] = [
  subcommand('latency', {
    name: 'histogram', arity: -2, ...ADMIN,
    reply: {
      type: 'map', description: 'Command name -> { calls, histogram_usec: { bucket upper bound in µs -> calls at most that long (cumulative) } }, for commands that ran.',
      items: { type: 'map', description: 'calls and histogram_usec.' },
    },
    summary: 'Returns the latency distribution of commands (all that ran, or those named) as Redis 7 does: power-of-two buckets in microseconds, cumulative.',
    arguments: [{ name: 'command', type: 'string', optional: true, multiple: true }],
  }),
  subcommand('latency', {
    name: 'latest', arity: 2, ...ADMIN,
    reply: reply.array('One entry per event: [event name, Unix time of the latest spike, its latency in ms, the highest in ms].', { type: 'array', description: 'An event.' }),
    summary: 'Returns the latest latency spike of each event (`command`: a command that took at least latency-monitor-threshold ms).',
  }),
  subcommand('latency', {
    name: 'reset', arity: -2, ...ADMIN,
    reply: reply.integer('How many event series were reset.'),
    summary: 'Forgets the latency spikes of the named events (all when none is named).',
    arguments: [{ name: 'event', type: 'string', optional: true, multiple: true }],
  }),
  subcommand('latency', { name: 'help', arity: 2, flags: ['loading', 'stale'], acl: ['slow'], reply: helpLines, summary: 'Lists the LATENCY subcommands.' }),
];

const slowlogEntry: ReplySpec = {
  type: 'array', description: 'An entry: [id, Unix time (s), duration (µs), arguments (at most 32, each cut at 128 bytes), client ip:port, client name].',
};

const slowlogSubs: CommandSpec[] = [
  subcommand('slowlog', {
    name: 'get', arity: -2, ...ADMIN,
    reply: reply.array('The newest entries first.', slowlogEntry),
    summary: 'Returns the newest slow log entries (10 by default, -1 for all).',
    arguments: [{ name: 'count', type: 'integer', optional: true }],
  }),
  subcommand('slowlog', { name: 'len', arity: 2, ...ADMIN, reply: reply.integer('Entries in the slow log.'), summary: 'Returns how many entries the slow log holds.' }),
  subcommand('slowlog', { name: 'reset', arity: 2, ...ADMIN, reply: reply.ok(), summary: 'Empties the slow log.' }),
  subcommand('slowlog', { name: 'help', arity: 2, flags: ['loading', 'stale'], acl: ['slow'], reply: helpLines, summary: 'Lists the SLOWLOG subcommands.' }),
];

export const observeCommands: CommandSpec[] = [
  command({ name: 'latency', arity: -2, flags: [], group: 'server', since: SINCE, acl: ['slow'], summary: 'Latency of commands: HISTOGRAM, LATEST, RESET.', subcommands: latencySubs }),
  command({ name: 'slowlog', arity: -2, flags: [], group: 'server', since: SINCE, acl: ['slow'], summary: 'The log of commands slower than slowlog-log-slower-than: GET, LEN, RESET.', subcommands: slowlogSubs }),
  command({
    name: 'sluice.doctor', arity: 1, flags: ['admin', 'loading', 'stale'], group: 'server', since: SINCE, acl: ['admin', 'slow', 'dangerous'],
    reply: reply.bulk('Advice in plain language, one paragraph per finding; or a line saying nothing looks wrong.'),
    summary: 'Advice from what the daemon has seen: keys near their limit, prefixes refused most of the time, token texts that miss the cache, slow commands and clients, failing snapshots, deployments cooling down often.',
  }),
];
