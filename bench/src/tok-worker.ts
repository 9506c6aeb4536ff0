/**
 * Worker thread: counts tokens with one npm library in-process (o200k_base, special-token
 * strings counted as ordinary text) and reports time, bytes and the total count. Runs in a
 * worker so that a pathological input can be abandoned after a timeout.
 */
import { parentPort, workerData } from 'node:worker_threads';

export type Lib = 'gpt-tokenizer' | 'tiktoken' | 'js-tiktoken';
export interface Job {
  lib: Lib;
  warmup: string[];
  texts: string[];
}
export interface JobResult {
  lib: Lib;
  ms: number;
  bytes: number;
  tokens: number;
  loadMs: number;
}

export function counter(lib: Lib): (text: string) => number {
  switch (lib) {
    case 'gpt-tokenizer': {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const g = require('gpt-tokenizer/encoding/o200k_base') as { countTokens(t: string, o?: unknown): number };
      const opts = { disallowedSpecial: new Set<string>() };
      return (t) => g.countTokens(t, opts);
    }
    case 'tiktoken': {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const enc = (require('tiktoken') as typeof import('tiktoken')).get_encoding('o200k_base');
      return (t) => enc.encode_ordinary(t).length;
    }
    case 'js-tiktoken': {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const enc = (require('js-tiktoken') as { getEncoding(n: string): { encode(t: string, a: string[], d: string[]): number[] } }).getEncoding('o200k_base');
      return (t) => enc.encode(t, [], []).length;
    }
  }
}

if (parentPort) {
  const job = workerData as Job;
  const t0 = performance.now();
  const count = counter(job.lib);
  const loadMs = performance.now() - t0;
  for (const t of job.warmup) count(t);
  let tokens = 0;
  let bytes = 0;
  const start = performance.now();
  for (const t of job.texts) {
    tokens += count(t);
    bytes += Buffer.byteLength(t);
  }
  const ms = performance.now() - start;
  const res: JobResult = { lib: job.lib, ms, bytes, tokens, loadMs };
  parentPort.postMessage(res);
}
