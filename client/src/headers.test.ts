/** rateLimitHeaders from real results: admitted, refused, all(), throttle(). */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startDaemon, type Daemon } from '@sluice/daemon/dist/testing';
import { rateLimitHeaders, SluiceClient } from './index';

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

test('admitted and refused hits: IETF fields, X-RateLimit-*, Retry-After only on refusal', async () => {
  const spec = { limit: 2, perMs: '1m' } as const;
  const ok = await sluice.hit('h:u', spec);
  assert.deepEqual(rateLimitHeaders(ok, { policy: 'per-user', window: '1m' }), {
    'RateLimit-Policy': '"per-user";q=2;w=60',
    RateLimit: '"per-user";r=1;t=30',
    'X-RateLimit-Limit': '2',
    'X-RateLimit-Remaining': '1',
    'X-RateLimit-Reset': '30',
  });
  await sluice.hit('h:u', spec);
  const no = await sluice.hit('h:u', spec);
  const h = rateLimitHeaders(no);
  assert.equal(no.allowed, false);
  assert.equal(h['X-RateLimit-Remaining'], '0');
  assert.equal(h['Retry-After'], String(Math.ceil(no.retryAfterMs! / 1000)));
  assert.ok(Number(h['Retry-After']) >= 29 && Number(h['Retry-After']) <= 30, h['Retry-After']);
  assert.equal(h['RateLimit-Policy'], '"default";q=2');
  const unix = Number(rateLimitHeaders(no, { reset: 'unix' })['X-RateLimit-Reset']);
  assert.ok(Math.abs(unix - (Date.now() + no.resetAfterMs) / 1000) < 2, String(unix));
});

test('all() and throttle() results', async () => {
  await sluice.setPolicy('h-rpm', { limit: 3, perMs: 60_000 });
  const all = await sluice.all([{ key: 'h:a', policy: 'h-rpm', cost: 1 }, { key: 'h:b', policy: 'h-rpm', cost: 2 }]);
  const h = rateLimitHeaders(all, { limit: 3 });
  assert.equal(h['X-RateLimit-Remaining'], '1', 'the key with least left');
  assert.equal(h['X-RateLimit-Limit'], '3');
  assert.equal(h['Retry-After'], undefined);
  const refused = await sluice.all([{ key: 'h:b', policy: 'h-rpm', cost: 2 }]);
  assert.equal(rateLimitHeaders(refused)['Retry-After'], String(Math.ceil(refused.retryAfterMs! / 1000)));
  const cell = await sluice.throttle('h:cell', 0, 1, 60);
  await sluice.throttle('h:cell', 0, 1, 60);
  const limited = await sluice.throttle('h:cell', 0, 1, 60);
  assert.equal(rateLimitHeaders(cell)['X-RateLimit-Limit'], '1');
  assert.equal(rateLimitHeaders(limited)['Retry-After'], String(limited.retryAfterSeconds));
});
