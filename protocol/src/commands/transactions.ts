import { command, reply, type CommandSpec } from '../command-table';

/** Transactions: MULTI / EXEC / DISCARD and optimistic locking with WATCH, as Redis has them. */

const SINCE = '0.1.0';
const tx = (name: string, extra: Partial<CommandSpec> & Pick<CommandSpec, 'arity' | 'summary'>): CommandSpec =>
  command({ name, group: 'transactions', since: SINCE, flags: ['noscript', 'loading', 'stale', 'fast', 'allow_busy'], acl: ['fast', 'transaction'], ...extra });

export const transactionCommands: CommandSpec[] = [
  tx('multi', { arity: 1, reply: reply.ok('OK; each command sent until EXEC or DISCARD then replies QUEUED (or an error, which aborts EXEC).'), summary: 'Starts a transaction: later commands are queued (QUEUED) until EXEC or DISCARD.', complexity: 'O(1)' }),
  tx('exec', {
    arity: 1, flags: ['noscript', 'loading', 'stale'], acl: ['slow', 'transaction'],
    reply: { type: 'array', description: "The queued commands' replies, in order; nil if a watched key changed.", none: 'nil' },
    summary: "Runs the queued commands with no other client's command in between; replies with their replies, or nil if a watched key changed.",
    complexity: 'Depends on the queued commands',
  }),
  tx('discard', { arity: 1, reply: reply.ok(), summary: 'Drops the queued commands and ends the transaction.', complexity: 'O(N) for N queued commands' }),
  tx('watch', {
    arity: -2, keys: { first: 1, last: -1, step: 1 }, reply: reply.ok(),
    summary: 'Watches keys: the next EXEC of this connection does nothing (nil) if a command changed one of them first.',
    complexity: 'O(1) for every key',
    arguments: [{ name: 'key', type: 'key', multiple: true }],
  }),
  tx('unwatch', { arity: 1, reply: reply.ok(), summary: 'Forgets the keys this connection watches.', complexity: 'O(N) for N watched keys' }),
];
