/**
 * SLUICE.DOCTOR: advice in plain words from what the daemon has seen, in the spirit of Redis's
 * LATENCY DOCTOR. Each finding says what was seen (with its numbers) and what to do. It reads
 * counters that exist anyway (limiter decisions per key prefix, the token cache, the slow log,
 * open connections, the snapshot status, routing's per-deployment counters); it keeps no state
 * of its own.
 */
import type { Services } from './context';
import { commandTimer } from './command-timer';
import native from './native';

/** Below this many decisions for a prefix, its shares say little: no advice. */
export const MIN_DECISIONS = 100;
/** Token cache lookups needed before the hit rate means something. */
export const MIN_TOKEN_LOOKUPS = 500;
/** A client with more unread replies than this is slow to read. */
export const SLOW_CLIENT_BYTES = 1024 * 1024;
/** Cooldowns of one deployment that count as often. */
export const OFTEN_COOLDOWNS = 3;

const percent = (part: number, whole: number) => `${Math.round((100 * part) / whole)}%`;

function prefixName(prefix: Buffer, overflow: boolean): string {
  if (overflow) return 'keys of prefixes past the first 64 seen';
  if (prefix.length === 0) return 'keys without a prefix (no ":")';
  return `keys under '${prefix.toString()}:'`;
}

function limitsAdvice(): string[] {
  const advice: string[] = [];
  for (const p of native.limitDecisions()) {
    const total = p.allowed + p.refused;
    if (total < MIN_DECISIONS) continue;
    const who = prefixName(p.prefix, p.overflow);
    if (p.refused * 2 >= total) {
      advice.push(
        `Limits refuse most requests: ${who} were refused ${p.refused} of ${total} hits (${percent(p.refused, total)}). ` +
          'If these clients are meant to be held back, nothing is wrong. Otherwise the limit is too tight for the load: raise LIMIT (or BURST), ' +
          'lengthen PER, or make clients wait for retry_after (the 4th value of RL.HIT) instead of retrying at once.',
      );
    } else if (p.near * 2 >= p.allowed) {
      advice.push(
        `Keys near their limit most of the time: ${p.near} of the ${p.allowed} admitted hits on ${who} (${percent(p.near, p.allowed)}) ` +
          'left a tenth of the capacity or less. Refusals are close: raise the limit if the load is legitimate, or spread it over more keys.',
      );
    }
  }
  return advice;
}

const tokenStats = new Float64Array(6);

function tokensAdvice(): string[] {
  native.tokCacheStats(tokenStats);
  const [hits, misses, entries, capacity] = tokenStats;
  const lookups = hits + misses;
  if (capacity === 0 || lookups < MIN_TOKEN_LOOKUPS || hits * 20 > lookups) return [];
  const seen = `Token texts almost always miss the count cache: ${misses} of ${lookups} lookups missed (${percent(misses, lookups)} misses).`;
  if (entries >= capacity) {
    return [`${seen} The cache is full (${entries} entries): texts may repeat after they were evicted. Raise tokens-cache-entries (needs a restart) and watch tokens_cache_hits in INFO tokens.`];
  }
  return [`${seen} The cache is not full (${entries} of ${capacity} entries), so texts simply do not repeat: the cache costs memory and a digest per call for nothing. Set tokens-cache-entries 0 to turn it off.`];
}

function slowAdvice(server: Services): string[] {
  const advice: string[] = [];
  const slow = commandTimer.slowlog;
  if (slow.length > 0) {
    const worst = slow.reduce((a, b) => (b.usec > a.usec ? b : a));
    advice.push(
      `Slow commands: the slow log holds ${slow.length} command(s) that took at least ${commandTimer.slowerThan} µs (slowlog-log-slower-than); ` +
        `the slowest, '${worst.args.slice(0, 3).map((a) => a.toString()).join(' ')}' from ${worst.addr}, took ${(worst.usec / 1000).toFixed(1)} ms. ` +
        'Other clients wait while one runs: see SLOWLOG GET, and split large inputs (TOK.* texts over tokens-inline-max-bytes go to worker threads).',
    );
  }
  for (const c of server.clients.values()) {
    if (c.outputBytes <= SLOW_CLIENT_BYTES) continue;
    advice.push(
      `Slow client: client ${c.id} (${c.addr}${c.name ? `, name ${c.name}` : ''}) has ${(c.outputBytes / 1024 / 1024).toFixed(1)} MB of replies it has not read. ` +
        'Sluice stops reading from it until it catches up, and closes it past client-output-limit. Check that the client reads its replies (pipelines without reading, a stalled consumer).',
    );
  }
  return advice;
}

function snapshotAdvice(server: Services): string[] {
  const persistence = server.families.find((f) => f.name === 'persistence');
  const lines = persistence?.info?.[0]?.lines(server) ?? [];
  const field = (name: string) => lines.find((l) => l.startsWith(`${name}:`))?.slice(name.length + 1) ?? '';
  if (field('rdb_last_bgsave_status') !== 'err') return [];
  return [
    `Snapshots are failing: the last save of ${field('sluice_snapshot_file')} failed (${field('sluice_snapshot_last_error')}). ` +
      'State changed since the last good save is lost if the daemon stops. Check the directory (dir) exists and is writable and the disk has room, then run BGSAVE.',
  ];
}

function routingAdvice(server: Services): string[] {
  const advice: string[] = [];
  for (const d of native.routeDeploymentStats(server.now)) {
    if (d.cooldowns < OFTEN_COOLDOWNS) continue;
    advice.push(
      `Deployment cooling down often: '${d.id}' of group '${d.group}' entered cooldown ${d.cooldowns} times (picked ${d.picks} times)` +
        `${d.cooldownMs > 0 ? `, and is cooling down now for ${Math.ceil(d.cooldownMs / 1000)} s more` : ''}. ` +
        'Its provider fails or rate-limits it: check its errors (ROUTE.DONE statuses), its rpm/tpm against the provider\'s quota, or lower its weight.',
    );
  }
  return advice;
}

/** The report: one paragraph per finding, or one line saying nothing was found. */
export function doctorReport(server: Services): string {
  const findings = [...limitsAdvice(), ...tokensAdvice(), ...slowAdvice(server), ...snapshotAdvice(server), ...routingAdvice(server)];
  if (findings.length === 0) {
    return 'Sluice has seen nothing to worry about: no limit refusing most requests or kept near its limit, no token cache missing, no slow command or client, snapshots saving, no deployment cooling down often.\n';
  }
  return `Sluice saw ${findings.length} thing(s) worth a look:\n\n` + findings.map((f, i) => `${i + 1}. ${f}\n`).join('\n');
}
