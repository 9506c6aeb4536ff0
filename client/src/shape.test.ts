/** keyPrefix on every declared key position, the method families, typed errors, durations. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import Redis from 'ioredis';
import { startDaemon, type Daemon } from '@sluice/daemon/dist/testing';
import { BadArgumentError, NoDeploymentError, SluiceClient, toMs, UnknownPolicyError } from './index';

let daemon: Daemon;
let plain: SluiceClient;

before(async () => {
  daemon = await startDaemon();
  plain = new SluiceClient({ port: daemon.port });
});

after(async () => {
  await plain.quit();
  await daemon.stop();
});

const spec = { limit: 5, perMs: 60_000 };

for (const how of ['options', 'an ioredis instance'] as const) {
  test(`keyPrefix from ${how} reaches every key position the command table declares`, async () => {
    const p = how === 'options' ? 'opt:' : 'inst:';
    const app = how === 'options'
      ? new SluiceClient({ port: daemon.port, keyPrefix: p })
      : new SluiceClient(new Redis({ port: daemon.port, keyPrefix: p }));
    try {
      // RL.HIT / RL.PEEK: key 1.
      await app.hit('k', spec, 2);
      assert.equal((await plain.peek(`${p}k`, spec)).remaining, 3, 'the prefixed key was charged');
      assert.equal((await plain.peek('k', spec)).remaining, 5, 'the bare key was not');
      assert.equal((await app.peek('k', spec)).remaining, 3);
      // RL.ALL: keys at 2, 5, 8 ...; policies and costs untouched.
      await plain.setPolicy('shape-rpm', spec);
      await app.all([{ key: 'a', policy: 'shape-rpm', cost: 1 }, { key: 'b', policy: 'shape-rpm', cost: 4 }]);
      assert.equal((await plain.peek(`${p}a`, { policy: 'shape-rpm' })).remaining, 4);
      assert.equal((await plain.peek(`${p}b`, { policy: 'shape-rpm' })).remaining, 1);
      // RL.ADJUST, CL.THROTTLE, SEM.*.
      assert.equal(await app.adjust('a', 'shape-rpm', -1), 5);
      await app.throttle('cell', 1, 10, 60);
      assert.equal((await plain.throttle(`${p}cell`, 1, 10, 60)).remaining, 0);
      const lease = await app.acquire('pool', 2, 10_000);
      assert.equal(await plain.leasesInUse(`${p}pool`), 1);
      assert.equal(await app.leasesInUse('pool'), 1);
      assert.equal(await app.release('pool', lease.leaseId!), true);
      // RL.RESET: every key (first 1, last -1).
      // ('a' was refunded to full by the adjust, so it holds no state.)
      assert.equal(await app.reset('k', 'a', 'b', 'none'), 2);
      assert.equal((await plain.peek(`${p}k`, spec)).remaining, 5);
      assert.equal((await plain.peek(`${p}b`, { policy: 'shape-rpm' })).remaining, 5);
    } finally {
      await app.quit();
    }
  });
}

test('families name the same methods as the flat aliases', async () => {
  const s = plain;
  assert.equal((await s.limits.hit('f:k', spec)).remaining, 4);
  assert.equal((await s.limits.peek('f:k', spec)).remaining, 4);
  assert.equal(await s.limits.reset('f:k'), 1);
  await s.limits.setPolicy('f-pol', { limit: 2, perMs: '1s' });
  assert.deepEqual(await s.limits.getPolicy('f-pol'), { limit: 2, perMs: 1000, burst: 2, algo: 'gcra' });
  assert.equal(await s.leases.with('f:pool', 1, { ttlMs: '5s' }, async () => s.leases.count('f:pool')), 1);
  assert.equal(await s.leases.count('f:pool'), 0);
  assert.equal(await s.tokens.count('gpt-4o', 'Hello, world!'), 4);
  assert.equal(await s.tokens.within('gpt-4o', 3, 'Hello, world!'), null);
  assert.equal((await s.tokens.info('gpt-4o')).encoding, 'o200k_base');
  assert.equal(await s.tokens.decode('gpt-4o', await s.tokens.encode('gpt-4o', 'hi')), 'hi');
});

test('typed errors', async () => {
  const unknown = await plain.limits.hit('e:k', { policy: 'e-none' }).catch((e: unknown) => e);
  assert.ok(unknown instanceof UnknownPolicyError);
  assert.equal(unknown.policy, 'e-none');
  await assert.rejects(plain.limits.hit('e:k', { limit: 0, perMs: 1000 }), BadArgumentError);
  await assert.rejects(plain.route.pick('e-no-such-group'), (e: unknown) => e instanceof BadArgumentError && /no such group/.test(e.message));
  await plain.route.set('e-g', { model_name: 'e-g', litellm_params: { model: 'openai/x', max_parallel_requests: 1 }, model_info: { id: 'x' } });
  const held = await plain.route.pick('e-g');
  await assert.rejects(plain.route.pick('e-g'), (e: unknown) => e instanceof NoDeploymentError && typeof e.retryAfterMs === 'number');
  await held.done();
});

test('a typed pipeline: one write, results in order, keyPrefix applied, errors typed', async () => {
  const app = new SluiceClient({ port: daemon.port, keyPrefix: 'pipe:' });
  try {
    await app.setPolicy('pipe-rpm', spec);
    const pipe = app.pipeline()
      .hit('u', spec, 2)
      .peek('u', spec)
      .all([{ key: 'u2', policy: 'pipe-rpm', cost: 5 }])
      .acquire('pool', 1, '5s')
      .countTokens('gpt-4o', 'Hello, world!')
      .countChatTokens('gpt-4o', [{ role: 'user', content: 'Hi' }])
      .reset('u');
    assert.equal(pipe.length, 7);
    const [hit, peek, all, lease, count, chat, reset] = await pipe.exec();
    assert.equal(hit.remaining, 3);
    assert.equal(peek.remaining, 3);
    assert.deepEqual(all.remaining, [0]);
    assert.equal(lease.acquired, true);
    assert.equal(count, 4);
    assert.ok(chat > 4);
    assert.equal(reset, 1);
    assert.equal(await plain.leasesInUse('pipe:pool'), 1, 'prefixed in the pipeline too');
    assert.equal(await app.release('pool', lease.leaseId!), true);
    await assert.rejects(app.pipeline().hit('u', spec).hit('u', { policy: 'pipe-none' }).exec(), UnknownPolicyError);
  } finally {
    await app.quit();
  }
});

test('durations as ms or strings', () => {
  assert.equal(toMs(250), 250);
  assert.equal(toMs('250ms'), 250);
  assert.equal(toMs('1s'), 1000);
  assert.equal(toMs('10 s'), 10_000);
  assert.equal(toMs('1.5m'), 90_000);
  assert.equal(toMs('1h'), 3_600_000);
  assert.equal(toMs('1d'), 86_400_000);
  assert.throws(() => toMs('soon' as never), RangeError);
  assert.throws(() => toMs(-1), RangeError);
});
