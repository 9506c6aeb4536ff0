/**
 * The client over an ioredis Cluster (three real Sluice nodes, docs/cluster.md): keyed calls go
 * straight to the node of their slot (no MOVED on the way), limits hold exactly across the
 * cluster, a pipeline may span slots, and routing groups are reached on their node.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Redis, { Cluster } from 'ioredis';
import { startCluster, type LocalCluster } from '@sluice/daemon/dist/testing';
import { SluiceClient } from './index';

let cluster: LocalCluster;
let redis: Cluster;
let sluice: SluiceClient;

before(async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'sluice-client-cluster-'));
  const file = path.join(dir, 'sluice.yaml');
  writeFileSync(file, 'policies:\n  rpm: { limit: 4, per: 60000 }\nmodel_list:\n  - model_name: chat\n    litellm_params: { model: openai/gpt-4o, rpm: 2 }\n    model_info: { id: chat-1 }\n');
  cluster = await startCluster(3, ['--config', file]);
  redis = new Cluster([{ host: '127.0.0.1', port: cluster.nodes[0].port }]);
  sluice = new SluiceClient(redis);
});

after(async () => {
  redis.disconnect();
  await cluster.stop();
});

/** MOVED (and CROSSSLOT) replies count as rejected calls in each node's INFO commandstats. */
async function rejectedCalls(): Promise<number> {
  let total = 0;
  for (const n of cluster.nodes) {
    const r = new Redis({ port: n.port });
    const stats = (await r.call('INFO', 'commandstats')) as string;
    r.disconnect();
    for (const m of stats.matchAll(/rejected_calls=(\d+)/g)) total += Number(m[1]);
  }
  return total;
}

test('SluiceClient accepts an ioredis Cluster: every limit holds exactly, with no redirect', async () => {
  const before = await rejectedCalls();
  const keys = Array.from({ length: 90 }, (_, i) => `tenant:${i}`);
  const results = await Promise.all(keys.flatMap((key) => Array.from({ length: 6 }, () => sluice.limits.hit(key, { policy: 'rpm' }))));
  for (let k = 0; k < keys.length; k++) {
    assert.equal(results.slice(k * 6, k * 6 + 6).filter((r) => r.allowed).length, 4, keys[k]);
  }
  const lease = await sluice.leases.acquire('{tenant:1}:jobs', 1);
  assert.ok(lease.acquired);
  assert.equal((await sluice.all([{ key: '{tenant:2}:a', policy: 'rpm', cost: 1 }, { key: '{tenant:2}:b', policy: 'rpm', cost: 1 }])).allowed, true);
  assert.equal(await rejectedCalls(), before, 'every call went straight to its slot\'s node');
});

test('a client pipeline may span slots across the cluster', async () => {
  const p = sluice.pipeline();
  for (let i = 0; i < 10; i++) p.hit(`pipe:${i}`, { limit: 1, perMs: 60_000 });
  p.hit('pipe:0', { limit: 1, perMs: 60_000 });
  const out = (await p.exec()) as { allowed: boolean }[];
  assert.deepEqual(out.map((r) => r.allowed), [...Array(10).fill(true), false]);
});

test('a routing group is reached on the node owning it, and its lease settles there', async () => {
  const first = await sluice.route.pick('chat');
  assert.equal(first.deployment, 'chat-1');
  await sluice.route.pick('chat');
  // rpm 2, counted on the one node that serves the group.
  await assert.rejects(sluice.route.pick('chat'), (err: Error) => err.name === 'NoDeploymentError');
  assert.equal(await first.done(), true);
  assert.equal(await first.done(), false);
  // Keyless calls are answered by any node.
  assert.equal(await sluice.tokens.count('gpt-4o', 'hello world'), 2);
});
