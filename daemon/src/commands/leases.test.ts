/** SEM.* over real TCP: slots, idempotent release, extend, TTL expiry of dead holders, errors. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import Redis from 'ioredis';
import { startDaemon, type Daemon } from '../testing';

let daemon: Daemon;
let r: Redis;

before(async () => {
  daemon = await startDaemon();
  r = new Redis({ port: daemon.port });
});

after(async () => {
  r.disconnect();
  await daemon.stop();
});

const call = (...args: (string | number)[]) => r.call(String(args[0]), ...args.slice(1).map(String)) as Promise<unknown>;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test('at most limit leases; release is idempotent and frees a slot', async () => {
  const [a1, id1, n1] = (await call('SEM.ACQUIRE', 'pool', 2)) as number[];
  const [a2, id2, n2] = (await call('SEM.ACQUIRE', 'pool', 2)) as number[];
  assert.deepEqual([a1, n1, a2, n2], [1, 1, 1, 2]);
  assert.notEqual(id1, id2);
  assert.deepEqual(await call('SEM.ACQUIRE', 'pool', 2), [0, -1, 2]);
  assert.equal(await call('SEM.RELEASE', 'pool', id1), 1);
  assert.equal(await call('SEM.RELEASE', 'pool', id1), 0);
  assert.equal(await call('SEM.COUNT', 'pool'), 1);
  assert.equal(((await call('SEM.ACQUIRE', 'pool', 2)) as number[])[0], 1);
});

test('a dead holder frees its slot when the TTL passes; EXTEND keeps a live one', async () => {
  const [, dead] = (await call('SEM.ACQUIRE', 'ttl', 1, 'TTL', 150)) as number[];
  assert.deepEqual(await call('SEM.ACQUIRE', 'ttl', 1), [0, -1, 1]);
  assert.equal(await call('SEM.EXTEND', 'ttl', dead, 400), 1);
  await sleep(250);
  assert.equal(await call('SEM.COUNT', 'ttl'), 1, 'extended past the first TTL');
  await sleep(300);
  assert.equal(await call('SEM.COUNT', 'ttl'), 0);
  assert.equal(await call('SEM.EXTEND', 'ttl', dead, 1000), 0, 'an expired lease cannot come back');
  assert.equal(((await call('SEM.ACQUIRE', 'ttl', 1)) as number[])[0], 1);
});

test('many connections acquiring at once never exceed the limit', async () => {
  const clients = Array.from({ length: 10 }, () => new Redis({ port: daemon.port }));
  try {
    const replies = await Promise.all(clients.map((c) => {
      const p = c.pipeline();
      for (let i = 0; i < 10; i++) p.call('SEM.ACQUIRE', 'crowd', '7');
      return p.exec();
    }));
    assert.equal((replies.flat() as [Error | null, unknown][]).filter(([, v]) => (v as number[])[0] === 1).length, 7);
    assert.equal(await call('SEM.COUNT', 'crowd'), 7);
  } finally {
    for (const c of clients) c.disconnect();
  }
});

test('bad input: errors and no state change', async () => {
  await call('SEM.ACQUIRE', 'held', 3);
  const cases: [(string | number)[], RegExp][] = [
    [['SEM.ACQUIRE', 'held', 0], /^ERR limit must be a positive integer$/],
    [['SEM.ACQUIRE', 'held', 'x'], /^ERR value is not an integer or out of range$/],
    [['SEM.ACQUIRE', 'held', 3, 'TTL', 0], /^ERR TTL must be a positive integer$/],
    [['SEM.ACQUIRE', 'held', 3, 'TTL', '99999999999999'], /^ERR TTL must be at most/],
    [['SEM.ACQUIRE', 'held', 3, 'TTL'], /^ERR syntax error$/],
    [['SEM.ACQUIRE', 'held', 3, 'TTX', 5], /^ERR syntax error$/],
    [['SEM.RELEASE', 'held', -1], /^ERR lease must be a positive integer$/],
    [['SEM.EXTEND', 'held', 1, 0], /^ERR ttl must be a positive integer$/],
    [['SEM.COUNT'], /^ERR wrong number of arguments for 'sem.count' command$/],
    [['SEM.ACQUIRE', 'held'], /^ERR wrong number of arguments for 'sem.acquire' command$/],
  ];
  for (const [args, want] of cases) {
    await assert.rejects(call(...args), (err: Error) => {
      assert.match(err.message, want, args.join(' '));
      return true;
    });
  }
  assert.equal(await call('SEM.COUNT', 'held'), 1);
});
