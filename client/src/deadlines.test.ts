// Deadlines: one timer for every call's timeout. Behaviour only (no speed here: the benchmark
// `client` scenario measures what it saves).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Command } from 'ioredis';
import { Deadlines } from './deadlines';

const expired = () => new Error('expired');
const later = <T>(ms: number, value: T) => new Promise<T>((resolve) => setTimeout(() => resolve(value), ms));
const never = new Promise<never>(() => {});

test('answered calls settle as they are answered; none of them expires', async () => {
  const deadlines = new Deadlines(200, expired);
  const answers = await Promise.all(Array.from({ length: 1000 }, (_, i) => deadlines.race(i % 2 ? Promise.resolve(i) : later(5, i))));
  assert.deepEqual(answers, Array.from({ length: 1000 }, (_, i) => i));
  await assert.rejects(deadlines.race(Promise.reject(new Error('its own error'))), /its own error/);
  assert.equal(deadlines.size, 0);
  // Past the deadline of all of them: nothing rejects late (a rejection would be unhandled).
  await later(250, null);
});

test('an unanswered call among answered ones expires after its timeout, the others do not', async () => {
  const deadlines = new Deadlines(100, expired);
  const started = performance.now();
  const quick = deadlines.race(later(10, 'quick'));
  const hung = deadlines.race(never);
  const slowButInTime = deadlines.race(later(60, 'in time'));
  assert.equal(await quick, 'quick');
  assert.equal(await slowButInTime, 'in time');
  await assert.rejects(hung, /expired/);
  assert.ok(performance.now() - started >= 99, 'not before its deadline');
  assert.equal(deadlines.size, 0);
});

test('calls made later get their own deadlines; the timer follows the oldest unanswered call', async () => {
  const deadlines = new Deadlines(80, expired);
  // Each resolves with the time it was given up, never earlier than its own deadline (a lower
  // bound only: a busy machine may fire the timer late, never early).
  const givenUp = () => deadlines.race(never).then(() => Number.NaN, () => performance.now());
  const firstAt = performance.now();
  const first = givenUp();
  await later(40, null);
  const secondAt = performance.now();
  const second = givenUp();
  const [firstEnd, secondEnd] = await Promise.all([first, second]);
  assert.ok(firstEnd - firstAt >= 79, `the first waited ${firstEnd - firstAt} ms of its 80`);
  assert.ok(secondEnd - secondAt >= 79, `the second waited its own 80 ms, not the first's: ${secondEnd - secondAt} ms`);
  // Thousands answered after the timer was armed, then one hung: the queue is compacted, the hung one still expires.
  await Promise.all(Array.from({ length: 5000 }, (_, i) => deadlines.race(Promise.resolve(i))));
  await assert.rejects(deadlines.race(never), /expired/);
});

test('watched ioredis Commands: answered ones settle as answered, an unanswered one is rejected at its deadline', async () => {
  // Real Commands, not sent: resolve() is what ioredis calls when the reply arrives.
  const deadlines = new Deadlines(80, expired);
  const answered = new Command('PING', []);
  const late = new Command('PING', []);
  const started = performance.now();
  deadlines.watch(answered);
  deadlines.watch(late);
  setTimeout(() => answered.resolve('PONG'), 10);
  assert.equal(await answered.promise, 'PONG');
  await assert.rejects(late.promise, /expired/);
  assert.ok(performance.now() - started >= 79, 'not before its deadline');
  // The reply that comes after the deadline changes nothing (as with ioredis's commandTimeout).
  late.resolve('PONG');
  await assert.rejects(late.promise, /expired/);
  // Thousands answered at once leave the queue as later ones are watched.
  const many = Array.from({ length: 3000 }, () => new Command('PING', []));
  for (const c of many) {
    deadlines.watch(c);
    c.resolve('PONG');
  }
  assert.equal(deadlines.size, 0);
});
