import type { CommandSpec } from '../command-table';
import { serverCommands } from './server';
import { limitsCommands } from './limits';
import { leasesCommands } from './leases';
import { tokenCommands } from './tokens';
import { transactionCommands } from './transactions';
import { routingCommands } from './routing';
import { keyspaceCommands } from './keyspace';
import { persistenceCommands } from './persistence';
import { observeCommands } from './observe';
import { accessCommands } from './access';
import { clusterCommands } from './cluster';

/** Every command family's table. A new family adds its list here. */
export const commandFamilies: Record<string, CommandSpec[]> = {
  server: serverCommands,
  limits: limitsCommands,
  leases: leasesCommands,
  tokens: tokenCommands,
  transactions: transactionCommands,
  routing: routingCommands,
  keyspace: keyspaceCommands,
  persistence: persistenceCommands,
  observe: observeCommands,
  access: accessCommands,
  cluster: clusterCommands,
};

/**
 * Sluice's own ACL categories: every command of the family (subcommands included) is in the
 * category of the same name, so `+@limits` or `-@routing` take or leave a whole family.
 */
export const familyCategories = ['limits', 'leases', 'tokens', 'routing'] as const;
for (const category of familyCategories) {
  for (const spec of commandFamilies[category]) {
    for (const s of [spec, ...(spec.subcommands ?? [])]) if (!s.acl.includes(category)) s.acl.push(category);
  }
}

/** Every ACL category, as ACL CAT lists them: Redis 7's, in its order, then Sluice's families'. */
export const aclCategories: readonly string[] = [
  'keyspace', 'read', 'write', 'set', 'sortedset', 'list', 'hash', 'string', 'bitmap', 'hyperloglog', 'geo', 'stream',
  'pubsub', 'admin', 'fast', 'slow', 'blocking', 'dangerous', 'connection', 'transaction', 'scripting',
  ...familyCategories,
];

/** All top-level commands, by lowercase name. */
export const commandTable: ReadonlyMap<string, CommandSpec> = new Map(
  Object.values(commandFamilies)
    .flat()
    .map((spec) => [spec.name, spec]),
);
