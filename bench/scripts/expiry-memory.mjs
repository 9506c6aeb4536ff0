#!/usr/bin/env node
// How fast expired keys go and whether memory comes back: starts a daemon (embedded defaults,
// a fresh --dir, port 0), sends N RL.HIT keys with PER of P ms over one pipelined connection,
// then polls DBSIZE and the daemon's RSS (/proc/PID/status) until every key is gone. Prints
// RSS before, after the writes, and after the sweep, and how long the keys took to go.
//   node bench/scripts/expiry-memory.mjs [keys=500000] [per_ms=2000] [extra daemon flags...]
// Figures depend on the machine's load; RSS figures are what the kernel reports.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
const require = createRequire(import.meta.url);
const Redis = require('ioredis');

const keys = Number(process.argv[2] ?? 500_000);
const per = Number(process.argv[3] ?? 2000);
const extra = process.argv.slice(4);
const dir = mkdtempSync(path.join(os.tmpdir(), 'sluice-expiry-'));
const cli = new URL('../../daemon/dist/cli.js', import.meta.url).pathname;
const child = spawn(process.execPath, [cli, '--port', '0', '--dir', dir, '--save-interval', '0', ...extra], { stdio: ['ignore', 'pipe', 'inherit'] });
const port = await new Promise((resolve, reject) => {
  let out = '';
  child.stdout.on('data', (d) => {
    out += d;
    const m = /listening on [^\s]+:(\d+)/.exec(out);
    if (m) resolve(Number(m[1]));
  });
  child.on('exit', (code) => reject(new Error(`daemon exited ${code}: ${out}`)));
});
const rss = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))[1]) / 1024;
const r = new Redis({ port });
const mb = (x) => `${x.toFixed(1)} MB`;
const jsHeap = async () => mb(Number(/used_memory_js_heap:(\d+)/.exec(await r.info('memory'))[1]) / 1048576);
console.log(`RSS at start: ${mb(rss())}`);
const started = Date.now();
for (let i = 0; i < keys; i += 10_000) {
  const p = r.pipeline();
  for (let j = i; j < Math.min(keys, i + 10_000); j++) p.call('RL.HIT', `user:${j}`, 'LIMIT', '1', 'PER', String(per));
  await p.exec();
}
const written = Date.now();
console.log(`${keys} keys written (PER ${per} ms) in ${((Date.now() - started) / 1000).toFixed(1)} s; DBSIZE ${await r.dbsize()}; RSS ${mb(rss())} (JS heap in use ${await jsHeap()})`);
let size;
while ((size = await r.dbsize()) > 0) {
  await new Promise((resolve) => setTimeout(resolve, 100));
  if (Date.now() - written > 120_000) break;
}
const gone = (Date.now() - written - per) / 1000;
console.log(`DBSIZE ${size} ${(Date.now() - written) / 1000} s after the writes (${gone.toFixed(2)} s after the last key's PER ended); RSS ${mb(rss())}`);
await new Promise((resolve) => setTimeout(resolve, 2000));
console.log(`RSS 2 s later: ${mb(rss())} (JS heap in use ${await jsHeap()})`);
r.disconnect();
child.kill('SIGTERM');
await new Promise((resolve) => child.on('exit', resolve));
rmSync(dir, { recursive: true, force: true });
