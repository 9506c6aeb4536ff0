/** requirepass: AUTH, HELLO AUTH, NOAUTH, WRONGPASS and the tighter limits before auth. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import Redis from 'ioredis';
import { RawClient, resp, startDaemon, type Daemon } from './testing';

let daemon: Daemon;

before(async () => {
  daemon = await startDaemon(['--requirepass', 's3cret']);
});

after(async () => {
  await daemon.stop();
});

test('commands before AUTH get NOAUTH; AUTH and QUIT are allowed', async () => {
  const c = await RawClient.connect(daemon.port);
  assert.equal(await c.send(resp('PING'), '\r\n'), '-NOAUTH Authentication required.\r\n');
  assert.equal(await c.send(resp('AUTH', 'wrong'), '\r\n'), '-WRONGPASS invalid username-password pair or user is disabled.\r\n');
  assert.equal(await c.send(resp('AUTH', 'nobody', 's3cret'), '\r\n'), '-WRONGPASS invalid username-password pair or user is disabled.\r\n');
  assert.equal(await c.send(resp('AUTH', 's3cret'), '\r\n'), '+OK\r\n');
  assert.equal(await c.send(resp('PING'), '\r\n'), '+PONG\r\n');
  c.close();
  const d = await RawClient.connect(daemon.port);
  assert.equal(await d.send(resp('AUTH', 'default', 's3cret'), '\r\n'), '+OK\r\n');
  d.close();
});

test('HELLO without AUTH is refused; HELLO 3 AUTH authenticates and switches protocol', async () => {
  const c = await RawClient.connect(daemon.port);
  assert.match(await c.send(resp('HELLO', '3'), '\r\n'), /^-NOAUTH HELLO must be called with the client already authenticated/);
  const reply = await c.send(resp('HELLO', '3', 'AUTH', 'default', 's3cret', 'SETNAME', 'me'), 'modules\r\n*0\r\n');
  assert.match(reply, /^%8\r\n/);
  assert.equal(await c.send(resp('CLIENT', 'GETNAME'), '\r\n'), '$2\r\nme\r\n');
  assert.equal(await c.send(resp('CLIENT', 'GETNAME', 'x'), '\r\n'), "-ERR wrong number of arguments for 'client|getname' command\r\n");
  c.close();
});

test('ioredis 5 connects with a password; a wrong password fails clearly', async () => {
  const ok = new Redis({ port: daemon.port, password: 's3cret', lazyConnect: true });
  await ok.connect();
  assert.equal(await ok.ping(), 'PONG');
  ok.disconnect();
  const bad = new Redis({ port: daemon.port, password: 'nope', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  const seen: string[] = [];
  bad.on('error', (err: Error) => seen.push(err.message));
  await assert.rejects(bad.connect());
  bad.disconnect();
  assert.ok(seen.some((m) => m.startsWith('WRONGPASS')), `ioredis saw: ${seen.join(' | ')}`);
});

test('before AUTH a large frame is refused and the connection closed; others are unaffected', async () => {
  const attacker = await RawClient.connect(daemon.port);
  attacker.write('*2\r\n$4\r\nAUTH\r\n$100000\r\n');
  const text = await attacker.waitClosed();
  assert.equal(text, '-ERR Protocol error: unauthenticated bulk length\r\n');
  const many = await RawClient.connect(daemon.port);
  many.write('*100\r\n');
  assert.equal(await many.waitClosed(), '-ERR Protocol error: unauthenticated multibulk length\r\n');
  const fine = new Redis({ port: daemon.port, password: 's3cret', lazyConnect: true });
  await fine.connect();
  assert.equal(await fine.echo('x'.repeat(100_000)), 'x'.repeat(100_000), 'after AUTH large arguments are fine');
  fine.disconnect();
});
