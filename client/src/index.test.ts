/** The typed client against a real daemon: every method, RESP2 and RESP3 replies. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startDaemon, type Daemon } from '@sluice/daemon/dist/testing';
import Redis6 from 'ioredis6';
import { keysOf, SluiceClient } from './index';

let daemon: Daemon;
let sluice: SluiceClient;

before(async () => {
  daemon = await startDaemon();
  sluice = new SluiceClient({ port: daemon.port });
});

after(async () => {
  await sluice.quit();
  await daemon.stop();
});

test('hit and peek with an inline limit', async () => {
  const spec = { limit: 3, perMs: 60_000 };
  assert.deepEqual(await sluice.peek('c:user', spec), { allowed: true, limit: 3, remaining: 3, retryAfterMs: null, resetAfterMs: 0 });
  const first = await sluice.hit('c:user', spec, 2);
  assert.equal(first.allowed, true);
  assert.equal(first.remaining, 1);
  assert.equal(first.retryAfterMs, null);
  const refused = await sluice.hit('c:user', spec, 2);
  assert.equal(refused.allowed, false);
  assert.ok(refused.retryAfterMs! > 0 && refused.retryAfterMs! <= 20_000, String(refused.retryAfterMs));
  assert.equal(await sluice.reset('c:user', 'c:none'), 1);
});

test('policies, all-or-nothing and adjust', async () => {
  await sluice.setPolicy('c-rpm', { limit: 10, perMs: 60_000 });
  await sluice.setPolicy('c-tpm', { limit: 1000, perMs: 60_000, algo: 'sliding' });
  assert.deepEqual(await sluice.getPolicy('c-rpm'), { limit: 10, perMs: 60_000, burst: 10, algo: 'gcra' });
  assert.equal(await sluice.getPolicy('c-nope'), null);
  assert.ok((await sluice.listPolicies()).includes('c-tpm'));
  const ok = await sluice.all([{ key: 'c:u', policy: 'c-rpm', cost: 1 }, { key: 'c:m', policy: 'c-tpm', cost: 900 }]);
  assert.deepEqual(ok, { allowed: true, refusedIndex: null, retryAfterMs: null, remaining: [9, 100] });
  const no = await sluice.all([{ key: 'c:u', policy: 'c-rpm', cost: 1 }, { key: 'c:m', policy: 'c-tpm', cost: 200 }]);
  assert.equal(no.allowed, false);
  assert.equal(no.refusedIndex, 1);
  assert.deepEqual(no.remaining, [9, 100], 'nothing consumed');
  assert.equal(await sluice.adjust('c:m', 'c-tpm', -400), 500);
  assert.equal(await sluice.deletePolicy('c-rpm'), true);
  assert.equal(await sluice.deletePolicy('c-rpm'), false);
});

test('throttle is redis-cell shaped', async () => {
  assert.deepEqual(await sluice.throttle('c:cell', 15, 30, 60), { limited: false, limit: 16, remaining: 15, retryAfterSeconds: null, resetAfterSeconds: 2 });
});

test('leases', async () => {
  const a = await sluice.acquire('c:pool', 1, 10_000);
  assert.equal(a.acquired, true);
  assert.equal(a.inUse, 1);
  assert.deepEqual(await sluice.acquire('c:pool', 1), { acquired: false, leaseId: null, inUse: 1 });
  assert.equal(await sluice.extend('c:pool', a.leaseId!, 20_000), true);
  assert.equal(await sluice.leasesInUse('c:pool'), 1);
  assert.equal(await sluice.release('c:pool', a.leaseId!), true);
  assert.equal(await sluice.release('c:pool', a.leaseId!), false);
});

test('tokens', async () => {
  assert.equal(await sluice.countTokens('gpt-4o', 'Hello, world!'), 4);
  assert.equal(await sluice.countTokensWithin('gpt-4o', 3, 'Hello, world!'), null);
  assert.equal(await sluice.countTokensWithin('gpt-4o', 4, 'Hello, world!'), 4);
  const ids = await sluice.encode('gpt-4o', 'Hello, world!');
  assert.equal(ids.length, 4);
  assert.equal(await sluice.decode('gpt-4o', ids), 'Hello, world!');
  assert.ok((await sluice.countChatTokens('gpt-4o', [{ role: 'user', content: 'Hi!' }])) > 5);
  const info = await sluice.modelInfo('gpt-4o');
  assert.equal(info.encoding, 'o200k_base');
  assert.ok(info.contextWindow! > 0);
});

test('RESP3 replies (maps) decode the same way, through ioredis 6', async () => {
  const resp3 = new SluiceClient(new Redis6({ port: daemon.port, protocol: 3 }));
  try {
    assert.equal((await resp3.modelInfo('gpt-4')).encoding, 'cl100k_base');
    await resp3.setPolicy('c-r3', { limit: 5, perMs: 1000, burst: 2 });
    assert.deepEqual(await resp3.getPolicy('c-r3'), { limit: 5, perMs: 1000, burst: 2, algo: 'gcra' });
  } finally {
    await resp3.quit();
  }
});

test('keysOf reads key positions from the command table', () => {
  assert.deepEqual(keysOf(['RL.ALL', '2', 'a', 'rpm', '1', 'b', 'tpm', '5']), ['a', 'b']);
  assert.deepEqual(keysOf(['RL.HIT', 'user:1', 'LIMIT', '1', 'PER', '1000']), ['user:1']);
  assert.deepEqual(keysOf(['PING']), []);
});
