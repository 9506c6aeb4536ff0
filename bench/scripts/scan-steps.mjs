#!/usr/bin/env node
// How long SCAN steps take over a daemon's whole keyspace, seen from a client on loopback:
// walks a full scan with COUNT n and prints the calls, keys, total time and the slowest call
// (round trip, so an upper bound on the time the daemon spent in it).
//   node bench/scripts/scan-steps.mjs PORT COUNT
import { createRequire } from 'node:module';
const require = createRequire(import.meta.url);
const Redis = require('ioredis');

const [port, count] = [Number(process.argv[2] ?? 6380), Number(process.argv[3] ?? 10)];
const redis = new Redis({ port });
let cursor = '0';
let calls = 0;
let keys = 0;
let slowest = 0;
const start = process.hrtime.bigint();
do {
  const t0 = process.hrtime.bigint();
  const [next, batch] = await redis.call('SCAN', cursor, 'COUNT', String(count));
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (ms > slowest) slowest = ms;
  calls++;
  keys += batch.length;
  cursor = next;
} while (cursor !== '0');
const total = Number(process.hrtime.bigint() - start) / 1e6;
console.log(`COUNT ${count}: ${calls} calls, ${keys} keys, ${total.toFixed(0)} ms in all, slowest call ${slowest.toFixed(2)} ms, mean ${(total / calls).toFixed(3)} ms`);
redis.disconnect();
