/**
 * Real clients and tools against a real daemon: ioredis 5 (RESP2, INFO ready check), ioredis 6
 * (RESP3 via HELLO 3), go-redis's handshake, redis-cli in its modes, redis-benchmark's start-up.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import Redis from 'ioredis';
import Redis6 from 'ioredis6';
import { RawClient, redisCli, resp, startDaemon, type Daemon } from './testing';

let daemon: Daemon;
let secured: Daemon;

before(async () => {
  daemon = await startDaemon();
  secured = await startDaemon(['--requirepass', 'pw']);
});

after(async () => {
  await Promise.all([daemon.stop(), secured.stop()]);
});

test('ioredis 5: ready check, commands, pipeline, batch without MULTI', async () => {
  const r = new Redis({ port: daemon.port, enableReadyCheck: true, lazyConnect: true, connectionName: 'io5' });
  await r.connect();
  assert.equal(r.status, 'ready');
  assert.equal(await r.ping(), 'PONG');
  const results = await r.pipeline().ping().echo('a').call('CLIENT', 'GETNAME').exec();
  assert.deepEqual(results, [[null, 'PONG'], [null, 'a'], [null, 'io5']]);
  const many = await Promise.all(Array.from({ length: 200 }, (_, i) => r.echo(String(i))));
  assert.deepEqual(many, Array.from({ length: 200 }, (_, i) => String(i)));
  r.disconnect();
});

test('ioredis 6 speaks RESP3 through HELLO 3, with and without a password', async () => {
  for (const [d, password] of [[daemon, undefined], [secured, 'pw']] as const) {
    const r = new Redis6({ port: d.port, protocol: 3, password, lazyConnect: true });
    await r.connect();
    assert.equal(await r.ping(), 'PONG');
    const info = (await r.call('CLIENT', 'INFO')) as string;
    assert.match(info, / resp=3 /);
    const [hello] = (await r.pipeline().call('HELLO', '3').exec())!;
    assert.equal(hello[0], null);
    r.disconnect();
  }
});

test("go-redis's handshake: HELLO 2, then CLIENT SETINFO", async () => {
  const c = await RawClient.connect(daemon.port);
  const hello = await c.send(resp('HELLO', '2'), 'modules\r\n*0\r\n');
  assert.match(hello, /^\*16\r\n\$6\r\nserver\r\n\$6\r\nsluice\r\n/);
  assert.equal(await c.send(Buffer.concat([resp('CLIENT', 'SETINFO', 'LIB-NAME', 'go-redis(,go1.22)'), resp('CLIENT', 'SETINFO', 'LIB-VER', '9.5.1')]), '+OK\r\n+OK\r\n'), '+OK\r\n+OK\r\n');
  assert.equal(await c.send(resp('HELLO', '4'), '\r\n'), '-NOPROTO unsupported protocol version\r\n');
  c.close();
});

test('redis-cli: plain, -3, -a, --no-raw, piped input', async () => {
  assert.equal(await redisCli(daemon.port, ['PING']), 'PONG\n');
  assert.equal(await redisCli(daemon.port, ['-3', 'HELLO', '3']).then((o) => o.includes('proto') && o.includes('3')), true);
  assert.equal(await redisCli(secured.port, ['-a', 'pw', '--no-auth-warning', 'PING']), 'PONG\n');
  assert.equal(await redisCli(daemon.port, ['--no-raw', 'ECHO', 'x']), '"x"\n');
  assert.equal(await redisCli(daemon.port, ['--no-raw', 'CLIENT', 'GETNAME']), '(nil)\n');
  const piped = await redisCli(daemon.port, [], 'PING\nECHO hello\nDBSIZE\n');
  assert.equal(piped, 'PONG\nhello\n0\n');
  assert.match(await redisCli(secured.port, ['PING']), /NOAUTH Authentication required/);
});

test('redis-cli reads COMMAND DOCS for its hints without complaint', async () => {
  const docs = await redisCli(daemon.port, ['COMMAND', 'DOCS', 'client']);
  assert.match(docs, /summary/);
  assert.match(docs, /subcommands/);
  assert.match(docs, /client\|setname/);
});

/** The screen of an interactive redis-cli after typing `typed`, once it shows `until`. */
async function hintScreen(typed: string, until: string): Promise<string> {
  const session = `sluice-hints-${process.pid}`;
  const tmux = (...args: string[]) =>
    new Promise<string>((resolve, reject) =>
      execFile('tmux', args, (err, stdout) => (err ? reject(new Error(`tmux ${args[0]}: ${err.message} (apt-get install -y tmux)`)) : resolve(stdout))),
    );
  await tmux('new-session', '-d', '-s', session, '-x', '200', '-y', '10', `redis-cli -p ${daemon.port}`);
  try {
    await new Promise((r) => setTimeout(r, 500));
    await tmux('send-keys', '-t', session, typed);
    let screen = '';
    for (let i = 0; i < 30 && !screen.includes(until); i++) {
      await new Promise((r) => setTimeout(r, 100));
      screen = await tmux('capture-pane', '-t', session, '-p');
    }
    return screen;
  } finally {
    await tmux('kill-session', '-t', session).catch(() => {});
  }
}

test('interactive redis-cli shows argument hints built from our COMMAND DOCS', async () => {
  // redis-cli's built-in help would show "[ip:port] [ID client-id] ..."; this is our table's.
  assert.match(await hintScreen('CLIENT KILL ', 'LADDR'), /CLIENT KILL ip:port\|ID client-id\|ADDR ip:port\|LADDR ip:port\|SKIPME yes\/no/);
  // redis-cli 7.0 drops a word of the hint per word typed: the inline form, listed first, comes
  // out right (the POLICY form cannot, docs/redis-compat.md says why).
  assert.match(await hintScreen('RL.HIT k LIMIT 10 ', 'PER'), /RL\.HIT k LIMIT 10 PER ms \[BURST b\] \[ALGO gcra\|sliding\|fixed\]/);
});

test("redis-benchmark's start-up (CONFIG GET save/appendonly) and a short PING run", async () => {
  const out = await new Promise<string>((resolve, reject) =>
    execFile(
      'redis-benchmark',
      ['-p', String(daemon.port), '-t', 'ping', '-n', '2000', '-c', '4', '-q'],
      { timeout: 60_000 },
      (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout + stderr)),
    ),
  );
  assert.doesNotMatch(out, /WARNING|ERROR/i);
  assert.match(out, /PING_INLINE: [\d.]+ requests per second/);
  assert.match(out, /PING_MBULK: [\d.]+ requests per second/);
});
