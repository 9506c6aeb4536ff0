import { test } from 'node:test';
import assert from 'node:assert/strict';
import { commandTable, keyPositions, usage, type ArgSpec, type CommandSpec } from './index';

const ARG_TYPES = new Set(['string', 'integer', 'double', 'key', 'pattern', 'unix-time', 'pure-token', 'oneof', 'block']);

function checkArgs(where: string, args: ArgSpec[]): void {
  for (const a of args) {
    assert.ok(a.name, `${where}: argument without a name`);
    assert.ok(ARG_TYPES.has(a.type), `${where}: ${a.name} has unknown type ${a.type}`);
    if (a.type === 'oneof' || a.type === 'block') {
      assert.ok(a.arguments && a.arguments.length > 0, `${where}: ${a.name} needs members`);
      checkArgs(`${where} ${a.name}`, a.arguments!);
    }
    if (a.type === 'pure-token') assert.ok(a.token, `${where}: pure-token ${a.name} needs its token`);
  }
}

function checkSpec(spec: CommandSpec, parent?: string): void {
  assert.equal(spec.name, spec.name.toLowerCase(), `${spec.name} must be lower case`);
  if (parent) assert.ok(spec.name.startsWith(parent + '|'), `${spec.name} must be named ${parent}|...`);
  assert.notEqual(spec.arity, 0, `${spec.name}: arity 0`);
  assert.ok(spec.summary.length > 10, `${spec.name}: needs a summary`);
  assert.ok(spec.group || parent, `${spec.name}: needs a group`);
  checkArgs(spec.name, spec.arguments);
  if (spec.keys.first > 0) assert.ok(spec.keys.step > 0, `${spec.name}: key step`);
  for (const sub of spec.subcommands ?? []) checkSpec(sub, spec.name);
}

test('every command in the table is complete and consistent', () => {
  assert.ok(commandTable.size > 10);
  for (const spec of commandTable.values()) checkSpec(spec);
});

test('arity agrees with the declared arguments', () => {
  const required = (args: ArgSpec[]) => args.filter((a) => !a.optional).length;
  for (const spec of commandTable.values()) {
    for (const s of [spec, ...(spec.subcommands ?? [])]) {
      if (s.subcommands) continue;
      const words = s.name.split('|').length + required(s.arguments);
      // Exact arity means exactly the required words (blocks may count several words).
      if (s.arity > 0) assert.ok(s.arity >= words, `${s.name}: arity ${s.arity} < ${words} required words`);
      else assert.ok(-s.arity <= Math.max(words, 1) + 1, `${s.name}: minimum arity ${-s.arity} above required ${words}`);
    }
  }
});

test('keyPositions follows first/last/step', () => {
  const spec = { keys: { first: 2, last: -1, step: 3 } } as CommandSpec;
  assert.deepEqual(keyPositions(spec, 8), [2, 5]);
  assert.deepEqual(keyPositions({ keys: { first: 0, last: 0, step: 0 } } as CommandSpec, 5), []);
});

test('usage renders tokens, options and repetition', () => {
  const line = usage([
    { name: 'key', type: 'key' },
    { name: 'limit', type: 'integer', token: 'LIMIT', optional: true },
    { name: 'algo', type: 'oneof', arguments: [{ name: 'a', type: 'pure-token', token: 'A' }, { name: 'b', type: 'pure-token', token: 'B' }] },
    { name: 'id', type: 'integer', multiple: true },
  ]);
  assert.equal(line, 'key [LIMIT limit] <A|B> id [id ...]');
});
