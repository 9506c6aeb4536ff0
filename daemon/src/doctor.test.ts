/**
 * SLUICE.DOCTOR against a real daemon: each piece of advice is provoked by doing what it warns
 * about, and a daemon that saw nothing wrong says so.
 */
import test, { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Redis from 'ioredis';
import { RawClient, redisCli, resp, startDaemon, type Daemon } from './testing';

let daemon: Daemon;
let redis: Redis;

before(async () => {
  daemon = await startDaemon();
  redis = new Redis({ port: daemon.port, lazyConnect: true, maxRetriesPerRequest: 0 });
  await redis.connect();
});

after(async () => {
  redis.disconnect();
  await daemon.stop();
});

const doctor = async (client: Redis = redis) => String(await client.call('SLUICE.DOCTOR'));

test('a daemon that saw nothing wrong says so', async () => {
  const fresh = await startDaemon();
  try {
    const out = await redisCli(fresh.port, ['SLUICE.DOCTOR']);
    assert.match(out, /^Sluice has seen nothing to worry about/);
  } finally {
    await fresh.stop();
  }
});

test('a key prefix whose limits refuse most requests', async () => {
  const pipe = redis.pipeline();
  for (let i = 0; i < 150; i++) pipe.call('RL.HIT', 'greedy:client', 'LIMIT', 10, 'PER', 60000);
  await pipe.exec();
  const out = await doctor();
  assert.match(out, /Limits refuse most requests: keys under 'greedy:' were refused 140 of 150 hits \(93%\)/);
  assert.match(out, /raise LIMIT \(or BURST\), lengthen PER, or make clients wait for retry_after/);
});

test('keys near their limit most of the time', async () => {
  const pipe = redis.pipeline();
  for (let i = 0; i < 120; i++) pipe.call('RL.HIT', `tight:user${i}`, 'LIMIT', 1, 'PER', 60000);
  await pipe.exec();
  const out = await doctor();
  assert.match(out, /Keys near their limit most of the time: 120 of the 120 admitted hits on keys under 'tight:' \(100%\) left a tenth of the capacity or less/);
  assert.doesNotMatch(out, /refuse most requests: keys under 'tight:'/);
});

test('a prefix used well gets no advice', async () => {
  const pipe = redis.pipeline();
  for (let i = 0; i < 200; i++) pipe.call('RL.HIT', `calm:user${i % 20}`, 'LIMIT', 100, 'PER', 60000);
  await pipe.exec();
  assert.doesNotMatch(await doctor(), /calm:/);
});

test('token texts that always miss the cache', async () => {
  const pipe = redis.pipeline();
  for (let i = 0; i < 520; i++) pipe.call('TOK.COUNT', 'gpt-4o', `A prompt that never repeats, number ${i}, padded past 32 bytes.`);
  await pipe.exec();
  const out = await doctor();
  assert.match(out, /Token texts almost always miss the count cache: \d+ of \d+ lookups missed \(100% misses\)\. The cache is not full \(\d+ of 10000 entries\), so texts simply do not repeat/);
  assert.match(out, /Set tokens-cache-entries 0 to turn it off/);
});

test('slow commands (from the slow log)', async () => {
  await redis.config('SET', 'slowlog-log-slower-than', '0');
  await redis.call('ECHO', 'logged');
  await redis.config('SET', 'slowlog-log-slower-than', '10000');
  const out = await doctor();
  assert.match(out, /Slow commands: the slow log holds \d+ command\(s\) that took at least 10000 µs/);
  assert.match(out, /see SLOWLOG GET/);
  await redis.call('SLOWLOG', 'RESET');
  assert.doesNotMatch(await doctor(), /Slow commands/);
});

test('a slow client that does not read its replies', async () => {
  const lazy = await RawClient.connect(daemon.port);
  await lazy.send(resp('CLIENT', 'SETNAME', 'lazy-reader'), '+OK');
  lazy.socket.pause(); // stops reading: the replies pile up in the daemon
  const big = 'x'.repeat(2 * 1024 * 1024);
  for (let i = 0; i < 20; i++) lazy.write(resp('ECHO', big));
  let out = '';
  const deadline = Date.now() + 15_000;
  while (!/Slow client/.test(out) && Date.now() < deadline) {
    out = await doctor();
    if (!/Slow client/.test(out)) await new Promise((r) => setTimeout(r, 100));
  }
  assert.match(out, /Slow client: client \d+ \(127\.0\.0\.1:\d+, name lazy-reader\) has \d+\.\d MB of replies it has not read/);
  lazy.close();
});

test('a deployment cooling down often', async () => {
  const dep = (id: string) => JSON.stringify({ model_name: 'flaky', litellm_params: { model: `openai/${id}` }, model_info: { id } });
  await redis.call('ROUTE.SET', 'flaky', dep('f1'), dep('f2'));
  await redis.call('ROUTE.PICK', 'flaky');
  for (let i = 0; i < 3; i++) await redis.call('ROUTE.COOLDOWN', 'flaky', 'f1', 60_000);
  const out = await doctor();
  assert.match(out, /Deployment cooling down often: 'f1' of group 'flaky' entered cooldown 3 times \(picked \d+ times\), and is cooling down now for \d+ s more/);
  assert.doesNotMatch(out, /'f2' of group 'flaky'/);
});

test('snapshots failing', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sluice-doctor-'));
  const d = await startDaemon(['--dir', dir]);
  const c = new Redis({ port: d.port, lazyConnect: true, maxRetriesPerRequest: 0 });
  try {
    await c.connect();
    await c.call('RL.HIT', 'k', 'LIMIT', 1, 'PER', 60000);
    rmSync(dir, { recursive: true, force: true }); // the snapshot has nowhere to go
    await assert.rejects(c.call('SAVE'));
    const out = await doctor(c);
    assert.match(out, /Snapshots are failing: the last save of .*dump\.sluice failed \(.+\)\. .*Check the directory \(dir\) exists and is writable/);
  } finally {
    c.disconnect();
    await d.stop();
  }
});
