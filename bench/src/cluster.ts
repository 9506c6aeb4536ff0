/**
 * The cluster path's cost (issue 15, docs/cluster.md): the same RL.HIT load through the client
 * in client/ on a single node, on a one-node cluster and on a three-node cluster, in one run.
 * On a 2-core machine three nodes cannot scale; the point is correctness (every key admits
 * exactly its limit) and the per-request overhead of the cluster path against a single node:
 * the slot check in dispatch, the native fast path being off in cluster mode, and ioredis
 * Cluster's routing in the client.
 */
import { Cluster, Redis } from 'ioredis';
import { SluiceClient } from '@sluice/client';
import { startSluice, type Server } from './procs';
import { RespClient } from './resp';
import { type ClusterRow, type Options, ScenarioFailure } from './types';

/** Requests in flight at once (async workers, each awaiting its own calls one by one). */
const CONCURRENCY = 64;
const KEYS = 1000;

interface Setup {
  name: string;
  nodes: number;
  fastPath: boolean;
  cluster: boolean;
  command: string;
}

const SETUPS: Setup[] = [
  { name: 'single node, fast path on (default)', nodes: 1, fastPath: true, cluster: false, command: 'npm start' },
  { name: 'single node, fast path off', nodes: 1, fastPath: false, cluster: false, command: 'npm start -- --native-fast-path no' },
  { name: 'cluster of 1 node (all slots)', nodes: 1, fastPath: false, cluster: true, command: 'npm start -- --cluster-enabled yes --cluster-node-id a' },
  { name: 'cluster of 3 nodes', nodes: 3, fastPath: false, cluster: true, command: 'three of: npm start -- --cluster-enabled yes --cluster-node-id a|b|c' },
];

/** Starts a setup's nodes and pushes its topology; resolves with a client over them. */
async function open(setup: Setup): Promise<{ client: SluiceClient; servers: Server[]; close(): Promise<void> }> {
  const ids = ['a', 'b', 'c'].slice(0, setup.nodes);
  const servers = await Promise.all(
    ids.map((id) => startSluice(setup.cluster ? ['--cluster-enabled', 'yes', '--cluster-node-id', id] : setup.fastPath ? [] : ['--native-fast-path', 'no'])),
  );
  let redis: Redis | Cluster;
  if (setup.cluster) {
    const topology = {
      version: 1,
      nodes: servers.map((s, i) => ({ id: ids[i], host: '127.0.0.1', port: s.port, slots: [`${Math.floor((i * 16384) / servers.length)}-${Math.floor(((i + 1) * 16384) / servers.length) - 1}`] })),
    };
    for (const s of servers) {
      const c = await RespClient.connect(s.port);
      const reply = await c.call('SLUICE.CLUSTER', 'SETTOPOLOGY', JSON.stringify(topology));
      c.close();
      if (reply !== 'OK') throw new ScenarioFailure(`SLUICE.CLUSTER SETTOPOLOGY on port ${s.port} answered ${String(reply)}`);
    }
    redis = new Cluster([{ host: '127.0.0.1', port: servers[0].port }]);
  } else {
    redis = new Redis({ host: '127.0.0.1', port: servers[0].port });
  }
  await new Promise<void>((resolve, reject) => {
    redis.once('ready', () => resolve());
    redis.once('error', reject);
  });
  return {
    client: new SluiceClient(redis),
    servers,
    close: async () => {
      redis.disconnect();
      await Promise.all(servers.map((s) => s.stop()));
    },
  };
}

/** `requests` RL.HIT over KEYS keys, CONCURRENCY at a time; returns the seconds taken and the admitted count per key. */
async function load(client: SluiceClient, prefix: string, requests: number, limit: number): Promise<{ seconds: number; admitted: number[] }> {
  const admitted = new Array<number>(KEYS).fill(0);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < requests; i = next++) {
      const k = i % KEYS;
      const r = await client.limits.hit(`${prefix}:${k}`, { limit, perMs: 3_600_000, algo: 'fixed' });
      if (r.allowed) admitted[k]++;
    }
  };
  const t0 = process.hrtime.bigint();
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return { seconds: Number(process.hrtime.bigint() - t0) / 1e9, admitted };
}

export async function clusterOverhead(opts: Options): Promise<ClusterRow[]> {
  const requests = opts.quick ? 20_000 : 200_000;
  const runs = opts.quick ? 1 : 3;
  const perKey = requests / KEYS;
  // Half of each key's hits are admitted: refusals are part of the load, and exactness is checked.
  const limit = Math.floor(perKey / 2);
  const rows: ClusterRow[] = [];
  for (const setup of SETUPS) {
    const { client, close } = await open(setup);
    try {
      // The client process's JIT warms up on every setup alike before anything is timed.
      await load(client, 'warmup', Math.min(requests, 10_000), limit);
      const seconds: number[] = [];
      let exact = true;
      let detail = `every key admitted exactly ${limit} of ${perKey}`;
      for (let run = 0; run < runs; run++) {
        const r = await load(client, `run${run}`, requests, limit);
        seconds.push(r.seconds);
        const wrong = r.admitted.findIndex((n) => n !== limit);
        if (wrong >= 0) {
          exact = false;
          detail = `key run${run}:${wrong} admitted ${r.admitted[wrong]}, not ${limit}`;
        }
      }
      seconds.sort((a, b) => a - b);
      const median = seconds[Math.floor(seconds.length / 2)];
      rows.push({
        setup: setup.name,
        nodes: setup.nodes,
        requests,
        concurrency: CONCURRENCY,
        runs,
        seconds: median,
        rps: requests / median,
        usPerRequest: (median * 1e6) / requests,
        exact,
        detail,
        command: setup.command,
      });
      opts.log(`  ${setup.name}: ${(requests / median).toFixed(0)} RL.HIT/s, ${((median * 1e6) / requests).toFixed(1)} us per request; ${detail}`);
    } finally {
      await close();
    }
  }
  const failed = rows.filter((r) => !r.exact);
  if (failed.length > 0) throw new ScenarioFailure(`limits not exact: ${failed.map((r) => `${r.setup}: ${r.detail}`).join('; ')}`);
  return rows;
}
