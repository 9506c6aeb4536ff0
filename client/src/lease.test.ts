/** withLease against a real daemon: extension past the TTL, release on success and on throw, waiting. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startDaemon, type Daemon } from '@sluice/daemon/dist/testing';
import { LeaseBusyError, SluiceClient } from './index';

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

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('a lease outlives its TTL while fn runs, and is released after', async () => {
  // A 1 s TTL extended every third of it: an extension may come up to 600 ms late (a busy
  // machine's event loop) before the lease lapses. 200 ms failed once in CI at load 20.
  const result = await sluice.withLease('l:gpu', 1, { ttlMs: 1000 }, async (lease, signal) => {
    assert.equal(lease.acquired, true);
    await sleep(3500); // 3.5 TTLs
    // Still held: the slot is not free to anyone else.
    assert.equal((await sluice.acquire('l:gpu', 1)).acquired, false);
    assert.equal(await sluice.leasesInUse('l:gpu'), 1);
    assert.equal(signal.aborted, false);
    return 'done';
  });
  assert.equal(result, 'done');
  assert.equal(await sluice.leasesInUse('l:gpu'), 0);
});

test('fn throwing still releases; the error comes through', async () => {
  await assert.rejects(sluice.withLease('l:t', 1, { ttlMs: '10s' }, () => { throw new Error('boom'); }), /boom/);
  assert.equal(await sluice.leasesInUse('l:t'), 0);
});

test('busy: LeaseBusyError at once, or the slot once freed within waitMs', async () => {
  const held = await sluice.acquire('l:busy', 1, 10_000);
  await assert.rejects(sluice.withLease('l:busy', 1, {}, () => 1), (e: unknown) => e instanceof LeaseBusyError && e.inUse === 1);
  setTimeout(() => void sluice.release('l:busy', held.leaseId!), 150);
  const t0 = Date.now();
  assert.equal(await sluice.withLease('l:busy', 1, { ttlMs: 1000, waitMs: '2s' }, () => 'got it'), 'got it');
  assert.ok(Date.now() - t0 >= 140);
  assert.equal(await sluice.leasesInUse('l:busy'), 0);
});

test('a lease lost (expired while this process stalled) aborts the signal', async () => {
  await sluice.withLease('l:lost', 1, { ttlMs: 150 }, async (lease, signal) => {
    // Simulate the stall: another party frees it, as expiry would.
    await sluice.release('l:lost', lease.leaseId!);
    await sleep(200);
    assert.equal(signal.aborted, true);
    assert.ok(signal.reason instanceof LeaseBusyError);
  });
});
