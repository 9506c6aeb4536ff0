/**
 * SLOWLOG and LATENCY against a real daemon, with the reply shapes Redis 7 gives (ioredis,
 * redis-cli and raw RESP3).
 */
import test, { after, before } from 'node:test';
import assert from 'node:assert/strict';
import Redis from 'ioredis';
import { RawClient, redisCli, resp, startDaemon, type Daemon } from '../testing';

let daemon: Daemon;
let redis: Redis;

before(async () => {
  daemon = await startDaemon(['--requirepass', 'hunter2-secret', '--tokens-inline-max-bytes', '64mb']);
  redis = new Redis({ port: daemon.port, password: 'hunter2-secret', lazyConnect: true, maxRetriesPerRequest: 0 });
  await redis.connect();
});

after(async () => {
  redis.disconnect();
  await daemon.stop();
});

type Entry = [number, number, number, string[], string, string];

test('SLOWLOG GET: Redis 7 entries, newest first, arguments cut as Redis cuts them', async () => {
  await redis.config('SET', 'slowlog-log-slower-than', '0');
  await redis.call('SLOWLOG', 'RESET');
  await redis.call('CLIENT', 'SETNAME', 'slow-test');
  await redis.call('ECHO', 'x'.repeat(200));
  await redis.call('RL.ALL', 11, ...Array.from({ length: 11 }, (_, i) => [`k${i}`, 'nopolicy', 1]).flat()).catch(() => {});
  const entries = (await redis.call('SLOWLOG', 'GET', -1)) as Entry[];
  // SLOWLOG RESET itself comes first in the log, then each command in order; newest first.
  assert.deepEqual(entries.map((e) => e[3][0].toLowerCase()), ['rl.all', 'echo', 'client', 'slowlog']);
  const [rlAll, echo, client] = entries;
  assert.ok(rlAll[0] > echo[0] && echo[0] > client[0], 'ids grow');
  assert.ok(Math.abs(echo[1] - Date.now() / 1000) < 60, 'a Unix time in seconds');
  assert.ok(Number.isInteger(echo[2]) && echo[2] >= 0, 'microseconds');
  assert.equal(echo[3][1], `${'x'.repeat(128)}... (72 more bytes)`);
  assert.equal(rlAll[3].length, 32);
  assert.equal(rlAll[3][31], '... (4 more arguments)', '35 arguments: 31 kept and a note');
  assert.match(echo[4], /^127\.0\.0\.1:\d+$/);
  assert.equal(echo[5], 'slow-test');
  assert.equal(client[5], 'slow-test', 'as in Redis, the entry is made after the command ran');
  assert.equal(await redis.call('SLOWLOG', 'LEN'), 5, 'the GET above is logged too');
  assert.equal((await redis.call('SLOWLOG', 'GET')) instanceof Array, true);
  assert.equal(((await redis.call('SLOWLOG', 'GET', 2)) as Entry[]).length, 2);
  assert.deepEqual(await redis.call('SLOWLOG', 'GET', 0), []);
});

test('SLOWLOG never shows a password (AUTH, HELLO AUTH, CONFIG SET requirepass)', async () => {
  await redis.call('SLOWLOG', 'RESET');
  await redis.call('AUTH', 'hunter2-secret');
  await redis.call('AUTH', 'default', 'hunter2-secret');
  await redis.call('HELLO', '2', 'AUTH', 'default', 'hunter2-secret');
  await redis.config('SET', 'requirepass', 'hunter2-secret', 'maxclients', '500');
  const entries = (await redis.call('SLOWLOG', 'GET', -1)) as Entry[];
  assert.ok(!JSON.stringify(entries).includes('hunter2'), JSON.stringify(entries));
  const args = entries.map((e) => e[3]);
  assert.deepEqual(args.find((a) => a[0] === 'AUTH' && a.length === 2), ['AUTH', '(redacted)']);
  assert.deepEqual(args.find((a) => a[0] === 'HELLO'), ['HELLO', '2', 'AUTH', '(redacted)', '(redacted)']);
  assert.deepEqual(args.find((a) => a[0] === 'config'), ['config', 'SET', 'requirepass', '(redacted)', 'maxclients', '500']);
});

test('SLOWLOG settings: max length trims, -1 turns it off, bad values and counts are refused', async () => {
  await redis.config('SET', 'slowlog-log-slower-than', '0', 'slowlog-max-len', '3');
  for (let i = 0; i < 6; i++) await redis.call('ECHO', String(i));
  assert.equal(await redis.call('SLOWLOG', 'LEN'), 3);
  assert.deepEqual(await redis.config('GET', 'slowlog-*'), ['slowlog-log-slower-than', '0', 'slowlog-max-len', '3']);
  await redis.config('SET', 'slowlog-log-slower-than', '-1', 'slowlog-max-len', '128');
  assert.equal(await redis.call('SLOWLOG', 'RESET'), 'OK');
  for (let i = 0; i < 3; i++) await redis.call('ECHO', String(i));
  assert.equal(await redis.call('SLOWLOG', 'LEN'), 0);
  await redis.config('SET', 'slowlog-log-slower-than', '1000000'); // a second: nothing here takes that long
  await redis.call('ECHO', 'quick');
  assert.equal(await redis.call('SLOWLOG', 'LEN'), 0);
  await assert.rejects(redis.config('SET', 'slowlog-log-slower-than', '-2'), /ERR CONFIG SET failed - invalid value '-2' for slowlog-log-slower-than .*must be at least -1/);
  await assert.rejects(redis.config('SET', 'slowlog-max-len', '-1'), /ERR CONFIG SET failed - invalid value '-1' for slowlog-max-len/);
  await assert.rejects(redis.call('SLOWLOG', 'GET', '-2'), /^ReplyError: ERR count should be greater than or equal to -1$/);
  await assert.rejects(redis.call('SLOWLOG', 'GET', 'ten'), /^ReplyError: ERR count should be greater than or equal to -1$/);
  await assert.rejects(redis.call('SLOWLOG', 'GET', '1', '2'), /^ReplyError: ERR unknown subcommand or wrong number of arguments for 'GET'. Try SLOWLOG HELP.$/);
  await assert.rejects(redis.call('SLOWLOG', 'LEN', 'x'), /wrong number of arguments for 'slowlog\|len' command/);
  await assert.rejects(redis.call('SLOWLOG', 'NOPE'), /ERR unknown subcommand 'NOPE'. Try SLOWLOG HELP./);
  const help = (await redis.call('SLOWLOG', 'HELP')) as string[];
  assert.match(help[0], /^SLOWLOG <subcommand>/);
  assert.ok(help.includes('RESET'));
});

test('redis-cli reads SLOWLOG GET', async () => {
  await redis.config('SET', 'slowlog-log-slower-than', '0');
  await redis.call('ECHO', 'seen-by-redis-cli');
  const out = await redisCli(daemon.port, ['--no-auth-warning', '-a', 'hunter2-secret', 'SLOWLOG', 'GET', '3']);
  assert.match(out, /seen-by-redis-cli/);
  await redis.config('SET', 'slowlog-log-slower-than', '10000');
});

/** LATENCY HISTOGRAM's map, from RESP2's flat arrays. */
function histogramMap(reply: unknown[]): Map<string, { calls: number; buckets: [number, number][] }> {
  const out = new Map<string, { calls: number; buckets: [number, number][] }>();
  for (let i = 0; i < reply.length; i += 2) {
    const body = reply[i + 1] as unknown[];
    assert.equal(body[0], 'calls');
    assert.equal(body[2], 'histogram_usec');
    const flat = body[3] as number[];
    const buckets: [number, number][] = [];
    for (let j = 0; j < flat.length; j += 2) buckets.push([flat[j], flat[j + 1]]);
    out.set(reply[i] as string, { calls: body[1] as number, buckets });
  }
  return out;
}

test('LATENCY HISTOGRAM: calls and cumulative power-of-two buckets per command', async () => {
  for (let i = 0; i < 9; i++) await redis.call('ECHO', 'h');
  await redis.config('GET', 'maxclients');
  const echo = histogramMap((await redis.call('LATENCY', 'HISTOGRAM', 'echo', 'nosuchcommand')) as unknown[]);
  assert.deepEqual([...echo.keys()], ['echo'], 'an unknown name is skipped');
  const { calls, buckets } = echo.get('echo')!;
  assert.ok(calls >= 9);
  assert.equal(buckets.at(-1)![1], calls, 'the last bucket holds every call');
  const allowed = [1, 2, 4, 8, 16, 33, 66, 132, 264, 528, 1056, 2113, 4227, 8454, 16909, 33818, 67637, 135274, 270549, 541098, 1082196];
  for (let j = 0; j < buckets.length; j++) {
    assert.ok(allowed.includes(buckets[j][0]), `bucket ${buckets[j][0]} is one of Redis's`);
    if (j > 0) assert.ok(buckets[j][0] > buckets[j - 1][0] && buckets[j][1] > buckets[j - 1][1], 'bounds and counts grow');
  }
  const config = histogramMap((await redis.call('LATENCY', 'HISTOGRAM', 'CONFIG')) as unknown[]);
  assert.ok(config.has('config|get') && config.has('config|set'), 'a container brings its subcommands');
  const all = histogramMap((await redis.call('LATENCY', 'HISTOGRAM')) as unknown[]);
  assert.ok(all.has('echo') && all.has('config|get'));
  // RESP3: maps.
  const c = await RawClient.connect(daemon.port);
  await c.send(resp('HELLO', '3', 'AUTH', 'default', 'hunter2-secret'), 'modules');
  const text = await c.send(resp('LATENCY', 'HISTOGRAM', 'echo'), '\r\n');
  await c.until((t) => t.includes('histogram_usec'));
  assert.match(c.received.toString(), /%1\r\n\$4\r\necho\r\n%2\r\n\$5\r\ncalls\r\n:\d+\r\n\$14\r\nhistogram_usec\r\n%\d+\r\n/);
  assert.ok(text.length > 0);
  c.close();
});

test('LATENCY LATEST and RESET: spikes over latency-monitor-threshold', async () => {
  assert.deepEqual(await redis.call('LATENCY', 'LATEST'), [], 'off by default (threshold 0)');
  await redis.config('SET', 'latency-monitor-threshold', '1');
  // Counting 4 MB of text on the event loop takes well over a millisecond.
  await redis.call('TOK.COUNT', 'gpt-4o', 'Sluice counts tokens of long texts. '.repeat(120_000));
  const latest = (await redis.call('LATENCY', 'LATEST')) as [string, number, number, number][];
  assert.equal(latest.length, 1);
  const [event, time, ms, max] = latest[0];
  assert.equal(event, 'command');
  assert.ok(Math.abs(time - Date.now() / 1000) < 60);
  assert.ok(ms >= 1 && max >= ms, `${ms} ms, max ${max}`);
  assert.equal(await redis.call('LATENCY', 'RESET', 'nosuchevent'), 0);
  assert.equal(await redis.call('LATENCY', 'RESET'), 1);
  assert.deepEqual(await redis.call('LATENCY', 'LATEST'), []);
  await redis.config('SET', 'latency-monitor-threshold', '0');
  const help = (await redis.call('LATENCY', 'HELP')) as string[];
  assert.match(help[0], /^LATENCY <subcommand>/);
  await assert.rejects(redis.call('LATENCY', 'LATEST', 'x'), /wrong number of arguments for 'latency\|latest' command/);
});

test('SLOWLOG and LATENCY need authentication', async () => {
  const c = await RawClient.connect(daemon.port);
  assert.match(await c.send(resp('SLOWLOG', 'GET'), '\r\n'), /^-NOAUTH Authentication required\.\r\n$/);
  assert.match(await c.send(resp('LATENCY', 'HISTOGRAM'), '\r\n'), /^-NOAUTH Authentication required\.\r\n$/);
  c.close();
});
