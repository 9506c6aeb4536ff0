// docker-compose.yml's three-node cluster profile, run without Docker (this machine has no
// engine): each node is started with exactly the environment its service gives it and the
// file the service mounts (examples/cluster/cluster.yaml), then used as the file's comment says.
// What this cannot check is the image itself (the Dockerfile's build).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { redisCli, startDaemon, type Daemon } from './testing';

const ROOT = path.join(__dirname, '..', '..');

interface Service {
  profiles?: string[];
  environment?: Record<string, string>;
  volumes?: string[];
}

/** `${NAME:-default}` as compose expands it, from an empty shell environment. */
const expand = (value: string) => value.replace(/\$\{[A-Z_]+:-([^}]*)\}/g, '$1');

const compose = parse(readFileSync(path.join(ROOT, 'docker-compose.yml'), 'utf8'), { merge: true }) as { services: Record<string, Service> };
const clusterServices = Object.entries(compose.services).filter(([, s]) => s.profiles?.includes('cluster'));
const nodes: Daemon[] = [];

before(async () => {
  for (const [name, service] of clusterServices) {
    const env: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(service.environment ?? {})) env[k] = expand(String(v));
    // The mounted files, at their place in this checkout.
    for (const volume of service.volumes ?? []) {
      const [from, to] = volume.split(':');
      if (from.startsWith('./') && env.SLUICE_CONFIG === to) env.SLUICE_CONFIG = path.join(ROOT, from);
    }
    assert.ok(env.SLUICE_CONFIG?.startsWith(ROOT), `${name}: its config file is mounted from this repository`);
    nodes.push(await startDaemon([], env, { portFromSettings: true }));
  }
});

after(async () => {
  await Promise.all(nodes.map((n) => n.stop()));
});

test('the cluster profile has three nodes, on the ports its topology names', () => {
  assert.deepEqual(clusterServices.map(([name]) => name), ['sluice-a', 'sluice-b', 'sluice-c']);
  assert.deepEqual(nodes.map((n) => n.port), [7101, 7102, 7103]);
});

test("the profile's comment works: redis-cli -c follows MOVED across its nodes, and every node knows the slot map", async () => {
  const key = `compose:${process.pid}`;
  const replies = [];
  for (const port of [7101, 7102, 7103]) replies.push(await redisCli(port, ['-c', 'RL.HIT', key, 'LIMIT', '5', 'PER', '60000']));
  // One key, one owner: three hits from three entry points take 3 of its 5.
  assert.deepEqual(replies.map((r) => r.split('\n')[2]), ['4', '3', '2']);
  for (const port of [7101, 7102, 7103]) {
    const info = await redisCli(port, ['CLUSTER', 'INFO']);
    assert.match(info, /cluster_state:ok/);
    assert.match(info, /cluster_known_nodes:3/);
    assert.match(await redisCli(port, ['CLUSTER', 'MYID']), new RegExp(`^${'abc'[port - 7101]}`));
  }
  // The policies of the shared file are on every node.
  assert.match(await redisCli(7102, ['-c', 'RL.HIT', `${key}:p`, 'POLICY', 'user-rpm']), /^1\n60\n59\n/);
});
