/**
 * What the client adds over a raw ioredis call for the same command (RL.HIT), same run,
 * interleaved rounds: one call at a time, and 100 in flight at once (pipelined on the socket).
 * Variants: the plain client, and a guarded one (timeoutMs + onUnavailable: a timer per call).
 * Besides wall time per call, it reports this process's CPU time per call (user + system, from
 * process.cpuUsage): what the client itself spends, which a busy machine disturbs less than
 * wall time (the daemon is another process).
 *
 *   node client/dist/bench-overhead.js [rounds=5] [callsPerRound=20000] [--json]
 *
 * `npm run bench` runs it (scenario `client`) with --json: one JSON document on stdout.
 */
import Redis from 'ioredis';
import { startDaemon } from '@sluice/daemon/dist/testing';
import { SluiceClient } from './index';

async function main(): Promise<void> {
  const json = process.argv.includes('--json');
  const [roundsArg, callsArg] = process.argv.slice(2).filter((a) => a !== '--json');
  const rounds = Number(roundsArg ?? 5);
  const calls = Number(callsArg ?? 20_000);
  const daemon = await startDaemon();
  const raw = new Redis({ port: daemon.port });
  const plain = new SluiceClient({ port: daemon.port });
  const guarded = new SluiceClient({ port: daemon.port, timeoutMs: 1000, onUnavailable: 'local' });
  const spec = { limit: 1_000_000_000, perMs: 60_000 };
  const variants: Record<string, (i: number) => Promise<unknown>> = {
    'raw ioredis': (i) => raw.call('RL.HIT', `b:${i % 1000}`, 'LIMIT', spec.limit, 'PER', spec.perMs, 'COST', 1),
    'SluiceClient.hit': (i) => plain.hit(`b:${i % 1000}`, spec),
    'guarded hit': (i) => guarded.hit(`b:${i % 1000}`, spec),
  };
  const times: Record<string, { serial: number[]; pipelined: number[]; serialCpu: number[]; pipelinedCpu: number[] }> = {};
  for (const name of Object.keys(variants)) times[name] = { serial: [], pipelined: [], serialCpu: [], pipelinedCpu: [] };
  const cpuUs = (since: NodeJS.CpuUsage) => {
    const used = process.cpuUsage(since);
    return used.user + used.system;
  };
  for (let r = 0; r < rounds; r++) {
    for (const [name, call] of Object.entries(variants)) {
      let t0 = performance.now();
      let c0 = process.cpuUsage();
      for (let i = 0; i < calls / 10; i++) await call(i);
      times[name].serial.push(((performance.now() - t0) * 1000) / (calls / 10));
      times[name].serialCpu.push(cpuUs(c0) / (calls / 10));
      t0 = performance.now();
      c0 = process.cpuUsage();
      for (let i = 0; i < calls; i += 100) await Promise.all(Array.from({ length: 100 }, (_, j) => call(i + j)));
      times[name].pipelined.push(((performance.now() - t0) * 1000) / calls);
      times[name].pipelinedCpu.push(cpuUs(c0) / calls);
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const base = times['raw ioredis'];
  if (json) {
    const rows = Object.entries(times).map(([name, t]) => ({
      name,
      serialUs: median(t.serial),
      pipelinedUs: median(t.pipelined),
      serialCpuUs: median(t.serialCpu),
      pipelinedCpuUs: median(t.pipelinedCpu),
      serialRuns: t.serial,
      pipelinedRuns: t.pipelined,
    }));
    console.log(JSON.stringify({ rounds, serialCalls: calls / 10, pipelinedCalls: calls, rows }));
  } else {
    console.log(`median us/call over ${rounds} interleaved rounds (${calls / 10} serial, ${calls} pipelined x100 per round)`);
    const pct = (x: number, of: number) => `${x >= of ? '+' : ''}${((x / of - 1) * 100).toFixed(1)}%`;
    console.log('(wall us/call, then this process\'s CPU us/call)');
    for (const [name, t] of Object.entries(times)) {
      const [s, p, sc, pc] = [median(t.serial), median(t.pipelined), median(t.serialCpu), median(t.pipelinedCpu)];
      console.log(
        `${name.padEnd(18)} serial ${s.toFixed(1)} (${pct(s, median(base.serial))}) cpu ${sc.toFixed(1)} (${pct(sc, median(base.serialCpu))})` +
          `  pipelined ${p.toFixed(2)} (${pct(p, median(base.pipelined))}) cpu ${pc.toFixed(2)} (${pct(pc, median(base.pipelinedCpu))})`,
      );
    }
  }
  await Promise.all([raw.quit(), plain.quit(), guarded.quit()]);
  await daemon.stop();
}

void main();
