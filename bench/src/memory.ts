/**
 * Memory per key: N GCRA keys with 16-byte names.
 *  - Sluice: RL.HIT on a fresh daemon; RSS growth / keys (RSS after a warm-up of 10k keys as the
 *    baseline, so start-up allocations and JIT code are not charged to the keys).
 *  - Redis: the Lua token bucket (a hash per key); `used_memory` growth / keys, RSS for context.
 * Periods are an hour long so that no key expires while it is measured.
 */
import { rssBytes, sleep, startSluice, type Server } from './procs';
import { LUA_BUCKET } from './rb';
import { parseInfo, ReplyError, RespClient, type Reply } from './resp';
import { type MemRow, type Options, ScenarioFailure } from './types';

const key16 = (prefix: string, i: number) => (prefix + String(i).padStart(15, '0')).slice(-16);

/** Sends `make(key)` for `count` 16-byte keys (numbered from `offset`), pipelined 2000 at a time; any error reply fails the scenario. */
export async function loadKeys(port: number, count: number, offset: number, make: (k: string) => (string | number)[]): Promise<void> {
  const c = await RespClient.connect(port);
  try {
    const batch = 2000;
    const inflight: Promise<Reply[]>[] = [];
    const check = (rs: Reply[]) => {
      const bad = rs.find((r) => r instanceof ReplyError || !Array.isArray(r));
      if (bad !== undefined) throw new ScenarioFailure(`loading keys: ${bad instanceof ReplyError ? bad.message : JSON.stringify(bad)}`);
    };
    for (let i = 0; i < count; i += batch) {
      const cmds: (string | number)[][] = [];
      for (let j = i; j < Math.min(count, i + batch); j++) cmds.push(make(key16('k', offset + j)));
      inflight.push(c.pipeline(cmds));
      if (inflight.length >= 3) check(await inflight.shift()!);
    }
    for (const p of inflight) check(await p);
  } finally {
    c.close();
  }
}

export async function memoryPerKey(opts: Options, redis: Server, luaSha: string): Promise<MemRow[]> {
  const n = opts.quick ? 100_000 : 1_000_000;
  const rows: MemRow[] = [];
  const rlhit = (k: string) => ['RL.HIT', k, 'LIMIT', 10, 'PER', 3_600_000];

  const sluice = await startSluice();
  try {
    await loadKeys(sluice.port, 10_000, 900_000_000, rlhit); // warm-up keys, not counted
    await sleep(1000);
    const before = rssBytes(sluice.pid);
    await loadKeys(sluice.port, n, 0, rlhit);
    await sleep(2000);
    const after = rssBytes(sluice.pid);
    rows.push({
      server: 'sluice',
      what: 'RL.HIT GCRA keys',
      keys: n,
      bytesBefore: before,
      bytesAfter: after,
      perKey: (after - before) / n,
      metric: 'RSS growth (/proc/PID/status VmRSS)',
      command: `npm run bench -- --only memory   # ${n.toLocaleString('en-US')} x RL.HIT <16-byte key> LIMIT 10 PER 3600000, pipelined, on a fresh daemon`,
    });
    opts.log(`    Sluice: ${((after - before) / n).toFixed(1)} bytes/key (RSS ${(before / 1e6).toFixed(1)} -> ${(after / 1e6).toFixed(1)} MB)`);
  } finally {
    await sluice.stop();
  }

  const c = await RespClient.connect(redis.port);
  try {
    await c.ok('FLUSHALL');
    await c.ok('SCRIPT', 'LOAD', LUA_BUCKET);
    const info = async () => parseInfo(String(await c.ok('INFO', 'memory')));
    const lua = (k: string) => ['EVALSHA', luaSha, 1, k, 10, 10 / 3_600_000, 1];
    await sleep(200);
    const i0 = await info();
    const rss0 = rssBytes(redis.pid);
    await loadKeys(redis.port, n, 0, lua);
    await sleep(500);
    const i1 = await info();
    const rss1 = rssBytes(redis.pid);
    const dbsize = Number(await c.ok('DBSIZE'));
    if (dbsize < n) throw new ScenarioFailure(`Redis holds ${dbsize} keys after loading ${n}`);
    const used0 = Number(i0.used_memory);
    const used1 = Number(i1.used_memory);
    rows.push({
      server: 'redis',
      what: 'Lua token bucket (hash per key)',
      keys: n,
      bytesBefore: used0,
      bytesAfter: used1,
      perKey: (used1 - used0) / n,
      metric: 'INFO used_memory growth',
      command: `npm run bench -- --only memory   # ${n.toLocaleString('en-US')} x EVALSHA <bucket> 1 <16-byte key> 10 ${10 / 3_600_000} 1, pipelined`,
    });
    rows.push({
      server: 'redis',
      what: 'Lua token bucket (hash per key)',
      keys: n,
      bytesBefore: rss0,
      bytesAfter: rss1,
      perKey: (rss1 - rss0) / n,
      metric: 'RSS growth (/proc/PID/status VmRSS)',
      command: rows[rows.length - 1].command,
    });
    opts.log(`    Redis Lua bucket: ${((used1 - used0) / n).toFixed(1)} bytes/key used_memory, ${((rss1 - rss0) / n).toFixed(1)} bytes/key RSS`);
    await c.ok('FLUSHALL');
  } finally {
    c.close();
  }
  return rows;
}
