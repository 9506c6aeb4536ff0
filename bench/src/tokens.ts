/**
 * Token counting throughput: Sluice TOK.COUNT over a pipelined RESP connection vs the npm
 * libraries in-process (each in a worker thread), on the same chunks of the same corpus, o200k
 * (gpt-4o). Every implementation counts exactly the same texts; the totals must agree.
 * Each pass over the corpus starts at a different byte offset, so no text repeats: Sluice's
 * cache of whole-text counts (where it has one) is not what gets measured.
 */
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { chunks, type Corpus } from './corpus';
import type { Server } from './procs';
import { ReplyError, RespClient } from './resp';
import type { Job, JobResult, Lib } from './tok-worker';
import { type Options, type PathoRow, ScenarioFailure, type TokRow } from './types';

export const LIBS: Lib[] = ['gpt-tokenizer', 'tiktoken', 'js-tiktoken'];
export const SIZES: [string, number][] = [
  ['400 B', 400],
  ['4 KB', 4096],
  ['64 KB', 65536],
];

function inWorker(job: Job, timeoutMs: number): Promise<JobResult | null> {
  return new Promise((resolve, reject) => {
    const w = new Worker(path.join(__dirname, 'tok-worker.js'), { workerData: job });
    const timer = setTimeout(() => {
      void w.terminate();
      resolve(null);
    }, timeoutMs);
    w.once('message', (m: JobResult) => {
      clearTimeout(timer);
      void w.terminate();
      resolve(m);
    });
    w.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

/** Counts every text over one connection, `depth` commands per write, two writes in flight. */
async function sluiceCount(port: number, texts: string[], depth: number): Promise<{ ms: number; tokens: number; bytes: number }> {
  const c = await RespClient.connect(port);
  try {
    let tokens = 0;
    let bytes = 0;
    const start = performance.now();
    const inflight: Promise<void>[] = [];
    for (let i = 0; i < texts.length; i += depth) {
      const batch = texts.slice(i, i + depth);
      for (const t of batch) bytes += Buffer.byteLength(t);
      const p = c.pipeline(batch.map((t) => ['TOK.COUNT', 'gpt-4o', t])).then((rs) => {
        for (const r of rs) {
          if (typeof r !== 'number') throw new ScenarioFailure(`TOK.COUNT answered ${r instanceof ReplyError ? r.message : JSON.stringify(r)}`);
          tokens += r;
        }
      });
      inflight.push(p);
      if (inflight.length >= 2) await inflight.shift();
    }
    await Promise.all(inflight);
    return { ms: performance.now() - start, tokens, bytes };
  } finally {
    c.close();
  }
}

export async function tokenThroughput(opts: Options, sluice: Server, corpus: Corpus): Promise<TokRow[]> {
  const rows: TokRow[] = [];
  const passes = opts.quick ? 1 : 3;
  for (const [label, size] of SIZES) {
    const texts: string[] = [];
    for (let p = 0; p < passes; p++) texts.push(...chunks(corpus.text, size, p * 4099 + 1));
    const warmup = chunks(corpus.text, size, 777_777).slice(0, 8);
    if (texts.length === 0) throw new ScenarioFailure(`corpus too small for ${label} chunks`);
    // Sluice: warm up (connections, JIT) on other texts, then the measured run.
    await sluiceCount(sluice.port, warmup, 16);
    const depth = size <= 400 ? 64 : size <= 4096 ? 16 : 4;
    const s = await sluiceCount(sluice.port, texts, depth);
    const cmd = `npm run bench -- --only tokens   # TOK.COUNT gpt-4o over one pipelined connection, ${texts.length} chunks of ${label}`;
    rows.push({ impl: 'Sluice TOK.COUNT (RESP, pipelined)', chunk: label, mbps: s.bytes / 1e6 / (s.ms / 1000), tokens: s.tokens, bytes: s.bytes, ms: s.ms, command: cmd });
    opts.log(`    tokens ${label}: Sluice ${(s.bytes / 1e6 / (s.ms / 1000)).toFixed(2)} MB/s`);
    for (const lib of LIBS) {
      const r = await inWorker({ lib, warmup, texts }, opts.quick ? 60_000 : 300_000);
      if (!r) throw new ScenarioFailure(`${lib} did not finish ${label} chunks in time`);
      rows.push({ impl: `${lib} (in-process)`, chunk: label, mbps: r.bytes / 1e6 / (r.ms / 1000), tokens: r.tokens, bytes: r.bytes, ms: r.ms, command: cmd });
      opts.log(`    tokens ${label}: ${lib} ${(r.bytes / 1e6 / (r.ms / 1000)).toFixed(2)} MB/s`);
    }
    const counts = new Set(rows.filter((r) => r.chunk === label).map((r) => r.tokens));
    if (counts.size !== 1) {
      const detail = rows.filter((r) => r.chunk === label).map((r) => `${r.impl}=${r.tokens}`).join(', ');
      throw new ScenarioFailure(`token counts disagree on ${label} chunks: ${detail}`);
    }
  }
  return rows;
}

/** A pathological input (one character repeated): time at n/10 and n characters for each implementation. */
export async function pathological(opts: Options, sluice: Server): Promise<PathoRow[]> {
  const big = opts.quick ? 100_000 : 1_000_000;
  const sizes = [big / 10, big];
  const timeout = opts.quick ? 8_000 : 60_000;
  const rows: PathoRow[] = [];
  for (const n of sizes) {
    const text = 'a'.repeat(n);
    const c = await RespClient.connect(sluice.port);
    try {
      const t0 = performance.now();
      const r = await Promise.race([c.call('TOK.COUNT', 'gpt-4o', text), new Promise<'timeout'>((res) => setTimeout(() => res('timeout'), timeout))]);
      const ms = performance.now() - t0;
      if (r === 'timeout') rows.push({ impl: 'Sluice TOK.COUNT', chars: n, ms: null, tokens: null, note: `no answer within ${timeout / 1000} s` });
      else if (typeof r !== 'number') throw new ScenarioFailure(`TOK.COUNT of ${n} repeated characters answered ${r instanceof ReplyError ? r.message : JSON.stringify(r)}`);
      else rows.push({ impl: 'Sluice TOK.COUNT', chars: n, ms, tokens: r });
    } finally {
      c.close();
    }
    for (const lib of LIBS) {
      const prev = rows.find((r) => r.impl === lib && r.chars === n / 10);
      if (prev && (prev.ms === null || prev.ms * 10 > timeout)) {
        rows.push({ impl: lib, chars: n, ms: null, tokens: null, note: prev.ms === null ? 'not run (timed out on the smaller input)' : `not run: ${Math.round(prev.ms)} ms at 1/10 the size; even linear growth would pass the ${timeout / 1000} s timeout` });
        continue;
      }
      // A library that crashes on this input (tiktoken's WASM can trap) is a finding, not a failure of the run.
      const r = await inWorker({ lib, warmup: ['warm up'], texts: [text] }, timeout).catch((err: Error) => err);
      if (r instanceof Error) rows.push({ impl: lib, chars: n, ms: null, tokens: null, note: `crashed: ${r.name}: ${r.message}`.slice(0, 120) });
      else rows.push(r ? { impl: lib, chars: n, ms: r.ms, tokens: r.tokens } : { impl: lib, chars: n, ms: null, tokens: null, note: `did not finish within ${timeout / 1000} s` });
    }
    opts.log(`    ${n.toLocaleString('en-US')} repeated characters: ${rows.filter((r) => r.chars === n).map((r) => `${r.impl} ${r.ms === null ? `(${r.note})` : r.ms.toFixed(0) + ' ms'}`).join(', ')}`);
  }
  if (!rows.some((r) => r.impl === 'Sluice TOK.COUNT' && r.chars === big && r.ms !== null)) {
    throw new ScenarioFailure(`Sluice did not count ${big} repeated characters within ${timeout / 1000} s`);
  }
  return rows;
}
