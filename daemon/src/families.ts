/**
 * Every command family, listed once. Dispatch, CONFIG (options), INFO, RESETSTAT and start-up
 * iterate this list; adding a family is its module plus one line here (and its commands in
 * protocol/src/commands/, its state in native/core).
 */
import type { Family, Handler } from './context';
import { FEATURES, serverOptions, type Config, type OptionSpec } from './config';
import { ReplyError } from './reply-error';
import { tlsOptions } from './tls';
import { serverFamily } from './commands/server';
import { limitsFamily } from './commands/limits';
import { leasesFamily } from './commands/leases';
import { tokensFamily } from './commands/tokens';
import { transactionsFamily } from './commands/transactions';
import { routingFamily } from './commands/routing';
import { keyspaceFamily } from './commands/keyspace';
import { persistenceFamily } from './commands/persistence';
import { observeFamily } from './commands/observe';

/**
 * Persistence comes before the families whose state it restores, so that their `start` (the
 * config file's `policies:`) applies on top of the snapshot.
 */
export const families: readonly Family[] = [serverFamily, persistenceFamily, limitsFamily, leasesFamily, tokensFamily, routingFamily, transactionsFamily, keyspaceFamily, observeFamily];

/** Every configuration option: the server's, then each family's. */
export const allOptions: readonly OptionSpec[] = [...serverOptions, ...tlsOptions, ...families.flatMap((f) => f.options ?? [])];

/** The config file's top-level sections that families read (not options). */
export const configSections: ReadonlySet<string> = new Set(families.flatMap((f) => f.configSections ?? []));

/** Is `family` one the `features` option can turn off, and is it off? */
function turnedOff(family: Family, config: Config): boolean {
  const optional = (FEATURES as readonly string[]).includes(family.name);
  return optional && !config.str('features').split(',').includes(family.name);
}

/**
 * The families that run with `config`'s `features`. One left out is never started: its config
 * sections are not read, its state and tables are never built, it has no INFO section and no
 * timers; its commands stay in the table (COMMAND lists them) and answer `turnedOffHandlers`.
 */
export function enabledFamilies(config: Config): Family[] {
  return families.filter((f) => !turnedOff(f, config));
}

/** Every handler of the running families, and for the families turned off, a refusal that names the option. */
export function handlersFor(config: Config): Record<string, Handler> {
  const all: Record<string, Handler> = {};
  for (const f of families) {
    if (!turnedOff(f, config)) {
      Object.assign(all, f.handlers);
      continue;
    }
    const message =
      `ERR the ${f.name} commands are turned off: '${f.name}' is not in the features option (features ${config.str('features') || '(none)'}). ` +
      `Add ${f.name} to features (config file, --features or SLUICE_FEATURES) and restart Sluice`;
    const refuse: Handler = () => {
      throw new ReplyError(message);
    };
    for (const name of Object.keys(f.handlers)) all[name] = refuse;
  }
  return all;
}
