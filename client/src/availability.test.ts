/**
 * Staying up when Sluice is not: the daemon is killed mid-run (by its pid), each onUnavailable
 * policy answers within timeoutMs, then the daemon is restarted on the same port and every
 * client is back on it. A stopped (SIGSTOP) daemon proves the timeout holds when the
 * connection stays up but nothing answers.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { startDaemon, type Daemon } from '@sluice/daemon/dist/testing';
import { SluiceClient, SluiceUnavailableError, UnknownPolicyError } from './index';

// 1 s: long enough that a busy machine's event-loop delays (CI beside other builds, load 18)
// do not pass for the client waiting on a dead daemon; the checks below tell 'answered at
// once' (well under it) from 'waited for the timeout' (at least it).
const TIMEOUT_MS = 1000;
let daemon: Daemon;
let port: number;
let open: SluiceClient, closed: SluiceClient, local: SluiceClient, strict: SluiceClient;

before(async () => {
  daemon = await startDaemon();
  port = daemon.port;
  open = new SluiceClient({ port, timeoutMs: TIMEOUT_MS, onUnavailable: 'open' });
  closed = new SluiceClient({ port, timeoutMs: TIMEOUT_MS, onUnavailable: 'closed' });
  local = new SluiceClient({ port, timeoutMs: '1s', onUnavailable: 'local' });
  strict = new SluiceClient({ port, timeoutMs: TIMEOUT_MS });
});

after(async () => {
  for (const c of [open, closed, local, strict]) await c.quit().catch(() => {});
  await daemon.stop();
});

const spec = { limit: 2, perMs: '1m' } as const;

/** Runs `fn` and returns its result with how long it took. */
async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const t0 = performance.now();
  const r = await fn();
  return [r, performance.now() - t0];
}

test('up, down (killed), each policy, back up on the same port', async () => {
  // Up: answers come from the daemon (no `unavailable` flag), errors are typed.
  const first = await open.hit('a:open', spec);
  assert.deepEqual(first, { allowed: true, limit: 2, remaining: 1, retryAfterMs: null, resetAfterMs: 30_000 });
  await local.setPolicy('a-pol', { limit: 1, perMs: 60_000 });
  await assert.rejects(strict.hit('a:x', { policy: 'a-nope' }), UnknownPolicyError);

  const events = [open, closed, local, strict].map((c) => once(c, 'unavailable'));
  process.kill(daemon.process.pid!, 'SIGKILL');
  await daemon.exited;
  const [error] = await events[0];
  assert.ok(error instanceof SluiceUnavailableError);
  await Promise.all(events);

  // open admits, closed refuses, both flagged, and neither waits for the dead daemon.
  const [o, oMs] = await timed(() => open.hit('a:open', spec));
  assert.equal(o.allowed, true);
  assert.equal(o.unavailable, true);
  assert.ok(oMs < TIMEOUT_MS, `open answered in ${oMs} ms`);
  const [c, cMs] = await timed(() => closed.hit('a:closed', spec));
  assert.equal(c.allowed, false);
  assert.equal(c.unavailable, true);
  assert.ok(cMs < TIMEOUT_MS, `closed answered in ${cMs} ms`);
  assert.equal((await closed.acquire('a:pool', 5)).acquired, false);
  assert.equal((await open.acquire('a:pool', 5)).acquired, true);

  // local: the same GCRA semantics in-process: 2 per minute, then refused with a retry time.
  assert.deepEqual(await local.hit('a:local', spec), { allowed: true, limit: 2, remaining: 1, retryAfterMs: null, resetAfterMs: 30_000, unavailable: true });
  assert.equal((await local.hit('a:local', spec)).allowed, true);
  const refused = await local.hit('a:local', spec);
  assert.equal(refused.allowed, false);
  assert.ok(refused.retryAfterMs! > 29_000 && refused.retryAfterMs! <= 30_000, String(refused.retryAfterMs));
  // ... by policy name (set through this client before the outage), and windows.
  assert.equal((await local.hit('a:p', { policy: 'a-pol' })).allowed, true);
  assert.equal((await local.hit('a:p', { policy: 'a-pol' })).allowed, false);
  const fixed = { limit: 3, perMs: 60_000, algo: 'fixed' } as const;
  assert.equal((await local.hit('a:f', fixed, 3)).remaining, 0);
  assert.equal((await local.hit('a:f', fixed)).allowed, false);
  const sliding = { limit: 3, perMs: 60_000, algo: 'sliding' } as const;
  assert.equal((await local.hit('a:s', sliding, 2)).remaining, 1);
  assert.equal((await local.peek('a:s', sliding, 2)).allowed, false);
  // ... leases: one slot, a negative (local) id, released locally.
  const lease = await local.acquire('a:pool', 1, '10s');
  assert.equal(lease.acquired, true);
  assert.ok(lease.leaseId! < 0);
  assert.equal((await local.acquire('a:pool', 1)).acquired, false);
  assert.equal(await local.leasesInUse('a:pool'), 1);
  assert.equal(await local.release('a:pool', lease.leaseId!), true);
  assert.equal((await local.acquire('a:pool', 1)).acquired, true);
  // ... all or nothing over known policies, and redis-cell's throttle.
  const allOk = await local.all([{ key: 'a:all1', policy: 'a-pol', cost: 1 }, { key: 'a:all2', policy: 'a-pol', cost: 1 }]);
  assert.deepEqual(allOk, { allowed: true, refusedIndex: null, retryAfterMs: null, remaining: [0, 0], unavailable: true });
  const allNo = await local.all([{ key: 'a:all3', policy: 'a-pol', cost: 1 }, { key: 'a:all1', policy: 'a-pol', cost: 1 }]);
  assert.equal(allNo.refusedIndex, 1);
  assert.deepEqual(allNo.remaining, [1, 0], 'nothing consumed');
  assert.equal((await closed.all([{ key: 'a:x', policy: 'a-pol', cost: 1 }])).allowed, false);
  assert.equal((await open.all([{ key: 'a:x', policy: 'a-pol', cost: 1 }])).allowed, true);
  const cell = await local.throttle('a:cell', 0, 1, 60);
  assert.deepEqual([cell.limited, cell.unavailable], [false, true]);
  const cell2 = await local.throttle('a:cell', 0, 1, 60);
  assert.equal(cell2.limited, true);
  assert.ok(cell2.retryAfterSeconds! >= 59 && cell2.retryAfterSeconds! <= 60, String(cell2.retryAfterSeconds));
  // ... token counts by gpt-tokenizer (o200k_base for gpt-4o: the daemon says 4 too).
  assert.equal(await local.countTokens('gpt-4o', 'Hello, world!'), 4);

  // Without a policy, a limit call fails fast with the typed error.
  const [err, eMs] = await timed(() => strict.hit('a:x', spec).then(() => null, (e: unknown) => e));
  assert.ok(err instanceof SluiceUnavailableError, String(err));
  assert.ok(eMs < TIMEOUT_MS, `strict failed in ${eMs} ms`);

  // Restart on the same port: every client reconnects by itself and says so.
  const recovered = [open, closed, local, strict].map((cl) => once(cl, 'recovered'));
  daemon = await startDaemon(['--port', String(port)]);
  await Promise.all(recovered);
  for (const cl of [open, closed, local, strict]) assert.equal(cl.unavailable, false);
  // Back on the (fresh) daemon: no flag, and the local state is not what answers.
  assert.deepEqual(await local.hit('a:local', spec), { allowed: true, limit: 2, remaining: 1, retryAfterMs: null, resetAfterMs: 30_000 });
  assert.equal((await closed.hit('a:closed', spec)).allowed, true);
  assert.equal((await strict.hit('a:x', spec)).unavailable, undefined);
});

test('a daemon that stops answering (SIGSTOP): no call waits past timeoutMs; SIGCONT recovers', async () => {
  await local.setPolicy('b-pol', { limit: 5, perMs: 60_000 });
  const down = once(local, 'unavailable');
  process.kill(daemon.process.pid!, 'SIGSTOP');
  try {
    const [r, ms] = await timed(() => local.hit('b:k', { policy: 'b-pol' }));
    assert.equal(r.unavailable, true);
    assert.equal(r.allowed, true);
    assert.ok(ms >= TIMEOUT_MS - 5 && ms < TIMEOUT_MS + 1000, `took ${ms} ms`);
    await down;
    // Now known down: answered at once, without another wait.
    const [, again] = await timed(() => local.hit('b:k', { policy: 'b-pol' }));
    assert.ok(again < TIMEOUT_MS / 2, `took ${again} ms`);
    const [e, eMs] = await timed(() => strict.listPolicies().then(() => null, (x: unknown) => x));
    assert.ok(e instanceof SluiceUnavailableError);
    assert.ok(eMs < TIMEOUT_MS + 1000, `took ${eMs} ms`);
  } finally {
    process.kill(daemon.process.pid!, 'SIGCONT');
  }
  await once(local, 'recovered');
  assert.equal((await local.hit('b:k', { policy: 'b-pol' })).unavailable, undefined);
});

test('a daemon down from the start: the first call already falls back within timeoutMs', async () => {
  const net = await import('node:net');
  // A port nobody listens on: take a free one and close it.
  const free = await new Promise<number>((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
  const early = new SluiceClient({ port: free, timeoutMs: TIMEOUT_MS, onUnavailable: 'closed' });
  try {
    const [r, ms] = await timed(() => early.hit('c:k', spec));
    assert.deepEqual([r.allowed, r.unavailable], [false, true]);
    assert.ok(ms <= TIMEOUT_MS + 1000, `took ${ms} ms`);
    assert.equal(early.unavailable, true);
  } finally {
    await early.quit().catch(() => {});
  }
});
