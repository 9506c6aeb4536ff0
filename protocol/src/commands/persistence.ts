import { command, reply, type CommandSpec } from '../command-table';

/** Snapshots of every family's state (docs/durability.md): Redis's names and replies. */

const SINCE = '0.1.0';

export const persistenceCommands: CommandSpec[] = [
  command({
    name: 'save', arity: 1, flags: ['admin', 'noscript', 'no_multi'], group: 'server', since: SINCE, acl: ['admin', 'slow', 'dangerous'],
    reply: reply.ok('Once the snapshot is on disk.'),
    summary: 'Writes a snapshot now and replies OK once it is on disk (other clients are served meanwhile).',
    complexity: 'O(N) where N is the total number of keys',
  }),
  command({
    name: 'bgsave', arity: -1, flags: ['admin', 'noscript'], group: 'server', since: SINCE, acl: ['admin', 'slow', 'dangerous'],
    reply: {
      type: 'oneof',
      description: 'Redis\'s texts: started, or (SCHEDULE while a save runs) scheduled.',
      options: [
        { type: 'simple', value: 'Background saving started', description: 'A save began.' },
        { type: 'simple', value: 'Background saving scheduled', description: 'A save will begin when the running one ends.' },
      ],
    },
    summary: 'Starts writing a snapshot in the background; INFO persistence and LASTSAVE say when it is done.',
    complexity: 'O(N) where N is the total number of keys',
    arguments: [{ name: 'schedule', type: 'pure-token', token: 'SCHEDULE', optional: true }],
  }),
  command({
    name: 'lastsave', arity: 1, flags: ['loading', 'stale', 'fast'], group: 'server', since: SINCE, acl: ['admin', 'fast', 'dangerous'],
    reply: reply.integer('Unix time in seconds.'),
    summary: 'The Unix time (seconds) of the last snapshot written successfully (or of start-up).',
    complexity: 'O(1)',
  }),
];
