import type { CommandSpec } from '../command-table';
import { serverCommands } from './server';
import { limitsCommands } from './limits';
import { leasesCommands } from './leases';
import { tokenCommands } from './tokens';
import { transactionCommands } from './transactions';
import { routingCommands } from './routing';
import { keyspaceCommands } from './keyspace';
import { persistenceCommands } from './persistence';
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
  cluster: clusterCommands,
};

/** All top-level commands, by lowercase name. */
export const commandTable: ReadonlyMap<string, CommandSpec> = new Map(
  Object.values(commandFamilies)
    .flat()
    .map((spec) => [spec.name, spec]),
);
