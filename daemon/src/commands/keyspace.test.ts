/**
 * The keyspace commands against a real daemon: every command and its errors, TYPE / PTTL per
 * kind of state, DEL really freeing state, SCAN's guarantee under concurrent changes over the
 * wire, and the scan iterators of redis-cli, ioredis, node-redis, redis-py and go-redis.
 */
import test, { after, before } from 'node:test';
import assert from 'node:assert/strict';
import Redis from 'ioredis';
import { createClient } from 'redis';
import { RawClient, redisCli, resp, startDaemon, type Daemon } from '../testing';
import { scenario } from '../other-clients';

let daemon: Daemon;
let redis: Redis;

before(async () => {
  daemon = await startDaemon();
  redis = new Redis({ port: daemon.port, lazyConnect: true });
  await redis.connect();
});

after(async () => {
  redis.disconnect();
  await daemon.stop();
});

const call = (...args: (string | number)[]) => redis.call(String(args[0]), ...args.slice(1).map(String));
const hit = (key: string, ...extra: string[]) => call('RL.HIT', key, 'LIMIT', 5, 'PER', 60_000, ...extra) as Promise<number[]>;
const rejects = (args: (string | number)[], message: RegExp) => assert.rejects(call(...args), (e: Error) => message.test(e.message));

/** Every key a full SCAN returns, walking the cursor with `options`. */
async function scanAll(...options: (string | number)[]): Promise<string[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = (await call('SCAN', cursor, ...options)) as [string, string[]];
    keys.push(...batch);
    cursor = next;
  } while (cursor !== '0');
  return keys.sort();
}

test('TYPE, PTTL and TTL for each kind of state; none / -2 for a missing key', async () => {
  await hit('t:gcra');
  await call('CL.THROTTLE', 't:cell', 4, 10, 60);
  await hit('t:sliding', 'ALGO', 'sliding');
  await hit('t:fixed', 'ALGO', 'fixed');
  await call('SEM.ACQUIRE', 't:lease', 3, 'TTL', 30_000);
  const types = await Promise.all(['t:gcra', 't:cell', 't:sliding', 't:fixed', 't:lease', 't:none'].map((k) => call('TYPE', k)));
  assert.deepEqual(types, ['gcra', 'gcra', 'sliding', 'fixed', 'lease', 'none']);
  const pttl = async (k: string) => (await call('PTTL', k)) as number;
  // GCRA 5 per minute after one hit: full again one interval (12 s) later.
  assert.ok((await pttl('t:gcra')) > 11_000 && (await pttl('t:gcra')) <= 12_000);
  // CL.THROTTLE 10 per 60 s: one emission interval (6 s).
  assert.ok((await pttl('t:cell')) > 5_000 && (await pttl('t:cell')) <= 6_000);
  // A sliding window counts in the next window too: 1 to 2 windows; a fixed one until its end.
  assert.ok((await pttl('t:sliding')) > 60_000 && (await pttl('t:sliding')) <= 120_000);
  assert.ok((await pttl('t:fixed')) > 0 && (await pttl('t:fixed')) <= 60_000);
  assert.ok((await pttl('t:lease')) > 29_000 && (await pttl('t:lease')) <= 30_000);
  assert.equal(await pttl('t:none'), -2);
  assert.equal(await call('TTL', 't:lease'), 30);
  assert.equal(await call('TTL', 't:none'), -2);
  const c = await RawClient.connect(daemon.port);
  assert.equal(await c.send(resp('TYPE', 't:none'), '\r\n'), '+none\r\n');
  c.close();
});

test('a key held by several algorithms has the first type in gcra, sliding, fixed, lease order and the latest end', async () => {
  await call('SEM.ACQUIRE', 'multi:k', 1, 'TTL', 300_000);
  assert.equal(await call('TYPE', 'multi:k'), 'lease');
  await hit('multi:k', 'ALGO', 'fixed');
  assert.equal(await call('TYPE', 'multi:k'), 'fixed');
  await hit('multi:k');
  assert.equal(await call('TYPE', 'multi:k'), 'gcra');
  assert.ok(((await call('PTTL', 'multi:k')) as number) > 290_000, 'the lease lasts longest');
  assert.deepEqual(await scanAll('MATCH', 'multi:*'), ['multi:k'], 'SCAN returns it once');
  assert.deepEqual(await scanAll('MATCH', 'multi:*', 'TYPE', 'gcra'), ['multi:k']);
  assert.deepEqual(await scanAll('MATCH', 'multi:*', 'TYPE', 'lease'), []);
  assert.equal(await call('DEL', 'multi:k'), 1);
  assert.equal(await call('TYPE', 'multi:k'), 'none');
  assert.equal(((await call('SEM.ACQUIRE', 'multi:k', 1)) as number[])[0], 1, 'the lease slot was freed');
  assert.deepEqual((await hit('multi:k')).slice(0, 3), [1, 5, 4], 'the limiter is full again');
});

test('DEL frees state: a refused key is admitted again; UNLINK likewise; counts only keys that existed', async () => {
  for (let i = 0; i < 5; i++) await hit('del:a');
  assert.equal((await hit('del:a'))[0], 0, 'refused after 5');
  assert.equal(await call('DEL', 'del:a', 'del:a', 'del:missing'), 1);
  assert.deepEqual((await hit('del:a')).slice(0, 3), [1, 5, 4], 'admitted again, from full');
  await call('SEM.ACQUIRE', 'del:pool', 1);
  assert.equal((await call('SEM.ACQUIRE', 'del:pool', 1) as number[])[0], 0, 'the one slot is held');
  for (let i = 0; i < 5; i++) await hit('del:b', 'ALGO', 'sliding');
  assert.equal(await call('UNLINK', 'del:pool', 'del:b'), 2);
  assert.equal((await call('SEM.ACQUIRE', 'del:pool', 1) as number[])[0], 1, 'the slot is free');
  assert.equal((await hit('del:b', 'ALGO', 'sliding'))[0], 1);
  await rejects(['DEL'], /wrong number of arguments for 'del' command/);
});

test('EXISTS counts every named key that exists, repeats included', async () => {
  await hit('ex:a');
  await call('SEM.ACQUIRE', 'ex:b', 1);
  assert.equal(await call('EXISTS', 'ex:a', 'ex:a', 'ex:b', 'ex:none'), 3);
  assert.equal(await call('EXISTS', 'ex:none'), 0);
});

test('EXPIRE / PEXPIRE bring the end forward only; a limiter is full again by then; PERSIST is refused for an existing key', async () => {
  for (let i = 0; i < 5; i++) await hit('exp:g');
  assert.equal(await call('EXPIRE', 'exp:g', 3600), 0, 'cannot push the end back');
  assert.equal(await call('EXPIRE', 'exp:g', 30, 'GT'), 0, 'GT could only lengthen');
  assert.equal(await call('EXPIRE', 'exp:g', 30, 'NX'), 0, 'every key has an end');
  assert.equal(await call('EXPIRE', 'exp:g', 30, 'LT'), 1);
  assert.equal(await call('TTL', 'exp:g'), 30);
  // GCRA keeps one number, the instant the bucket is full again: bringing it forward to 30 s
  // refills the bucket evenly by then (5 per minute: 2 tokens are back at once, not 0).
  assert.equal((await call('RL.PEEK', 'exp:g', 'LIMIT', 5, 'PER', 60_000) as number[])[2], 2);
  assert.equal(await call('PEXPIRE', 'exp:g', 300, 'XX'), 1);
  assert.ok(((await call('PTTL', 'exp:g')) as number) <= 300);
  // Windows keep their count until the deadline, then read as empty.
  for (let i = 0; i < 5; i++) await hit('exp:f', 'ALGO', 'fixed');
  assert.equal(await call('PEXPIRE', 'exp:f', 300), 1);
  assert.equal((await hit('exp:f', 'ALGO', 'fixed'))[0], 0, 'a window stays limited until the deadline');
  await new Promise((r) => setTimeout(r, 350));
  assert.equal(await call('EXISTS', 'exp:g', 'exp:f'), 0, 'forgotten at the deadline');
  assert.deepEqual((await hit('exp:g')).slice(0, 3), [1, 5, 4], 'full again');
  assert.deepEqual((await hit('exp:f', 'ALGO', 'fixed')).slice(0, 3), [1, 5, 4]);
  // A lease key: its leases end by the deadline; 0 or less deletes, as in Redis.
  await call('SEM.ACQUIRE', 'exp:l', 2, 'TTL', 60_000);
  assert.equal(await call('PEXPIRE', 'exp:l', 100), 1);
  await new Promise((r) => setTimeout(r, 150));
  assert.equal(await call('SEM.COUNT', 'exp:l'), 0);
  await hit('exp:d');
  assert.equal(await call('EXPIRE', 'exp:d', -1), 1);
  assert.equal(await call('EXISTS', 'exp:d'), 0);
  assert.equal(await call('EXPIRE', 'exp:missing', 10), 0);
  await hit('exp:p');
  await rejects(['PERSIST', 'exp:p'], /^ERR limiter and lease state always ends.*cannot be made persistent/);
  assert.equal(await call('PERSIST', 'exp:missing'), 0);
  await rejects(['EXPIRE', 'exp:p', 'soon'], /^ERR value is not an integer or out of range$/);
  await rejects(['EXPIRE', 'exp:p', 10, 'SOMETIME'], /^ERR Unsupported option SOMETIME$/);
  await rejects(['EXPIRE', 'exp:p', 10, 'NX', 'XX'], /^ERR NX and XX, GT or LT options at the same time are not compatible$/);
  await rejects(['EXPIRE', 'exp:p', 10, 'GT', 'LT'], /^ERR GT and LT options at the same time are not compatible$/);
  await rejects(['EXPIRE', 'exp:p', '9007199254740991'], /^ERR invalid expire time in 'expire' command$/);
  await rejects(['EXPIRE', 'exp:p'], /wrong number of arguments for 'expire' command/);
});

test('OBJECT ENCODING / REFCOUNT / HELP and MEMORY USAGE', async () => {
  const long = 'obj:' + 'x'.repeat(40);
  await hit('obj:a');
  await hit(long, 'ALGO', 'fixed');
  await call('SEM.ACQUIRE', 'obj:l', 1);
  assert.equal(await call('OBJECT', 'ENCODING', 'obj:a'), 'inline');
  assert.equal(await call('OBJECT', 'ENCODING', long), 'boxed');
  assert.equal(await call('OBJECT', 'ENCODING', 'obj:l'), 'leases');
  assert.equal(await call('OBJECT', 'ENCODING', 'obj:none'), null);
  assert.equal(await call('OBJECT', 'REFCOUNT', 'obj:a'), 1);
  assert.match(((await call('OBJECT', 'HELP')) as string[])[0], /^OBJECT <subcommand>/);
  await rejects(['OBJECT', 'FREQ', 'obj:a'], /^ERR unknown subcommand 'FREQ'. Try OBJECT HELP.$/);
  // A GCRA key of up to 16 bytes: its 24-byte slot and a control byte, over the 7/8 load factor.
  assert.equal(await call('MEMORY', 'USAGE', 'obj:a'), 28);
  assert.ok(((await call('MEMORY', 'USAGE', long)) as number) > 44, 'a boxed key counts its bytes');
  assert.ok(((await call('MEMORY', 'USAGE', 'obj:l')) as number) > 0);
  assert.equal(await call('MEMORY', 'USAGE', 'obj:a', 'SAMPLES', 5), 28);
  assert.equal(await call('MEMORY', 'USAGE', 'obj:none'), null);
  await rejects(['MEMORY', 'USAGE', 'obj:a', 'SAMPLES'], /^ERR syntax error$/);
  await rejects(['MEMORY', 'USAGE', 'obj:a', 'SAMPLES', 'x'], /^ERR value is not an integer or out of range$/);
  await rejects(['MEMORY', 'DOCTOR'], /^ERR unknown subcommand 'DOCTOR'. Try MEMORY HELP.$/);
});

test('SCAN: MATCH, COUNT, TYPE, errors; KEYS', async () => {
  await call('FLUSHALL');
  for (let i = 0; i < 300; i++) await hit(`scan:user:${i}`, 'ALGO', ['gcra', 'sliding', 'fixed'][i % 3]);
  for (let i = 0; i < 20; i++) await call('SEM.ACQUIRE', `scan:pool:${i}`, 1);
  const users = Array.from({ length: 300 }, (_, i) => `scan:user:${i}`).sort();
  assert.deepEqual(await scanAll('MATCH', 'scan:user:*', 'COUNT', 7), users);
  assert.equal((await scanAll()).length, 320);
  assert.equal((await scanAll('TYPE', 'sliding')).length, 100);
  assert.equal((await scanAll('TYPE', 'lease', 'COUNT', 1000)).length, 20);
  assert.deepEqual(await scanAll('MATCH', 'scan:user:1?', 'TYPE', 'gcra'), ['scan:user:12', 'scan:user:15', 'scan:user:18']);
  // COUNT bounds the work of a call, not exactly its keys: a step of COUNT 10 returns far fewer than all.
  const [cursor, first] = (await call('SCAN', 0, 'COUNT', 10)) as [string, string[]];
  assert.notEqual(cursor, '0');
  assert.ok(first.length < 320);
  // Redis 7 answers nothing for a type it does not know.
  assert.deepEqual(await call('SCAN', 0, 'TYPE', 'string'), ['0', []]);
  assert.deepEqual(await call('SCAN', '18446744073709551615'), ['0', []], 'a cursor past the end ends the scan');
  assert.deepEqual(((await call('KEYS', 'scan:pool:1*')) as string[]).sort(), ['scan:pool:1', ...Array.from({ length: 10 }, (_, i) => `scan:pool:1${i}`)].sort());
  assert.equal(((await call('KEYS', '*')) as string[]).length, 320);
  await rejects(['SCAN', 'abc'], /^ERR invalid cursor$/);
  await rejects(['SCAN', '-1'], /^ERR invalid cursor$/);
  await rejects(['SCAN', 0, 'COUNT', 0], /^ERR syntax error$/);
  await rejects(['SCAN', 0, 'COUNT', 'many'], /^ERR value is not an integer or out of range$/);
  await rejects(['SCAN', 0, 'MATCH'], /^ERR syntax error$/);
  await rejects(['SCAN', 0, 'LIMIT', 5], /^ERR syntax error$/);
  await rejects(['KEYS'], /wrong number of arguments for 'keys' command/);
});

test('INFO keyspace reports every key as expiring and a real avg_ttl', async () => {
  await call('FLUSHALL');
  await call('SEM.ACQUIRE', 'info:a', 1, 'TTL', 100_000);
  await call('SEM.ACQUIRE', 'info:b', 1, 'TTL', 50_000);
  const info = (await call('INFO', 'keyspace')) as string;
  const m = /db0:keys=2,expires=2,avg_ttl=(\d+)/.exec(info);
  assert.ok(m, info);
  assert.ok(Number(m[1]) > 74_000 && Number(m[1]) <= 75_000, info);
});

test('WATCH sees DEL and EXPIRE of a watched key', async () => {
  await hit('w:k');
  const c = await RawClient.connect(daemon.port);
  await c.send(resp('WATCH', 'w:k'), '+OK\r\n');
  await call('DEL', 'w:k');
  assert.equal(await c.send(Buffer.concat([resp('MULTI'), resp('PING'), resp('EXEC')]), '*-1\r\n'), '+OK\r\n+QUEUED\r\n*-1\r\n');
  await hit('w:k');
  await c.send(resp('WATCH', 'w:k'), '+OK\r\n');
  await call('PEXPIRE', 'w:k', 10);
  assert.match(await c.send(Buffer.concat([resp('MULTI'), resp('PING'), resp('EXEC')]), '*-1\r\n'), /\*-1\r\n$/);
  c.close();
});

test("SCAN's promise over the wire: every key present for the whole scan is returned while other clients add, delete and expire keys", async () => {
  await call('FLUSHALL');
  const stable = new Set<string>();
  const pipe = redis.pipeline();
  for (let i = 0; i < 4000; i++) {
    const key = `g:stable:${i}`;
    stable.add(key);
    if (i % 4 === 3) pipe.call('SEM.ACQUIRE', key, 1, 'TTL', 600_000);
    else pipe.call('RL.HIT', key, 'LIMIT', 1, 'PER', 600_000, 'ALGO', ['gcra', 'sliding', 'fixed'][i % 4]);
  }
  for (let i = 0; i < 4000; i++) pipe.call('RL.HIT', `g:churn:${i}`, 'LIMIT', 1, 'PER', 1 + (i % 3000));
  await pipe.exec();
  const other = new Redis({ port: daemon.port });
  let added = 0;
  let deleted = 0;
  const seen = new Set<string>();
  let cursor = '0';
  let steps = 0;
  do {
    const [next, batch] = (await call('SCAN', cursor, 'COUNT', 25)) as [string, string[]];
    for (const k of batch) seen.add(k);
    cursor = next;
    steps++;
    // Another client changes the keyspace between steps: bursts of new keys (tables grow and
    // rehash), deletions (and the sweep shrinks tables), and keys expiring as time passes.
    const p = other.pipeline();
    const adds = steps % 10 === 0 ? 3000 : 50;
    for (let i = 0; i < adds; i++) p.call('RL.HIT', `g:new:${added++}`, 'LIMIT', 1, 'PER', 1 + (added % 2000));
    for (let i = 0; i < 40; i++) p.call('DEL', `g:churn:${deleted++}`);
    await p.exec();
  } while (cursor !== '0');
  other.disconnect();
  const missing = [...stable].filter((k) => !seen.has(k));
  assert.deepEqual(missing.slice(0, 5), [], `${missing.length} stable keys missing after ${steps} steps`);
  assert.ok(steps > 20 && added > 10_000, `${steps} steps, ${added} keys added during the scan`);
});

test('redis-cli --scan and --scan --pattern', async () => {
  await call('FLUSHALL');
  for (let i = 0; i < 150; i++) await hit(`cli:${i % 2 ? 'odd' : 'even'}:${i}`);
  const odd = (await redisCli(daemon.port, ['--scan', '--pattern', 'cli:odd:*'])).trim().split('\n').sort();
  assert.equal(odd.length, 75);
  assert.ok(odd.every((k) => k.startsWith('cli:odd:')));
  const all = (await redisCli(daemon.port, ['--scan'])).trim().split('\n');
  assert.equal(new Set(all).size, 150);
});

test('client scan iterators: ioredis scanStream, node-redis scanIterator, redis-py scan_iter, go-redis Iterator', async () => {
  await call('FLUSHALL');
  const want: string[] = [];
  // PER one hour: the keys must outlive the slowest client below (the first run builds redis-py's
  // environment and go-redis first, which can take minutes; a 60 s GCRA key is forgotten in 12 s).
  for (let i = 0; i < 250; i++) {
    await call('RL.HIT', `it:${i}`, 'LIMIT', 5, 'PER', 3_600_000, 'ALGO', i % 2 ? 'sliding' : 'gcra');
    want.push(`it:${i}`);
  }
  await call('SEM.ACQUIRE', 'other:pool', 1);
  want.sort();

  const viaIoredis: string[] = [];
  await new Promise<void>((resolve, reject) => {
    const stream = redis.scanStream({ match: 'it:*', count: 20 });
    stream.on('data', (keys: string[]) => viaIoredis.push(...keys));
    stream.on('end', resolve);
    stream.on('error', reject);
  });
  assert.deepEqual(viaIoredis.sort(), want);

  const node = createClient({ socket: { port: daemon.port } });
  await node.connect();
  const viaNodeRedis: string[] = [];
  for await (const keys of node.scanIterator({ MATCH: 'it:*', COUNT: 20 })) viaNodeRedis.push(...keys);
  await node.quit();
  assert.deepEqual(viaNodeRedis.sort(), want);

  assert.deepEqual((await scenario('redis-py', daemon.port, 'scan', 'it:*')).keys, want);
  assert.deepEqual((await scenario('go-redis', daemon.port, 'scan', 'it:*')).keys, want);
});
