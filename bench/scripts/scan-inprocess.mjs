#!/usr/bin/env node
// In-process cost of SCAN over 1M limiter keys, no sockets: fills the native core with
// RL.HIT on `key:<n>` (GCRA), then runs whole scans through the SCAN handler itself (native
// step + reply written into a ReplyWriter) with COUNT 10 and COUNT 1000, timing every call.
// Prints calls, keys, mean / p99 / max per call. Run after `npm run build`:
//   node bench/scripts/scan-inprocess.mjs [keys]
import { createRequire } from 'node:module';
const require = createRequire(import.meta.url);
const { ReplyWriter } = require('../../protocol/dist');
const { families } = require('../../daemon/dist/families');
const native = require('../../native');

const total = Number(process.argv[2] ?? 1_000_000);
const now = native.clockMs();
const out = new Float64Array(8);
for (let i = 0; i < total; i++) native.rlHit(Buffer.from(`key:${i}`), 5, 3_600_000, 5, 0, 1, false, now, out);
console.log(`${native.keyCount()} keys`);

const scan = families.find((f) => f.name === 'keyspace').handlers.scan;
const ctx = { server: { now }, session: {} };
const w = new ReplyWriter();
for (const count of [10, 1000]) {
  const times = [];
  let keys = 0;
  let cursor = '0';
  do {
    const args = [Buffer.from('SCAN'), Buffer.from(cursor), Buffer.from('COUNT'), Buffer.from(String(count))];
    const t0 = process.hrtime.bigint();
    scan(ctx, args, w);
    const reply = w.take();
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
    // `*2\r\n$<n>\r\n<cursor>\r\n*<keys>\r\n...`
    const text = reply.subarray(0, 64).toString('latin1');
    const m = /^\*2\r\n\$\d+\r\n(\d+)\r\n\*(\d+)\r\n/.exec(text);
    cursor = m[1];
    keys += Number(m[2]);
  } while (cursor !== '0');
  times.sort((a, b) => a - b);
  const sum = times.reduce((a, b) => a + b, 0);
  console.log(
    `COUNT ${count}: ${times.length} calls, ${keys} keys, ${sum.toFixed(1)} ms in all; per call mean ${(sum / times.length).toFixed(3)} ms, ` +
      `p99 ${times[Math.floor(times.length * 0.99)].toFixed(3)} ms, max ${times[times.length - 1].toFixed(3)} ms`,
  );
}
