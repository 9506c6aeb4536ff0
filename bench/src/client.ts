/**
 * The TypeScript client's cost (issue 12: "under 10% over raw ioredis at hit()"): RL.HIT through
 * raw ioredis, through SluiceClient.hit, and through a guarded client (timeoutMs + onUnavailable),
 * in many short rounds taking turns, in one process against one daemon; each figure is the median
 * of the per-round ratios to the raw call (client/src/bench-overhead.ts says why).
 */
import path from 'node:path';
import { ROOT, run } from './procs';
import { type Options, ScenarioFailure } from './types';

export interface ClientRow {
  name: string;
  /** Median microseconds per call: one call at a time, and 100 in flight. */
  serialUs: number;
  pipelinedUs: number;
  /** Median of the per-round ratios to raw ioredis. */
  serialRatio: number;
  pipelinedRatio: number;
  /** Median CPU microseconds per call of the client's process. */
  serialCpuUs: number;
  pipelinedCpuUs: number;
}

export interface ClientResult {
  rounds: number;
  serialCalls: number;
  pipelinedCalls: number;
  rows: ClientRow[];
  command: string;
}

export async function clientOverhead(opts: Options): Promise<ClientResult> {
  const [rounds, calls] = opts.quick ? [8, 300] : [60, 500];
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
  for (const x of result.rows) opts.log(`    ${x.name}: ${x.serialUs.toFixed(1)} us serial (${pct(x.serialRatio)}), ${x.pipelinedUs.toFixed(2)} us with 100 in flight (${pct(x.pipelinedRatio)})`);
  return result;
}

const pct = (ratio: number) => `${ratio >= 1 ? '+' : ''}${((ratio - 1) * 100).toFixed(1)}%`;

/** The headline: SluiceClient.hit over raw ioredis, both ways of calling. */
export function clientHeadline(c: ClientResult | undefined): { what: string; value: string; target: string }[] {
  const hit = c?.rows.find((x) => x.name === 'SluiceClient.hit');
  if (!hit) return [];
  return [{ what: 'SluiceClient.hit over raw ioredis RL.HIT (median of per-round ratios; one at a time / 100 in flight)', value: `${pct(hit.serialRatio)} / ${pct(hit.pipelinedRatio)}`, target: 'under +10% (issue 12)' }];
}

export function clientMarkdown(c: ClientResult | undefined): string[] {
  if (!c) return [];
  const cpuBase = c.rows.find((x) => x.name === 'raw ioredis')!;
  const L = ['## The TypeScript client over raw ioredis (issue 12)', ''];
  L.push(
    `RL.HIT on one daemon, the same arguments three ways in one process. ${c.rounds} rounds; in each, every variant in turn (the order rotating) makes ${c.serialCalls.toLocaleString('en-US')} calls one at a time and ${c.pipelinedCalls.toLocaleString('en-US')} calls 100 in flight (auto-pipelined by ioredis). ` +
      'The client and the daemon share the machine\'s two cores and its load drifts, so "vs raw" is the median of the ratios to raw ioredis measured in the same round; the microseconds are medians over the rounds. ' +
      '"CPU" is the client process\'s own CPU time per call (the daemon is another process). "guarded" is a client with `timeoutMs` and `onUnavailable`.',
    '',
  );
  L.push('| call | one at a time, us | vs raw | CPU us | 100 in flight, us | vs raw | CPU us |', '| --- | --- | --- | --- | --- | --- | --- |');
  for (const x of c.rows) {
    L.push(
      `| ${x.name} | ${x.serialUs.toFixed(1)} | ${pct(x.serialRatio)} | ${x.serialCpuUs.toFixed(1)} (${pct(x.serialCpuUs / cpuBase.serialCpuUs)}) | ${x.pipelinedUs.toFixed(2)} | ${pct(x.pipelinedRatio)} | ${x.pipelinedCpuUs.toFixed(2)} (${pct(x.pipelinedCpuUs / cpuBase.pipelinedCpuUs)}) |`,
    );
  }
  L.push('', `Command: \`${c.command}\``, '');
  return L;
}
