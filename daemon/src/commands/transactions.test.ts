/**
 * MULTI / EXEC / DISCARD / WATCH over real TCP, with Redis's replies, and through the
 * transaction APIs of ioredis, node-redis, redis-py and go-redis: replies arrive, nothing runs twice.
 */
import test, { after, before } from 'node:test';
import assert from 'node:assert/strict';
import Redis from 'ioredis';
import { createClient } from 'redis';
import { RawClient, resp, startDaemon, type Daemon } from '../testing';
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

const hit = (key: string) => ['RL.HIT', key, 'LIMIT', '5', 'PER', '60000'];
const remaining = async (key: string) => ((await redis.call('RL.PEEK', key, 'LIMIT', '5', 'PER', '60000')) as number[])[2];

test('MULTI queues, EXEC runs the queue and answers every reply in one array', async () => {
  const c = await RawClient.connect(daemon.port);
  const text = await c.send(
    Buffer.concat([resp('MULTI'), resp(...hit('tx:a')), resp('PING'), resp(...hit('tx:a')), resp('EXEC')]),
    '*3\r\n',
  );
  const all = text + (await c.until((t) => t.split('*5\r\n').length >= 3)).slice(text.length);
  assert.ok(all.startsWith('+OK\r\n+QUEUED\r\n+QUEUED\r\n+QUEUED\r\n*3\r\n*5\r\n:1\r\n:5\r\n:4\r\n'), all);
  assert.equal(await remaining('tx:a'), 3);
  c.close();
});

test('nothing runs before EXEC, and DISCARD drops the queue', async () => {
  const c = await RawClient.connect(daemon.port);
  await c.send(Buffer.concat([resp('MULTI'), resp(...hit('tx:b')), resp(...hit('tx:b'))]), '+QUEUED\r\n+QUEUED\r\n');
  assert.equal(await remaining('tx:b'), 5, 'queued commands have not run');
  assert.equal(await c.send(resp('DISCARD'), '\r\n'), '+OK\r\n');
  assert.equal(await remaining('tx:b'), 5);
  assert.equal(await c.send(resp('DISCARD'), '\r\n'), '-ERR DISCARD without MULTI\r\n');
  assert.equal(await c.send(resp('EXEC'), '\r\n'), '-ERR EXEC without MULTI\r\n');
  c.close();
});

test('an unknown command or a wrong arity while queueing aborts EXEC with EXECABORT; errors at EXEC stay in the array', async () => {
  const c = await RawClient.connect(daemon.port);
  let text = await c.send(Buffer.concat([resp('MULTI'), resp(...hit('tx:c')), resp('NOSUCH', 'x'), resp('EXEC')]), 'EXECABORT');
  assert.match(text, /\+OK\r\n\+QUEUED\r\n-ERR unknown command 'NOSUCH'.*\r\n-EXECABORT Transaction discarded because of previous errors\.\r\n/);
  assert.equal(await remaining('tx:c'), 5, 'nothing ran');
  text = await c.send(Buffer.concat([resp('MULTI'), resp('RL.HIT', 'tx:c'), resp('EXEC')]), 'EXECABORT');
  assert.match(text, /-ERR wrong number of arguments for 'rl\.hit' command\r\n-EXECABORT/);
  // A bad argument is found when the command runs: its error takes its place, the others run.
  text = await c.send(Buffer.concat([resp('MULTI'), resp('RL.HIT', 'tx:c', 'LIMIT', 'x', 'PER', '1'), resp(...hit('tx:c')), resp('EXEC')]), ':4\r\n');
  assert.match(text, /\*2\r\n-ERR value is not an integer or out of range\r\n\*5\r\n:1\r\n/);
  assert.equal(await c.send(Buffer.concat([resp('MULTI'), resp('MULTI')]), 'nested\r\n'), '+OK\r\n-ERR MULTI calls can not be nested\r\n');
  assert.equal(await c.send(resp('SHUTDOWN'), '\r\n'), '-ERR Command not allowed inside a transaction\r\n');
  assert.match(await c.send(resp('EXEC'), '\r\n'), /^-EXECABORT/);
  c.close();
});

test('WATCH: a change to a watched key by another client makes EXEC answer nil and run nothing', async () => {
  const c = await RawClient.connect(daemon.port);
  assert.equal(await c.send(resp('WATCH', 'tx:w', 'tx:other'), '\r\n'), '+OK\r\n');
  await redis.call('RL.HIT', 'tx:w', 'LIMIT', '5', 'PER', '60000'); // another client spends a token
  const text = await c.send(Buffer.concat([resp('MULTI'), resp(...hit('tx:w')), resp('EXEC')]), '*-1\r\n');
  assert.equal(text, '+OK\r\n+QUEUED\r\n*-1\r\n');
  assert.equal(await remaining('tx:w'), 4, 'the queued hit did not run');
  // EXEC forgets the watch: the next transaction runs.
  assert.match(await c.send(Buffer.concat([resp('MULTI'), resp(...hit('tx:w')), resp('EXEC')]), ':3\r\n'), /\*1\r\n\*5\r\n:1\r\n:5\r\n:3\r\n/);
  // A watched key nobody touched, UNWATCH, and a read by someone else: EXEC runs.
  await c.send(resp('WATCH', 'tx:w'), '+OK\r\n');
  await redis.call('RL.PEEK', 'tx:w', 'LIMIT', '5', 'PER', '60000');
  assert.match(await c.send(Buffer.concat([resp('MULTI'), resp('PING'), resp('EXEC')]), 'PONG\r\n'), /\*1\r\n\+PONG\r\n/);
  await c.send(resp('WATCH', 'tx:w'), '+OK\r\n');
  await redis.call('RL.HIT', 'tx:w', 'LIMIT', '5', 'PER', '60000');
  await c.send(resp('UNWATCH'), '+OK\r\n');
  assert.match(await c.send(Buffer.concat([resp('MULTI'), resp('PING'), resp('EXEC')]), 'PONG\r\n'), /\*1\r\n\+PONG\r\n/);
  // FLUSHALL touches every watched key; WATCH inside MULTI is refused.
  await c.send(resp('WATCH', 'tx:w'), '+OK\r\n');
  await redis.call('FLUSHALL');
  assert.equal(await c.send(Buffer.concat([resp('MULTI'), resp('WATCH', 'x'), resp('EXEC')]), '*-1\r\n'), '+OK\r\n-ERR WATCH inside MULTI is not allowed\r\n*-1\r\n');
  c.close();
});

test('the fast path is not taken while keys are watched (a fast-path hit would bypass WATCH)', async () => {
  const c = await RawClient.connect(daemon.port);
  await c.send(resp('WATCH', 'tx:f'), '+OK\r\n');
  const other = await RawClient.connect(daemon.port);
  await other.send(resp(...hit('tx:f')), ':-1\r\n'); // a plain RESP RL.HIT: the fast path would take it
  assert.equal(await c.send(Buffer.concat([resp('MULTI'), resp('PING'), resp('EXEC')]), '*-1\r\n'), '+OK\r\n+QUEUED\r\n*-1\r\n');
  c.close();
  other.close();
});

test('a large TOK.COUNT in a transaction (counted on a worker thread) keeps its place in the EXEC reply', async () => {
  const c = await RawClient.connect(daemon.port);
  const big = 'hello world '.repeat(10_000); // over tokens-inline-max-bytes: counted off the event loop
  const text = await c.send(
    Buffer.concat([resp('MULTI'), resp(...hit('tx:t')), resp('TOK.COUNT', 'gpt-4o', big), resp('PING'), resp('EXEC')]),
    '+PONG\r\n',
  );
  const tokens = (await redis.call('TOK.COUNT', 'gpt-4o', big)) as number;
  assert.match(text, new RegExp(`\\*3\r\n\\*5\r\n:1\r\n:5\r\n:4\r\n:-1\r\n:\\d+\r\n:${tokens}\r\n\\+PONG\r\n$`));
  c.close();
});

test('ioredis multi(): replies arrive, each command ran once', async () => {
  const replies = await redis.multi().call('RL.HIT', 'tx:io', 'LIMIT', '5', 'PER', '60000').call('RL.HIT', 'tx:io', 'LIMIT', '5', 'PER', '60000').exec();
  assert.deepEqual(replies!.map(([err, r]) => [err, (r as number[])[2]]), [[null, 4], [null, 3]]);
  assert.equal(await remaining('tx:io'), 3);
});

test('node-redis multi(): replies arrive, each command ran once', async () => {
  const client = createClient({ socket: { port: daemon.port, host: '127.0.0.1' } });
  await client.connect();
  const replies = (await client.multi().addCommand(hit('tx:nr')).addCommand(hit('tx:nr')).exec()) as unknown as number[][];
  assert.deepEqual(replies.map((r) => r[2]), [4, 3]);
  assert.equal(await remaining('tx:nr'), 3);
  await client.quit();
});

for (const client of ['redis-py', 'go-redis'] as const) {
  test(`${client} transaction pipeline: replies arrive, each command ran once`, { timeout: 600_000 }, async () => {
    const key = `tx:${client}`;
    const out = await scenario(client, daemon.port, 'transaction', key);
    assert.deepEqual((out.exec as number[][]).map((r) => r[2]), [4, 3]);
    assert.equal((out.peek as number[])[2], 3);
    assert.equal(await remaining(key), 3);
  });
}
