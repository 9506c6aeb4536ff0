import type { CommandSpec } from '../command-table';
import { serverCommands } from './server';
import { tokenCommands } from './tokens';

/** Every command family's table. A new family adds its list here. */
export const commandFamilies: Record<string, CommandSpec[]> = {
  server: serverCommands,
  tokens: tokenCommands,
};

/** All top-level commands, by lowercase name. */
export const commandTable: ReadonlyMap<string, CommandSpec> = new Map(
  Object.values(commandFamilies)
    .flat()
    .map((spec) => [spec.name, spec]),
);
