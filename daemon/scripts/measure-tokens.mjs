#!/usr/bin/env node
/**
 * Measures what docs/tokens.md reports about token counting on this machine:
 *  1. native calls: inline (synchronous) count vs the thread-pool count, per text size;
 *  2. over RESP: throughput of pipelined TOK.COUNT with everything inline vs everything on
 *     worker threads, per size, and how long a PING on another connection waits meanwhile;
 *  3. the count cache: repeated vs unique texts, cache on vs off.
 * Text: real Markdown documentation shipped on the machine (node_modules), cut into chunks.
 *  4. long runs of one character (a million 'a'): time must grow about linearly.
 * Usage: node daemon/scripts/measure-tokens.mjs [native|cache|resp|cache-resp|long-runs ...]
 *        (SIZES=64,256,... sets the sizes of the native and resp tables)
 */
import { createRequire } from 'node:module';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import net from 'node:net';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');
const require = createRequire(import.meta.url);
const native = require('@sluice/native');

function corpus(limit = 2 * 1024 * 1024) {
  const files = [];
  const walk = (dir, depth) => {
    let entries;
    try { entries = readdirSync(dir, { withFileTypes: true }); } catch { return; }
    for (const e of entries) {
      const p = path.join(dir, e.name);
      if (e.isDirectory() && depth < 4) walk(p, depth + 1);
      else if (e.isFile() && /\.md$/i.test(e.name) && statSync(p).size > 2000) files.push(p);
    }
  };
  walk(path.join(root, 'node_modules'), 0);
  files.sort();
  let text = '';
  for (const f of files) {
    text += readFileSync(f, 'utf8') + '\n';
    if (text.length > limit) break;
  }
  return Buffer.from(text);
}

/** Chunks of `size` bytes cut at character boundaries. */
function chunks(buf, size, max = 4000) {
  const out = [];
  for (let i = 0; i + size <= buf.length && out.length < max; i += size) {
    let end = i + size;
    while (end < buf.length && (buf[end] & 0xc0) === 0x80) end++;
    let start = i;
    while ((buf[start] & 0xc0) === 0x80) start++;
    out.push(buf.subarray(start, end));
  }
  return out;
}

const SIZES = (process.env.SIZES ?? '64,256,1024,2048,4096,8192,16384,65536').split(',').map(Number);
const MODEL = Buffer.from('o200k_base');

/** The fastest of three runs of `fn` (which returns the calls it made), in us per call. */
async function best3(fn) {
  let best = Infinity;
  for (let r = 0; r < 3; r++) {
    const t = performance.now();
    const calls = await fn();
    best = Math.min(best, ((performance.now() - t) * 1000) / calls);
  }
  return best;
}

async function measureNative(text) {
  native.tokConfigure(0); // cache off: measure counting itself
  console.log('\n## native: inline count vs thread-pool count (cache off), o200k_base, best of 3');
  console.log('| bytes | inline us/call | pool us/call, 1 in flight | pool us/call, 16 in flight | inline MB/s |');
  console.log('| --- | --- | --- | --- | --- |');
  for (const size of SIZES) {
    const cs = chunks(text, size, 2000);
    const reps = Math.max(1, Math.floor(2_000_000 / (size * cs.length)));
    for (const c of cs) native.tokCount(MODEL, c); // warm
    const inline = await best3(() => {
      for (let r = 0; r < reps; r++) for (const c of cs) native.tokCount(MODEL, c);
      return reps * cs.length;
    });
    const one = await best3(async () => {
      for (let r = 0; r < reps; r++) for (const c of cs) await native.tokCountAsync(MODEL, c);
      return reps * cs.length;
    });
    const many = await best3(async () => {
      for (let r = 0; r < reps; r++) {
        for (let i = 0; i < cs.length; i += 16) await Promise.all(cs.slice(i, i + 16).map((c) => native.tokCountAsync(MODEL, c)));
      }
      return reps * cs.length;
    });
    console.log(`| ${size} | ${inline.toFixed(2)} | ${one.toFixed(2)} | ${many.toFixed(2)} | ${(size / inline).toFixed(1)} |`);
  }
}

function startDaemon(args, env = {}) {
  const child = spawn(process.execPath, [path.join(root, 'daemon/dist/cli.js'), '--port', '0', ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      const m = /listening on [^\s]+:(\d+)/.exec(out);
      if (m) resolve({ port: Number(m[1]), pid: child.pid, stop: () => new Promise((r) => { child.on('exit', r); child.kill('SIGTERM'); }) });
    });
    child.on('exit', (code) => reject(new Error(`daemon exited ${code}: ${out}`)));
  });
}

function encode(args) {
  const parts = [Buffer.from(`*${args.length}\r\n`)];
  for (const a of args) {
    const b = typeof a === 'string' ? Buffer.from(a) : a;
    parts.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
}

/** Sends `requests` pipelined (window `depth`) and resolves when all integer replies arrived. */
function pipelined(port, requests, depth) {
  return new Promise((resolve) => {
    const s = net.connect({ port }, () => {
      let sent = 0;
      let got = 0;
      const pump = () => {
        const batch = [];
        while (sent < requests.length && sent - got < depth) batch.push(requests[sent++]);
        if (batch.length) s.write(Buffer.concat(batch));
      };
      let pending = '';
      s.on('data', (d) => {
        pending += d.toString('latin1');
        let idx;
        while ((idx = pending.indexOf('\r\n')) >= 0) {
          if (pending[0] === '-') throw new Error(pending.slice(0, idx));
          pending = pending.slice(idx + 2);
          got++;
        }
        if (got === requests.length) { s.destroy(); resolve(); } else pump();
      });
      pump();
    });
  });
}

/** CPU time (ms) of the daemon's main thread (the event loop) and of all its threads. */
function cpuMs(pid) {
  const ticks = (file) => {
    const f = readFileSync(file, 'utf8').split(') ')[1].split(' ');
    return Number(f[11]) + Number(f[12]); // utime + stime
  };
  let all = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) all += ticks(`/proc/${pid}/task/${tid}/stat`);
  return { main: ticks(`/proc/${pid}/task/${pid}/stat`) * 10, all: all * 10 };
}

/** PING round trips on a separate connection while `during` runs; returns the worst and median. */
async function pingWhile(port, during) {
  const s = net.connect({ port });
  await new Promise((r) => s.once('connect', r));
  const times = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      const t = performance.now();
      await new Promise((r) => { s.once('data', r); s.write('*1\r\n$4\r\nPING\r\n'); });
      times.push(performance.now() - t);
    }
  })();
  await during();
  running = false;
  await loop;
  s.destroy();
  times.sort((a, b) => a - b);
  return { max: times[times.length - 1], p50: times[Math.floor(times.length / 2)], n: times.length };
}

async function measureResp(text) {
  console.log('\n## over RESP: pipelined TOK.COUNT (depth 32, cache off), all inline vs all on worker threads');
  console.log('Event-loop CPU = CPU time of the daemon main thread per request (from /proc/PID/task/PID/stat); all CPU = every thread.');
  console.log('| bytes | inline: MB/s | inline: event-loop CPU us/req | worker: MB/s | worker: event-loop CPU us/req | worker: all CPU us/req | PING p50 / max ms while inline | PING p50 / max ms while worker |');
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
  const daemons = {
    inline: await startDaemon(['--tokens-inline-max-bytes', '1gb', '--tokens-cache-entries', '0']),
    worker: await startDaemon(['--tokens-inline-max-bytes', '0', '--tokens-cache-entries', '0']),
  };
  try {
    for (const size of SIZES) {
      const cs = chunks(text, size, 100000);
      const count = Math.max(400, Math.floor(8_000_000 / size));
      const reqs = Array.from({ length: count }, (_, i) => encode(['TOK.COUNT', 'o200k_base', cs[i % cs.length]]));
      const bytes = reqs.reduce((n, r) => n + r.length, 0);
      const row = {};
      for (const [name, d] of Object.entries(daemons)) {
        await pipelined(d.port, reqs.slice(0, 50), 32); // warm
        let mbps = 0;
        const c0 = cpuMs(d.pid);
        const ping = await pingWhile(d.port, async () => {
          const t = performance.now();
          await pipelined(d.port, reqs, 32);
          mbps = bytes / 1e6 / ((performance.now() - t) / 1000);
        });
        const c1 = cpuMs(d.pid);
        row[name] = { mbps, ping, main: ((c1.main - c0.main) * 1000) / count, all: ((c1.all - c0.all) * 1000) / count };
      }
      const f = (p) => `${p.p50.toFixed(2)} / ${p.max.toFixed(2)}`;
      const { inline: a, worker: b } = row;
      console.log(`| ${size} | ${a.mbps.toFixed(1)} | ${a.main.toFixed(1)} | ${b.mbps.toFixed(1)} | ${b.main.toFixed(1)} | ${b.all.toFixed(1)} | ${f(a.ping)} | ${f(b.ping)} |`);
    }
  } finally {
    for (const d of Object.values(daemons)) await d.stop();
  }
}

async function measureCache(text) {
  console.log('\n## count cache, native inline calls, o200k_base, best of 3 (cache emptied before each run)');
  console.log('| bytes | workload | cache off us/call | cache on us/call |');
  console.log('| --- | --- | --- | --- |');
  for (const size of [64, 256, 1024, 4096, 16384]) {
    const cs = chunks(text, size, 2000);
    const repeated = Array.from({ length: 2000 }, (_, i) => cs[i % 20]); // 20 distinct texts
    for (const [name, list] of [['unique texts (all misses)', cs], ['20 texts repeated', repeated]]) {
      const res = [];
      for (const entries of [0, 10000]) {
        for (const c of list.slice(0, 20)) native.tokCount(MODEL, c); // warm the code
        res.push(await best3(() => {
          native.tokConfigure(entries); // empty: unique texts all miss
          for (const c of list) native.tokCount(MODEL, c);
          return list.length;
        }));
      }
      console.log(`| ${size} | ${name} (${list.length} calls) | ${res[0].toFixed(2)} | ${res[1].toFixed(2)} |`);
    }
  }
}

async function measureCacheResp(text) {
  console.log('\n## count cache over RESP: pipelined TOK.COUNT (depth 32), everything inline');
  console.log('| bytes | workload | cache off MB/s | cache on MB/s |');
  console.log('| --- | --- | --- | --- |');
  const daemons = [
    await startDaemon(['--tokens-inline-max-bytes', '1gb', '--tokens-cache-entries', '0']),
    await startDaemon(['--tokens-inline-max-bytes', '1gb', '--tokens-cache-entries', '10000']),
  ];
  try {
    const warm = chunks(text, 999, 100).map((c) => encode(['TOK.COUNT', 'cl100k_base', c]));
    for (const d of daemons) await pipelined(d.port, warm, 32);
    for (const size of [400, 4096]) {
      const cs = chunks(text, size, 100000);
      const count = Math.floor(4_000_000 / size);
      // Three rounds, daemons interleaved, best of three. Each round of the unique workload
      // uses another encoding, so no round finds the previous one's texts in the cache.
      const rounds = ['o200k_base', 'cl100k_base', 'o200k_harmony'];
      const unique = (enc) => cs.slice(0, count).map((c) => encode(['TOK.COUNT', enc, c]));
      const repeated = () => Array.from({ length: count }, (_, i) => encode(['TOK.COUNT', 'o200k_base', cs[i % 20]]));
      for (const [name, make] of [['unique texts', unique], ['20 texts repeated', repeated]]) {
        const best = [0, 0];
        let n = 0;
        for (const enc of rounds) {
          const reqs = make(enc);
          n = reqs.length;
          for (const [k, d] of daemons.entries()) {
            const t = performance.now();
            await pipelined(d.port, reqs, 32);
            best[k] = Math.max(best[k], (reqs.length * size) / 1e6 / ((performance.now() - t) / 1000));
          }
        }
        console.log(`| ${size} | ${name} (${n} requests, best of 3) | ${best[0].toFixed(1)} | ${best[1].toFixed(1)} |`);
      }
    }
  } finally {
    for (const d of daemons) await d.stop();
  }
}

async function measureLongRuns() {
  native.tokConfigure(0);
  console.log('\n## long runs of one character, native inline count, best of 3');
  console.log('| text | encoding | tokens | ms |');
  console.log('| --- | --- | --- | --- |');
  for (const [ch, enc] of [['a', 'o200k_base'], [' ', 'cl100k_base'], ['字', 'o200k_base']]) {
    for (const n of [250_000, 500_000, 1_000_000]) {
      const b = Buffer.from(ch.repeat(n));
      const model = Buffer.from(enc);
      const ms = (await best3(() => (native.tokCount(model, b), 1))) / 1000;
      console.log(`| ${JSON.stringify(ch)} x ${n} | ${enc} | ${native.tokCount(model, b)} | ${ms.toFixed(1)} |`);
    }
  }
}

const text = corpus();
console.log(`corpus: ${(text.length / 1e6).toFixed(2)} MB of Markdown from node_modules; node ${process.version}; ${(await import('node:os')).cpus().length} CPUs`);
const which = process.argv.slice(2);
const want = (w) => which.length === 0 || which.includes(w);
if (want('native')) await measureNative(text);
if (want('cache')) await measureCache(text);
if (want('resp')) await measureResp(text);
if (want('cache-resp')) await measureCacheResp(text);
if (want('long-runs')) await measureLongRuns();
