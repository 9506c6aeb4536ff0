/**
 * The TypeScript client's cost (issue 12: "under 10% over raw ioredis at hit()"): RL.HIT through
 * raw ioredis, through SluiceClient.hit, and through a guarded client (timeoutMs + onUnavailable),
 * interleaved rounds in one process against one daemon (client/src/bench-overhead.ts).
 */
import path from 'node:path';
import { ROOT, run } from './procs';
import { type Options, ScenarioFailure } from './types';

export interface ClientRow {
  name: string;
  /** Median microseconds per call: one call at a time, and 100 in flight. */
  serialUs: number;
  pipelinedUs: number;
  serialRuns: number[];
  pipelinedRuns: number[];
}

export interface ClientResult {
  rounds: number;
  serialCalls: number;
  pipelinedCalls: number;
  rows: ClientRow[];
  command: string;
}

export async function clientOverhead(opts: Options): Promise<ClientResult> {
  const [rounds, calls] = opts.quick ? [3, 5_000] : [7, 20_000];
  const script = path.join(ROOT, 'client', 'dist', 'bench-overhead.js');
  const r = await run('node', [script, String(rounds), String(calls), '--json'], { timeoutMs: 600_000 });
  if (r.timedOut || r.code !== 0) throw new ScenarioFailure(`bench-overhead.js failed (exit ${r.code}${r.timedOut ? ', timed out' : ''}): ${(r.stderr || r.stdout).trim().slice(-400)}`);
  let doc: Omit<ClientResult, 'command'>;
  try {
    doc = JSON.parse(r.stdout.trim().split('\n').pop() ?? '');
  } catch {
    throw new ScenarioFailure(`bench-overhead.js printed no JSON: ${r.stdout.slice(0, 300)}`);
  }
  const result = { ...doc, command: `npm run build && node client/dist/bench-overhead.js ${rounds} ${calls}` };
  const raw = result.rows.find((x) => x.name === 'raw ioredis');
  if (!raw) throw new ScenarioFailure('bench-overhead.js measured no raw ioredis baseline');
  for (const x of result.rows) opts.log(`    ${x.name}: ${x.serialUs.toFixed(1)} us serial (${pct(x.serialUs, raw.serialUs)}), ${x.pipelinedUs.toFixed(2)} us with 100 in flight (${pct(x.pipelinedUs, raw.pipelinedUs)})`);
  return result;
}

const pct = (x: number, base: number) => `${x >= base ? '+' : ''}${((x / base - 1) * 100).toFixed(1)}%`;

/** The headline: SluiceClient.hit over raw ioredis, both ways of calling. */
export function clientHeadline(c: ClientResult | undefined): { what: string; value: string; target: string }[] {
  const raw = c?.rows.find((x) => x.name === 'raw ioredis');
  const hit = c?.rows.find((x) => x.name === 'SluiceClient.hit');
  if (!raw || !hit) return [];
  return [{ what: 'SluiceClient.hit over raw ioredis RL.HIT (median us/call; one at a time / 100 in flight)', value: `${pct(hit.serialUs, raw.serialUs)} / ${pct(hit.pipelinedUs, raw.pipelinedUs)}`, target: 'under +10% (issue 12)' }];
}

export function clientMarkdown(c: ClientResult | undefined): string[] {
  if (!c) return [];
  const raw = c.rows.find((x) => x.name === 'raw ioredis')!;
  const L = ['## The TypeScript client over raw ioredis (issue 12)', ''];
  L.push(
    `RL.HIT on one daemon, the same arguments three ways in one process, in ${c.rounds} interleaved rounds of ${c.serialCalls.toLocaleString('en-US')} calls one at a time and ${c.pipelinedCalls.toLocaleString('en-US')} calls 100 in flight (auto-pipelined by ioredis); median microseconds per call. ` +
      '"guarded" is a client with `timeoutMs` and `onUnavailable` (a timer per call). The client and the daemon share the machine\'s two cores, so the per-round figures are shown.',
    '',
  );
  L.push('| call | one at a time, us | vs raw | 100 in flight, us | vs raw | rounds (one at a time / 100 in flight) |', '| --- | --- | --- | --- | --- | --- |');
  for (const x of c.rows) {
    L.push(`| ${x.name} | ${x.serialUs.toFixed(1)} | ${pct(x.serialUs, raw.serialUs)} | ${x.pipelinedUs.toFixed(2)} | ${pct(x.pipelinedUs, raw.pipelinedUs)} | ${x.serialRuns.map((v) => v.toFixed(1)).join(' ')} / ${x.pipelinedRuns.map((v) => v.toFixed(2)).join(' ')} |`);
  }
  L.push('', `Command: \`${c.command}\``, '');
  return L;
}
