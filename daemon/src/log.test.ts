/**
 * Logs: text by default, JSON lines with `log-format json`; the start-up summary of the effective
 * configuration never shows a secret (requirepass, credentials in config file sections).
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Redis from 'ioredis';
import { startDaemon } from './testing';

const PASSWORD = 'pw-that-must-never-be-logged-8842';
const API_KEY = 'sk-key-that-must-never-be-logged-1177';

function configFile(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sluice-log-'));
  const file = path.join(dir, 'sluice.yaml');
  writeFileSync(
    file,
    [
      `requirepass: ${PASSWORD}`,
      'policies:',
      '  user-rpm: { limit: 60, per: 60000 }',
      'model_list:',
      '  - model_name: gpt-4o',
      `    litellm_params: { model: openai/gpt-4o, api_key: ${API_KEY}, rpm: 10 }`,
      '',
    ].join('\n'),
  );
  return file;
}

test('log-format json: every line is a JSON object; the summary hides secrets; CONFIG SET switches back to text', async () => {
  const d = await startDaemon(['--config', configFile(), '--log-format', 'json']);
  const c = new Redis({ port: d.port, password: PASSWORD, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  await c.connect();
  const startup = d.output().split('\n').filter((l) => l !== '');
  for (const line of startup) {
    const entry = JSON.parse(line);
    assert.equal(typeof entry.time, 'string');
    assert.equal(entry.pid, d.process.pid);
    assert.ok(['debug', 'verbose', 'notice', 'warning'].includes(entry.level));
    assert.equal(typeof entry.message, 'string');
  }
  const summary = startup.map((l) => JSON.parse(l)).find((e) => e.config !== undefined);
  assert.ok(summary, 'a start-up summary');
  assert.equal(summary.config.options.requirepass, '(set)');
  assert.equal(summary.config.options['log-format'], 'json');
  assert.equal(summary.config.options.port, '0');
  assert.deepEqual(summary.config.sections, { policies: 1, model_list: 1 });
  await assert.rejects(c.config('SET', 'log-format', 'xml'), /ERR CONFIG SET failed - invalid value 'xml' for log-format .*expected one of text, json/);
  await c.config('SET', 'log-format', 'text');
  await c.call('SHUTDOWN').catch(() => {}); // no reply: the connection closes
  await d.exited;
  const last = d.output().trim().split('\n').at(-1)!;
  assert.match(last, /^\d+:\* \S+Z Sluice stopped\. Bye\.$/, 'text again after CONFIG SET');
  assert.ok(!d.output().includes(PASSWORD), 'the password never appears');
  assert.ok(!d.output().includes(API_KEY), 'a deployment key never appears');
  c.disconnect();
});

test('text logs by default, with the summary and no secret', async () => {
  const d = await startDaemon(['--requirepass', PASSWORD, '--metrics-port', '0']);
  try {
    const out = d.output();
    assert.match(out, /^\d+:\* \S+Z Sluice \S+ listening on /m);
    assert.match(out, /^\d+:\* \S+Z effective configuration .* \{"config":\{"options":\{"port":"0",.*"requirepass":"\(set\)"/m);
    assert.ok(!out.includes(PASSWORD));
  } finally {
    await d.stop();
  }
});
