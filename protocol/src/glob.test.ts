import { test } from 'node:test';
import assert from 'node:assert/strict';
import { globMatch } from './glob';

test('glob patterns as Redis matches them', () => {
  assert.ok(globMatch('*', 'anything'));
  assert.ok(globMatch('max*', 'maxclients'));
  assert.ok(!globMatch('max*', 'port'));
  assert.ok(globMatch('*-len', 'proto-max-bulk-len'));
  assert.ok(globMatch('p?rt', 'port'));
  assert.ok(globMatch('[ps]ort', 'sort'));
  assert.ok(!globMatch('[^ps]ort', 'port'));
  assert.ok(globMatch('[a-c]x', 'bx'));
  assert.ok(globMatch('a\\*b', 'a*b'));
  assert.ok(!globMatch('a\\*b', 'axb'));
  assert.ok(globMatch('MAX*', 'maxclients', true));
  assert.ok(!globMatch('MAX*', 'maxclients'));
});
