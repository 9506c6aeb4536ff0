import { command, reply, type CommandSpec } from '../command-table';

const { field } = reply;

/** Concurrency leases: at most N holders of a key at once, freed on release or TTL. */

const SINCE = '0.1.0';
const KEY1 = { first: 1, last: 1, step: 1 };

export const leasesCommands: CommandSpec[] = [
  command({
    name: 'sem.acquire', arity: -3, flags: ['write', 'denyoom', 'fast'], group: 'leases', since: SINCE, keys: KEY1, acl: ['write', 'fast'],
    reply: reply.tuple('Whether a slot was taken, and the key\'s count after it.', [
      field('acquired', 'boolean', '1 if a slot was taken, 0 if all were held.'),
      field('lease_id', 'integer', 'The lease to release or extend.', { none: -1 }),
      field('in_use', 'integer', 'Leases held on the key now.'),
    ]),
    summary: 'Takes one of `limit` slots for TTL ms (default 60000): replies [acquired 1|0, lease id (-1 if not acquired), in-use count].',
    complexity: 'O(N) for N leases held on the key',
    arguments: [{ name: 'key', type: 'key' }, { name: 'limit', type: 'integer' }, { name: 'ms', type: 'integer', token: 'TTL', optional: true }],
  }),
  command({
    name: 'sem.release', arity: 3, flags: ['write', 'fast'], group: 'leases', since: SINCE, keys: KEY1, acl: ['write', 'fast'],
    reply: reply.boolean('1 if the lease was held, 0 if not.'),
    summary: 'Frees a lease: 1 if it was held, 0 if not (already released or expired).',
    complexity: 'O(N) for N leases held on the key',
    arguments: [{ name: 'key', type: 'key' }, { name: 'lease', type: 'integer' }],
  }),
  command({
    name: 'sem.extend', arity: 4, flags: ['write', 'fast'], group: 'leases', since: SINCE, keys: KEY1, acl: ['write', 'fast'],
    reply: reply.boolean('1 if extended, 0 if the lease is not held.'),
    summary: 'Gives a held lease ttl ms from now: 1 if extended, 0 if it is not held.',
    complexity: 'O(N) for N leases held on the key',
    arguments: [{ name: 'key', type: 'key' }, { name: 'lease', type: 'integer' }, { name: 'ttl', type: 'integer' }],
  }),
  command({
    name: 'sem.count', arity: 2, flags: ['readonly', 'fast'], group: 'leases', since: SINCE, keys: KEY1, acl: ['read', 'fast'],
    reply: reply.integer('Leases held on the key.'),
    summary: 'Returns how many leases are held on the key.',
    complexity: 'O(N) for N leases held on the key',
    arguments: [{ name: 'key', type: 'key' }],
  }),
];
