/**
 * Open-model load scenarios (constant arrival rate, a fixed pool of virtual users), driven by
 * bench/.cache/sluice-loadgen, built from bench/loadgen (Go, standard library only) by
 * bench/scripts/build-loadgen.sh. This is the role the issue gave to k6 + xk6-redis; k6 is
 * AGPL-licensed and this machine's package notes list it as not to be used.
 */
import fs from 'node:fs';
import path from 'node:path';
import { BENCH, rssBytes, run, sleep, type Server } from './procs';
import { type LoadgenRow, type Options, ScenarioFailure, type SoakResult } from './types';

export const LOADGEN = path.join(BENCH, '.cache', 'sluice-loadgen');

/** Builds the load generator; returns null when ready, or why it cannot be built. */
export async function buildLoadgen(opts: Options): Promise<string | null> {
  const r = await run('bash', [path.join(BENCH, 'scripts', 'build-loadgen.sh')], { timeoutMs: opts.quick ? 60_000 : 300_000 });
  for (const line of (r.stdout + r.stderr).trim().split('\n')) if (line) opts.log(`    ${line}`);
  if (r.timedOut) return `building the load generator took longer than ${opts.quick ? 60 : 300} s`;
  if (r.code !== 0) return `bench/scripts/build-loadgen.sh failed (exit ${r.code}): ${(r.stderr || r.stdout).trim().slice(0, 300)}`;
  return null;
}

export interface RunSpec {
  scenario: string;
  title: string;
  server: Server;
  flags: Record<string, string | number>;
}

function commandLine(spec: RunSpec): string {
  const port = spec.server.name === 'sluice' ? 6380 : 6379;
  const flags = Object.entries(spec.flags)
    .filter(([k]) => k !== 'out' && k !== 'prefix')
    .map(([k, v]) => {
      if (k === 'text') return `-text "$TEXT400"`;
      if (k === 'sha') return `-sha $SHA`;
      const s = String(v);
      return `-${k} ${/^[\w.:/=-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`}`;
    });
  return `bench/scripts/build-loadgen.sh && bench/.cache/sluice-loadgen -addr 127.0.0.1:${port} ${flags.join(' ')}`;
}

export async function runLoadgen(opts: Options, spec: RunSpec): Promise<LoadgenRow> {
  const outFile = path.join(opts.out, `loadgen-${spec.scenario}-${spec.server.name}.json`);
  fs.rmSync(outFile, { force: true });
  const flags = { ...spec.flags, prefix: `bench${Date.now()}:`, out: outFile };
  const args = [`-addr`, `127.0.0.1:${spec.server.port}`, ...Object.entries(flags).flatMap(([k, v]) => [`-${k}`, String(v)])];
  const duration = Number(spec.flags.duration);
  const r = await run(LOADGEN, args, { timeoutMs: (duration + 60) * 1000 });
  if (r.timedOut) throw new ScenarioFailure(`sluice-loadgen ${spec.scenario} did not finish in ${duration + 60} s`);
  if (r.code !== 0 || !fs.existsSync(outFile)) throw new ScenarioFailure(`sluice-loadgen ${spec.scenario} failed (exit ${r.code}): ${(r.stderr + r.stdout).trim().slice(0, 400)}`);
  const j = JSON.parse(fs.readFileSync(outFile, 'utf8'));
  const row: LoadgenRow = {
    scenario: spec.scenario,
    title: spec.title,
    server: spec.server.name as 'sluice' | 'redis',
    rate: j.rate,
    vus: j.vus,
    durationS: j.elapsed_s,
    iterations: j.iterations,
    dropped: j.dropped_iterations,
    errors: j.errors,
    iterPerS: j.iterations_per_s,
    latency: j.latency,
    p99Threshold: j.p99_threshold_ms,
    thresholdPassed: j.threshold_passed,
    checks: j.checks ?? [],
    counters: j.counters ?? {},
    keys: j.keys ?? [],
    ...(j.routes ? { routes: j.routes } : {}),
    command: commandLine(spec),
  };
  const it = row.latency.iteration;
  opts.log(
    `    ${spec.scenario} on ${row.server}: ${row.iterations} iterations (${row.iterPerS.toFixed(0)}/s), ${row.dropped} dropped, ${row.errors} errors, ` +
      `p50 ${it?.p50_ms ?? '-'} ms, p99 ${it?.p99_ms ?? '-'} ms (threshold ${row.p99Threshold} ms: ${row.thresholdPassed ? 'pass' : 'FAIL'})`,
  );
  for (const c of row.checks) opts.log(`      check ${c.passed ? 'ok' : 'FAILED'}: ${c.name}: ${c.detail}`);
  if (row.errors > 0) throw new ScenarioFailure(`${row.errors} iterations failed on ${row.server}, e.g. ${(j.error_samples ?? []).join(' | ')}`);
  if (row.iterations === 0) throw new ScenarioFailure(`no iteration completed on ${row.server}`);
  const failed = row.checks.filter((c) => !c.passed);
  if (failed.length > 0) throw new ScenarioFailure(`check failed on ${row.server}: ${failed.map((c) => `${c.name}: ${c.detail}`).join('; ')}`);
  return row;
}

/** Many app instances share a few keys: hundreds of VUs, constant arrival rate, 4 keys. */
export async function sharedKeys(opts: Options, sluice: Server, redis: Server, luaSha: string): Promise<LoadgenRow[]> {
  const base = {
    scenario: 'shared',
    rate: opts.quick ? 1000 : 4000,
    duration: opts.quick ? 5 : 30,
    vus: opts.quick ? 100 : 200,
    keys: 4,
    limit: 100,
    per: 1000,
    burst: 50,
    p99: 25,
  };
  const rows: LoadgenRow[] = [];
  rows.push(await runLoadgen(opts, { scenario: 'shared-rlhit', title: 'Shared keys: RL.HIT', server: sluice, flags: { ...base, cmd: 'rlhit' } }));
  rows.push(await runLoadgen(opts, { scenario: 'shared-throttle', title: 'Shared keys: CL.THROTTLE', server: sluice, flags: { ...base, cmd: 'throttle', burst: 49 } }));
  rows.push(await runLoadgen(opts, { scenario: 'shared-lua', title: 'Shared keys: Lua token bucket', server: redis, flags: { ...base, cmd: 'lua', sha: luaSha } }));
  return rows;
}

/** Chat requests for the gateway flow, from the corpus: a system prompt, a user turn, sometimes a name or parts. */
export function gatewayMessages(texts: string[]): string {
  const sets: unknown[] = [];
  for (let i = 0; i < Math.min(200, texts.length); i++) {
    const t = texts[i];
    const msgs: unknown[] = [{ role: 'system', content: 'You are a helpful assistant. Answer briefly and cite the documentation.' }];
    if (i % 3 === 0) msgs.push({ role: 'user', name: 'example_user', content: t.slice(0, 200) }, { role: 'assistant', content: 'Noted.' });
    msgs.push(i % 5 === 0 ? { role: 'user', content: [{ type: 'text', text: t }] } : { role: 'user', content: t });
    sets.push(msgs);
  }
  return JSON.stringify(sets);
}

export async function gateway(opts: Options, sluice: Server, messagesJson: string): Promise<LoadgenRow[]> {
  const file = path.join(opts.out, 'gateway-messages.json');
  fs.writeFileSync(file, messagesJson);
  return [
    await runLoadgen(opts, {
      scenario: 'gateway',
      title: 'LLM gateway flow: RL.ALL + TOK.CHAT + RL.ADJUST',
      server: sluice,
      flags: { scenario: 'gateway', rate: opts.quick ? 500 : 1500, duration: opts.quick ? 5 : 30, vus: opts.quick ? 100 : 200, users: 200, models: 4, limit: 600, messages: path.relative(process.cwd(), file), p99: 50 },
    }),
  ];
}

/** A bounded soak: RL.HIT over a large key space (keys come and go) plus TOK.COUNT; RSS sampled each second. */
export async function soak(opts: Options, sluice: Server, text: string): Promise<{ row: LoadgenRow; soak: SoakResult }> {
  const duration = opts.quick ? 10 : 180;
  const rate = opts.quick ? 1000 : 3000;
  const samples: { t: number; rss: number }[] = [];
  const t0 = Date.now();
  let stop = false;
  const sampler = (async () => {
    while (!stop) {
      try {
        samples.push({ t: (Date.now() - t0) / 1000, rss: rssBytes(sluice.pid) });
      } catch {
        /* process gone: the loadgen run reports it */
      }
      await sleep(opts.quick ? 500 : 1000);
    }
  })();
  let row: LoadgenRow;
  try {
    row = await runLoadgen(opts, {
      scenario: 'soak',
      title: `Soak: RL.HIT over 200k keys + TOK.COUNT, ${duration} s`,
      server: sluice,
      flags: { scenario: 'soak', rate, duration, vus: 50, keys: 200_000, limit: 10, per: 2000, text, p99: 25 },
    });
  } finally {
    stop = true;
    await sampler;
  }
  if (samples.length < 4) throw new ScenarioFailure(`only ${samples.length} RSS samples were taken`);
  const rss = samples.map((s) => s.rss);
  const half = samples.filter((s) => s.t >= duration / 2);
  const h0 = half[0]?.rss ?? rss[0];
  const h1 = half[half.length - 1]?.rss ?? rss[rss.length - 1];
  return {
    row,
    soak: {
      durationS: duration,
      rate,
      samples,
      startRss: rss[0],
      endRss: rss[rss.length - 1],
      maxRss: Math.max(...rss),
      secondHalfGrowthPct: ((h1 - h0) / h0) * 100,
      command: row.command,
    },
  };
}
