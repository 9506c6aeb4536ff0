/**
 * Snapshots (docs/durability.md): N GCRA keys with 16-byte names on a fresh Sluice; SAVE
 * (file size, time until it is on disk), the longest event-loop stall the daemon saw while it
 * saved (monitorEventLoopDelay, INFO sluice_snapshot_last_loop_delay_max_ms), the longest PING
 * round trip of a client pinging throughout the save, and the load time at the next start.
 * Beside it, Redis's own BGSAVE of the same number of Lua-bucket keys in the same run (a
 * redis-server of its own, so its dump.rdb goes to a temporary directory) (time from
 * BGSAVE until INFO says it is done, dump.rdb's size, the fork's stall (INFO latest_fork_usec),
 * the longest PING meanwhile).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sleep, startRedis, startSluice, type Server } from './procs';
import { loadKeys } from './memory';
import { LUA_BUCKET } from './rb';
import { parseInfo, RespClient } from './resp';
import { type DurRow, type Options, ScenarioFailure } from './types';

/** The longest PING round trip (ms) over `ms` with nothing else going on: the machine's noise. */
async function idlePing(port: number, ms: number): Promise<number> {
  const probe = pingProbe(port);
  await sleep(ms);
  return probe.stop();
}

/** PINGs one at a time until `stop()`; resolves with the longest round trip (ms). */
function pingProbe(port: number): { stop: () => Promise<number> } {
  let running = true;
  const done = (async () => {
    const c = await RespClient.connect(port);
    let max = 0;
    try {
      while (running) {
        const t0 = performance.now();
        await c.ok('PING');
        max = Math.max(max, performance.now() - t0);
      }
    } finally {
      c.close();
    }
    return max;
  })();
  return {
    stop: async () => {
      running = false;
      return done;
    },
  };
}

async function sluiceAt(opts: Options, n: number, dir: string): Promise<DurRow> {
  const args = ['--dir', dir, '--save-interval', '0'];
  let sluice: Server = await startSluice(args);
  let saveMs: number;
  let loopMs: number;
  let pingMs: number;
  let idleMs: number;
  let bytes: number;
  try {
    await loadKeys(sluice.port, n, 0, (k) => ['RL.HIT', k, 'LIMIT', 10, 'PER', 3_600_000]);
    await sleep(300);
    idleMs = await idlePing(sluice.port, 1000);
    const c = await RespClient.connect(sluice.port);
    const probe = pingProbe(sluice.port);
    await sleep(100);
    const t0 = performance.now();
    const reply = await c.ok('SAVE');
    saveMs = performance.now() - t0;
    pingMs = await probe.stop();
    if (reply !== 'OK') throw new ScenarioFailure(`SAVE answered ${JSON.stringify(reply)}`);
    const info = parseInfo(String(await c.ok('INFO', 'persistence')));
    loopMs = Number(info.sluice_snapshot_last_loop_delay_max_ms);
    bytes = fs.statSync(path.join(dir, 'dump.sluice')).size;
    const keys = Number(info.sluice_snapshot_last_keys);
    if (keys !== n) throw new ScenarioFailure(`the snapshot holds ${keys} keys, not ${n}`);
    c.close();
  } finally {
    await sluice.stop();
  }
  // The next start loads it (stop saved again at shutdown: the same keys).
  sluice = await startSluice(args);
  const m = /loaded (\d+) keys from snapshot .* in ([\d.]+) ms/.exec(sluice.output());
  await sluice.stop();
  if (!m || Number(m[1]) !== n) throw new ScenarioFailure(`the restarted daemon did not load ${n} keys: ${sluice.output().slice(0, 400)}`);
  const loadMs = Number(m[2]);
  opts.log(`    Sluice ${n} keys: ${(bytes / 1e6).toFixed(1)} MB, SAVE ${saveMs.toFixed(0)} ms, load ${loadMs.toFixed(0)} ms, event loop stalled at most ${loopMs.toFixed(1)} ms, longest PING ${pingMs.toFixed(1)} ms (${idleMs.toFixed(1)} ms in 1 s without a save)`);
  return {
    server: 'sluice',
    what: 'RL.HIT GCRA keys, SAVE (worker thread)',
    keys: n,
    bytes,
    saveMs,
    loadMs,
    loopPauseMs: loopMs,
    maxPingMs: pingMs,
    maxPingIdleMs: idleMs,
    command: `npm run bench -- --only durability   # ${n.toLocaleString('en-US')} x RL.HIT <16-byte key> LIMIT 10 PER 3600000, then SAVE while a client PINGs; restart loads it`,
  };
}

async function redisAt(opts: Options, n: number, dir: string): Promise<DurRow> {
  // A redis-server of its own, writing into `dir` (`dir` is a protected config in Redis 7).
  const redis = await startRedis(['--dir', dir]);
  const c = await RespClient.connect(redis.port);
  try {
    const luaSha = String(await c.ok('SCRIPT', 'LOAD', LUA_BUCKET));
    await loadKeys(redis.port, n, 0, (k) => ['EVALSHA', luaSha, 1, k, 10, 10 / 3_600_000, 1]);
    await sleep(300);
    const idleMs = await idlePing(redis.port, 1000);
    const probe = pingProbe(redis.port);
    await sleep(100);
    const t0 = performance.now();
    const reply = await c.ok('BGSAVE');
    if (!/started/.test(String(reply))) throw new ScenarioFailure(`Redis BGSAVE answered ${JSON.stringify(reply)}`);
    let info = parseInfo(String(await c.ok('INFO', 'persistence')));
    while (info.rdb_bgsave_in_progress !== '0') {
      await sleep(5);
      info = parseInfo(String(await c.ok('INFO', 'persistence')));
    }
    const saveMs = performance.now() - t0;
    const pingMs = await probe.stop();
    if (info.rdb_last_bgsave_status !== 'ok') throw new ScenarioFailure(`Redis BGSAVE failed: ${JSON.stringify(info)}`);
    const bytes = fs.statSync(path.join(dir, 'dump.rdb')).size;
    // Redis's main thread stops for the fork: its stall while saving.
    const forkMs = Number(parseInfo(String(await c.ok('INFO', 'stats'))).latest_fork_usec) / 1000;
    opts.log(`    Redis ${n} Lua-bucket keys: ${(bytes / 1e6).toFixed(1)} MB, BGSAVE ${saveMs.toFixed(0)} ms, fork ${forkMs.toFixed(1)} ms, longest PING ${pingMs.toFixed(1)} ms (${idleMs.toFixed(1)} ms in 1 s without a save)`);
    return {
      server: 'redis',
      what: 'Lua token bucket keys, BGSAVE (fork)',
      keys: n,
      bytes,
      saveMs,
      loadMs: null,
      loopPauseMs: forkMs,
      maxPingMs: pingMs,
      maxPingIdleMs: idleMs,
      command: `npm run bench -- --only durability   # ${n.toLocaleString('en-US')} x EVALSHA <bucket> 1 <16-byte key> 10 ${10 / 3_600_000} 1, then BGSAVE while a client PINGs`,
    };
  } finally {
    c.close();
    await redis.stop();
  }
}

export async function durability(opts: Options): Promise<DurRow[]> {
  const sizes = opts.quick ? [10_000, 100_000] : [100_000, 1_000_000];
  const rows: DurRow[] = [];
  for (const n of sizes) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-bench-snap-'));
    try {
      rows.push(await sluiceAt(opts, n, dir));
      rows.push(await redisAt(opts, n, dir));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
  return rows;
}
