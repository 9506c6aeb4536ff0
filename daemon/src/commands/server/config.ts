/** CONFIG GET / SET / RESETSTAT over every family's options (the Config holds them all). */
import { globMatch } from '@sluice/protocol';
import type { Handler } from '../../context';
import { ConfigError } from '../../config';
import { setLogLevel } from '../../log';
import { errors, ReplyError } from '../../reply-error';
import { writeHelp } from '../../replies';

/** Values redis-benchmark and other tools read at start-up; fixed in Sluice. */
const COMPAT_CONFIG: Record<string, string> = { save: '', appendonly: 'no', databases: '1' };

export const configHandlers: Record<string, Handler> = {
  'config|get': (ctx, args, w) => {
    const cfg = ctx.server.config;
    const found = new Map<string, string>();
    for (const a of args.slice(2)) {
      const pattern = a.toString();
      for (const o of cfg.options) if (globMatch(pattern, o.name, true)) found.set(o.name, cfg.show(o.name));
      for (const [k, v] of Object.entries(COMPAT_CONFIG)) if (globMatch(pattern, k, true)) found.set(k, v);
    }
    w.map(found.size);
    for (const [k, v] of found) {
      w.bulk(k);
      w.bulk(v);
    }
  },
  'config|set': (ctx, args, w) => {
    if (args.length % 2 !== 0) throw errors.wrongArgs('config|set');
    const cfg = ctx.server.config;
    const changes: [string, string][] = [];
    for (let i = 2; i < args.length; i += 2) {
      const name = args[i].toString().toLowerCase();
      const spec = cfg.spec(name);
      if (!spec) throw new ReplyError(`ERR Unknown option or number of arguments for CONFIG SET - '${name}'`);
      if (!spec.mutable) throw new ReplyError(`ERR CONFIG SET failed (possibly related to argument '${name}') - can't set immutable config`);
      changes.push([name, args[i + 1].toString()]);
    }
    const before = changes.map(([name]) => cfg.show(name));
    try {
      for (const [name, value] of changes) cfg.set(name, value, 'CONFIG SET');
    } catch (err) {
      changes.forEach(([name], k) => cfg.set(name, before[k], 'rollback'));
      if (err instanceof ConfigError) throw new ReplyError(`ERR CONFIG SET failed - ${err.message}`);
      throw err;
    }
    setLogLevel(cfg.str('loglevel'));
    ctx.server.configChanged();
    w.ok();
  },
  'config|resetstat': (ctx, _args, w) => {
    ctx.server.resetStats();
    w.ok();
  },
  'config|help': (_ctx, _args, w) =>
    writeHelp(w, [
      'CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:',
      'GET <pattern> [<pattern> ...]', '    Return parameters matching the glob-like patterns and their values.',
      'SET <directive> <value> [<directive> <value> ...]', '    Set the configuration directives to the values.',
      'RESETSTAT', '    Reset statistics reported by the INFO command.',
      'HELP', '    Print this help.',
    ]),
};
