/**
 * Routing scenarios (issue #11, "Speed"):
 * - route-core: PICK+DONE in the Rust core (native/core/benches/routing.rs, run with cargo as a
 *   child process; its table is parsed) at 10..10,000 deployments, every strategy.
 * - route-litellm: LiteLLM's own pick (bench/litellm/pick_time.py in the venv that
 *   bench/litellm/setup.sh creates under bench/.cache), offline, same strategies and sizes; the
 *   ratio LiteLLM / Sluice core is the headline.
 * - route-pipeline: pipelined ROUTE.PICK then ROUTE.DONE pairs over RESP (sluice-loadgen
 *   -scenario route-pipeline) against Redis INCR -P 16 from the same run.
 * - gateway-route: app instances pick, hold, finish with mixed statuses (sluice-loadgen
 *   -scenario gateway-route); no deployment's limit may be exceeded.
 */
import fs from 'node:fs';
import path from 'node:path';
import { LOADGEN, runLoadgen } from './loadgen';
import { BENCH, ROOT, run, type Server } from './procs';
import { parseCsv } from './rb';
import type { Bar, Results } from './report';
import { type LoadgenRow, type Options, ScenarioFailure } from './types';

export const STRATEGIES = ['simple-shuffle', 'least-busy', 'usage-based-routing-v2', 'latency-based-routing', 'cost-based-routing'];

export interface RouteCoreRow {
  strategy: string;
  deployments: number;
  /** ns per pick+done, median of the bench's 7 runs: wall clock and on-CPU time of the thread. */
  wallNs: number;
  cpuNs: number;
}

export interface LitellmPickRow {
  strategy: string;
  deployments: number;
  /** LiteLLM's async or sync pick; `route.pick`: a bare ROUTE.PICK from redis-py (plugin runs only). */
  mode: 'async' | 'sync' | 'route.pick';
  n?: number;
  medianMs?: number;
  p99Ms?: number;
  error?: string;
}

export interface RoutePipeResult {
  connections: number;
  pipeline: number;
  deployments: number;
  pairs: number;
  pairsPerS: number;
  commandsPerS: number;
  runs: number[];
  perDeployment: Record<string, number>;
  command: string;
  /** Median of the INCR -P 16 runs taken between the pair runs. */
  incrRps: number;
  incrRuns: number[];
  incrCommand: string;
  /** INCR -P 16 of the incr scenario, when it ran (context: measured earlier in the run). */
  incrScenarioRps?: number;
}

export interface ReplicaCount {
  processes: number;
  requestsPerProcess: number;
  rpm: number;
  servedInMinute: number;
  servedPerProcess: number[];
  refused: Record<string, number>;
}

export interface RoutingResults {
  core?: { rows: RouteCoreRow[]; command: string };
  litellm?: { version: string; python: string; rows: LitellmPickRow[]; command: string; setupSeconds: number; setupNote: string };
  /** The same picks through LiteLLM's Router with the sluice-litellm plugin registered (issue 17). */
  plugin?: { version: string; rows: LitellmPickRow[]; command: string };
  /** Four LiteLLM processes against one deployment at rpm 60: LiteLLM's shared mode vs the plugin (issue 17). */
  replicas?: { command: string; litellm: ReplicaCount; plugin: ReplicaCount };
  pipeline?: RoutePipeResult;
}

// ---- route-core ------------------------------------------------------------------------------

/** Parses the table native/core/benches/routing.rs prints (`wall/cpu` ns per size). */
export function parseCoreTable(stdout: string): RouteCoreRow[] {
  const lines = stdout.split('\n');
  const head = lines.findIndex((l) => /^strategy\s+\d/.test(l));
  if (head < 0) return [];
  const sizes = lines[head].trim().split(/\s+/).slice(1).map(Number);
  const rows: RouteCoreRow[] = [];
  for (const line of lines.slice(head + 1)) {
    const [strategy, ...cells] = line.trim().split(/\s+/);
    if (!strategy || cells.length !== sizes.length) continue;
    cells.forEach((c, i) => {
      const [wall, cpu] = c.split('/').map(Number);
      if (Number.isFinite(wall)) rows.push({ strategy, deployments: sizes[i], wallNs: wall, cpuNs: cpu });
    });
  }
  return rows;
}

export async function routeCore(opts: Options): Promise<NonNullable<RoutingResults['core']>> {
  const sizes = opts.quick ? [10, 1000] : [10, 100, 1000, 10000];
  const args = ['bench', '--manifest-path', path.join(ROOT, 'native', 'Cargo.toml'), '-p', 'sluice-core', '--bench', 'routing'];
  const command = `ROUTING_BENCH_SIZES=${sizes.join(',')} cargo bench --manifest-path native/Cargo.toml -p sluice-core --bench routing`;
  // The first run compiles the bench (a minute or two on 2 cores); later runs reuse it.
  const r = await run('cargo', args, { timeoutMs: 900_000, env: { ...process.env, ROUTING_BENCH_SIZES: sizes.join(',') } });
  if (r.timedOut) throw new ScenarioFailure(`${command} did not finish in 900 s`);
  if (r.code !== 0) throw new ScenarioFailure(`${command} failed (exit ${r.code}): ${r.stderr.trim().split('\n').slice(-5).join(' | ')}`);
  const rows = parseCoreTable(r.stdout);
  for (const s of STRATEGIES) {
    for (const n of sizes) {
      if (!rows.some((x) => x.strategy === s && x.deployments === n)) throw new ScenarioFailure(`the routing bench printed no figure for ${s} at ${n} deployments:\n${r.stdout.slice(0, 800)}`);
    }
  }
  for (const line of r.stdout.trim().split('\n')) opts.log(`    ${line}`);
  return { rows, command };
}

// ---- route-litellm ---------------------------------------------------------------------------

const LITELLM_DIR = path.join(BENCH, 'litellm');
const VENV_PYTHON = path.join(BENCH, '.cache', 'litellm-venv', 'bin', 'python');

/** Creates (or finds) bench/.cache/litellm-venv with the pinned LiteLLM; what setup.sh said, and how long it took. */
async function litellmVenv(opts: Options): Promise<{ setupSeconds: number; setupNote: string; litellmVersion: string; python: string }> {
  const s0 = Date.now();
  // Creates bench/.cache/litellm-venv from PyPI on first use (about 3 minutes measured on 2 busy
  // cores); a venv that already has the pinned LiteLLM is kept as it is.
  const setup = await run('bash', [path.join(LITELLM_DIR, 'setup.sh')], { timeoutMs: 900_000 });
  const setupSeconds = (Date.now() - s0) / 1000;
  const setupNote = ((setup.stdout + setup.stderr).trim().split('\n').slice(-1)[0] ?? '').replace(/\S*\/\.cache\/litellm-venv/, 'bench/.cache/litellm-venv');
  opts.log(`    bench/litellm/setup.sh: ${setupNote} (${setupSeconds.toFixed(0)} s)`);
  if (setup.timedOut || setup.code !== 0 || !fs.existsSync(VENV_PYTHON)) {
    throw new ScenarioFailure(`bench/litellm/setup.sh could not create the LiteLLM venv (exit ${setup.code}${setup.timedOut ? ', timed out after 900 s' : ''}): ${(setup.stderr || setup.stdout).trim().slice(-400)}`);
  }
  const version = await run(VENV_PYTHON, ['-c', 'import importlib.metadata as m, sys; print(m.version("litellm"), sys.version.split()[0])'], { timeoutMs: 60_000 });
  const [litellmVersion = 'unknown', python = 'unknown'] = version.stdout.trim().split(/\s+/);
  return { setupSeconds, setupNote, litellmVersion, python };
}

/** Runs one of bench/litellm/*.py in the venv and parses the JSON document it prints. */
async function litellmScript<T>(script: string, args: string[], timeoutMs: number): Promise<T> {
  const r = await run(VENV_PYTHON, [path.join(LITELLM_DIR, script), ...args], { timeoutMs, env: { ...process.env, LITELLM_LOCAL_MODEL_COST_MAP: 'True' } });
  if (r.timedOut || r.code !== 0) throw new ScenarioFailure(`${script} failed (exit ${r.code}${r.timedOut ? `, timed out after ${timeoutMs / 1000} s` : ''}): ${r.stderr.trim().slice(-400)}`);
  try {
    return JSON.parse(r.stdout) as T;
  } catch {
    throw new ScenarioFailure(`${script} printed no JSON: ${r.stdout.slice(0, 300)}`);
  }
}

type PickCases = { cases: { deployments: number; strategy: string; mode: string; n?: number; median_ms?: number; p99_ms?: number; error?: string }[] };

export async function routeLitellm(opts: Options): Promise<NonNullable<RoutingResults['litellm']>> {
  const { setupSeconds, setupNote, litellmVersion, python } = await litellmVenv(opts);
  const sizes = opts.quick ? '10' : '10,100,1000';
  const seconds = opts.quick ? '0.1' : '0.8';
  const args = ['--sizes', sizes, '--seconds', seconds];
  const command = `bench/litellm/setup.sh && bench/.cache/litellm-venv/bin/python bench/litellm/pick_time.py --sizes ${sizes} --seconds ${seconds}`;
  const doc = await litellmScript<PickCases>('pick_time.py', args, opts.quick ? 180_000 : 900_000);
  const rows = pickRows(doc);
  // The async pick (what LiteLLM's proxy calls) must work for every strategy. The sync one may
  // not: LiteLLM's cost-based strategy has only an async implementation, and its sync
  // get_available_deployment answers "No deployments available" (shown in the table as it is).
  const failed = rows.filter((x) => STRATEGIES.includes(x.strategy) && x.mode === 'async' && x.medianMs === undefined);
  if (failed.length) throw new ScenarioFailure(`LiteLLM refused ${failed.length} async pick case(s), e.g. ${failed[0].strategy} at ${failed[0].deployments}: ${failed[0].error}`);
  if (!rows.some((x) => x.mode === 'async' && x.medianMs !== undefined)) throw new ScenarioFailure('pick_time.py timed no async pick');
  for (const x of rows) opts.log(`    LiteLLM ${litellmVersion} ${x.mode} ${x.strategy} at ${x.deployments}: ${x.error ? `error: ${x.error.slice(0, 120)}` : `median ${x.medianMs} ms, p99 ${x.p99Ms} ms (${x.n} picks)`}`);
  return { version: litellmVersion, python, rows, command, setupSeconds, setupNote };
}

function pickRows(doc: PickCases): LitellmPickRow[] {
  return doc.cases.map((c) => ({ strategy: c.strategy, deployments: c.deployments, mode: c.mode as LitellmPickRow['mode'], n: c.n, medianMs: c.median_ms, p99Ms: c.p99_ms, error: c.error }));
}

// ---- route-plugin ----------------------------------------------------------------------------

/** LiteLLM's Router with the sluice-litellm plugin: the pick as an app on LiteLLM sees it (issue 17). */
export async function routePlugin(opts: Options): Promise<NonNullable<RoutingResults['plugin']>> {
  const { litellmVersion } = await litellmVenv(opts);
  const sizes = opts.quick ? '10' : '10,1000';
  const seconds = opts.quick ? '0.1' : '0.8';
  const args = ['--sizes', sizes, '--seconds', seconds];
  const command = `npm run build && bench/litellm/setup.sh && bench/.cache/litellm-venv/bin/python bench/litellm/plugin_pick_time.py ${args.join(' ')}`;
  const rows = pickRows(await litellmScript<PickCases>('plugin_pick_time.py', args, opts.quick ? 240_000 : 900_000));
  const failed = rows.filter((x) => x.medianMs === undefined);
  if (failed.length) throw new ScenarioFailure(`the plugin failed ${failed.length} pick case(s), e.g. ${failed[0].strategy} ${failed[0].mode} at ${failed[0].deployments}: ${failed[0].error}`);
  for (const x of rows) opts.log(`    plugin ${x.mode} ${x.strategy} at ${x.deployments}: median ${x.medianMs} ms, p99 ${x.p99Ms} ms (${x.n} picks)`);
  return { version: litellmVersion, rows, command };
}

// ---- litellm-replicas ------------------------------------------------------------------------

/** Four Router processes, one deployment at rpm 60, 40 requests each: served in one minute. */
export async function litellmReplicas(opts: Options): Promise<NonNullable<RoutingResults['replicas']>> {
  await litellmVenv(opts);
  const command = 'npm run build && bench/litellm/setup.sh && bench/.cache/litellm-venv/bin/python bench/litellm/four_replicas.py --processes 4 --requests 40';
  type Raw = { processes: number; requests_per_process: number; deployment_rpm: number; served_in_minute: number; served_per_process: number[]; refused: Record<string, number> };
  // Each run starts inside one clock minute (it may wait up to 35 s for the next one), so this
  // takes one to two minutes whatever --quick says.
  const doc = await litellmScript<{ litellm_shared_mode: Raw; sluice_plugin: Raw }>('four_replicas.py', ['--processes', '4', '--requests', '40'], 600_000);
  const count = (r: Raw): ReplicaCount => ({ processes: r.processes, requestsPerProcess: r.requests_per_process, rpm: r.deployment_rpm, servedInMinute: r.served_in_minute, servedPerProcess: r.served_per_process, refused: r.refused });
  const result = { command, litellm: count(doc.litellm_shared_mode), plugin: count(doc.sluice_plugin) };
  opts.log(`    LiteLLM shared mode served ${result.litellm.servedInMinute} in one minute (limit ${result.litellm.rpm}); the plugin with Sluice served ${result.plugin.servedInMinute}`);
  // The plugin's promise is the limit held exactly across processes: fewer or more is a failure.
  if (result.plugin.servedInMinute !== result.plugin.rpm) throw new ScenarioFailure(`four LiteLLM processes with the plugin served ${result.plugin.servedInMinute} requests in one minute against rpm ${result.plugin.rpm}: the shared limit did not hold exactly`);
  return result;
}

// ---- route-pipeline --------------------------------------------------------------------------

/** Redis INCR -P 16 as the rb scenario `incr` runs it (same arguments). */
function incrArgs(port: number, n: number): string[] {
  return ['-h', '127.0.0.1', '-p', String(port), '-c', '50', '-n', String(n), '-r', '100000', '-P', '16', '--csv', 'INCR', 'counter:__rand_int__'];
}

export async function routePipeline(opts: Options, sluice: Server, redis: Server, results: Results): Promise<RoutePipeResult> {
  const requests = opts.quick ? 20_000 : 400_000;
  const incrN = opts.quick ? 100_000 : 1_000_000;
  const flags = { scenario: 'route-pipeline', vus: 50, pipeline: 16, deployments: 10, requests };
  const command = `bench/scripts/build-loadgen.sh && bench/.cache/sluice-loadgen -addr 127.0.0.1:6380 ${Object.entries(flags).map(([k, v]) => `-${k} ${v}`).join(' ')}`;
  const reps = opts.quick ? 1 : 3;
  const runs: { pairs: number; pairsPerS: number; commandsPerS: number; perDeployment: Record<string, number> }[] = [];
  const incrRuns: number[] = [];

  const pairsRun = async () => {
    const outFile = path.join(opts.out, 'loadgen-route-pipeline.json');
    fs.rmSync(outFile, { force: true });
    const args = ['-addr', `127.0.0.1:${sluice.port}`, '-prefix', `bench${Date.now()}:`, '-out', outFile, ...Object.entries(flags).flatMap(([k, v]) => [`-${k}`, String(v)])];
    const r = await run(LOADGEN, args, { timeoutMs: opts.quick ? 60_000 : 300_000 });
    if (r.timedOut) throw new ScenarioFailure('sluice-loadgen route-pipeline timed out');
    if (r.code !== 0 || !fs.existsSync(outFile)) throw new ScenarioFailure(`sluice-loadgen route-pipeline failed (exit ${r.code}): ${(r.stderr + r.stdout).trim().slice(0, 400)}`);
    const j = JSON.parse(fs.readFileSync(outFile, 'utf8'));
    if (j.errors > 0) throw new ScenarioFailure(`${j.errors} errors in pipelined PICK/DONE, e.g. ${j.error_samples.join(' | ')}`);
    if (j.pairs < requests) throw new ScenarioFailure(`only ${j.pairs} of ${requests} PICK+DONE pairs completed`);
    const spread = Object.keys(j.picks_per_deployment ?? {}).length;
    if (spread !== 10) throw new ScenarioFailure(`the picks went to ${spread} of the 10 deployments`);
    runs.push({ pairs: j.pairs, pairsPerS: j.pairs_per_s, commandsPerS: j.commands_per_s, perDeployment: j.picks_per_deployment });
    opts.log(`    route-pipeline: ${j.pairs} pairs in ${j.elapsed_s} s: ${Math.round(j.pairs_per_s).toLocaleString('en-US')} pairs/s, ${Math.round(j.commands_per_s).toLocaleString('en-US')} commands/s`);
  };
  // Redis INCR -P 16 with the incr scenario's arguments, run between the pair runs (alternating
  // which goes first): on a shared machine, back-to-back figures make the steadier ratio.
  const incrRun = async () => {
    const r = await run('redis-benchmark', incrArgs(redis.port, incrN), { timeoutMs: 180_000 });
    const parsed = parseCsv(r.stdout);
    if (r.code !== 0 || !parsed) throw new ScenarioFailure(`redis-benchmark INCR -P 16 failed (exit ${r.code}): ${(r.stderr + r.stdout).trim().slice(0, 300)}`);
    incrRuns.push(parsed.rps);
    opts.log(`    Redis INCR -P 16: ${Math.round(parsed.rps).toLocaleString('en-US')} req/s`);
  };
  for (let rep = 0; rep < reps; rep++) {
    for (const step of rep % 2 === 0 ? [pairsRun, incrRun] : [incrRun, pairsRun]) await step();
  }
  const med = [...runs].sort((a, b) => a.commandsPerS - b.commandsPerS)[Math.floor(runs.length / 2)];
  const incrRps = [...incrRuns].sort((a, b) => a - b)[Math.floor(incrRuns.length / 2)];
  const incrScenario = results.rb.find((r) => r.scenario === 'incr' && r.server === 'redis' && r.pipeline === 16);
  return {
    connections: flags.vus,
    pipeline: flags.pipeline,
    deployments: flags.deployments,
    pairs: med.pairs,
    pairsPerS: med.pairsPerS,
    commandsPerS: med.commandsPerS,
    runs: runs.map((x) => x.commandsPerS),
    perDeployment: med.perDeployment,
    command,
    incrRps,
    incrRuns,
    incrCommand: `redis-benchmark -h 127.0.0.1 -p 6379 -c 50 -n ${incrN} -r 100000 -P 16 --csv INCR counter:__rand_int__`,
    incrScenarioRps: incrScenario?.rps,
  };
}

// ---- gateway-route ---------------------------------------------------------------------------

export async function gatewayRoute(opts: Options, sluice: Server): Promise<LoadgenRow> {
  return runLoadgen(opts, {
    scenario: 'gateway-route',
    title: 'Routing gateway: ROUTE.PICK, hold, ROUTE.DONE (200/429/500)',
    server: sluice,
    // The iteration includes holding the lease 1..30 ms, hence the p99 threshold.
    flags: { scenario: 'gateway-route', rate: opts.quick ? 300 : 1000, duration: opts.quick ? 5 : 30, vus: opts.quick ? 60 : 200, hold: 30, mix: '200:94,429:2,500:4', p99: 100 },
  });
}

// ---- report ----------------------------------------------------------------------------------

const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
const us = (ns: number) => `${fmt(ns / 1000, ns < 10_000 ? 2 : 1)} µs`;

function coreAt(results: Results, strategy: string, n: number): RouteCoreRow | undefined {
  return results.routing?.core?.rows.find((r) => r.strategy === strategy && r.deployments === n);
}

/** Lines for the headline table (`| what | value | | target |`). */
export function routingHeadlines(results: Results): { what: string; value: string; target: string }[] {
  const out: { what: string; value: string; target: string }[] = [];
  const core = results.routing?.core;
  if (core) {
    const at1000 = core.rows.filter((r) => r.deployments === 1000);
    if (at1000.length) {
      const worstWall = Math.max(...at1000.map((r) => r.wallNs));
      const worstCpu = Math.max(...at1000.map((r) => r.cpuNs));
      out.push({ what: 'Core PICK+DONE at 1000 deployments, slowest strategy (wall / on-CPU)', value: `${us(worstWall)} / ${us(worstCpu)}`, target: '<= 10 µs (issue 11)' });
    }
  }
  const lite = results.routing?.litellm;
  if (lite && core) {
    const sizes = [...new Set(lite.rows.map((r) => r.deployments))].sort((a, b) => a - b);
    for (const n of sizes) {
      const ratios = STRATEGIES.map((s) => {
        const l = lite.rows.find((r) => r.strategy === s && r.deployments === n && r.mode === 'async');
        const c = coreAt(results, s, n);
        return l?.medianMs !== undefined && c ? (l.medianMs * 1e6) / c.wallNs : undefined;
      }).filter((x): x is number => x !== undefined);
      if (ratios.length) out.push({ what: `LiteLLM async_get_available_deployment / Sluice core PICK+DONE (wall), ${n} deployments, over the five strategies`, value: `${fmt(Math.min(...ratios))}x to ${fmt(Math.max(...ratios))}x`, target: 'the headline (issue 11)' });
    }
  }
  const plugin = results.routing?.plugin;
  if (plugin) {
    const asyncRows = plugin.rows.filter((r) => r.mode === 'async' && r.medianMs !== undefined);
    if (asyncRows.length) out.push({ what: 'A pick through LiteLLM with the sluice-litellm plugin (async, median), over strategies and sizes', value: `${fmt(Math.min(...asyncRows.map((r) => r.medianMs!)), 3)} to ${fmt(Math.max(...asyncRows.map((r) => r.medianMs!)), 3)} ms`, target: 'faster than LiteLLM\'s own pick (issue 17)' });
  }
  const rep = results.routing?.replicas;
  if (rep) out.push({ what: `Four LiteLLM processes, one deployment at rpm ${rep.plugin.rpm}: served in one minute, LiteLLM shared mode / plugin`, value: `${rep.litellm.servedInMinute} / ${rep.plugin.servedInMinute}`, target: `exactly ${rep.plugin.rpm} (issue 17)` });
  const p = results.routing?.pipeline;
  if (p) out.push({ what: 'ROUTE.PICK+DONE pipelined (-P 16, 50 connections), commands/s / Redis INCR -P 16', value: `${(p.commandsPerS / p.incrRps).toFixed(2)}x`, target: '>= 0.5x (issue 11)' });
  return out;
}

export function routingMarkdown(results: Results): string[] {
  const L: string[] = [];
  const R = results.routing;
  const gw = results.loadgen.find((r) => r.scenario === 'gateway-route');
  if (!R?.core && !R?.litellm && !R?.plugin && !R?.replicas && !R?.pipeline && !gw) return L;
  L.push('## Routing (issue 11)', '');
  const core = R?.core;
  if (core) {
    const sizes = [...new Set(core.rows.map((r) => r.deployments))].sort((a, b) => a - b);
    L.push('### PICK+DONE in the Rust core', '');
    L.push('Nanoseconds per ROUTE.PICK + ROUTE.DONE on one group of N deployments (no limits bind), median of 7 timed runs: wall clock / on-CPU time of the thread (the on-CPU figure leaves out time other processes held the core on this shared machine). Growth (wall / on-CPU): time at the larger size / time at the smaller, against the size ratio (linear growth = the size ratio; at small sizes the fixed cost of a pick dominates).', '');
    const [first, beforeLast, last] = [sizes[0], sizes[sizes.length - 2], sizes[sizes.length - 1]];
    const growth = (s: string, from: number, to: number) => {
      const a = coreAt(results, s, from);
      const b = coreAt(results, s, to);
      return a && b ? `${(b.wallNs / a.wallNs).toFixed(1)}x / ${(b.cpuNs / a.cpuNs).toFixed(1)}x` : '-';
    };
    const lastStep = sizes.length > 2 ? ` | growth ${fmt(beforeLast)} → ${fmt(last)} (x${fmt(last / beforeLast)})` : '';
    L.push(`| strategy | ${sizes.map((n) => `${fmt(n)}`).join(' | ')} | growth ${fmt(first)} → ${fmt(last)} (x${fmt(last / first)} deployments)${lastStep} | <= 10 µs at 1000 |`);
    L.push(`| --- | ${sizes.map(() => '---').join(' | ')} | --- |${sizes.length > 2 ? ' --- |' : ''} --- |`);
    for (const s of STRATEGIES) {
      const cells = sizes.map((n) => {
        const r = coreAt(results, s, n);
        return r ? `${fmt(r.wallNs)} / ${fmt(r.cpuNs)}` : '-';
      });
      const k = coreAt(results, s, 1000);
      const verdict = k ? `${k.wallNs <= 10_000 ? 'yes' : '**no**'} wall, ${k.cpuNs <= 10_000 ? 'yes' : '**no**'} on-CPU` : '-';
      L.push(`| ${s} | ${cells.join(' | ')} | ${growth(s, first, last)}${sizes.length > 2 ? ` | ${growth(s, beforeLast, last)}` : ''} | ${verdict} |`);
    }
    L.push('', `Command: \`${core.command}\``, '');
  }
  const lite = R?.litellm;
  if (lite) {
    L.push(`### LiteLLM ${lite.version}'s own pick, offline (Python ${lite.python})`, '');
    L.push(
      'One group of N deployments in `litellm.Router` (rpm/tpm set, no provider is called), one pick timed at a time after a warm-up pick: ' +
        '`await router.async_get_available_deployment(...)` (what the proxy calls) and `router.get_available_deployment(...)`. ' +
        'Ratio: LiteLLM median / Sluice core PICK+DONE wall time at the same size and strategy (Sluice also settles the lease; LiteLLM only picks).',
      '',
    );
    L.push('| strategy | deployments | LiteLLM async median ms (p99) | LiteLLM sync median ms (p99) | Sluice core PICK+DONE | async ratio | sync ratio |', '| --- | --- | --- | --- | --- | --- | --- |');
    const keys = [...new Set(lite.rows.map((r) => `${r.deployments}\t${r.strategy}`))];
    for (const key of keys) {
      const [nText, s] = key.split('\t');
      const n = Number(nText);
      const a = lite.rows.find((r) => r.strategy === s && r.deployments === n && r.mode === 'async');
      const y = lite.rows.find((r) => r.strategy === s && r.deployments === n && r.mode === 'sync');
      const c = coreAt(results, s, n);
      const show = (r?: LitellmPickRow) => (r?.medianMs !== undefined ? `${fmt(r.medianMs, 3)} (${fmt(r.p99Ms ?? NaN, 3)}), ${r.n} picks` : cell((r?.error ?? '-').slice(0, 90)));
      const ratio = (r?: LitellmPickRow) => (r?.medianMs !== undefined && c ? `**${fmt((r.medianMs * 1e6) / c.wallNs)}x**` : '-');
      L.push(`| ${s} | ${fmt(n)} | ${show(a)} | ${show(y)} | ${c ? us(c.wallNs) : s.includes('pre-call') ? 'n/a (no such variant in the core bench)' : 'not measured in this run'} | ${ratio(a)} | ${ratio(y)} |`);
    }
    L.push('', `Command: \`${lite.command}\` (venv: ${cell(lite.setupNote)}, ${fmt(lite.setupSeconds)} s in this run)`, '');
  }
  const plugin = R?.plugin;
  if (plugin) {
    L.push(`### LiteLLM ${plugin.version} with the sluice-litellm plugin (issue 17)`, '');
    L.push(
      'The same Router and cases with `router.register_plugin(SluiceRouting(...))`: each pick is one ROUTE.PICK to a Sluice daemon from this repository (TCP, loopback), settled with ROUTE.DONE outside the timing. ' +
        '`route.pick` is the floor under it: the bare ROUTE.PICK with the same messages from redis-py\'s asyncio client. Ratio: LiteLLM\'s own async pick (table above, same run) / the plugin\'s async pick.',
      '',
    );
    L.push('| strategy | deployments | plugin async median ms (p99) | plugin sync median ms (p99) | bare ROUTE.PICK median ms (p99) | LiteLLM\'s own async / plugin async |', '| --- | --- | --- | --- | --- | --- |');
    const keys = [...new Set(plugin.rows.map((r) => `${r.deployments}\t${r.strategy}`))];
    for (const key of keys) {
      const [nText, s] = key.split('\t');
      const n = Number(nText);
      const at = (rows: LitellmPickRow[] | undefined, mode: string) => rows?.find((r) => r.strategy === s && r.deployments === n && r.mode === mode);
      const show = (r?: LitellmPickRow) => (r?.medianMs !== undefined ? `${fmt(r.medianMs, 3)} (${fmt(r.p99Ms ?? NaN, 3)})` : '-');
      const own = at(lite?.rows, 'async');
      const mine = at(plugin.rows, 'async');
      const ratio = own?.medianMs !== undefined && mine?.medianMs ? `${fmt(own.medianMs / mine.medianMs, own.medianMs / mine.medianMs < 10 ? 1 : 0)}x` : 'not measured in this run';
      L.push(`| ${s} | ${fmt(n)} | ${show(mine)} | ${show(at(plugin.rows, 'sync'))} | ${show(at(plugin.rows, 'route.pick'))} | ${ratio} |`);
    }
    L.push('', `Command: \`${plugin.command}\``, '');
  }
  const rep = R?.replicas;
  if (rep) {
    L.push('### Four LiteLLM processes, one deployment at rpm 60 (issue 17)', '');
    L.push(
      `${rep.litellm.processes} processes, ${rep.litellm.requestsPerProcess} concurrent requests each (mock responses), started together inside one clock minute: LiteLLM's own shared mode (a real redis-server, usage-based-routing-v2) against the plugin on one Sluice (on_unavailable="closed"). Served in that minute:`,
      '',
    );
    L.push('| setup | limit (rpm) | served in the minute | per process | refused |', '| --- | --- | --- | --- | --- |');
    for (const [name, c] of [["LiteLLM's shared mode", rep.litellm], ['sluice-litellm plugin', rep.plugin]] as const) {
      L.push(`| ${name} | ${c.rpm} | **${c.servedInMinute}** | ${c.servedPerProcess.join(', ')} | ${Object.entries(c.refused).map(([k, v]) => `${cell(k)}: ${v}`).join(', ') || '-'} |`);
    }
    L.push('', `Command: \`${rep.command}\``, '');
  }
  const p = R?.pipeline;
  if (p) {
    L.push('### Over RESP: pipelined ROUTE.PICK then ROUTE.DONE', '');
    L.push(
      `${p.connections} connections; each writes ${p.pipeline} \`ROUTE.PICK group TOKENS 150\` at once, reads the leases, writes ${p.pipeline} \`ROUTE.DONE lease STATUS 200 LATENCY 800 INPUT 100 OUTPUT 50\`, reads their replies (each must be 1); ` +
        `one group of ${p.deployments} deployments without limits (simple-shuffle). redis-benchmark cannot do this: a DONE needs the lease its PICK returned.`,
      '',
    );
    L.push('| what | figure | command |', '| --- | --- | --- |');
    L.push(`| PICK+DONE pairs/s | ${fmt(p.pairsPerS)} (${fmt(p.pairs)} pairs) | \`${cell(p.command)}\` |`);
    L.push(`| commands/s (2 per pair)${p.runs.length > 1 ? `, median of ${p.runs.length}: ${p.runs.map((x) => fmt(x)).join(' / ')}` : ''} | ${fmt(p.commandsPerS)} | same |`);
    L.push(`| Redis INCR -P 16 req/s, run between the pair runs${p.incrRuns.length > 1 ? `, median of ${p.incrRuns.length}: ${p.incrRuns.map((x) => fmt(x)).join(' / ')}` : ''} | ${fmt(p.incrRps)} | \`${cell(p.incrCommand)}\` |`);
    if (p.incrScenarioRps !== undefined) L.push(`| (Redis INCR -P 16 of the incr scenario, earlier in this run) | ${fmt(p.incrScenarioRps)} | see redis-benchmark above |`);
    L.push(`| **ratio** | **${(p.commandsPerS / p.incrRps).toFixed(2)}x** (target >= 0.5x) | |`);
    L.push('', `Picks per deployment: ${Object.entries(p.perDeployment).sort(([a], [b]) => a.localeCompare(b, 'en', { numeric: true })).map(([id, n]) => `${id.slice(0, 10)} ${fmt(n)}`).join(', ')}.`, '');
  }
  if (gw) {
    L.push('### gateway-route: limits under concurrent instances', '');
    L.push(
      `${gw.vus} virtual instances (one connection each), ${fmt(gw.rate)} requests/s for ${fmt(gw.durationS, 1)} s: \`ROUTE.PICK group TOKENS 50..499 STRATEGY <the five in turn>\`, hold the lease 1..30 ms, ` +
        '`ROUTE.DONE lease STATUS s` with s = 200 (94 %, with LATENCY and INPUT/OUTPUT tokens no larger than the reserve), 429 (2 %) or 500 (4 %). ' +
        'Eight deployments, each limited by rpm, tpm, max_parallel_requests or all three, small enough to bind. The loadgen counts, per deployment, the most leases it held at once (released before its DONE is sent, so never more than the daemon counts) and the picks and tokens per Unix minute (picks within 0.5 s of a minute edge left out); after the run these and ROUTE.LIST (in_flight 0, rpm_used, tpm_used) are checked against the limits ROUTE.LIST reports.',
      '',
    );
    L.push('| deployment | rpm | tpm | max parallel | picks | most held at once | most picks in a minute | most tokens in a minute | ROUTE.LIST in_flight / rpm_used / tpm_used | DONE statuses |', '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
    for (const d of gw.routes ?? []) {
      const lim = (x: number) => (x > 0 ? fmt(x) : '-');
      L.push(`| ${d.id.slice(0, 12)} | ${lim(d.rpm)} | ${lim(d.tpm)} | ${lim(d.max_parallel_requests)} | ${fmt(d.picks)} | ${d.max_holding} | ${fmt(d.max_picks_in_a_minute)} | ${fmt(d.max_tokens_in_a_minute)} | ${d.list_in_flight} / ${fmt(d.list_rpm_used)} / ${fmt(d.list_tpm_used)} | ${Object.entries(d.by_status).map(([s, n]) => `${s}: ${fmt(n)}`).join(', ')} |`);
    }
    L.push('', `Checks: ${gw.checks.map((c) => `${c.passed ? 'ok' : '**FAILED**'}: ${cell(c.name)} (${cell(c.detail)})`).join('; ')}. Command: \`${cell(gw.command)}\``, '');
  }
  return L;
}

/** Chart groups: per size, the LiteLLM / Sluice ratio of each strategy (each size on its own scale). */
export function routingSvgGroups(results: Results): { name: string; bars: Bar[] }[] {
  const lite = results.routing?.litellm;
  if (!lite || !results.routing?.core) return [];
  const sizes = [...new Set(lite.rows.map((r) => r.deployments))].sort((a, b) => a - b);
  const groups: { name: string; bars: Bar[] }[] = [];
  for (const n of sizes) {
    const bars: Bar[] = [];
    for (const s of STRATEGIES) {
      const l = lite.rows.find((r) => r.strategy === s && r.deployments === n && r.mode === 'async');
      const c = coreAt(results, s, n);
      if (l?.medianMs === undefined || !c) continue;
      const x = (l.medianMs * 1e6) / c.wallNs;
      bars.push({ label: s, value: x, color: '#1f77b4', text: `${fmt(x)}x (${fmt(l.medianMs, 3)} ms vs ${us(c.wallNs)})` });
    }
    if (bars.length) groups.push({ name: `${fmt(n)} deployments (own scale)`, bars });
  }
  return groups;
}
