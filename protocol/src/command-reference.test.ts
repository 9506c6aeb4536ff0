import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { commandReference } from './command-reference';
import { commandTable } from './commands';
import type { CommandSpec, ReplySpec } from './command-table';

test('docs/commands.md is what the command table says (run `npm run docs` after changing the table)', () => {
  const file = readFileSync(path.join(__dirname, '..', '..', 'docs', 'commands.md'), 'utf8');
  assert.equal(file, commandReference());
  for (const name of commandTable.keys()) assert.ok(file.includes(`### ${name.toUpperCase()}`), name);
});

const REPLY_TYPES = new Set(['integer', 'double', 'bulk', 'simple', 'boolean', 'array', 'tuple', 'map', 'oneof', 'none']);

function checkReply(where: string, r: ReplySpec): void {
  assert.ok(REPLY_TYPES.has(r.type), `${where}: unknown reply type ${r.type}`);
  assert.ok(r.description.length > 2, `${where}: the reply needs a description`);
  if (r.type === 'tuple') assert.ok(r.fields && r.fields.length > 0, `${where}: a tuple names its positions`);
  if (r.type === 'oneof') assert.ok(r.options && r.options.length > 1, `${where}: oneof needs options`);
  if (r.none === -1) assert.equal(r.type, 'integer', `${where}: -1 means none only for integers`);
  const names = new Set<string>();
  for (const f of [...(r.fields ?? []), ...(r.rest ? [r.rest] : [])]) {
    // Snake case, or the dashed keys of Redis's own replies (ACL LOG's `age-seconds`).
    assert.match(f.name, /^[a-z][a-z0-9_-]*$/, `${where}: field names are snake_case (or Redis's dashed keys)`);
    assert.ok(!names.has(f.name), `${where}: field ${f.name} twice`);
    names.add(f.name);
    checkReply(`${where}.${f.name}`, f);
  }
  if (r.items) checkReply(`${where}[]`, r.items);
  for (const o of r.options ?? []) checkReply(`${where}|`, o);
}

test('every command and subcommand declares its reply (a parent only when it answers without one)', () => {
  const check = (spec: CommandSpec) => {
    if (!spec.subcommands) assert.ok(spec.reply, `${spec.name}: declare its reply`);
    if (spec.reply) checkReply(spec.name, spec.reply);
    spec.subcommands?.forEach(check);
  };
  for (const spec of commandTable.values()) check(spec);
  assert.ok(commandTable.get('command')!.reply, 'COMMAND answers on its own');
});
