import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { commandReference } from './command-reference';
import { commandTable } from './commands';

test('docs/commands.md is what the command table says (run `npm run docs` after changing the table)', () => {
  const file = readFileSync(path.join(__dirname, '..', '..', 'docs', 'commands.md'), 'utf8');
  assert.equal(file, commandReference());
  for (const name of commandTable.keys()) assert.ok(file.includes(`### ${name.toUpperCase()}`), name);
});
