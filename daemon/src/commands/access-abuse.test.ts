/**
 * The refusals that protect authentication: protected mode at start, failed AUTHs limited per
 * client address (with Sluice's own limiter), a deadline and a cap for connections that have
 * not authenticated. Each refusal is provoked here against a real daemon.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import Redis from 'ioredis';
import { RawClient, resp, startDaemon } from '../testing';

const WRONGPASS = '-WRONGPASS invalid username-password pair or user is disabled.\r\n';

/** Sends one request from a given local address and resolves with the first reply line. */
function requestFrom(localAddress: string, port: number, request: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host: '127.0.0.1', localAddress }, () => s.write(request));
    let text = '';
    s.on('data', (d) => {
      text += d.toString();
      if (text.includes('\r\n')) {
        s.destroy();
        resolve(text);
      }
    });
    s.on('error', reject);
  });
}

function infoField(info: string, name: string): number {
  const m = new RegExp(`^${name}:(\\d+)`, 'm').exec(info);
  assert.ok(m, `${name} in INFO`);
  return Number(m[1]);
}

test('protected mode: listening beyond loopback without a password refuses to start and says what to do', async () => {
  await assert.rejects(startDaemon(['--bind', '0.0.0.0']), (err: Error) => {
    assert.match(err.message, /exited with code 1 before listening/);
    assert.match(err.message, /refusing to listen on 0\.0\.0\.0 with no password \(protected mode\)/);
    assert.match(err.message, /--requirepass <password>/);
    assert.match(err.message, /--bind 127\.0\.0\.1/);
    assert.match(err.message, /--protected-mode no/);
    return true;
  });
  // With a password, or with protected-mode no, the check passes: the start goes on to bind
  // (192.0.2.1 is a documentation address no machine has, so nothing ever listens beyond loopback).
  for (const extra of [['--requirepass', 'x'], ['--protected-mode', 'no']]) {
    await assert.rejects(startDaemon(['--bind', '192.0.2.1', ...extra]), (err: Error) => {
      assert.match(err.message, /cannot listen on 192\.0\.2\.1/);
      assert.doesNotMatch(err.message, /protected mode/);
      return true;
    });
  }
});

test('failed AUTHs are limited per client address, logged with the address and counted in INFO', async () => {
  const daemon = await startDaemon(['--requirepass', 'right', '--auth-failures-per-minute', '3']);
  try {
    const c = await RawClient.connect(daemon.port);
    for (let i = 0; i < 3; i++) assert.equal(await c.send(resp('AUTH', 'wrong' + i), '\r\n'), WRONGPASS);
    // The fourth attempt is refused without a look at the password, even the right one.
    const limited = await c.send(resp('AUTH', 'right'), '\r\n');
    assert.match(limited, /^-ERR too many failed authentication attempts from 127\.0\.0\.1; try again in \d+ seconds\r\n$/);
    assert.match(await c.send(resp('HELLO', '3', 'AUTH', 'default', 'right'), '\r\n'), /^-ERR too many failed authentication attempts/);
    assert.equal(await c.send(resp('PING'), '\r\n'), '-NOAUTH Authentication required.\r\n');
    c.close();
    // Another address is not limited by this one's failures.
    assert.equal(await requestFrom('127.0.0.2', daemon.port, resp('AUTH', 'right')), '+OK\r\n');
    // ioredis sees the refusal as an error.
    const bad = new Redis({ port: daemon.port, password: 'right', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    const seen: string[] = [];
    bad.on('error', (err: Error) => seen.push(err.message));
    await assert.rejects(bad.connect());
    bad.disconnect();
    assert.ok(seen.some((m) => m.startsWith('ERR too many failed authentication attempts')), seen.join(' | '));

    // INFO from the other address (127.0.0.1 is still limited).
    const infoText = await new Promise<string>((resolve, reject) => {
      const s = net.connect({ port: daemon.port, host: '127.0.0.1', localAddress: '127.0.0.2' }, () => s.write(Buffer.concat([resp('AUTH', 'right'), resp('INFO', 'access')])));
      let text = '';
      s.on('data', (d) => {
        text += d.toString();
        if (text.includes('unauthenticated_clients_timed_out')) {
          s.destroy();
          resolve(text);
        }
      });
      s.on('error', reject);
    });
    assert.equal(infoField(infoText, 'acl_access_denied_auth'), 3);
    assert.ok(infoField(infoText, 'auth_failures_rate_limited') >= 3, infoText);
    const failures = daemon.output().split('\n').filter((l) => / AUTH failed from 127\.0\.0\.1:\d+ for user 'default'/.test(l));
    assert.equal(failures.length, 3, daemon.output());
    assert.ok(failures.every((l) => /^\d+:# /.test(l)), 'logged at warning level');
    assert.match(daemon.output(), /AUTH refused for 127\.0\.0\.1: more than 3 failed attempts per minute/);
  } finally {
    await daemon.stop();
  }
});

test('a connection that does not authenticate within auth-timeout is closed; an authenticated one stays', async () => {
  const daemon = await startDaemon(['--requirepass', 'pw', '--auth-timeout', '1']);
  try {
    const idle = await RawClient.connect(daemon.port);
    const authed = await RawClient.connect(daemon.port);
    assert.equal(await authed.send(resp('AUTH', 'pw'), '\r\n'), '+OK\r\n');
    await idle.waitClosed(8000); // closed after about 1 s; throws if still open after 8
    assert.equal(await authed.send(resp('PING'), '\r\n'), '+PONG\r\n');
    assert.ok(!authed.closed);
    const info = await authed.send(resp('INFO', 'access'), 'timed_out:1\r\n');
    assert.match(info, /unauthenticated_clients:0\r\n/);
    authed.close();
  } finally {
    await daemon.stop();
  }
});

test('idle unauthenticated connections cannot lock out a client with the right password', async () => {
  const daemon = await startDaemon(['--requirepass', 'pw', '--maxclients', '50', '--auth-timeout', '0']);
  const idle: RawClient[] = [];
  try {
    for (let i = 0; i < 60; i++) idle.push(await RawClient.connect(daemon.port));
    const good = new Redis({ port: daemon.port, password: 'pw', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    await good.connect();
    assert.equal(await good.ping(), 'PONG');
    // At most half of maxclients (the default cap) wait at once: the oldest were told and closed.
    await idle[0].waitClosed();
    assert.equal(idle[0].received.toString(), '-ERR closed: too many connections waiting to authenticate (maxclients-unauthenticated); authenticate right after connecting\r\n');
    const info = (await good.info('access')) as string;
    assert.ok(infoField(info, 'unauthenticated_clients') <= 25, info);
    assert.ok(infoField(info, 'unauthenticated_clients_evicted') >= 35, info);
    good.disconnect();
  } finally {
    for (const c of idle) c.close();
    await daemon.stop();
  }
});

test('when every maxclients slot is taken, an unauthenticated connection makes room for a new one', async () => {
  const daemon = await startDaemon(['--requirepass', 'pw', '--maxclients', '10', '--maxclients-unauthenticated', '5', '--auth-timeout', '0']);
  const clients: Redis[] = [];
  const idle: RawClient[] = [];
  try {
    for (let i = 0; i < 5; i++) {
      const c = new Redis({ port: daemon.port, password: 'pw' });
      await c.ping();
      clients.push(c);
    }
    for (let i = 0; i < 5; i++) idle.push(await RawClient.connect(daemon.port));
    const late = new Redis({ port: daemon.port, password: 'pw', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    await late.connect();
    assert.equal(await late.ping(), 'PONG');
    clients.push(late);
    await idle[0].waitClosed();
    // Authenticated clients are never closed to make room: with 10 of them, the next is refused.
    for (const c of idle) c.close();
    for (let i = 0; i < 4; i++) {
      const c = new Redis({ port: daemon.port, password: 'pw' });
      await c.ping();
      clients.push(c);
    }
    const refused = await RawClient.connect(daemon.port);
    assert.equal(await refused.waitClosed(), '-ERR max number of clients reached\r\n');
  } finally {
    for (const c of clients) c.disconnect();
    for (const c of idle) c.close();
    await daemon.stop();
  }
});
