/** COMMAND and its subcommands: every reply generated from the command table. */
import { commandTable, findSpec, globMatch, keyPositions, writeCommandDocs, writeCommandInfo, type CommandSpec, type ReplyWriter } from '@sluice/protocol';
import type { Handler } from '../../context';
import { ArgReader } from '../../args';
import { errors, ReplyError } from '../../reply-error';
import { writeHelp } from '../../replies';

const reader = new ArgReader();

function writeAllInfo(w: ReplyWriter): void {
  w.array(commandTable.size);
  for (const spec of commandTable.values()) writeCommandInfo(w, spec);
}

/** The table entry for a name such as `ping` or `client|setname`. */
const specByName = (name: string): CommandSpec | undefined => findSpec(commandTable, name);

export const commandHandlers: Record<string, Handler> = {
  command: (_ctx, _args, w) => writeAllInfo(w),
  'command|count': (_ctx, _args, w) => w.integer(commandTable.size),
  'command|info': (_ctx, args, w) => {
    if (args.length === 2) return writeAllInfo(w);
    w.array(args.length - 2);
    for (const a of args.slice(2)) {
      const spec = specByName(a.toString());
      if (spec) writeCommandInfo(w, spec);
      else w.nullArray();
    }
  },
  'command|docs': (_ctx, args, w) => {
    const specs = args.length === 2 ? [...commandTable.values()] : args.slice(2).map((a) => specByName(a.toString())).filter((s) => s !== undefined);
    w.map(specs.length);
    for (const spec of specs) {
      w.bulk(spec.name);
      writeCommandDocs(w, spec);
    }
  },
  'command|list': (_ctx, args, w) => {
    let names = [...commandTable.values()].flatMap((s) => [s.name, ...(s.subcommands ?? []).map((c) => c.name)]);
    const r = reader.over(args, 2);
    if (r.left > 0) {
      if (r.left !== 3 || !r.word('filterby')) throw errors.syntax();
      if (r.word('pattern')) {
        const pattern = r.next().toString();
        names = names.filter((n) => globMatch(pattern, n, true));
      } else if (r.word('aclcat')) {
        const cat = r.next().toString().replace(/^@/, '').toLowerCase();
        names = names.filter((n) => specByName(n)?.acl.includes(cat));
      } else if (r.word('module')) names = [];
      else throw errors.syntax();
    }
    w.bulks(names);
  },
  'command|getkeys': (_ctx, args, w) => {
    const target = args.slice(2);
    const spec = specByName(target[0].toString());
    if (!spec) throw new ReplyError('ERR Invalid command specified');
    const positions = keyPositions(spec, target.length);
    if (positions.length === 0) throw new ReplyError('ERR The command has no key arguments');
    w.bulks(positions.map((p) => target[p]));
  },
  'command|help': (_ctx, _args, w) =>
    writeHelp(w, [
      'COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:',
      '(no subcommand)', '    Return details about all commands.',
      'COUNT', '    Return the total number of commands.',
      'INFO [<command-name> ...]', '    Return details about the named commands (all when none).',
      'DOCS [<command-name> ...]', '    Return documentation about the named commands (all when none).',
      'LIST [FILTERBY (MODULE <name>|ACLCAT <category>|PATTERN <pattern>)]', '    Return command names.',
      'GETKEYS <full-command>', '    Return the keys of a full command.',
      'HELP', '    Print this help.',
    ]),
};
