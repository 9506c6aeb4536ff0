/**
 * The server family: connection, introspection and administration commands, in one file per
 * Redis command group (connection.ts, command.ts, config.ts, info.ts, admin.ts).
 */
import type { Family } from '../../context';
import { adminHandlers } from './admin';
import { commandHandlers } from './command';
import { configHandlers } from './config';
import { connectionHandlers } from './connection';
import { info } from './info';

export const serverFamily: Family = {
  name: 'server',
  handlers: { ...connectionHandlers, ...commandHandlers, ...configHandlers, info, ...adminHandlers },
};
