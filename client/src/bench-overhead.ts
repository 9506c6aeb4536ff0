/**
 * What the client adds over a raw ioredis call for the same command (RL.HIT), same run: one
 * call at a time, and 100 in flight at once (auto-pipelined on the socket). Variants: the plain
 * client, and a guarded one (timeoutMs + onUnavailable).
 *
 * The client and the daemon share a small machine whose load drifts, so the variants take
 * turns in many short rounds (their order rotating) and each round gives a ratio to the raw
 * call measured in that same round; the figure is the median of those ratios. It also reports
 * this process's CPU time per call (user + system, process.cpuUsage): what the client itself
 * spends (the daemon is another process).
 *
 *   node client/dist/bench-overhead.js [rounds=40] [serialPerRound=500] [--json]
 *
 * A round makes serialPerRound calls one at a time and ten times as many 100 at a time, per
 * variant. `npm run bench` runs it (scenario `client`) with --json: one JSON document on stdout.
 */
import Redis from 'ioredis';
import { startDaemon } from '@sluice/daemon/dist/testing';
import { SluiceClient } from './index';

type Way = 'serial' | 'pipelined';
const WAYS: Way[] = ['serial', 'pipelined'];

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main(): Promise<void> {
  const json = process.argv.includes('--json');
  const [roundsArg, callsArg] = process.argv.slice(2).filter((a) => a !== '--json');
  const rounds = Number(roundsArg ?? 40);
  const serialCalls = Number(callsArg ?? 500);
  const pipelinedCalls = serialCalls * 10;
  const daemon = await startDaemon();
  const raw = new Redis({ port: daemon.port });
  const plain = new SluiceClient({ port: daemon.port });
  const guarded = new SluiceClient({ port: daemon.port, timeoutMs: 1000, onUnavailable: 'local' });
  const spec = { limit: 1_000_000_000, perMs: 60_000 };
  const variants: [string, (i: number) => Promise<unknown>][] = [
    ['raw ioredis', (i) => raw.call('RL.HIT', `b:${i % 1000}`, 'LIMIT', spec.limit, 'PER', spec.perMs, 'COST', 1)],
    ['SluiceClient.hit', (i) => plain.hit(`b:${i % 1000}`, spec)],
    ['guarded hit', (i) => guarded.hit(`b:${i % 1000}`, spec)],
  ];
  const block: Record<Way, (call: (i: number) => Promise<unknown>) => Promise<void>> = {
    serial: async (call) => {
      for (let i = 0; i < serialCalls; i++) await call(i);
    },
    pipelined: async (call) => {
      for (let i = 0; i < pipelinedCalls; i += 100) await Promise.all(Array.from({ length: 100 }, (_, j) => call(i + j)));
    },
  };
  const calls: Record<Way, number> = { serial: serialCalls, pipelined: pipelinedCalls };
  // us per call and CPU us per call, per variant and way, one entry per round.
  const wall = new Map<string, Record<Way, number[]>>(variants.map(([name]) => [name, { serial: [], pipelined: [] }]));
  const cpu = new Map<string, Record<Way, number[]>>(variants.map(([name]) => [name, { serial: [], pipelined: [] }]));
  // Warm-up: one round unrecorded (JIT, connections).
  for (const [, call] of variants) for (const way of WAYS) await block[way](call);
  for (let r = 0; r < rounds; r++) {
    for (let v = 0; v < variants.length; v++) {
      const [name, call] = variants[(v + r) % variants.length];
      for (const way of WAYS) {
        const t0 = performance.now();
        const c0 = process.cpuUsage();
        await block[way](call);
        const used = process.cpuUsage(c0);
        wall.get(name)![way].push(((performance.now() - t0) * 1000) / calls[way]);
        cpu.get(name)![way].push((used.user + used.system) / calls[way]);
      }
    }
  }
  const base = wall.get('raw ioredis')!;
  // The row bench/src/client.ts reads (its ClientRow): medians over the rounds.
  const rows = variants.map(([name]) => {
    const w = wall.get(name)!;
    const c = cpu.get(name)!;
    const ratio = (way: Way) => median(w[way].map((x, r) => x / base[way][r]));
    return {
      name,
      serialUs: median(w.serial),
      pipelinedUs: median(w.pipelined),
      serialRatio: ratio('serial'),
      pipelinedRatio: ratio('pipelined'),
      serialCpuUs: median(c.serial),
      pipelinedCpuUs: median(c.pipelined),
    };
  });
  if (json) {
    console.log(JSON.stringify({ rounds, serialCalls, pipelinedCalls, rows }));
  } else {
    const pct = (ratio: number) => `${ratio >= 1 ? '+' : ''}${((ratio - 1) * 100).toFixed(1)}%`;
    console.log(`${rounds} rounds of ${serialCalls} calls one at a time and ${pipelinedCalls} 100 at a time per variant;`);
    console.log('median us/call (median of per-round ratios to raw ioredis), then this process\'s CPU us/call');
    const cpuBase = rows[0];
    for (const x of rows) {
      console.log(
        `${x.name.padEnd(18)} serial ${x.serialUs.toFixed(1)} (${pct(x.serialRatio)}) cpu ${x.serialCpuUs.toFixed(1)} (${pct(x.serialCpuUs / cpuBase.serialCpuUs)})` +
          `  pipelined ${x.pipelinedUs.toFixed(2)} (${pct(x.pipelinedRatio)}) cpu ${x.pipelinedCpuUs.toFixed(2)} (${pct(x.pipelinedCpuUs / cpuBase.pipelinedCpuUs)})`,
      );
    }
  }
  await Promise.all([raw.quit(), plain.quit(), guarded.quit()]);
  await daemon.stop();
}

void main();
