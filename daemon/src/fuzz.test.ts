/**
 * The RESP fuzz test, bounded for CI: a few batches of random requests for every command of the
 * table and of mutated frames (fuzz.ts), against a real daemon. After each batch the daemon must
 * answer PING and a control key must be exactly as it was; no reply may be an internal error,
 * and the daemon's log must show no unexpected error. `npm run fuzz -- --seconds N` runs longer.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fuzz, fuzzedCommands } from './fuzz';
import { startDaemon } from './testing';

test('random and mutated requests for every command: the daemon keeps answering and the control key is intact', async () => {
  const daemon = await startDaemon();
  try {
    const seed = Number(process.env.FUZZ_SEED ?? 20261202);
    const result = await fuzz({ port: daemon.port, seed, batches: 4, perCommand: 2, mutated: 40 });
    assert.deepEqual(result.findings, []);
    assert.equal(result.batches, 4);
    assert.equal(result.requests, 4 * 2 * fuzzedCommands().length);
    assert.ok(fuzzedCommands().length > 80, 'every command of the table but the few skipped');
    assert.doesNotMatch(daemon.output(), /unexpected error|failed unexpectedly|panicked/);
    assert.equal(daemon.process.exitCode, null, 'the daemon is still running');
  } finally {
    await daemon.stop();
  }
});
