#!/usr/bin/env node
/**
 * `npm run bench [-- --quick] [-- --only a,b]`: starts Sluice and redis-server on loopback,
 * runs every scenario against both in one run, writes bench/RESULTS.md and bench/results.svg,
 * and ends every process it started (also on SIGINT/SIGTERM and errors).
 *
 * Exit code: 0 when every selected scenario ran and produced numbers; 1 otherwise (a command
 * missing from Sluice, a failed check, a crash). Speed is reported, never asserted.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildCorpus, chunks, type Corpus } from './corpus';
import { buildLoadgen, gateway, gatewayMessages, sharedKeys, soak } from './loadgen';
import { memoryPerKey } from './memory';
import { durability } from './durability';
import { BENCH, installCleanup, killAll, ROOT, run, startRedis, startSluice, type Server } from './procs';
import { LUA_BUCKET, rbScenarios, runRb } from './rb';
import { headlines, type Machine, renderMarkdown, renderSvg, type Results } from './report';
import { RespClient } from './resp';
import { clientHeadline, clientOverhead } from './client';
import { gatewayRoute, litellmReplicas, routeCore, routeLitellm, routePipeline, routePlugin, routingHeadlines } from './routing';
import { pathological, tokenThroughput } from './tokens';
import { type Options, type Outcome, ScenarioFailure } from './types';

const USAGE = `Usage: npm run bench [-- --quick] [-- --only ID[,ID...]] [-- --results FILE]

  --quick        small counts and short durations (a few minutes: the LiteLLM replica run waits for a clock minute); for CI
  --only IDS     run only these scenarios: ping, incr, lua, rlhit, throttle, tokcount,
                 shared, gateway, soak, tokens, memory, route-core, route-litellm,
                 route-plugin, litellm-replicas, route-pipeline, gateway-route, durability,
                 client
  --results F    write the Markdown here (default bench/RESULTS.md, with --quick
                 bench/out/RESULTS-quick.md; the chart goes next to it as results.svg)
  --report-only J  measure nothing: render RESULTS.md and the chart again from a saved
                 bench/out/results.json (after a change to the report's layout)

Environment: BENCH_SLUICE_NOTE=text adds a note on what Sluice build was measured.
`;

function parseArgs(argv: string[]): { quick: boolean; only: string[] | null; results: string; reportOnly: string | null } {
  let quick = false;
  let reportOnly: string | null = null;
  let only: string[] | null = null;
  let results: string | null = null;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--quick') quick = true;
    else if (a === '--only') only = (argv[++i] ?? '').split(',').map((s) => s.trim()).filter(Boolean);
    else if (a.startsWith('--only=')) only = a.slice(7).split(',').map((s) => s.trim()).filter(Boolean);
    else if (a === '--results') results = path.resolve(argv[++i] ?? '');
    else if (a === '--report-only') reportOnly = path.resolve(argv[++i] ?? '');
    else if (a === '-h' || a === '--help') {
      process.stdout.write(USAGE);
      process.exit(0);
    } else {
      process.stderr.write(`bench: unknown argument ${a}\n${USAGE}`);
      process.exit(2);
    }
  }
  // A quick run's figures are not for quoting: by default they go to bench/out/ (git-ignored),
  // so they never overwrite the committed bench/RESULTS.md of a full run.
  results ??= quick ? path.join(BENCH, 'out', 'RESULTS-quick.md') : path.join(BENCH, 'RESULTS.md');
  return { quick, only, results, reportOnly };
}

function tryExec(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'pipe'] }).trim();
  } catch {
    return 'unknown';
  }
}

async function machine(sluice: Server | null): Promise<Machine> {
  const cpuinfo = fs.existsSync('/proc/cpuinfo') ? fs.readFileSync('/proc/cpuinfo', 'utf8') : '';
  let sluiceVersion = 'unknown';
  if (sluice) {
    const c = await RespClient.connect(sluice.port);
    const info = String(await c.call('INFO', 'server'));
    c.close();
    sluiceVersion = /sluice_version:(\S+)/.exec(info)?.[1] ?? /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown';
  }
  const head = tryExec('git', ['-C', ROOT, 'rev-parse', '--short', 'HEAD']);
  const branch = tryExec('git', ['-C', ROOT, 'rev-parse', '--abbrev-ref', 'HEAD']);
  const dirty = tryExec('git', ['-C', ROOT, 'status', '--porcelain', '--untracked-files=no']) !== '' ? ' plus uncommitted changes' : '';
  return {
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    nproc: Number(tryExec('nproc', [])) || os.cpus().length,
    cpu: /model name\s*:\s*(.+)/.exec(cpuinfo)?.[1] ?? os.cpus()[0]?.model ?? 'unknown',
    memGiB: os.totalmem() / 2 ** 30,
    kernel: os.release(),
    node: process.version,
    redis: tryExec('redis-server', ['--version']).replace(/ sha=\S+| malloc=\S+| bits=\S+| build=\S+/g, ''),
    redisBenchmark: tryExec('redis-benchmark', ['--version']).replace(/ \(git:.*\)/, ''),
    go: tryExec('go', ['version']),
    sluiceVersion,
    sluice: sluiceVersion,
    git: `${head} (${branch})${dirty}${process.env.BENCH_SLUICE_NOTE ? `; ${process.env.BENCH_SLUICE_NOTE}` : ''}`,
  } as Machine;
}

function writeReport(results: Results, resultsFile: string, outDir: string): string {
  fs.mkdirSync(path.dirname(resultsFile), { recursive: true });
  fs.writeFileSync(resultsFile, renderMarkdown(results));
  const svgPath = path.join(path.dirname(resultsFile), 'results.svg');
  fs.writeFileSync(svgPath, renderSvg(results));
  fs.mkdirSync(outDir, { recursive: true });
  fs.writeFileSync(path.join(outDir, 'results.json'), JSON.stringify(results, null, 2));
  return svgPath;
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  if (args.reportOnly) {
    const results = JSON.parse(fs.readFileSync(args.reportOnly, 'utf8')) as Results;
    const svg = writeReport(results, args.results, path.join(BENCH, 'out'));
    process.stdout.write(`bench: rendered ${args.results} and ${svg} from ${args.reportOnly} (no measurement)\n`);
    return 0;
  }
  const t0 = Date.now();
  const loadAtStart = os.loadavg()[0].toFixed(2);
  const outDir = path.join(BENCH, 'out');
  fs.mkdirSync(outDir, { recursive: true });
  const log = (msg: string) => process.stdout.write(`[bench ${((Date.now() - t0) / 1000).toFixed(0).padStart(4)}s] ${msg}\n`);
  const opts: Options = { quick: args.quick, only: args.only, out: outDir, log };
  installCleanup((why) => log(`stopping: ${why}; ending every process the benchmark started`));

  const all = ['ping', 'incr', 'lua', 'rlhit', 'throttle', 'tokcount', 'shared', 'gateway', 'soak', 'tokens', 'memory', 'route-core', 'route-litellm', 'route-plugin', 'litellm-replicas', 'route-pipeline', 'gateway-route', 'durability', 'client'];
  if (args.only) {
    const unknown = args.only.filter((o) => !all.includes(o));
    if (unknown.length) {
      process.stderr.write(`bench: unknown scenario ${unknown.join(', ')}\n${USAGE}`);
      return 2;
    }
  }
  const want = (id: string) => !args.only || args.only.includes(id);
  log(`${args.quick ? 'quick' : 'full'} run: ${all.filter(want).join(', ')}`);

  for (const tool of ['redis-server', 'redis-benchmark']) {
    if (tryExec(tool, ['--version']) === 'unknown') {
      log(`${tool} is not installed: apt-get install -y redis-server redis-tools`);
      return 1;
    }
  }

  // Sluice with its cache of whole-text token counts off (where it has one): the throughput
  // figures are for counting, not for cache hits.
  const help = tryExec(process.execPath, [path.join(ROOT, 'daemon', 'dist', 'cli.js'), '--help']);
  const sluiceArgs = help.includes('--tokens-cache-entries') ? ['--tokens-cache-entries', '0'] : [];
  const sluice = await startSluice(sluiceArgs);
  const redis = await startRedis();
  log(`Sluice pid ${sluice.pid} on 127.0.0.1:${sluice.port}${sluiceArgs.length ? ` (${sluiceArgs.join(' ')})` : ''}; redis-server pid ${redis.pid} on 127.0.0.1:${redis.port}`);
  const results: Results = { mode: args.quick ? 'quick' : 'full', machine: await machine(sluice), outcomes: [], rb: [], loadgen: [], tokens: [], patho: [], memory: [], totalSeconds: 0 };

  const rc = await RespClient.connect(redis.port);
  const luaSha = String(await rc.ok('SCRIPT', 'LOAD', LUA_BUCKET));
  rc.close();

  const corpus: Corpus = buildCorpus(args.quick ? 384 * 1024 : 2 * 1024 * 1024);
  results.corpus = corpus;
  log(`corpus: ${(corpus.bytes / 1e6).toFixed(2)} MB (${corpus.parts.map((p) => `${p.kind} ${(p.bytes / 1e3).toFixed(0)} KB`).join(', ')})`);
  // One line of text (redis-benchmark puts the command into its CSV test name), about 400 bytes.
  const text400 =
    chunks(corpus.text.replace(/["\\]/g, ' ').replace(/\s+/g, ' '), 400, 12345).find((t) => !t.includes('__rand_int__') && Buffer.byteLength(t) >= 390) ?? 'x'.repeat(400);
  results.text400 = text400;

  const step = async (id: string, title: string, fn: () => Promise<void>, skip?: string) => {
    if (!want(id)) return;
    const s0 = Date.now();
    if (skip) {
      log(`SKIP ${title}: ${skip}`);
      results.outcomes.push({ id, title, status: 'skipped', reason: skip, seconds: 0 });
      return;
    }
    log(`${title} ...`);
    try {
      await fn();
      results.outcomes.push({ id, title, status: 'ok', seconds: (Date.now() - s0) / 1000 });
    } catch (err) {
      const reason = err instanceof ScenarioFailure ? err.message : `${(err as Error).stack ?? err}`;
      log(`FAILED ${title}: ${reason}`);
      results.outcomes.push({ id, title, status: 'failed', reason, seconds: (Date.now() - s0) / 1000 });
    }
  };

  for (const s of rbScenarios(luaSha, text400)) {
    await step(s.id, `redis-benchmark ${s.title}`, async () => {
      results.rb.push(...(await runRb(opts, s, { sluice, redis })));
    });
  }

  const needLoadgen = ['shared', 'gateway', 'soak', 'route-pipeline', 'gateway-route'].some(want);
  const loadgenProblem = needLoadgen ? await buildLoadgen(opts) : null;
  await step('shared', 'Load: many instances share a few keys', async () => {
    results.loadgen.push(...(await sharedKeys(opts, sluice, redis, luaSha)));
  }, loadgenProblem ?? undefined);
  await step('gateway', 'Load: LLM gateway flow (RL.ALL, TOK.CHAT, RL.ADJUST)', async () => {
    results.loadgen.push(...(await gateway(opts, sluice, gatewayMessages(chunks(corpus.text, 1500, 99)))));
  }, loadgenProblem ?? undefined);
  await step('route-pipeline', 'Routing over RESP: pipelined ROUTE.PICK then ROUTE.DONE vs Redis INCR -P 16', async () => {
    (results.routing ??= {}).pipeline = await routePipeline(opts, sluice, redis, results);
  }, loadgenProblem ?? undefined);
  await step('gateway-route', 'Load: routing gateway (ROUTE.PICK, hold, ROUTE.DONE 200/429/500), limits never exceeded', async () => {
    results.loadgen.push(await gatewayRoute(opts, sluice));
  }, loadgenProblem ?? undefined);
  await step('soak', 'Soak: RSS over time', async () => {
    const r = await soak(opts, sluice, text400);
    results.loadgen.push(r.row);
    results.soak = r.soak;
  }, loadgenProblem ?? undefined);

  await step('tokens', 'Token counting: Sluice vs gpt-tokenizer, tiktoken, js-tiktoken', async () => {
    results.tokens = await tokenThroughput(opts, sluice, corpus);
    results.patho = await pathological(opts, sluice);
  });
  await step('memory', 'Memory per key: Sluice GCRA vs Redis Lua bucket', async () => {
    results.memory = await memoryPerKey(opts, redis, luaSha);
  });
  await step('durability', 'Snapshots: Sluice SAVE and load vs Redis BGSAVE', async () => {
    results.durability = await durability(opts);
  });

  await step('client', 'The TypeScript client: SluiceClient.hit vs raw ioredis RL.HIT', async () => {
    results.client = await clientOverhead(opts);
  });

  await step('route-core', 'Routing in the Rust core: PICK+DONE per strategy and group size', async () => {
    (results.routing ??= {}).core = await routeCore(opts);
  });
  await step('route-litellm', 'Routing in LiteLLM itself: Router pick time, offline (venv under bench/.cache)', async () => {
    (results.routing ??= {}).litellm = await routeLitellm(opts);
  });
  await step('route-plugin', 'Routing in LiteLLM with the sluice-litellm plugin: Router pick time through Sluice', async () => {
    (results.routing ??= {}).plugin = await routePlugin(opts);
  });
  await step('litellm-replicas', 'Four LiteLLM processes, one deployment at rpm 60: LiteLLM shared mode vs the plugin', async () => {
    (results.routing ??= {}).replicas = await litellmReplicas(opts);
  });

  await sluice.stop();
  await redis.stop();
  await killAll();
  results.totalSeconds = (Date.now() - t0) / 1000;

  results.machine.load = `${loadAtStart} / ${os.loadavg()[0].toFixed(2)} (${results.machine.nproc} cores)`;
  const svgPath = writeReport(results, args.results, outDir);
  log(`wrote ${path.relative(process.cwd(), args.results)} and ${path.relative(process.cwd(), svgPath)}`);

  const ran = results.outcomes.filter((o) => o.status === 'ok').length;
  const bad = results.outcomes.filter((o) => o.status !== 'ok');
  log(`${ran} scenario(s) ran and produced numbers, ${bad.length} did not, in ${results.totalSeconds.toFixed(0)} s`);
  for (const o of bad) log(`  ${o.status.toUpperCase()}: ${o.title}: ${(o.reason ?? '').split('\n')[0]}`);
  for (const h of headlines(results)) if (h.p1 !== 'n/a' || h.p16 !== 'n/a') log(`  ${h.what}: ${h.p1} unpipelined, ${h.p16} with -P 16 (target ${h.target})`);
  for (const h of [...routingHeadlines(results), ...clientHeadline(results.client)]) log(`  ${h.what}: ${h.value} (target ${h.target})`);
  // One plain closing line.
  process.stdout.write(`bench: ${ran} passed, ${bad.length} failed\n`);
  return bad.length === 0 && ran > 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  async (err) => {
    process.stderr.write(`bench: ${(err as Error).stack ?? err}\n`);
    await killAll();
    process.exit(1);
  },
);

void run; // (run is used by the scenario modules)
