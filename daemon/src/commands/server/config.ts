/** CONFIG GET / SET / RESETSTAT over every family's options (the Config holds them all). */
import { globMatch } from '@sluice/protocol';
import type { Handler } from '../../context';
import { ConfigError, type Config } from '../../config';
import { configureLog } from '../../log';
import { errors, ReplyError } from '../../reply-error';
import { writeHelp } from '../../replies';

/** Values redis-benchmark and other tools read at start-up; fixed in Sluice. */
const COMPAT_CONFIG: Record<string, string> = { appendonly: 'no', databases: '1' };

/**
 * Redis's `save` (save points, "<seconds> <changes> ...") is a view of `save-interval`: Sluice
 * saves every save-interval seconds if anything changed, which is the one save point
 * "<save-interval> 1"; "" when the timer is off.
 */
function saveParam(cfg: Config): string {
  const seconds = cfg.num('save-interval');
  return seconds > 0 ? `${seconds} 1` : '';
}

/**
 * CONFIG SET save: "" turns the timer off; save points set it to the shortest of their
 * intervals. A save point's change count is not waited for (any change is saved), so the
 * snapshot is at least as fresh as every save point asks.
 */
function intervalFromSaveParam(value: string): string {
  const words = value.trim().split(/\s+/).filter((w) => w !== '');
  const bad = () => new ReplyError("ERR CONFIG SET failed (possibly related to argument 'save') - Invalid save parameters");
  if (words.length % 2 !== 0 || !words.every((w) => /^\d+$/.test(w))) throw bad();
  let shortest = 0;
  for (let i = 0; i < words.length; i += 2) {
    const seconds = Number(words[i]);
    if (seconds < 1 || !Number.isSafeInteger(seconds)) throw bad();
    shortest = shortest === 0 ? seconds : Math.min(shortest, seconds);
  }
  return String(shortest);
}

export const configHandlers: Record<string, Handler> = {
  'config|get': (ctx, args, w) => {
    const cfg = ctx.server.config;
    const found = new Map<string, string>();
    for (const a of args.slice(2)) {
      const pattern = a.toString();
      for (const o of cfg.options) if (globMatch(pattern, o.name, true)) found.set(o.name, cfg.show(o.name));
      for (const [k, v] of Object.entries(COMPAT_CONFIG)) if (globMatch(pattern, k, true)) found.set(k, v);
      if (globMatch(pattern, 'save', true)) found.set('save', saveParam(cfg));
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
      if (name === 'save') {
        changes.push(['save-interval', intervalFromSaveParam(args[i + 1].toString())]);
        continue;
      }
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
    configureLog(cfg);
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
