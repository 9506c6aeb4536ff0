/**
 * INFO: the server's own sections (Redis's names and fields), then each family's sections in
 * the order families are listed, then commandstats and keyspace.
 */
import os from 'node:os';
import type { Handler, Services } from '../../context';
import native from '../../native';
import { REDIS_COMPAT_VERSION, VERSION } from '../../version';

function human(bytes: number): string {
  if (bytes < 1024) return `${bytes}B`;
  const units = ['K', 'M', 'G', 'T'];
  let v = bytes;
  let u = -1;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(2)}${units[u]}`;
}

type Section = (server: Services) => string[];

/** Sections reported before the families' own. */
const HEAD: Record<string, Section> = {
  server: (server) => {
    const uptime = Math.floor((Date.now() - server.startedAt) / 1000);
    return [
      `redis_version:${REDIS_COMPAT_VERSION}`,
      `sluice_version:${VERSION}`,
      'redis_mode:standalone',
      `os:${os.type()} ${os.release()} ${os.arch()}`,
      `arch_bits:${process.arch.includes('64') ? 64 : 32}`,
      `node_version:${process.versions.node}`,
      `process_id:${process.pid}`,
      `tcp_port:${server.port}`,
      `uptime_in_seconds:${uptime}`,
      `uptime_in_days:${Math.floor(uptime / 86400)}`,
      `executable:${process.argv[1] ?? ''}`,
      `config_file:${server.config.filePath}`,
      // The families that run (the features option); the tokens section says which encodings are built.
      `features:${server.config.str('features')}`,
    ];
  },
  clients: (server) => [`connected_clients:${server.clients.size}`, `maxclients:${server.config.num('maxclients')}`, 'blocked_clients:0'],
  memory: (server) => {
    const m = process.memoryUsage();
    return [
      // Sluice's state lives in native memory that V8 does not see: RSS is the honest total.
      `used_memory:${m.rss}`,
      `used_memory_human:${human(m.rss)}`,
      `used_memory_rss:${m.rss}`,
      `used_memory_rss_human:${human(m.rss)}`,
      `used_memory_js_heap:${m.heapUsed}`,
      `mem_clients_normal:${server.clientMemory}`,
      `maxmemory_clients:${server.config.num('maxmemory-clients')}`,
      'maxmemory:0',
      'maxmemory_policy:noeviction',
    ];
  },
  stats: (server) => {
    const s = server.stats;
    return [
      `total_connections_received:${s.connectionsReceived}`,
      `total_commands_processed:${s.commandsProcessed}`,
      `native_fast_path_commands:${s.fastPathCommands}`,
      `total_net_input_bytes:${s.netInputBytes}`,
      `total_net_output_bytes:${s.netOutputBytes}`,
      `rejected_connections:${s.rejectedConnections}`,
      `evicted_clients:${s.evictedClients}`,
    ];
  },
};

/** Keys INFO keyspace's avg_ttl is averaged over (at least; whole shards). */
const TTL_SAMPLE = 1024;
const ttlSample = new Float64Array(2);

/** Sections reported after the families' own. */
const TAIL: Record<string, Section> = {
  commandstats: (server) => {
    const lines: string[] = [];
    for (const e of server.commandStats()) {
      if (e.calls === 0 && e.failedCalls === 0 && e.rejectedCalls === 0) continue;
      // Time is measured on a sample of calls (see dispatch.ts) and scaled to all calls.
      const perCall = e.timedCalls ? e.usec / e.timedCalls : 0;
      const usec = Math.round(perCall * e.calls);
      lines.push(
        `cmdstat_${e.name}:calls=${e.calls},usec=${usec},usec_per_call=${perCall.toFixed(2)},rejected_calls=${e.rejectedCalls},failed_calls=${e.failedCalls}`,
      );
    }
    return lines;
  },
  keyspace: (server) => {
    const keys = native.keyCount();
    if (keys === 0) return [];
    // Every key's state ends (a limiter back to full, a lease expired): all keys have an expiry.
    // avg_ttl (ms) is the mean over a sample of whole shards, as Redis's is an estimate.
    native.keyspaceTtlSample(TTL_SAMPLE, server.now, ttlSample);
    return [`db0:keys=${keys},expires=${keys},avg_ttl=${Math.round(ttlSample[1])}`];
  },
};

/** INFO with no argument: Redis's default sections (family sections only with `all`). */
const DEFAULT_SECTIONS = ['server', 'clients', 'memory', 'persistence', 'stats', 'keyspace'];
// (persistence is the persistence family's section: commands/persistence.ts)

/** Every section, in reporting order. */
function allSections(server: Services): Map<string, Section> {
  const all = new Map<string, Section>(Object.entries(HEAD));
  for (const family of server.families) for (const s of family.info ?? []) all.set(s.name, s.lines);
  for (const [name, section] of Object.entries(TAIL)) all.set(name, section);
  return all;
}

export const info: Handler = (ctx, args, w) => {
  const sections = allSections(ctx.server);
  let wanted = args.length === 1 ? DEFAULT_SECTIONS : args.slice(1).map((a) => a.toString().toLowerCase());
  if (wanted.includes('all') || wanted.includes('everything')) wanted = [...sections.keys()];
  else if (wanted.includes('default')) wanted = [...new Set([...DEFAULT_SECTIONS, ...wanted.filter((s) => s !== 'default')])];
  const parts: string[] = [];
  for (const name of wanted) {
    const section = sections.get(name);
    if (section === undefined) continue;
    const title = name === 'commandstats' ? 'Commandstats' : name[0].toUpperCase() + name.slice(1);
    parts.push(`# ${title}\r\n` + section(ctx.server).map((l) => l + '\r\n').join(''));
  }
  w.bulk(parts.join('\r\n'));
};
