/** The server family over real TCP: what every Redis client and tool relies on. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import Redis from 'ioredis';
import { RawClient, resp, startDaemon, type Daemon } from './testing';

let daemon: Daemon;
let redis: Redis;

before(async () => {
  daemon = await startDaemon();
  redis = new Redis({ port: daemon.port, host: '127.0.0.1', lazyConnect: true });
  await redis.connect();
});

after(async () => {
  redis.disconnect();
  await daemon.stop();
});

test('PING, PING message, ECHO', async () => {
  assert.equal(await redis.ping(), 'PONG');
  assert.equal(await redis.ping('hi there'), 'hi there');
  assert.equal(await redis.echo('héllo'), 'héllo');
});

test('inline commands over a raw socket, as telnet sends them', async () => {
  const c = await RawClient.connect(daemon.port);
  assert.equal(await c.send('PING\r\n', '\r\n'), '+PONG\r\n');
  assert.equal(await c.send('ECHO "two words"\n', 'words\r\n'), '$9\r\ntwo words\r\n');
  c.close();
});

test('unknown command and wrong arity use Redis wording', async () => {
  const c = await RawClient.connect(daemon.port);
  assert.equal(
    await c.send(resp('NOPE', 'a', 'b'), '\r\n'),
    "-ERR unknown command 'NOPE', with args beginning with: 'a' 'b' \r\n",
  );
  assert.equal(await c.send(resp('ECHO'), '\r\n'), "-ERR wrong number of arguments for 'echo' command\r\n");
  assert.equal(await c.send(resp('CLIENT', 'NOPE'), '\r\n'), "-ERR unknown subcommand 'NOPE'. Try CLIENT HELP.\r\n");
  assert.equal(await c.send(resp('CLIENT', 'SETNAME'), '\r\n'), "-ERR wrong number of arguments for 'client|setname' command\r\n");
  c.close();
});

test('command names are case-insensitive', async () => {
  const c = await RawClient.connect(daemon.port);
  assert.equal(await c.send(resp('pInG'), '\r\n'), '+PONG\r\n');
  assert.equal(await c.send(resp('client', 'ID'), '\r\n').then((r) => r[0]), ':');
  c.close();
});

test('SELECT 0 only', async () => {
  assert.equal(await redis.select(0), 'OK');
  await assert.rejects(redis.select(1), /ERR DB index is out of range/);
  await assert.rejects(redis.call('SELECT', 'x'), /ERR value is not an integer or out of range/);
});

test('CLIENT ID, SETNAME, GETNAME, SETINFO, LIST, INFO', async () => {
  const id = (await redis.client('ID')) as number;
  assert.ok(id > 0);
  assert.equal(await redis.client('GETNAME'), null);
  assert.equal(await redis.client('SETNAME', 'worker-1'), 'OK');
  assert.equal(await redis.client('GETNAME'), 'worker-1');
  await assert.rejects(redis.client('SETNAME', 'has space'), /Client names cannot contain spaces/);
  assert.equal(await redis.call('CLIENT', 'SETINFO', 'LIB-NAME', 'mylib'), 'OK');
  assert.equal(await redis.call('CLIENT', 'SETINFO', 'lib-ver', '1.2.3'), 'OK');
  await assert.rejects(redis.call('CLIENT', 'SETINFO', 'color', 'red'), /Unrecognized option 'color'/);
  const list = (await redis.client('LIST')) as string;
  const line = list.split('\n').find((l) => l.startsWith(`id=${id} `));
  assert.ok(line, list);
  assert.match(line!, / name=worker-1 /);
  assert.match(line!, / lib-name=mylib lib-ver=1\.2\.3/);
  assert.match(line!, / resp=2 /);
  assert.match((await redis.client('INFO')) as string, new RegExp(`^id=${id} `));
  const only = (await redis.call('CLIENT', 'LIST', 'ID', String(id))) as string;
  assert.equal(only.trim().split('\n').length, 1);
});

test('CLIENT KILL by address, by ID, and the connection really closes', async () => {
  const victim = await RawClient.connect(daemon.port);
  const id = Number((await victim.send(resp('CLIENT', 'ID'), '\r\n')).slice(1));
  assert.equal(await redis.call('CLIENT', 'KILL', 'ID', String(id)), 1);
  await victim.waitClosed();
  const other = await RawClient.connect(daemon.port);
  await other.send(resp('PING'), 'PONG');
  const addr = `${other.socket.localAddress}:${other.socket.localPort}`;
  assert.equal(await redis.call('CLIENT', 'KILL', addr), 'OK');
  await other.waitClosed();
  await assert.rejects(redis.call('CLIENT', 'KILL', '1.2.3.4:5'), /ERR No such client/);
});

test('COMMAND COUNT, INFO, DOCS, LIST, GETKEYS come from the command table', async () => {
  const count = (await redis.call('COMMAND', 'COUNT')) as number;
  const all = (await redis.call('COMMAND')) as unknown[][];
  assert.equal(all.length, count);
  const [ping] = (await redis.call('COMMAND', 'INFO', 'ping', 'nosuch')) as [unknown[], null];
  assert.equal(ping[0], 'ping');
  assert.equal(ping[1], -1);
  assert.ok((ping[2] as string[]).includes('fast'));
  assert.deepEqual(((await redis.call('COMMAND', 'INFO', 'nosuch')) as unknown[])[0], null);
  const docs = (await redis.call('COMMAND', 'DOCS', 'echo')) as unknown[];
  assert.equal(docs[0], 'echo');
  const echoDoc = docs[1] as unknown[];
  assert.equal(echoDoc[0], 'summary');
  assert.ok(echoDoc.includes('arguments'));
  const names = (await redis.call('COMMAND', 'LIST')) as string[];
  assert.ok(names.includes('ping') && names.includes('client|setname'));
  assert.deepEqual(await redis.call('COMMAND', 'LIST', 'FILTERBY', 'PATTERN', 'cl*'), names.filter((n) => n.startsWith('cl')));
  await assert.rejects(redis.call('COMMAND', 'GETKEYS', 'ping'), /no key arguments/);
});

test('INFO has every section, loading:0, and counts commands', async () => {
  const info = (await redis.info()) as string;
  for (const section of ['# Server', '# Clients', '# Memory', '# Persistence', '# Stats', '# Keyspace']) {
    assert.ok(info.includes(section), `missing ${section}`);
  }
  assert.match(info, /\r\nloading:0\r\n/);
  assert.match(info, /redis_version:\d+\.\d+\.\d+/);
  assert.match(info, /connected_clients:\d+/);
  const stats = (await redis.info('commandstats')) as string;
  assert.match(stats, /^# Commandstats\r\n/);
  assert.match(stats, /cmdstat_ping:calls=\d+,usec=\d+,usec_per_call=[\d.]+,rejected_calls=\d+,failed_calls=\d+/);
  assert.ok(!((await redis.info('server')) as string).includes('# Clients'));
});

test('CONFIG GET with globs, CONFIG SET, and their errors', async () => {
  assert.deepEqual(await redis.config('GET', 'maxclients'), ['maxclients', '10000']);
  assert.deepEqual(await redis.config('GET', 'save'), ['save', '1 1'], 'save-interval 1 as a save point');
  assert.deepEqual(await redis.config('GET', 'appendonly'), ['appendonly', 'no']);
  const many = (await redis.config('GET', '*max*')) as string[];
  assert.ok(many.includes('maxclients') && many.includes('proto-max-bulk-len'));
  assert.equal(await redis.config('SET', 'maxclients', '50'), 'OK');
  assert.deepEqual(await redis.config('GET', 'maxclients'), ['maxclients', '50']);
  await assert.rejects(redis.config('SET', 'maxclients', 'lots'), /expected a whole number/);
  await assert.rejects(redis.config('SET', 'port', '1'), /can't set immutable config/);
  await assert.rejects(redis.config('SET', 'nosuch', '1'), /Unknown option/);
  assert.deepEqual(await redis.config('GET', 'maxclients'), ['maxclients', '50'], 'failed SET changes nothing');
  assert.equal(await redis.config('SET', 'maxclients', '10000'), 'OK');
});

test('TIME, DBSIZE, FLUSHALL', async () => {
  const [sec, usec] = (await redis.call('TIME')) as [string, string];
  assert.ok(Math.abs(Number(sec) - Date.now() / 1000) < 5);
  assert.ok(Number(usec) >= 0 && Number(usec) < 1e6);
  assert.equal(typeof (await redis.dbsize()), 'number');
  assert.equal(await redis.flushall(), 'OK');
  assert.equal(await redis.dbsize(), 0);
  await assert.rejects(redis.call('FLUSHALL', 'LATER'), /syntax error/);
});

test('QUIT answers OK and closes; commands after it in the same batch are not run', async () => {
  const c = await RawClient.connect(daemon.port);
  c.write(Buffer.concat([resp('QUIT'), resp('PING')]));
  const text = await c.waitClosed();
  assert.equal(text, '+OK\r\n');
});

test('pipelined replies come back in request order, in one batch', async () => {
  const c = await RawClient.connect(daemon.port);
  const reqs: Buffer[] = [];
  for (let i = 0; i < 500; i++) reqs.push(resp('ECHO', String(i)));
  c.write(Buffer.concat(reqs));
  const text = await c.until((t) => t.endsWith('$3\r\n499\r\n'));
  const values = text.split('\r\n').filter((_, i) => i % 2 === 1);
  assert.deepEqual(values, reqs.map((_, i) => String(i)));
  c.close();
});

test('MONITOR streams every command, fast-path ones included, quoted as Redis quotes them', async () => {
  const monitor = await RawClient.connect(daemon.port);
  assert.equal(await monitor.send(resp('MONITOR'), '\r\n'), '+OK\r\n');
  const other = await RawClient.connect(daemon.port);
  await other.send(resp('RL.HIT', 'mon:k', 'LIMIT', '1', 'PER', '1000'), ':1\r\n:1\r\n');
  await other.send(resp('ECHO', 'a"b\n\x01'), '\r\n');
  await other.send(resp('AUTH', 'secret'), '\r\n'); // refused (no password set), and never shown
  await other.send(resp('PING'), 'PONG');
  const text = await monitor.until((t) => t.includes('"PING"'));
  const lines = text.split('\r\n').slice(1, -1);
  assert.match(lines[0], /^\+\d+\.\d{6} \[0 127\.0\.0\.1:\d+\] "RL\.HIT" "mon:k" "LIMIT" "1" "PER" "1000"$/);
  assert.match(lines[1], / "ECHO" "a\\"b\\n\\x01"$/);
  assert.match(lines[2], / "PING"$/);
  assert.equal(lines.length, 3, 'AUTH is not shown');
  monitor.close();
  other.close();
});
