/**
 * Every command family, listed once. Dispatch, CONFIG (options), INFO, RESETSTAT and start-up
 * iterate this list; adding a family is its module plus one line here (and its commands in
 * protocol/src/commands/, its state in native/core).
 */
import type { Family } from './context';
import { serverOptions, type OptionSpec } from './config';
import { serverFamily } from './commands/server';
import { limitsFamily } from './commands/limits';
import { leasesFamily } from './commands/leases';
import { tokensFamily } from './commands/tokens';
import { transactionsFamily } from './commands/transactions';
import { routingFamily } from './commands/routing';
import { keyspaceFamily } from './commands/keyspace';
import { persistenceFamily } from './commands/persistence';
import { clusterFamily } from './commands/cluster';

/**
 * Persistence comes before the families whose state it restores, so that their `start` (the
 * config file's `policies:`) applies on top of the snapshot.
 */
export const families: readonly Family[] = [serverFamily, persistenceFamily, limitsFamily, leasesFamily, tokensFamily, routingFamily, transactionsFamily, keyspaceFamily, clusterFamily];

/** Every configuration option: the server's, then each family's. */
export const allOptions: readonly OptionSpec[] = [...serverOptions, ...families.flatMap((f) => f.options ?? [])];

/** The config file's top-level sections that families read (not options). */
export const configSections: ReadonlySet<string> = new Set(families.flatMap((f) => f.configSections ?? []));
