/**
 * CL.THROTTLE and RL.* over real TCP against a real daemon: worked examples, exactness under
 * many connections, RL.ALL's all-or-nothing, policies from the config file, expiry, and bad
 * input (an error, and no state change).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Redis from 'ioredis';
import { RawClient, redisCli, resp, startDaemon, type Daemon } from '../testing';

let daemon: Daemon;
let r: Redis;

before(async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'sluice-limits-'));
  const file = path.join(dir, 'sluice.yaml');
  writeFileSync(
    file,
    ['policies:', '  user-rpm: { limit: 5, per: 60000 }', '  model-tpm:', '    limit: 1000', '    per: 60000', '    algo: sliding', '  burst3: { limit: 1, per: 3600000, burst: 3 }'].join('\n'),
  );
  daemon = await startDaemon(['--config', file]);
  r = new Redis({ port: daemon.port, lazyConnect: true });
  await r.connect();
});

after(async () => {
  r.disconnect();
  await daemon.stop();
});

type Results = [Error | null, unknown][];
const call = (...args: (string | number)[]) => r.call(String(args[0]), ...args.slice(1).map(String)) as Promise<unknown>;

test('CL.THROTTLE: hand-derived replies for max_burst 4, 1 per 60 s (T = 60 s, tau = 300 s)', async () => {
  // A quantity above capacity (5) can never fit: limited, retry -1, bucket reported full.
  assert.deepEqual(await call('CL.THROTTLE', 'ct', 4, 1, 60, 6), [1, 5, 5, -1, 0]);
  // Five at once: tat moves 60 s each time; remaining (300 s - n*60 s) / 60 s; reset n*60 s
  // (a fraction of a ms elapsed between calls rounds back up to the whole second).
  for (let n = 1; n <= 5; n++) assert.deepEqual(await call('CL.THROTTLE', 'ct', 4, 1, 60), [0, 5, 5 - n, -1, 60 * n]);
  // The sixth: allow_at = tat + 60 s - 300 s = now + 60 s: retry 60 s; ttl 300 s.
  assert.deepEqual(await call('CL.THROTTLE', 'ct', 4, 1, 60), [1, 5, 0, 60, 300]);
  // Quantity 0 is a peek and is always allowed.
  assert.deepEqual(await call('CL.THROTTLE', 'ct', 4, 1, 60, 0), [0, 5, 0, -1, 300]);
  // A refund (negative quantity), as redis-cell allows: two tokens back.
  assert.deepEqual(await call('CL.THROTTLE', 'ct', 4, 1, 60, -2), [0, 5, 2, -1, 180]);
});

test('CL.THROTTLE: max_burst 0 allows one, then retry is the emission interval', async () => {
  assert.deepEqual(await call('CL.THROTTLE', 'ct0', 0, 2, 10), [0, 1, 0, -1, 5]);
  assert.deepEqual(await call('CL.THROTTLE', 'ct0', 0, 2, 10), [1, 1, 0, 5, 5]);
});

test('CL.THROTTLE: bad arguments answer as redis-cell does and change nothing', async () => {
  const before = await call('CL.THROTTLE', 'cte', 2, 1, 60, 0);
  await assert.rejects(call('CL.THROTTLE', 'cte', 'x', 1, 60), /^ReplyError: Cell error: Couldn't parse as integer: x$/);
  await assert.rejects(call('CL.THROTTLE', 'cte', 1, '1.5', 60), /Cell error: Couldn't parse as integer: 1\.5/);
  await assert.rejects(call('CL.THROTTLE', 'cte', 1, 1, 60, ''), /Cell error: Couldn't parse as integer: $/);
  await assert.rejects(call('CL.THROTTLE', 'cte', 1, 0, 60), /^ReplyError: ERR max_burst must be >= 0, count and period must be > 0$/);
  await assert.rejects(call('CL.THROTTLE', 'cte', -1, 1, 60), /ERR max_burst must be >= 0/);
  await assert.rejects(call('CL.THROTTLE', 'cte', 1, 1, -60), /ERR max_burst must be >= 0/);
  await assert.rejects(call('CL.THROTTLE', 'cte', 1, 1, '9223372036854775807'), /ERR value is out of range/);
  await assert.rejects(call('CL.THROTTLE', 'cte', 1, 1, '99999999999999999999'), /Cell error: Couldn't parse as integer/);
  await assert.rejects(call('CL.THROTTLE', 'cte', 1, 1), /ERR wrong number of arguments for 'cl.throttle' command/);
  await assert.rejects(call('CL.THROTTLE', 'cte', 1, 1, 1, 1, 1), /ERR wrong number of arguments/);
  assert.deepEqual(await call('CL.THROTTLE', 'cte', 2, 1, 60, 0), before);
  // Rust's integer syntax: a plus sign and leading zeros are accepted, as in redis-cell.
  assert.deepEqual(await call('CL.THROTTLE', 'cte', '+2', '01', 60), [0, 3, 2, -1, 60]);
});

test('RL.HIT gcra: LIMIT 10 PER 60000 admits 10 at once, then one every 6 s', async () => {
  for (let left = 9; left >= 0; left--) {
    const [allowed, limit, remaining, retry] = (await call('RL.HIT', 'g', 'LIMIT', 10, 'PER', 60000)) as number[];
    assert.deepEqual([allowed, limit, remaining, retry], [1, 10, left, -1]);
  }
  const [allowed, limit, remaining, retry, reset] = (await call('RL.HIT', 'g', 'LIMIT', 10, 'PER', 60000)) as number[];
  assert.deepEqual([allowed, limit, remaining], [0, 10, 0]);
  assert.ok(retry > 5900 && retry <= 6000, `retry ${retry}`);
  assert.ok(reset > 59900 && reset <= 60000, `reset ${reset}`);
  // Cost above the bucket: refused, -1 (never).
  assert.deepEqual(await call('RL.HIT', 'g2', 'LIMIT', 10, 'PER', 60000, 'COST', 11), [0, 10, 10, -1, 0]);
  // BURST: capacity 3, refill 1 per hour.
  assert.deepEqual((await call('RL.HIT', 'g3', 'POLICY', 'burst3', 'COST', 3)) as number[], [1, 3, 0, -1, 3 * 3600000]);
});

test('keys of every length give the same answers (short keys go through the native call area, long ones not)', async () => {
  for (const len of [1, 16, 64, 65, 1024, 1025, 5000]) {
    const key = 'k'.repeat(len - 1) + String(len % 10);
    const first = (await call('RL.HIT', key, 'LIMIT', 2, 'PER', 60000)) as number[];
    const second = (await call('RL.HIT', key, 'LIMIT', 2, 'PER', 60000)) as number[];
    const third = (await call('RL.HIT', key, 'LIMIT', 2, 'PER', 60000)) as number[];
    assert.deepEqual([first.slice(0, 4), second.slice(0, 4), third.slice(0, 3)], [[1, 2, 1, -1], [1, 2, 0, -1], [0, 2, 0]], `key of ${len} bytes`);
    const cell = 'c'.repeat(len);
    assert.deepEqual(await call('CL.THROTTLE', cell, 0, 1, 60), [0, 1, 0, -1, 60], `CL.THROTTLE key of ${len} bytes`);
    assert.deepEqual((await call('CL.THROTTLE', cell, 0, 1, 60) as number[]).slice(0, 4), [1, 1, 0, 60]);
  }
});

test('RL.HIT sliding and fixed; RL.PEEK consumes nothing', async () => {
  const sliding = ['LIMIT', 3, 'PER', 3600000, 'ALGO', 'sliding'];
  assert.deepEqual(((await call('RL.HIT', 's', ...sliding, 'COST', 2)) as number[]).slice(0, 4), [1, 3, 1, -1]);
  assert.deepEqual(((await call('RL.PEEK', 's', ...sliding)) as number[]).slice(0, 4), [1, 3, 1, -1]);
  assert.deepEqual(((await call('RL.PEEK', 's', ...sliding)) as number[]).slice(0, 4), [1, 3, 1, -1]);
  const [allowed, , , retry] = (await call('RL.HIT', 's', ...sliding, 'COST', 2)) as number[];
  assert.equal(allowed, 0);
  assert.ok(retry > 0);
  const fixed = ['LIMIT', 2, 'PER', 3600000, 'ALGO', 'FIXED'];
  assert.equal(((await call('RL.HIT', 'f', ...fixed)) as number[])[0], 1);
  assert.equal(((await call('RL.HIT', 'f', ...fixed)) as number[])[0], 1);
  const [a, , rem, retryF, resetF] = (await call('RL.HIT', 'f', ...fixed)) as number[];
  assert.deepEqual([a, rem], [0, 0]);
  assert.equal(retryF, resetF, 'a fixed window refuses until its end');
});

test('many connections hammering one key never get more than the limit', async () => {
  const clients = await Promise.all(Array.from({ length: 16 }, async () => {
    const c = new Redis({ port: daemon.port, lazyConnect: true });
    await c.connect();
    return c;
  }));
  try {
    for (const [name, args] of [
      ['gcra', ['LIMIT', '100', 'PER', '3600000']],
      ['sliding', ['LIMIT', '100', 'PER', '3600000', 'ALGO', 'sliding']],
      ['fixed', ['LIMIT', '100', 'PER', '3600000', 'ALGO', 'fixed']],
    ] as const) {
      const replies = await Promise.all(clients.map((c) => {
        const p = c.pipeline();
        for (let i = 0; i < 40; i++) p.call('RL.HIT', `hammer-${name}`, ...args);
        return p.exec();
      }));
      const admitted = (replies.flat() as Results).filter(([err, v]) => err === null && (v as number[])[0] === 1).length;
      assert.equal(admitted, 100, `${name}: 640 hits, limit 100`);
    }
    const cell = await Promise.all(clients.map((c) => {
      const p = c.pipeline();
      for (let i = 0; i < 40; i++) p.call('CL.THROTTLE', 'hammer-cell', '49', '1', '3600');
      return p.exec();
    }));
    assert.equal((cell.flat() as Results).filter(([, v]) => (v as number[])[0] === 0).length, 50);
  } finally {
    for (const c of clients) c.disconnect();
  }
});

test('RL.ALL consumes every key or none; the reply names the refusing key', async () => {
  await call('RL.POLICY', 'SET', 'two', 'LIMIT', 2, 'PER', 3600000);
  // The refusing key is last: a partial implementation would already have charged the first two.
  const ok = await call('RL.ALL', 3, 'ua', 'user-rpm', 1, 'ma', 'model-tpm', 400, 'ta', 'two', 2);
  assert.deepEqual(ok, [1, -1, -1, 4, 600, 0]);
  const refused = (await call('RL.ALL', 3, 'ua', 'user-rpm', 1, 'ma', 'model-tpm', 400, 'ta', 'two', 1)) as number[];
  assert.deepEqual([refused[0], refused[1]], [0, 2]);
  assert.ok(refused[2] > 0 && refused[2] <= 1800000, `retry ${refused[2]}`);
  assert.deepEqual(refused.slice(3), [4, 600, 0], 'remaining as they stand');
  assert.equal(((await call('RL.PEEK', 'ua', 'POLICY', 'user-rpm')) as number[])[2], 4);
  assert.equal(((await call('RL.PEEK', 'ma', 'POLICY', 'model-tpm')) as number[])[2], 600);
  // Cost that can never fit: retry -1.
  assert.deepEqual(((await call('RL.ALL', 1, 'ua', 'user-rpm', 6)) as number[]).slice(0, 3), [0, 0, -1]);
});

test('RL.ALL under concurrency: successes are bounded by the tightest key and never charge the others', async () => {
  await call('RL.POLICY', 'SET', 'wide', 'LIMIT', 50, 'PER', 3600000);
  await call('RL.POLICY', 'SET', 'narrow', 'LIMIT', 30, 'PER', 3600000);
  const clients = Array.from({ length: 8 }, () => new Redis({ port: daemon.port }));
  try {
    const replies = await Promise.all(clients.map((c) => {
      const p = c.pipeline();
      for (let i = 0; i < 20; i++) p.call('RL.ALL', '2', 'cw', 'wide', '1', 'cn', 'narrow', '1');
      return p.exec();
    }));
    const admitted = (replies.flat() as Results).filter(([, v]) => (v as number[])[0] === 1).length;
    assert.equal(admitted, 30);
    assert.equal(((await call('RL.PEEK', 'cw', 'POLICY', 'wide')) as number[])[2], 20, 'refused calls charged nothing');
  } finally {
    for (const c of clients) c.disconnect();
  }
});

test('RL.ADJUST: debt makes later hits wait; refunds stop at full', async () => {
  assert.equal(await call('RL.ADJUST', 'adj', 'user-rpm', 7), -2);
  const [allowed, , , retry] = (await call('RL.HIT', 'adj', 'POLICY', 'user-rpm')) as number[];
  assert.equal(allowed, 0);
  assert.ok(retry > 35000 && retry <= 36000, `3 tokens of 12 s: ${retry}`);
  assert.equal(await call('RL.ADJUST', 'adj', 'user-rpm', -3), 1);
  assert.equal(await call('RL.ADJUST', 'adj', 'user-rpm', -100), 5);
  assert.equal(await call('RL.RESET', 'adj'), 0, 'a full key holds no state');
});

test('RL.RESET returns how many keys held state and makes them full', async () => {
  await call('RL.HIT', 'rs1', 'LIMIT', 1, 'PER', 60000);
  await call('RL.HIT', 'rs2', 'LIMIT', 1, 'PER', 60000, 'ALGO', 'fixed');
  assert.equal(await call('RL.RESET', 'rs1', 'rs2', 'rs3'), 2);
  assert.equal(((await call('RL.HIT', 'rs1', 'LIMIT', 1, 'PER', 60000)) as number[])[0], 1);
});

test('RL.POLICY: config-declared policies, SET, GET, DEL, LIST', async () => {
  assert.deepEqual(await call('RL.POLICY', 'GET', 'model-tpm'), ['limit', 1000, 'per', 60000, 'burst', null, 'algo', 'sliding'], 'a window has no burst');
  assert.deepEqual(await call('RL.POLICY', 'GET', 'burst3'), ['limit', 1, 'per', 3600000, 'burst', 3, 'algo', 'gcra']);
  assert.equal(await call('RL.POLICY', 'SET', 'p1', 'PER', 1000, 'LIMIT', 7, 'ALGO', 'fixed'), 'OK');
  assert.deepEqual(await call('RL.POLICY', 'GET', 'p1'), ['limit', 7, 'per', 1000, 'burst', null, 'algo', 'fixed']);
  const list = (await call('RL.POLICY', 'LIST')) as string[];
  assert.ok(['burst3', 'model-tpm', 'p1', 'user-rpm'].every((n) => list.includes(n)), String(list));
  assert.deepEqual([...list].sort(), list);
  assert.equal(await call('RL.POLICY', 'DEL', 'p1'), 1);
  assert.equal(await call('RL.POLICY', 'DEL', 'p1'), 0);
  assert.equal(await call('RL.POLICY', 'GET', 'p1'), null);
});

test('bad input: a Redis-style error and no state change', async () => {
  await call('RL.HIT', 'bad', 'LIMIT', 5, 'PER', 60000);
  // reset_after moves with the clock; the rest of the peek must not.
  const state = async () => [await call('DBSIZE'), ((await call('RL.PEEK', 'bad', 'LIMIT', 5, 'PER', 60000)) as number[]).slice(0, 4), await call('RL.POLICY', 'LIST')];
  const before = await state();
  const cases: [(string | number)[], RegExp][] = [
    [['RL.HIT', 'bad', 'LIMIT', 'x', 'PER', 60000], /^ERR value is not an integer or out of range$/],
    [['RL.HIT', 'bad', 'LIMIT', 5, 'PER', '1e3'], /^ERR value is not an integer or out of range$/],
    [['RL.HIT', 'bad', 'LIMIT', '99999999999999999999', 'PER', 60000], /^ERR value is not an integer or out of range$/],
    [['RL.HIT', 'bad', 'LIMIT', 0, 'PER', 60000], /^ERR LIMIT must be a positive integer$/],
    [['RL.HIT', 'bad', 'LIMIT', -5, 'PER', 60000], /^ERR LIMIT must be a positive integer$/],
    [['RL.HIT', 'bad', 'LIMIT', 5, 'PER', 0], /^ERR PER must be a positive integer$/],
    [['RL.HIT', 'bad', 'LIMIT', 5, 'PER', 60000, 'COST', 0], /^ERR COST must be a positive integer$/],
    [['RL.HIT', 'bad', 'LIMIT', 5, 'PER', 60000, 'BURST', -1], /^ERR BURST must be a positive integer$/],
    [['RL.HIT', 'bad', 'LIMIT', 5, 'PER', '288230376152'], /^ERR PER, or BURST's refill time/],
    [['RL.HIT', 'bad', 'LIMIT', 1, 'PER', 1000000000, 'BURST', 1000000000], /^ERR PER, or BURST's refill time/],
    [['RL.HIT', 'bad', 'LIMIT', 5, 'PER', 60000, 'ALGO', 'leaky'], /^ERR unknown ALGO 'leaky'/],
    [['RL.HIT', 'bad', 'LIMIT', 5, 'PER', 60000, 'ALGO', 'fixed', 'BURST', 9], /^ERR BURST applies to ALGO gcra only$/],
    [['RL.HIT', 'bad', 'LIMIT', 5, 'LIMIT', 6, 'PER', 1], /^ERR syntax error$/],
    [['RL.HIT', 'bad', 'LIMIT', 5], /^ERR syntax error$/],
    [['RL.HIT', 'bad', 'POLICY', 'nope'], /^ERR unknown POLICY 'nope'$/],
    [['RL.HIT', 'bad', 'POLICY', 'user-rpm', 'LIMIT', 5], /^ERR syntax error$/],
    [['RL.HIT', 'bad'], /^ERR wrong number of arguments for 'rl.hit' command$/],
    [['RL.PEEK', 'bad', 'LIMIT'], /^ERR wrong number of arguments for 'rl.peek' command$/],
    [['RL.ALL', 2, 'bad', 'user-rpm', 1], /^ERR wrong number of arguments for 'rl.all' command$/],
    [['RL.ALL', 0, 'bad', 'user-rpm'], /^ERR numkeys must be a positive integer$/],
    [['RL.ALL', 2, 'bad', 'user-rpm', 1, 'bad2', 'nope', 1], /^ERR unknown POLICY 'nope'$/],
    [['RL.ALL', 2, 'bad', 'user-rpm', 1, 'bad2', 'user-rpm', -1], /^ERR cost must be a positive integer$/],
    [['RL.ADJUST', 'bad', 'nope', 1], /^ERR unknown POLICY 'nope'$/],
    [['RL.ADJUST', 'bad', 'user-rpm', 'lots'], /^ERR value is not an integer or out of range$/],
    [['RL.ADJUST', 'bad', 'user-rpm'], /^ERR wrong number of arguments for 'rl.adjust' command$/],
    [['RL.RESET'], /^ERR wrong number of arguments for 'rl.reset' command$/],
    [['RL.POLICY', 'SET', 'q', 'LIMIT', 0, 'PER', 5], /^ERR LIMIT must be a positive integer$/],
    [['RL.POLICY', 'SET', 'q', 'LIMIT', 5, 'PER', 5, 'ALGO', 'x'], /^ERR unknown ALGO 'x'/],
    [['RL.POLICY', 'SET', 'q', 'LIMIT', 5, 'BURST', 5], /^ERR syntax error$/],
    [['RL.POLICY', 'GET'], /^ERR wrong number of arguments for 'rl.policy\|get' command$/],
    [['RL.POLICY', 'NOPE'], /^ERR unknown subcommand 'NOPE'. Try RL.POLICY HELP.$/],
  ];
  for (const [args, want] of cases) {
    await assert.rejects(call(...args), (err: Error) => {
      assert.match(err.message, want, args.join(' '));
      return true;
    });
  }
  assert.deepEqual(await state(), before);
});

test('idle keys expire once full: lazily and by the background sweep', async () => {
  const before = (await call('DBSIZE')) as number;
  await call('RL.HIT', 'exp-g', 'LIMIT', 10, 'PER', 100);
  await call('RL.HIT', 'exp-s', 'LIMIT', 10, 'PER', 50, 'ALGO', 'sliding');
  await call('RL.HIT', 'exp-f', 'LIMIT', 10, 'PER', 50, 'ALGO', 'fixed');
  await call('CL.THROTTLE', 'exp-c', 0, 10, 1);
  assert.equal(await call('DBSIZE'), before + 4);
  await new Promise((resolve) => setTimeout(resolve, 500));
  assert.equal(await call('DBSIZE'), before, 'swept without being touched');
});

test('redis-cli sees argument hints and key positions', async () => {
  const docs = await redisCli(daemon.port, ['COMMAND', 'DOCS', 'rl.hit']);
  for (const word of ['POLICY', 'LIMIT', 'PER', 'BURST', 'ALGO', 'COST', 'sliding']) assert.ok(docs.includes(word), word);
  assert.deepEqual(await call('COMMAND', 'GETKEYS', 'RL.ALL', 2, 'k1', 'p', 1, 'k2', 'p', 1), ['k1', 'k2']);
  assert.deepEqual(await call('COMMAND', 'GETKEYS', 'CL.THROTTLE', 'k', 1, 1, 1), ['k']);
  const info = (await call('COMMAND', 'INFO', 'rl.hit')) as unknown[][];
  assert.deepEqual(info[0].slice(0, 6), ['rl.hit', -4, ['write', 'denyoom', 'fast'], 1, 1, 1]);
});

test('a bad policy in the config file stops the daemon with a message that names it', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'sluice-limits-bad-'));
  const cases: [string, RegExp][] = [
    ['policies:\n  p: { limit: 0, per: 1000 }\n', /policies\.p: LIMIT must be a positive integer/],
    ['policies:\n  p: { limit: 5 }\n', /policies\.p: needs limit and per/],
    ['policies:\n  p: { limit: 5, per: 10, algo: leaky }\n', /policies\.p: unknown ALGO 'leaky'/],
    ['policies:\n  p: { limit: 5, per: 10, rate: 3 }\n', /policies\.p: unknown field 'rate'/],
    ['policies: [1, 2]\n', /policies must map policy names/],
  ];
  for (const [yaml, want] of cases) {
    const file = path.join(dir, 'bad.yaml');
    writeFileSync(file, yaml);
    await assert.rejects(startDaemon(['--config', file]), (err: Error) => {
      assert.match(err.message, want);
      return true;
    });
  }
});

test('RL.POLICY GET is a map in RESP3; RL.POLICY HELP lists the subcommands', async () => {
  const c = await RawClient.connect(daemon.port);
  try {
    await c.send(resp('HELLO', '3'), 'modules');
    const got = await c.send(resp('RL.POLICY', 'GET', 'user-rpm'), 'gcra\r\n');
    assert.equal(got, '%4\r\n$5\r\nlimit\r\n:5\r\n$3\r\nper\r\n:60000\r\n$5\r\nburst\r\n:5\r\n$4\r\nalgo\r\n$4\r\ngcra\r\n');
    assert.equal(await c.send(resp('RL.POLICY', 'GET', 'none'), '\r\n'), '_\r\n');
  } finally {
    c.close();
  }
  const help = (await call('RL.POLICY', 'HELP')) as string[];
  for (const sub of ['SET', 'GET', 'DEL', 'LIST']) assert.ok(help.some((l) => l.startsWith(sub)), sub);
});
