/**
 * The native fast path (fast-path.ts, native/core/src/fastpath.rs) must answer exactly what the
 * ordinary path answers. The same requests go to a daemon with `native-fast-path yes` and one
 * with `no`: valid commands, every kind of bad argument, other commands in between, in one
 * write and cut into pieces, in RESP2 and RESP3. The replies must be equal, and so must the
 * call counts in INFO commandstats.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Parser = require('redis-parser');
import { RawClient, resp, startDaemon, type Daemon } from './testing';

let fast: Daemon;
let ordinary: Daemon;

before(async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'sluice-fast-path-'));
  const file = path.join(dir, 'sluice.yaml');
  writeFileSync(file, 'policies:\n  p5: { limit: 5, per: 60000 }\n  w100: { limit: 100, per: 60000, algo: sliding }\n');
  [fast, ordinary] = await Promise.all([startDaemon(['--config', file]), startDaemon(['--config', file, '--native-fast-path', 'no'])]);
});

after(async () => {
  await Promise.all([fast.stop(), ordinary.stop()]);
});

/** A request, and whether its reply depends on the wall clock (epoch-aligned windows). */
interface Case {
  args: string[];
  clockDependent?: boolean;
}

const NUMBERS = ['0', '1', '7', '010', '-1', '+1', '1.5', '', ' 1', '1e3', 'abc', '9007199254740991', '9007199254740993', '99999999999999999999', '288230376151', '288230376152'];

/** Requests for one pass; every limiter request gets a key of its own, so replies do not depend on time. */
function corpus(prefix: string): Case[] {
  let n = 0;
  const key = () => `${prefix}:${n++}`;
  const cases: Case[] = [];
  const add = (args: string[], clockDependent = false) => cases.push({ args, clockDependent });
  add(['PING']);
  add(['ping']);
  add(['PING', 'hello']);
  add(['ECHO', 'between']);
  for (const hit of ['RL.HIT', 'rl.peek', 'Rl.Hit']) {
    add([hit, key(), 'LIMIT', '10', 'PER', '60000']);
    add([hit, key(), 'limit', '10', 'per', '60000', 'BURST', '3']);
    add([hit, key(), 'PER', '60000', 'LIMIT', '10', 'COST', '4']);
    add([hit, key(), 'LIMIT', '10', 'PER', '60000', 'ALGO', 'gcra', 'COST', '11']);
    add([hit, key(), 'LIMIT', '10', 'PER', '60000', 'ALGO', 'sliding'], true);
    add([hit, key(), 'LIMIT', '10', 'PER', '60000', 'ALGO', 'FIXED', 'COST', '3'], true);
    add([hit, key(), 'LIMIT', '10', 'PER', '60000', 'ALGO', 'leaky']);
    add([hit, key(), 'LIMIT', '10', 'PER', '60000', 'ALGO', 'sliding', 'BURST', '2']);
    add([hit, key(), 'POLICY', 'p5']);
    add([hit, key(), 'POLICY', 'p5', 'COST', '5']);
    add([hit, key(), 'policy', 'w100', 'cost', '6'], true);
    add([hit, key(), 'POLICY', 'nope']);
    add([hit, key(), 'POLICY', 'p5', 'extra']);
    add([hit, key(), 'COST', '5', 'LIMIT', '10', 'PER', '60000']);
    add([hit, key(), 'LIMIT', '10', 'PER', '60000', 'LIMIT', '3']);
    add([hit, key(), 'LIMIT', '10']);
    add([hit, key(), 'LIMIT']);
    add([hit, key()]);
    add([hit, key() + 'k'.repeat(2000), 'LIMIT', '10', 'PER', '60000']);
    add([hit, '', 'LIMIT', '10', 'PER', '60000'], true); // one empty key for every pass: it has state
    for (const v of NUMBERS) {
      add([hit, key(), 'LIMIT', v, 'PER', '60000']);
      add([hit, key(), 'LIMIT', '10', 'PER', v]);
      add([hit, key(), 'LIMIT', '10', 'PER', '60000', 'BURST', v]);
      add([hit, key(), 'LIMIT', '10', 'PER', '60000', 'COST', v]);
    }
  }
  add(['CL.THROTTLE', key(), '4', '1', '60']);
  add(['cl.throttle', key(), '0', '10', '1', '3']);
  add(['CL.THROTTLE', key(), '4', '1', '60', '9']);
  add(['CL.THROTTLE', key(), '4', '1', '60', '0']);
  add(['CL.THROTTLE', key(), '4', '1']);
  add(['CL.THROTTLE', key(), '4', '1', '60', '1', '1']);
  add(['CL.THROTTLE', key(), '4', '1', '99999999999']);
  for (const v of NUMBERS) {
    add(['CL.THROTTLE', key(), v, '10', '60']);
    add(['CL.THROTTLE', key(), '4', v, '60']);
    add(['CL.THROTTLE', key(), '4', '10', v]);
    add(['CL.THROTTLE', key(), '4', '10', '60', v]);
  }
  add(['NOSUCHCOMMAND', 'x']);
  add(['PING']);
  return cases;
}

/** Decodes every reply in `bytes` (RESP2 or RESP3) with an independent parser. */
function decode(bytes: Buffer): unknown[] {
  const replies: unknown[] = [];
  const parser = new Parser({
    returnReply: (r: unknown) => replies.push(r),
    returnError: (e: Error) => replies.push({ error: e.message }),
    returnFatalError: (e: Error) => {
      throw e;
    },
  });
  parser.execute(bytes);
  return replies;
}

const MARKER = 'end-of-hello';

/**
 * Sends `cases` in pieces of `piece` bytes (0: one write), after HELLO 3 if `resp3`; returns the
 * replies. (redis-parser reads RESP2 only: HELLO's RESP3 map is skipped, and the corpus's
 * replies have the same form in both protocols.)
 */
async function exchange(port: number, cases: Case[], piece: number, resp3 = false): Promise<unknown[]> {
  const client = await RawClient.connect(port);
  try {
    let from = 0;
    if (resp3) {
      const end = `${MARKER}\r\n`;
      await client.send(Buffer.concat([resp('HELLO', '3'), resp('ECHO', MARKER)]), end);
      from = client.received.indexOf(end) + end.length;
    }
    const wire = Buffer.concat(cases.map((c) => resp(...c.args)));
    if (piece === 0) client.write(wire);
    else for (let i = 0; i < wire.length; i += piece) client.write(wire.subarray(i, i + piece));
    let replies: unknown[] = [];
    await client.until(() => (replies = decode(client.received.subarray(from))).length >= cases.length, 20_000);
    return replies;
  } finally {
    client.close();
  }
}

/** Compares two passes' replies; replies of clock-dependent requests only in what the clock cannot change. */
function assertSameReplies(cases: Case[], got: unknown[], want: unknown[], how: string): void {
  assert.equal(got.length, cases.length, how);
  assert.equal(want.length, cases.length, how);
  for (let i = 0; i < cases.length; i++) {
    let [a, b] = [got[i], want[i]];
    if (cases[i].clockDependent && Array.isArray(a) && Array.isArray(b)) [a, b] = [a.slice(0, 4), b.slice(0, 4)];
    assert.deepEqual(a, b, `${how}: ${cases[i].args.map((x) => x.slice(0, 20)).join(' ')}`);
  }
}

test('the fast path answers every request exactly as the ordinary path does', async () => {
  let pass = 0;
  for (const [piece, resp3] of [
    [0, false],
    [0, true],
    [1, false],
    [7, false],
    [333, true],
  ] as [number, boolean][]) {
    const cases = corpus(`pass${pass++}`);
    const [a, b] = await Promise.all([exchange(fast.port, cases, piece, resp3), exchange(ordinary.port, cases, piece, resp3)]);
    assertSameReplies(cases, a, b, `pieces of ${piece || 'all'} bytes${resp3 ? ', RESP3' : ''}`);
  }
});

test('a key hit by both paths in turn keeps one state', async () => {
  // One key, hit alternately as a RESP frame (the fast path) and as an inline command (which
  // only the ordinary path reads), in one write: the limit holds across both, and the fast
  // path answered exactly the RESP half.
  const info = async () => {
    const client = await RawClient.connect(fast.port);
    const text = await client.send(resp('INFO', 'stats'), 'rejected_connections');
    client.close();
    return Number(/native_fast_path_commands:(\d+)/.exec(text)![1]);
  };
  const before = await info();
  const args = ['RL.HIT', 'both-paths', 'LIMIT', '5', 'PER', '3600000'];
  const wire = Buffer.concat(Array.from({ length: 8 }, (_, i) => (i % 2 === 0 ? resp(...args) : Buffer.from(args.join(' ') + '\r\n'))));
  const client = await RawClient.connect(fast.port);
  let replies: unknown[] = [];
  client.write(wire);
  await client.until(() => (replies = decode(client.received)).length >= 8);
  client.close();
  assert.deepEqual(replies.map((r) => (r as number[])[0]), [1, 1, 1, 1, 1, 0, 0, 0]);
  assert.equal((await info()) - before, 4);
});

test('INFO commandstats counts fast-path calls like ordinary ones', async () => {
  const statsOf = async (d: Daemon) => {
    const client = await RawClient.connect(d.port);
    const text = await client.send(resp('INFO', 'commandstats'), 'cmdstat_info');
    client.close();
    const counts: Record<string, string> = {};
    for (const m of text.matchAll(/cmdstat_(ping|rl\.hit|rl\.peek|cl\.throttle):calls=(\d+),usec=\d+,usec_per_call=[\d.]+,rejected_calls=(\d+),failed_calls=(\d+)/g)) {
      counts[m[1]] = `calls=${m[2]} rejected=${m[3]} failed=${m[4]}`;
    }
    return counts;
  };
  const reset = async (d: Daemon) => {
    const client = await RawClient.connect(d.port);
    await client.send(resp('CONFIG', 'RESETSTAT'), '+OK');
    client.close();
  };
  await Promise.all([reset(fast), reset(ordinary)]);
  const cases = corpus('stats');
  await Promise.all([exchange(fast.port, cases, 0), exchange(ordinary.port, cases, 0)]);
  const [a, b] = await Promise.all([statsOf(fast), statsOf(ordinary)]);
  assert.ok(Number(/calls=(\d+)/.exec(a['rl.hit'])![1]) > 50, JSON.stringify(a));
  assert.deepEqual(a, b);
  // INFO stats says how many the fast path answered: most of the valid ones here, none with it off.
  const fastPathCommands = async (d: Daemon) => {
    const client = await RawClient.connect(d.port);
    const text = await client.send(resp('INFO', 'stats'), 'rejected_connections');
    client.close();
    return Number(/native_fast_path_commands:(\d+)/.exec(text)![1]);
  };
  assert.ok((await fastPathCommands(fast)) > 50);
  assert.equal(await fastPathCommands(ordinary), 0);
});

test('mutated streams get byte-for-byte the same replies, up to the same protocol error', async () => {
  // Seeded: each stream is 24 distinct requests from the corpus (fresh keys, no clock-dependent ones)
  // with 1 to 3 bytes replaced by bytes that matter to a RESP parser. Both daemons get the same
  // streams on parallel connections; what each sends back within a short quiet period after
  // a final ECHO (or until it closes the connection) must be equal.
  let seed = 20261128;
  const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2147483648) >>> 8) % n;
  const interesting = Buffer.from('0123456789*$-+:\r\n x\x00');
  const streams: Buffer[] = [];
  for (let s = 0; s < 120; s++) {
    const cases = corpus(`fuzz${s}`).filter((c) => !c.clockDependent);
    // Distinct requests, so no key is hit twice (a second hit's reply depends on the time between).
    for (let i = cases.length - 1; i > 0; i--) {
      const j = rand(i + 1);
      [cases[i], cases[j]] = [cases[j], cases[i]];
    }
    const picked = cases.slice(0, 24);
    const wire = Buffer.concat(picked.map((c) => resp(...c.args)));
    for (let m = 1 + rand(3); m > 0; m--) wire[rand(wire.length)] = interesting[rand(interesting.length)];
    streams.push(Buffer.concat([wire, resp('ECHO', `end-of-stream-${s}`)]));
  }
  const run = async (port: number) => {
    const clients = await Promise.all(streams.map(() => RawClient.connect(port)));
    clients.forEach((c, s) => c.write(streams[s]));
    await Promise.all(clients.map((c, s) => c.until((t) => t.includes(`end-of-stream-${s}\r\n`), 1500).catch(() => '')));
    await new Promise((resolve) => setTimeout(resolve, 100));
    const received = clients.map((c) => c.received.toString('latin1'));
    clients.forEach((c) => c.close());
    return received;
  };
  const [a, b] = await Promise.all([run(fast.port), run(ordinary.port)]);
  let protocolErrors = 0;
  for (let s = 0; s < streams.length; s++) {
    if (a[s] !== b[s]) {
      let at = 0;
      while (a[s][at] === b[s][at]) at++;
      const around = (t: string) => JSON.stringify(t.slice(Math.max(0, at - 120), at + 120));
      assert.fail(`stream ${s} differs at byte ${at}: fast path ${around(a[s])}, ordinary ${around(b[s])}; sent ${JSON.stringify(streams[s].toString('latin1'))}`);
    }
    if (a[s].includes('Protocol error')) protocolErrors++;
  }
  // The mutations reach the parser's error paths, not only the handlers'.
  assert.ok(protocolErrors > 5, `only ${protocolErrors} streams hit a protocol error`);
});

test('with requirepass, nothing is answered before AUTH, and AUTH in mid-write opens the fast path', async () => {
  const secured = await startDaemon(['--requirepass', 'pw']);
  try {
    const client = await RawClient.connect(secured.port);
    const hit = resp('RL.HIT', 'auth-test', 'LIMIT', '10', 'PER', '60000');
    const text = await client.send(Buffer.concat([resp('PING'), hit, resp('AUTH', 'pw'), resp('PING'), hit, resp('INFO', 'stats')]), 'rejected_connections');
    client.close();
    const before = text.slice(0, text.indexOf('+OK'));
    assert.equal(before, '-NOAUTH Authentication required.\r\n-NOAUTH Authentication required.\r\n');
    assert.ok(text.includes('+OK\r\n+PONG\r\n*5\r\n:1\r\n:10\r\n:9\r\n:-1\r\n'), JSON.stringify(text.slice(0, 200)));
    assert.match(text, /native_fast_path_commands:2\r\n/);
  } finally {
    await secured.stop();
  }
});

test('CONFIG SET native-fast-path turns it off and on at run time', async () => {
  const client = await RawClient.connect(fast.port);
  const counted = async () => Number(/native_fast_path_commands:(\d+)/.exec(await client.send(resp('INFO', 'stats'), 'rejected_connections'))![1]);
  try {
    await client.send(resp('CONFIG', 'SET', 'native-fast-path', 'no'), '+OK');
    const before = await counted();
    await client.send(Buffer.concat([resp('PING'), resp('PING')]), '+PONG\r\n+PONG\r\n');
    assert.equal(await counted(), before);
    await client.send(resp('CONFIG', 'SET', 'native-fast-path', 'yes'), '+OK');
    await client.send(Buffer.concat([resp('PING'), resp('PING')]), '+PONG\r\n+PONG\r\n');
    assert.equal(await counted(), before + 2);
  } finally {
    client.close();
  }
});

test('ROUTE.PICK and ROUTE.DONE: the same replies either way (leases aside), the same INFO routing, and the fast path takes the plain ones', async () => {
  const deployment = JSON.stringify({ litellm_params: { model: 'openai/x', rpm: 5, api_base: 'https://x.example' }, model_info: { id: 'x' } });
  /** One connection's exchange: picks past the rpm, then DONEs good, repeated and bad. */
  const exchangeRoute = async (d: Daemon, resp3: boolean): Promise<string> => {
    const group = `fp-route-${resp3 ? 3 : 2}`;
    const c = await RawClient.connect(d.port);
    try {
      const end = (n: number) => resp('ECHO', `end-${n}`);
      let text = await c.send(Buffer.concat([...(resp3 ? [resp('HELLO', '3')] : []), resp('ROUTE.SET', group, deployment), end(1)]), 'end-1\r\n');
      const picks = [resp('ROUTE.PICK', group, 'TOKENS', '10'), resp('route.pick', group, 'ttl', '60000', 'TOKENS', '0')];
      for (let i = 0; i < 4; i++) picks.push(resp('ROUTE.PICK', group));
      text = await c.send(Buffer.concat([...picks, end(2)]), 'end-2\r\n');
      const leases = [...text.matchAll(/\{[^}]+\}:\d+/g)].map((m) => m[0]);
      assert.equal(leases.length, 5, text);
      const dones = [
        resp('ROUTE.DONE', leases[0], 'STATUS', '200', 'LATENCY', '800', 'INPUT', '100', 'OUTPUT', '50'),
        resp('ROUTE.DONE', leases[0]),
        resp('ROUTE.DONE', leases[1], 'STATUS', '99'),
        resp('ROUTE.DONE', leases[1], 'INPUT', '5'),
        resp('route.done', leases[1], 'status', '429', 'tokens', '3', 'ttft', '20'),
        resp('ROUTE.DONE', leases[2]),
        resp('ROUTE.DONE', 'not-a-lease'),
      ];
      text = await c.send(Buffer.concat([...dones, end(3)]), 'end-3\r\n');
      // After HELLO (its client id differs); lease numbers and the ms to the next minute in the
      // refusal differ between daemons too.
      const all = c.received.toString('latin1');
      return all.slice(all.indexOf('end-1\r\n')).replace(/\$\d+\r\n(\{[^}]+\}):\d+/g, '$$L\r\n$1:N').replace(/retry in \d+ ms/, 'retry in N ms');
    } finally {
      c.close();
    }
  };
  const counters = async (d: Daemon) => {
    const client = await RawClient.connect(d.port);
    const text = await client.send(resp('INFO', 'everything'), 'routing_wait_timeouts');
    client.close();
    const field = (name: string) => Number(new RegExp(`${name}:(\\d+)`).exec(text)![1]);
    return { picks: field('routing_picks'), refusals: field('routing_refusals'), done: field('routing_done'), fastPath: field('native_fast_path_commands') };
  };
  const before = await counters(fast);
  for (const resp3 of [false, true]) {
    const [a, b] = await Promise.all([exchangeRoute(fast, resp3), exchangeRoute(ordinary, resp3)]);
    assert.equal(a, b, resp3 ? 'RESP3' : 'RESP2');
    assert.match(a, /NODEPLOYMENT/, 'the sixth pick is refused (rpm 5)');
  }
  const [a, b] = await Promise.all([counters(fast), counters(ordinary)]);
  assert.deepEqual([a.picks, a.refusals, a.done], [b.picks, b.refusals, b.done], 'INFO routing counts the same');
  assert.deepEqual([a.picks - before.picks, a.done - before.done], [10, 6]);
  // Per protocol: 5 picks and the 4 DONEs without an error; the refused pick and the three bad
  // DONEs took the ordinary path.
  assert.ok(a.fastPath - before.fastPath >= 18, `the fast path answered ${a.fastPath - before.fastPath}`);
});
