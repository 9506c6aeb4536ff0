/**
 * The command reference (docs/commands.md), written from the command table so the docs say
 * exactly what the daemon dispatches. `npm run docs` rewrites the file; a test fails when the
 * file and the table disagree.
 */
import { commandFamilies } from './commands';
import { usage, type CommandSpec } from './command-table';

function entry(spec: CommandSpec): string {
  const words = spec.name.split('|').map((w) => w.toUpperCase()).join(' ');
  const args = usage(spec.arguments);
  const lines = [`### ${words}`, '', '```', `${words}${args ? ' ' + args : ''}`, '```', '', spec.summary, ''];
  const facts = [
    `arity ${spec.arity}`,
    spec.flags.length ? `flags ${spec.flags.join(', ')}` : '',
    spec.keys.first ? `keys at ${spec.keys.first}..${spec.keys.last} step ${spec.keys.step}` : '',
    spec.acl.length ? `ACL ${spec.acl.map((c) => '@' + c).join(' ')}` : '',
    spec.complexity ? `complexity ${spec.complexity}` : '',
  ].filter(Boolean);
  lines.push(`<sub>${facts.join(' · ')}</sub>`, '');
  for (const sub of spec.subcommands ?? []) lines.push(entry(sub));
  return lines.join('\n');
}

export function commandReference(): string {
  const out = [
    '# Command reference',
    '',
    'Generated from the command table (`protocol/src/commands/`) by `npm run docs`; do not edit by hand.',
    'The same table answers `COMMAND DOCS`, so `redis-cli` shows these arguments as hints.',
    '',
  ];
  for (const [family, specs] of Object.entries(commandFamilies)) {
    out.push(`## ${family[0].toUpperCase()}${family.slice(1)}`, '');
    for (const spec of specs) out.push(entry(spec));
  }
  return out.join('\n').replace(/\n{3,}/g, '\n\n').trimEnd() + '\n';
}

if (require.main === module) process.stdout.write(commandReference());
