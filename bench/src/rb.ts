/**
 * redis-benchmark scenarios: each command against the server(s) that have it, unpipelined and
 * with -P 16, -c 50, 100k random keys (-r 100000, __rand_int__ in key names). Results come from
 * redis-benchmark's --csv output. A command is probed first: a server that does not have it
 * fails the scenario loudly (redis-benchmark itself would happily time error replies).
 */
import fs from 'node:fs';
import path from 'node:path';
import { BENCH, run, type Server } from './procs';
import { ReplyError, RespClient, type Reply } from './resp';
import { type Options, type RbRow, ScenarioFailure } from './types';

export interface RbScenario {
  id: string;
  title: string;
  servers: ('sluice' | 'redis')[];
  args: string[];
  /** Requests per run: unpipelined, -P 16 (full run). */
  n: [number, number];
  /** Checks the reply to one probe call; returns a complaint or null. */
  expect: (r: Reply) => string | null;
}

const isIntArray = (len: number) => (r: Reply) =>
  Array.isArray(r) && r.length === len && r.every((x) => typeof x === 'number' || (typeof x === 'string' && /^-?\d+$/.test(x)))
    ? null
    : `expected an array of ${len} integers, got ${JSON.stringify(r)}`;

/** The Lua token bucket (bench/lua/token-bucket.lua). */
export const LUA_BUCKET = fs.readFileSync(path.join(BENCH, 'lua', 'token-bucket.lua'), 'utf8');

export function rbScenarios(luaSha: string, text400: string): RbScenario[] {
  return [
    { id: 'ping', title: 'PING', servers: ['sluice', 'redis'], args: ['PING'], n: [200_000, 2_000_000], expect: (r) => (r === 'PONG' ? null : `expected PONG, got ${JSON.stringify(r)}`) },
    {
      id: 'incr',
      title: 'INCR (Redis: the protocol ceiling)',
      servers: ['redis'],
      args: ['INCR', 'counter:__rand_int__'],
      n: [200_000, 2_000_000],
      expect: (r) => (typeof r === 'number' ? null : `expected an integer, got ${JSON.stringify(r)}`),
    },
    {
      id: 'lua',
      title: 'Lua token bucket via EVALSHA (Redis)',
      servers: ['redis'],
      args: ['EVALSHA', luaSha, '1', 'bucket:__rand_int__', '100', '0.1', '1'],
      n: [200_000, 500_000],
      expect: isIntArray(2),
    },
    {
      id: 'rlhit',
      title: 'RL.HIT (GCRA, 100 per s)',
      servers: ['sluice'],
      args: ['RL.HIT', 'rl:__rand_int__', 'LIMIT', '100', 'PER', '1000'],
      n: [200_000, 2_000_000],
      expect: isIntArray(5),
    },
    {
      id: 'throttle',
      title: 'CL.THROTTLE (100 per s, burst 100)',
      servers: ['sluice'],
      args: ['CL.THROTTLE', 'cell:__rand_int__', '99', '100', '1'],
      n: [200_000, 2_000_000],
      expect: isIntArray(5),
    },
    {
      id: 'tokcount',
      title: 'TOK.COUNT gpt-4o, 400 B of text',
      servers: ['sluice'],
      args: ['TOK.COUNT', 'gpt-4o', text400],
      n: [100_000, 300_000],
      expect: (r) => (typeof r === 'number' && r > 0 ? null : `expected a positive integer, got ${JSON.stringify(r)}`),
    },
  ];
}

function shellQuote(a: string): string {
  return /^[\w.:/=@%+-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`;
}

/** The reproducible command line; ports are the documented defaults (6380 Sluice, 6379 Redis). */
export function rbCommand(server: 'sluice' | 'redis', s: RbScenario, pipeline: number, n: number): string {
  const args = s.args.map((a) => (a.length > 60 ? `"$TEXT400"` : shellQuote(a)));
  return `redis-benchmark -h 127.0.0.1 -p ${server === 'sluice' ? 6380 : 6379} -c 50 -n ${n} -r 100000${pipeline > 1 ? ` -P ${pipeline}` : ''} --csv ${args.join(' ')}`;
}

export function parseCsv(stdout: string): { rps: number; p50: number; p99: number } | null {
  const lines = stdout.split(/\r?\n/).filter((l) => l.startsWith('"'));
  let header: string[] | null = null;
  for (const line of lines) {
    const cells = line.split('","').map((c) => c.replace(/^"|"$/g, ''));
    if (cells[0] === 'test') {
      header = cells;
      continue;
    }
    const rps = Number(cells[1]);
    if (!Number.isFinite(rps) || rps <= 0) continue;
    const at = (name: string) => {
      const i = header ? header.indexOf(name) : -1;
      return i >= 0 ? Number(cells[i]) : NaN;
    };
    return { rps, p50: at('p50_latency_ms'), p99: at('p99_latency_ms') };
  }
  return null;
}

export async function probe(server: Server, s: RbScenario): Promise<void> {
  const c = await RespClient.connect(server.port);
  try {
    const args = s.args.map((a) => a.replace(/__rand_int__/g, 'probe'));
    const r = await c.call(...args);
    if (r instanceof ReplyError) throw new ScenarioFailure(`${server.name} answered ${args[0]} with an error: ${r.message}`);
    const complaint = s.expect(r);
    if (complaint) throw new ScenarioFailure(`${server.name} ${args[0]}: ${complaint}`);
  } finally {
    c.close();
  }
}

export async function runRb(
  opts: Options,
  s: RbScenario,
  servers: Record<'sluice' | 'redis', Server>,
): Promise<RbRow[]> {
  for (const name of s.servers) await probe(servers[name], s);
  const rows: RbRow[] = [];
  const reps = opts.quick ? 1 : 3;
  for (const pipeline of [1, 16] as const) {
    const n = opts.quick ? Math.max(10_000, Math.floor((pipeline === 1 ? s.n[0] : s.n[1]) / 20)) : pipeline === 1 ? s.n[0] : s.n[1];
    const byServer: Record<string, { rps: number; p50: number; p99: number }[]> = {};
    for (let rep = 0; rep < reps; rep++) {
      // Alternate the order so neither server always runs on a warmer machine.
      const order = rep % 2 === 0 ? s.servers : [...s.servers].reverse();
      for (const name of order) {
        const srv = servers[name];
        const args = ['-h', '127.0.0.1', '-p', String(srv.port), '-c', '50', '-n', String(n), '-r', '100000', ...(pipeline > 1 ? ['-P', String(pipeline)] : []), '--csv', ...s.args];
        const r = await run('redis-benchmark', args, { timeoutMs: opts.quick ? 60_000 : 180_000 });
        const parsed = parseCsv(r.stdout);
        if (r.timedOut) throw new ScenarioFailure(`redis-benchmark against ${name} timed out (${s.args[0]}, -P ${pipeline})`);
        if (r.code !== 0 || !parsed) {
          throw new ScenarioFailure(`redis-benchmark against ${name} failed (exit ${r.code}): ${(r.stderr + r.stdout).trim().slice(0, 400)}`);
        }
        (byServer[name] ??= []).push(parsed);
        opts.log(`    ${s.id} ${name} -P ${pipeline}: ${Math.round(parsed.rps).toLocaleString('en-US')} req/s`);
      }
    }
    for (const name of s.servers) {
      const runs = byServer[name];
      const sorted = [...runs].sort((a, b) => a.rps - b.rps);
      const med = sorted[Math.floor(sorted.length / 2)];
      rows.push({
        scenario: s.id,
        title: s.title,
        server: name,
        pipeline,
        rps: med.rps,
        p50: med.p50,
        p99: med.p99,
        runs: runs.map((x) => x.rps),
        command: rbCommand(name, s, pipeline, n),
      });
    }
  }
  return rows;
}
