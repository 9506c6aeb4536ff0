import { command, reply, subcommand, type CommandSpec, type ReplySpec } from '../command-table';

/**
 * Redis Cluster's protocol (see docs/cluster.md): the slot map that cluster clients read
 * (CLUSTER SLOTS, SHARDS, NODES, INFO) in Redis's formats, and SLUICE.CLUSTER, which pushes a
 * topology at run time and carries slot state from the old owner to the new one.
 */

const SINCE = '0.3.0';
const helpLines: ReplySpec = reply.array('Help lines.', { type: 'simple', description: 'A line of help.' });
const info = (name: string, extra: Partial<CommandSpec> & Pick<CommandSpec, 'arity' | 'summary' | 'reply'>): CommandSpec =>
  subcommand('cluster', { name, flags: ['loading', 'stale'], acl: ['slow'], ...extra });

const clusterSubs: CommandSpec[] = [
  info('info', { arity: 2, reply: reply.bulk('Lines of `field:value` (cluster_state, cluster_slots_assigned, ...), a verbatim string in RESP3.'), summary: 'Describes the cluster as this node sees it (Redis\'s fields).' }),
  info('myid', { arity: 2, reply: reply.bulk('The node id (cluster-node-id).'), summary: 'Returns this node\'s id.' }),
  info('slots', {
    arity: 2,
    reply: reply.array('One entry per slot range.', { type: 'array', description: '[start, end, [host, port, id, {}]]: the range and the node that serves it.' }),
    summary: 'The slot map: each range with the host, port and id of its node (what ioredis reads).',
  }),
  info('shards', {
    arity: 2,
    reply: reply.array('One map per node: slots (start, end, ...) and nodes (id, port, ip, endpoint, role, replication-offset, health).', { type: 'map', description: 'A shard.' }),
    summary: 'The slot map by shard (Redis 7\'s CLUSTER SHARDS).',
  }),
  info('nodes', { arity: 2, reply: reply.bulk('One line per node: id host:port@cport flags master ping pong epoch link slots...'), summary: 'The slot map as CLUSTER NODES lines.' }),
  info('keyslot', { arity: 3, reply: reply.integer('The slot, 0 to 16383.'), summary: 'Returns the hash slot of a key (CRC16 of its hash tag or of the whole key).', arguments: [{ name: 'key', type: 'string' }] }),
  info('countkeysinslot', {
    arity: 3, reply: reply.integer('Keys this node holds in the slot.'), summary: 'Counts the keys this node holds in a slot.',
    complexity: 'O(N) where N is the number of keys this node holds', arguments: [{ name: 'slot', type: 'integer' }],
  }),
  info('help', { arity: 2, reply: helpLines, summary: 'Lists the CLUSTER subcommands.' }),
];

const sluiceClusterSubs: CommandSpec[] = [
  subcommand('sluice.cluster', {
    name: 'settopology', arity: 3, flags: ['admin', 'noscript', 'no_multi'], acl: ['admin', 'slow', 'dangerous'],
    reply: reply.ok('Once the topology is in force and the state of every slot that moved away was handed to its new owner.'),
    summary: 'Replaces the topology (YAML or JSON, as the config file\'s `cluster:` section) with one of a higher version; hands the state of slots that moved away to their new owners.',
    arguments: [{ name: 'topology', type: 'string' }],
  }),
  subcommand('sluice.cluster', {
    name: 'topology', arity: 2, flags: ['loading', 'stale'], acl: ['slow'],
    reply: reply.bulk('The topology in force as JSON, or nil when there is none.', 'nil'),
    summary: 'Returns the topology in force, as JSON.',
  }),
  subcommand('sluice.cluster', {
    name: 'import', arity: 3, flags: ['write', 'admin', 'no_multi'], acl: ['admin', 'write', 'slow', 'dangerous'],
    reply: reply.integer('Keys and routing groups taken in.'),
    summary: 'Takes in the state of keys and routing groups handed over by their previous owner (sent by SETTOPOLOGY, node to node).',
    arguments: [{ name: 'state', type: 'string' }],
  }),
  subcommand('sluice.cluster', { name: 'help', arity: 2, flags: ['loading', 'stale'], acl: ['slow'], reply: helpLines, summary: 'Lists the SLUICE.CLUSTER subcommands.' }),
];

const connectionFlag = (name: string, summary: string): CommandSpec =>
  command({ name, arity: 1, flags: ['fast', 'loading', 'stale'], group: 'cluster', since: SINCE, acl: ['fast', 'connection'], reply: reply.ok(), summary });

export const clusterCommands: CommandSpec[] = [
  command({ name: 'cluster', arity: -2, flags: [], group: 'cluster', since: SINCE, acl: [], summary: 'The slot map and node identity (Redis Cluster\'s protocol).', subcommands: clusterSubs }),
  connectionFlag('readonly', 'Accepted for cluster clients (OK): every Sluice node is a primary, so reads are never sent to replicas.'),
  connectionFlag('readwrite', 'Accepted for cluster clients (OK).'),
  connectionFlag('asking', 'Accepted for cluster clients (OK): Sluice hands slots over whole, so it never answers ASK.'),
  command({ name: 'sluice.cluster', arity: -2, flags: [], group: 'cluster', since: SINCE, acl: [], summary: 'Pushes a topology at run time and hands slot state between nodes.', subcommands: sluiceClusterSubs }),
];
