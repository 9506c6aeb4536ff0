/**
 * The RESP fuzzer: random arguments for every command of the command table (generated from the
 * table itself: each argument's type, tokens, optional and repeated parts), then the same
 * frames with bytes flipped, inserted, dropped or cut, and plain random bytes. After each batch
 * it checks, on a connection of its own, that the daemon answers PING and that a control key
 * set before the run is exactly as it was; a reply `ERR internal error` (a handler that threw
 * something it did not mean to) is a finding too.
 *
 * The test (fuzz.test.ts) runs a bounded number of batches; `npm run fuzz -- --seconds N`
 * (this file's main) runs it as long as asked against a daemon it starts, with progress lines.
 * Seeded: a finding prints the seed and batch that reproduce it.
 */
import net from 'node:net';
import { parseArgs } from 'node:util';
import { commandTable, type ArgSpec, type CommandSpec } from '@sluice/protocol';
import { startDaemon } from './testing';

/** Commands the fuzzer does not send: they end the daemon or the run, or change what the checks rely on. */
const SKIPPED = new Set([
  'shutdown', // stops the daemon
  'quit', // ends the batch's connection
  'flushall', // would remove the control key
  'flushdb',
  'client|kill', // could close the checking connection
  'config|set', // requirepass, maxclients, timeout... would lock the checks out
  'monitor', // turns the connection into a feed
]);

/** The control key: set before the run with a refill of one token a day, checked after every batch. */
export const CONTROL_KEY = 'fuzz-control:do-not-touch';
const CONTROL_LIMIT = ['LIMIT', '10', 'PER', '864000000'];

/** mulberry32: a small seeded generator, so a run reproduces from its seed. */
export class Rng {
  constructor(private state: number) {}
  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) | 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  below(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(items: readonly T[]): T {
    return items[this.below(items.length)];
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
}

const INTEGERS = ['0', '1', '-1', '2', '3', '10', '100', '1000', '60000', '86400000', '9007199254740991', '9007199254740993', '-9223372036854775808', '9223372036854775807', '18446744073709551616', '99999999999999999999', '1e3', '0x10', '', ' 1', '+1', '1.5', '-0', 'abc', '010'];
const DOUBLES = ['0', '0.5', '-0.5', '1', '1e308', '1e309', 'inf', '-inf', '+inf', 'nan', '-nan', '', 'x', '1.7976931348623157e308', '4.9e-324'];
const PATTERNS = ['*', 'fz:*', '[', '\\', '[a-', '?', '*'.repeat(64), '[^]', 'fz:[a-z]*', ''];
const MODELS = ['gpt-4o', 'gpt-4', 'cl100k_base', 'o200k_base', 'r50k_base', 'p50k_edit', 'davinci', 'nope', '', 'ft:gpt-4o::x'];
const JSONS = [
  '{}',
  '[]',
  'null',
  '[{"role":"user","content":"hi"}]',
  '[{"role":"user","content":[{"type":"text","text":"hi"}],"name":"n"}]',
  '[{"role":"user","tool_calls":[{"function":{"name":"f","arguments":"{}"}}]}]',
  '[{"type":"function","function":{"name":"f","parameters":{"type":"object","properties":{"a":{"type":"string","enum":["x"]}}}}}]',
  '{"model_name":"fz","litellm_params":{"model":"openai/x","rpm":10,"tpm":1000}}',
  '{"model_name":"fz","litellm_params":{"model":"openai/y","max_parallel_requests":1},"model_info":{"id":"fz1"}}',
  '{"routing_strategy":"simple-shuffle","num_retries":2}',
  '[' .repeat(5000) + ']'.repeat(5000),
  '{"a":' .repeat(3000) + '1' + '}'.repeat(3000),
  '[1,2,',
  '"\\ud800"',
];

/** Keys the fuzzer uses: a small pool, so commands meet each other's state; never the control key. */
const KEYS = ['fz:a', 'fz:b', 'fz:c', 'fz:{x}', 'fz:' + 'k'.repeat(40), 'fz:\u00e9', 'fz:\0\r\n', 'fz:' + 'l'.repeat(1100)];

function randomBytes(rng: Rng, max: number): Buffer {
  const b = Buffer.alloc(rng.below(max + 1));
  for (let i = 0; i < b.length; i++) b[i] = rng.chance(0.7) ? 32 + rng.below(95) : rng.below(256);
  return b;
}

function stringValue(rng: Rng): string | Buffer {
  switch (rng.below(8)) {
    case 0:
      return rng.pick(INTEGERS);
    case 1:
      return rng.pick(MODELS);
    case 2:
      return rng.pick(JSONS);
    case 3:
      return 'word '.repeat(rng.below(2000));
    case 4:
      return rng.pick(['', 'x', 'fz', 'ON', 'off', 'yes', 'gcra', 'sliding', 'fixed', 'NX', 'XX', 'GT', 'LT', 'TYPE', 'COUNT', 'MATCH']);
    case 5:
      return '日本語 🙂 ' + 'é'.repeat(rng.below(50));
    default:
      return randomBytes(rng, 64);
  }
}

/** Values for one argument spec (its token first, when it has one and is not a pure token). */
function argumentValues(spec: ArgSpec, rng: Rng, out: (string | Buffer)[]): void {
  const times = spec.multiple ? 1 + rng.below(3) : 1;
  for (let t = 0; t < times; t++) {
    if (spec.type === 'pure-token') {
      out.push(rng.chance(0.2) ? spec.token!.toLowerCase() : spec.token!);
      continue;
    }
    if (spec.token !== undefined) out.push(spec.token);
    switch (spec.type) {
      case 'integer':
      case 'unix-time':
        out.push(rng.chance(0.8) ? rng.pick(INTEGERS) : String(rng.below(1_000_000) - 1000));
        break;
      case 'double':
        out.push(rng.pick(DOUBLES));
        break;
      case 'key':
        out.push(rng.pick(KEYS));
        break;
      case 'pattern':
        out.push(rng.pick(PATTERNS));
        break;
      case 'oneof':
        argumentValues(rng.pick(spec.arguments!), rng, out);
        break;
      case 'block':
        for (const member of spec.arguments!) if (!member.optional || rng.chance(0.5)) argumentValues(member, rng, out);
        break;
      default:
        out.push(stringValue(rng));
    }
  }
}

/** One random request for `spec`: mostly well formed from its arguments, sometimes bent out of shape. */
export function randomRequest(spec: CommandSpec, rng: Rng): (string | Buffer)[] {
  const words = spec.name.split('|');
  const args: (string | Buffer)[] = words.map((w) => (rng.chance(0.3) ? w.toUpperCase() : w));
  for (const a of spec.arguments) if (!a.optional || rng.chance(0.5)) argumentValues(a, rng, args);
  const bend = rng.below(10);
  if (bend === 0 && args.length > words.length) args.splice(words.length + rng.below(args.length - words.length), 1); // one argument fewer
  if (bend === 1) args.push(stringValue(rng)); // one more
  if (bend === 2) {
    // the arguments in another order
    const rest = args.splice(words.length);
    for (let i = rest.length - 1; i > 0; i--) {
      const j = rng.below(i + 1);
      [rest[i], rest[j]] = [rest[j], rest[i]];
    }
    args.push(...rest);
  }
  return args;
}

export function frame(args: (string | Buffer)[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const a of args) {
    const b = typeof a === 'string' ? Buffer.from(a) : a;
    parts.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
}

/** A frame with a few bytes flipped, inserted, removed, or cut short. */
export function mutate(bytes: Buffer, rng: Rng): Buffer {
  let b = Buffer.from(bytes);
  const edits = 1 + rng.below(4);
  for (let e = 0; e < edits && b.length > 0; e++) {
    const at = rng.below(b.length);
    switch (rng.below(5)) {
      case 0:
        b[at] = rng.below(256);
        break;
      case 1:
        b[at] = rng.pick([42, 36, 13, 10, 45, 48, 57, 58, 43]); // * $ \r \n - 0 9 : +
        break;
      case 2:
        b = Buffer.concat([b.subarray(0, at), randomBytes(rng, 8), b.subarray(at)]);
        break;
      case 3:
        b = Buffer.concat([b.subarray(0, at), b.subarray(at + 1 + rng.below(8))]);
        break;
      default:
        b = b.subarray(0, at);
    }
  }
  return b;
}

/** Every command and subcommand the fuzzer sends. */
export function fuzzedCommands(): CommandSpec[] {
  const all: CommandSpec[] = [];
  for (const spec of commandTable.values()) {
    if (!SKIPPED.has(spec.name)) all.push(spec);
    for (const sub of spec.subcommands ?? []) if (!SKIPPED.has(sub.name)) all.push(sub);
  }
  return all;
}

/** Sends `bytes` on a new connection, then waits until the end marker comes back, the daemon closes it, or `ms` pass. */
function sendAndWait(port: number, bytes: Buffer, marker: string, ms: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1' });
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(Buffer.concat(chunks).toString('latin1'));
    };
    const timer = setTimeout(finish, ms);
    socket.on('connect', () => socket.end(Buffer.concat([bytes, frame(['DISCARD']), frame(['ECHO', marker])])));
    socket.on('data', (d) => {
      // Only the end matters for the marker; keep at most the last 1 MB (some replies are large).
      chunks.push(d);
      size += d.length;
      while (size > 1 << 20 && chunks.length > 1) size -= chunks.shift()!.length;
      if (d.toString('latin1').includes(marker) || Buffer.concat(chunks.slice(-2)).toString('latin1').includes(marker)) finish();
    });
    socket.on('error', finish);
    socket.on('close', finish);
  });
}

/** One request on its own connection; resolves with the reply text (or throws after `ms`). */
function request(port: number, args: string[], ms = 10_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: '127.0.0.1' });
    let text = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no reply to ${args.join(' ')} within ${ms} ms`));
    }, ms);
    socket.on('connect', () => socket.write(frame(args)));
    socket.on('data', (d) => {
      text += d.toString('latin1');
      // A simple reply, or an array of simple items (RL.PEEK's): complete once every line is in.
      const items = text.startsWith('*') ? Number(/^\*(\d+)/.exec(text)?.[1] ?? 0) : 0;
      if (text.endsWith('\r\n') && text.split('\r\n').length - 1 >= items + 1) {
        clearTimeout(timer);
        socket.destroy();
        resolve(text);
      }
    });
    socket.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

export interface FuzzOptions {
  port: number;
  seed: number;
  /** Stop after this many batches, or when `until` (ms since the epoch) passes, whichever first. */
  batches?: number;
  until?: number;
  /** Requests per command per batch. */
  perCommand?: number;
  /** Mutated and random frames per batch. */
  mutated?: number;
  progress?: (line: string) => void;
}

export interface FuzzResult {
  batches: number;
  requests: number;
  mutatedFrames: number;
  /** What went wrong, with the seed and batch that reproduce it; empty when nothing did. */
  findings: string[];
}

/**
 * RL.PEEK's reply is [allowed, limit, remaining, retry after, reset after ms]: the first four must
 * be exactly as at the start; the reset time only counts down (the key refills one token a day).
 */
function sameControl(before: string, now: string): boolean {
  const a = before.split('\r\n');
  const b = now.split('\r\n');
  return a.length === b.length && a.slice(0, 5).join() === b.slice(0, 5).join() && Number(b[5].slice(1)) <= Number(a[5].slice(1));
}

/** Sets the control key; returns RL.PEEK's reply, which every check must see again. */
export async function setControl(port: number): Promise<string> {
  await request(port, ['RL.HIT', CONTROL_KEY, ...CONTROL_LIMIT, 'COST', '3']);
  return request(port, ['RL.PEEK', CONTROL_KEY, ...CONTROL_LIMIT]);
}

/** Runs batches against the daemon on `port`; see the top of this file. */
export async function fuzz(options: FuzzOptions): Promise<FuzzResult> {
  const { port, seed } = options;
  const perCommand = options.perCommand ?? 3;
  const mutatedPerBatch = options.mutated ?? 40;
  const commands = fuzzedCommands();
  const control = await setControl(port);
  const result: FuzzResult = { batches: 0, requests: 0, mutatedFrames: 0, findings: [] };
  for (let batch = 0; ; batch++) {
    if (options.batches !== undefined && batch >= options.batches) break;
    if (options.until !== undefined && Date.now() >= options.until) break;
    const rng = new Rng(seed ^ Math.imul(batch + 1, 0x9e3779b1));
    const where = `seed ${seed} batch ${batch}`;
    // Every command of the table, a few times, on one pipelined connection.
    const frames: Buffer[] = [];
    for (const spec of commands) for (let i = 0; i < perCommand; i++) frames.push(frame(randomRequest(spec, rng)));
    const marker = `fuzz-end-${seed}-${batch}`;
    const replies = await sendAndWait(port, Buffer.concat(frames), marker, 15_000);
    result.requests += frames.length;
    if (/internal error/.test(replies)) result.findings.push(`${where}: ${/-[^\r\n]*internal error[^\r\n]*/.exec(replies)?.[0]}`);
    // Mutated frames and random bytes, a few per connection.
    const sends: Promise<string>[] = [];
    for (let i = 0; i < mutatedPerBatch; i += 4) {
      const parts: Buffer[] = [];
      for (let j = 0; j < 4; j++) {
        parts.push(rng.chance(0.85) ? mutate(rng.pick(frames), rng) : randomBytes(rng, 200));
      }
      sends.push(sendAndWait(port, Buffer.concat(parts), `${marker}-m${i}`, 5_000));
    }
    for (const text of await Promise.all(sends)) {
      if (/internal error/.test(text)) result.findings.push(`${where} (mutated): ${/-[^\r\n]*internal error[^\r\n]*/.exec(text)?.[0]}`);
    }
    result.mutatedFrames += mutatedPerBatch;
    // The checks: the daemon answers, and the control key is as it was.
    try {
      const pong = await request(port, ['PING']);
      if (pong !== '+PONG\r\n') result.findings.push(`${where}: PING answered ${JSON.stringify(pong)}`);
      const peek = await request(port, ['RL.PEEK', CONTROL_KEY, ...CONTROL_LIMIT]);
      if (!sameControl(control, peek)) result.findings.push(`${where}: the control key changed: ${JSON.stringify(control)} became ${JSON.stringify(peek)}`);
    } catch (err) {
      result.findings.push(`${where}: the daemon stopped answering: ${(err as Error).message}`);
      result.batches = batch + 1;
      return result;
    }
    result.batches = batch + 1;
    options.progress?.(`batch ${batch + 1}: ${result.requests} requests, ${result.mutatedFrames} mutated frames, ${result.findings.length} findings`);
  }
  return result;
}

/** `npm run fuzz -- --seconds N [--seed S] [--port P]`: starts a daemon (unless --port) and fuzzes it for N seconds. */
async function main(): Promise<void> {
  const { values } = parseArgs({ options: { seconds: { type: 'string', default: '60' }, seed: { type: 'string' }, port: { type: 'string' } } });
  const seconds = Number(values.seconds);
  const seed = values.seed !== undefined ? Number(values.seed) : Math.floor(Math.random() * 2 ** 31);
  if (!(seconds > 0) || !Number.isInteger(seed)) throw new Error('usage: npm run fuzz -- --seconds N [--seed S] [--port P]');
  const daemon = values.port === undefined ? await startDaemon() : null;
  const port = daemon?.port ?? Number(values.port);
  console.log(`fuzzing 127.0.0.1:${port} for ${seconds} s, seed ${seed} (${fuzzedCommands().length} commands)`);
  const result = await fuzz({ port, seed, until: Date.now() + seconds * 1000, progress: (line) => console.log(line) });
  if (daemon !== null) {
    const log = daemon.output();
    for (const line of log.split('\n')) if (/unexpected|failed unexpectedly|panicked/.test(line)) result.findings.push(`daemon log: ${line}`);
    await daemon.stop();
  }
  console.log(`${result.batches} batches, ${result.requests} requests, ${result.mutatedFrames} mutated frames`);
  for (const f of result.findings) console.log(`FINDING ${f}`);
  process.exit(result.findings.length === 0 ? 0 : 1);
}

if (require.main === module) {
  main().catch((err) => {
    console.error(err);
    process.exit(2);
  });
}
