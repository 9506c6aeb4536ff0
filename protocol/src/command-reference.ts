/**
 * The command reference (docs/commands.md), written from the command table so the docs say
 * exactly what the daemon dispatches. `npm run docs` rewrites the file; a test fails when the
 * file and the table disagree.
 */
import { commandFamilies } from './commands';
import { usage, type CommandSpec, type ReplySpec } from './command-table';

/** A value's wire type in a few words: `integer (-1 = none)`, `array of bulk string`. */
function shape(r: ReplySpec): string {
  let words: string;
  switch (r.type) {
    case 'boolean': words = 'integer 1/0'; break;
    case 'bulk': words = 'bulk string'; break;
    case 'simple': words = r.value ? `simple string ${r.value}` : 'simple string'; break;
    case 'array': words = r.items ? `array of ${shape(r.items)}` : 'array'; break;
    case 'tuple': words = r.rest ? 'array' : `array of ${r.fields!.length}`; break;
    case 'map': words = r.items ? `map of ${shape(r.items)}` : 'map'; break;
    case 'oneof': words = r.options!.map(shape).join(' or '); break;
    case 'none': words = 'no reply'; break;
    default: words = r.type;
  }
  if (r.none === -1) words += ' (-1 = none)';
  if (r.none === 'nil') words += ' or nil';
  return words;
}

/** The reply line, then one line per field (tuple positions in order, or map fields). */
function replyLines(r: ReplySpec): string[] {
  const lines = [`Reply: ${shape(r)}. ${r.description}`];
  const fields = [...(r.fields ?? []), ...(r.rest ? [{ ...r.rest, name: `${r.rest.name}...` }] : [])];
  if (fields.length) lines.push('');
  fields.forEach((f, i) => {
    const where = r.type === 'tuple' ? `${r.rest && i === fields.length - 1 ? `${i}..` : i}: ` : '';
    lines.push(`- ${where}\`${f.name}\` ${shape(f)}: ${f.description}`);
  });
  return lines;
}

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
  if (spec.reply) lines.push(...replyLines(spec.reply), '');
  lines.push(`<sub>${facts.join(' · ')}</sub>`, '');
  for (const sub of spec.subcommands ?? []) lines.push(entry(sub));
  return lines.join('\n');
}

export function commandReference(): string {
  const out = [
    '# Command reference',
    '',
    'Generated from the command table (`protocol/src/commands/`) by `npm run docs`; do not edit by hand.',
    'The same table answers `COMMAND DOCS`, so `redis-cli` shows these arguments as hints, and each reply below is its `reply_schema` there.',
    '',
  ];
  for (const [family, specs] of Object.entries(commandFamilies)) {
    out.push(`## ${family[0].toUpperCase()}${family.slice(1)}`, '');
    for (const spec of specs) out.push(entry(spec));
  }
  return out.join('\n').replace(/\n{3,}/g, '\n\n').trimEnd() + '\n';
}

if (require.main === module) process.stdout.write(commandReference());
