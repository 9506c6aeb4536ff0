/**
 * Sluice as a Redis Cluster: three real daemons on local ports with a pushed topology, driven
 * by ioredis's Cluster client and `redis-cli -c` (docs/cluster.md). Limits hold exactly across
 * every slot; multi-key commands need one slot; a pushed topology moves slot state to the new
 * owner; the slot map reads as Redis's; bad topologies are refused with the gap or overlap.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Redis, { Cluster } from 'ioredis';
import { keySlot } from '@sluice/protocol';
import { RawClient, redisCli, resp, startCluster, startDaemon, evenSlots, type LocalCluster } from '../testing';
import { scenario } from '../other-clients';

let cluster: LocalCluster;
let client: Cluster;
const dir = mkdtempSync(path.join(tmpdir(), 'sluice-cluster-'));

/** The config every node loads: policies, and a LiteLLM model list (a group is served by the node owning its name's slot). */
const CONFIG = `
policies:
  rpm3: { limit: 3, per: 60000 }
  tpm100: { limit: 100, per: 60000 }
model_list:
  - model_name: gpt-4o
    litellm_params: { model: openai/gpt-4o, rpm: 3 }
    model_info: { id: gpt-4o-1 }
`;

before(async () => {
  const file = path.join(dir, 'litellm.yaml');
  writeFileSync(file, CONFIG);
  cluster = await startCluster(3, ['--config', file]);
  client = new Cluster([{ host: '127.0.0.1', port: cluster.nodes[0].port }], { redisOptions: { lazyConnect: false } });
  await new Promise<void>((resolve, reject) => {
    client.once('ready', resolve);
    client.once('error', reject);
  });
});

after(async () => {
  client.disconnect();
  await cluster.stop();
});

const portOf = (slot: number): number => {
  const owner = cluster.topology.nodes.find((n) => n.slots.some((r) => {
    const [a, b] = r.split('-').map(Number);
    return slot >= a && slot <= (b ?? a);
  }))!;
  return owner.port;
};

/** Where the RESP value starting at `at` ends, or -1 if `text` does not hold all of it yet. */
function replyEnd(text: string, at: number): number {
  const eol = text.indexOf('\r\n', at);
  if (eol < 0) return -1;
  const type = text[at];
  const n = Number(text.slice(at + 1, eol));
  if (type === '$' || type === '=') return n < 0 ? eol + 2 : text.length >= eol + 2 + n + 2 ? eol + 2 + n + 2 : -1;
  if (type === '*' || type === '%' || type === '~') {
    let end = eol + 2;
    for (let i = 0; i < (type === '%' ? 2 * n : n); i++) {
      end = replyEnd(text, end);
      if (end < 0) return -1;
    }
    return end;
  }
  return eol + 2;
}

/** One command on a fresh connection; resolves with its whole reply (RESP2). */
async function raw(port: number, ...args: string[]): Promise<string> {
  const c = await RawClient.connect(port);
  c.write(resp(...args));
  const text = await c.until((t) => t.length > 0 && replyEnd(t, 0) >= 0);
  c.close();
  return text;
}

test('CLUSTER KEYSLOT answers as Redis (CRC16, hash tags) and as the protocol package computes', async () => {
  const r = new Redis({ port: cluster.nodes[1].port });
  try {
    assert.equal(await r.call('CLUSTER', 'KEYSLOT', '123456789'), 12739);
    assert.equal(await r.call('CLUSTER', 'KEYSLOT', '{user1000}.following'), 3443);
    for (const key of ['a', 'foo{}{bar}', 'foo{{bar}}zap', 'x'.repeat(300), '{tenant:7}:rpm']) {
      assert.equal(await r.call('CLUSTER', 'KEYSLOT', key), keySlot(key), key);
    }
  } finally {
    r.disconnect();
  }
});

test('the slot map reads as Redis writes it: CLUSTER SLOTS, SHARDS, NODES, INFO, MYID', async () => {
  const [a, b, c] = cluster.nodes.map((n) => n.port);
  assert.equal(
    await raw(a, 'CLUSTER', 'SLOTS'),
    `*3\r\n*3\r\n:0\r\n:5460\r\n*4\r\n$9\r\n127.0.0.1\r\n:${a}\r\n$1\r\na\r\n*0\r\n` +
      `*3\r\n:5461\r\n:10921\r\n*4\r\n$9\r\n127.0.0.1\r\n:${b}\r\n$1\r\nb\r\n*0\r\n` +
      `*3\r\n:10922\r\n:16383\r\n*4\r\n$9\r\n127.0.0.1\r\n:${c}\r\n$1\r\nc\r\n*0\r\n`,
  );
  const info = (await raw(b, 'CLUSTER', 'INFO')).split('\r\n');
  assert.ok(info.includes('cluster_state:ok') && info.includes('cluster_slots_assigned:16384') && info.includes('cluster_known_nodes:3') && info.includes('cluster_current_epoch:1'), info.join('|'));
  assert.equal(await raw(b, 'CLUSTER', 'MYID'), '$1\r\nb\r\n');
  const nodes = await raw(c, 'CLUSTER', 'NODES');
  assert.equal(
    nodes.slice(nodes.indexOf('\r\n') + 2, -2),
    `a 127.0.0.1:${a}@0 master - 0 0 1 connected 0-5460\n` +
      `b 127.0.0.1:${b}@0 master - 0 0 1 connected 5461-10921\n` +
      `c 127.0.0.1:${c}@0 myself,master - 0 0 1 connected 10922-16383\n`,
  );
  const shards = await raw(a, 'CLUSTER', 'SHARDS');
  assert.ok(shards.startsWith(`*3\r\n*4\r\n$5\r\nslots\r\n*2\r\n:0\r\n:5460\r\n$5\r\nnodes\r\n*1\r\n*14\r\n$2\r\nid\r\n$1\r\na\r\n$4\r\nport\r\n:${a}\r\n$2\r\nip\r\n$9\r\n127.0.0.1\r\n`), shards);
  const hello = await raw(a, 'HELLO', '3');
  assert.match(hello, /\$4\r\nmode\r\n\$7\r\ncluster\r\n/);
  for (const cmd of ['READONLY', 'READWRITE', 'ASKING']) assert.equal(await raw(a, cmd), '+OK\r\n');
});

test('ioredis Cluster hits keys across all slots and every limit holds exactly', async () => {
  // One key in every one of the 16384 slots (a hash tag found for each).
  const keys: string[] = new Array(16384);
  let found = 0;
  for (let i = 0; found < 16384; i++) {
    const slot = keySlot(String(i));
    if (keys[slot] === undefined) {
      keys[slot] = `{${i}}:user`;
      found++;
    }
  }
  // Each key is hit 3 times against a limit of 2, 3000 calls in flight at a time: exactly 2
  // admitted per key, on whichever node serves its slot.
  const admitted = new Array<number>(keys.length).fill(0);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < keys.length * 3; i = next++) {
      const k = i % keys.length;
      const r = (await client.call('RL.HIT', keys[k], 'LIMIT', '2', 'PER', '600000')) as number[];
      admitted[k] += r[0];
    }
  };
  await Promise.all(Array.from({ length: 3000 }, worker));
  const wrong = admitted.findIndex((n) => n !== 2);
  assert.equal(wrong, -1, `slot ${wrong}: ${keys[wrong]} admitted ${admitted[wrong]}`);
  // Each node holds exactly the keys of its own slots.
  let total = 0;
  for (const n of cluster.nodes) {
    const r = new Redis({ port: n.port });
    const held = (await r.call('KEYS', '*:user')) as string[];
    r.disconnect();
    for (const k of held) assert.equal(portOf(keySlot(k)), n.port, `${k} on its owner`);
    const own = cluster.topology.nodes.find((t) => t.port === n.port)!.slots[0].split('-').map(Number);
    assert.equal(held.length, own[1] - own[0] + 1, `node on ${n.port} holds one key per slot it serves`);
    total += held.length;
  }
  assert.equal(total, keys.length);
  // Leases and CL.THROTTLE too: a semaphore of 2 gives out exactly 2 across the cluster.
  const sem = (await Promise.all(Array.from({ length: 5 }, () => client.call('SEM.ACQUIRE', 'sem:x', '2', 'TTL', '60000')))) as number[][];
  assert.equal(sem.filter((s) => s[0] === 1).length, 2);
});

for (const other of ['redis-py', 'go-redis'] as const) {
  test(`${other}'s cluster client routes by COMMAND's key positions: every limit holds on its node`, async () => {
    const out = await scenario(other, cluster.nodes[0].port, 'cluster', '60');
    const admitted = out.admitted as Record<string, number>;
    assert.equal(Object.keys(admitted).length, 60);
    for (const [key, n] of Object.entries(admitted)) assert.equal(n, 2, key);
    assert.equal(out.tokens, 2);
    // The keys are on their slots' nodes.
    const prefix = other === 'redis-py' ? 'py' : 'go';
    for (const n of cluster.nodes) {
      const held = (await raw(n.port, 'KEYS', `${prefix}:*`)).split('\r\n').filter((l) => l.startsWith(`${prefix}:`));
      for (const k of held) assert.equal(portOf(keySlot(k)), n.port, k);
    }
  });
}

test('a node answers keys it does not own with MOVED, and redis-cli -c follows it', async () => {
  const key = 'moved-key';
  const slot = keySlot(key);
  const owner = portOf(slot);
  const other = cluster.nodes.find((n) => n.port !== owner)!.port;
  assert.equal(await raw(other, 'RL.HIT', key, 'LIMIT', '2', 'PER', '60000'), `-MOVED ${slot} 127.0.0.1:${owner}\r\n`);
  assert.equal((await redisCli(other, ['-c', 'RL.HIT', key, 'LIMIT', '2', 'PER', '60000'])).split('\n')[0], '1');
  assert.equal((await redisCli(other, ['-c', 'RL.HIT', key, 'LIMIT', '2', 'PER', '60000'])).split('\n')[0], '1');
  assert.equal((await redisCli(other, ['-c', 'RL.HIT', key, 'LIMIT', '2', 'PER', '60000'])).split('\n')[0], '0');
  // Keyless commands are answered by any node.
  for (const n of cluster.nodes) assert.equal(await raw(n.port, 'TOK.COUNT', 'cl100k_base', 'hello world'), ':2\r\n');
  // A MOVED in MULTI aborts the transaction, as in Redis.
  const c = await RawClient.connect(other);
  await c.send(resp('MULTI'), '+OK\r\n');
  await c.send(resp('RL.HIT', key, 'LIMIT', '2', 'PER', '60000'), '-MOVED');
  assert.match(await c.send(resp('EXEC'), '\r\n'), /^-EXECABORT/);
  c.close();
});

test('RL.ALL with a hash tag is served by one node; without one it gets CROSSSLOT', async () => {
  const tagged = ['RL.ALL', '2', '{team:7}:rpm', 'rpm3', '1', '{team:7}:tpm', 'tpm100', '10'];
  for (let i = 0; i < 3; i++) assert.equal(((await client.call(tagged[0], ...tagged.slice(1))) as number[])[0], 1);
  assert.equal(((await client.call(tagged[0], ...tagged.slice(1))) as number[])[0], 0);
  assert.notEqual(keySlot('u:1'), keySlot('u:2'));
  await assert.rejects(client.call('RL.ALL', '2', 'u:1', 'rpm3', '1', 'u:2', 'rpm3', '1'), /^ReplyError: CROSSSLOT Keys in request don't hash to the same slot$/);
  await assert.rejects(client.call('RL.RESET', 'u:1', 'u:2'), /CROSSSLOT/);
  assert.equal(await client.call('RL.RESET', '{team:7}:rpm', '{team:7}:tpm'), 2);
});

test('a routing group is served by the node owning its name, reachable through the cluster client', async () => {
  const slot = keySlot('gpt-4o');
  const owner = portOf(slot);
  const other = cluster.nodes.find((n) => n.port !== owner)!.port;
  assert.equal(await raw(other, 'ROUTE.PICK', 'gpt-4o'), `-MOVED ${slot} 127.0.0.1:${owner}\r\n`);
  const picks = [];
  for (let i = 0; i < 4; i++) picks.push(await client.call('ROUTE.PICK', 'gpt-4o').catch((e: Error) => e.message));
  // rpm 3: three picks, then none left this minute.
  assert.equal(picks.filter((p) => Array.isArray(p)).length, 3, JSON.stringify(picks));
  const lease = (picks[0] as string[])[3];
  assert.equal(keySlot(lease), slot, 'the lease hashes to its group\'s slot');
  assert.equal(await client.call('ROUTE.DONE', lease), 1);
});

test('SLUICE.CLUSTER SETTOPOLOGY moves a slot and its keys keep their state on the new owner', async () => {
  const key = 'quota:{moving}';
  const slot = keySlot(key);
  const from = cluster.nodes.findIndex((n) => n.port === portOf(slot));
  const to = (from + 1) % 3;
  for (let i = 0; i < 3; i++) await client.call('RL.HIT', key, 'LIMIT', '5', 'PER', '60000');
  await client.call('SEM.ACQUIRE', '{moving}:sem', '3', 'TTL', '60000');
  // An older or equal version is refused, and so is a topology with a gap.
  const same = await cluster.push(cluster.topology, [0]);
  assert.deepEqual(same, ['+OK'], 'the same topology again is a retry, not a change');
  const older = await cluster.push({ ...cluster.topology, version: 0 }, [0]);
  assert.match(older[0], /^-ERR the cluster topology's version must be a whole number of at least 1/);
  const gap = { version: 2, nodes: cluster.topology.nodes.map((n, i) => ({ ...n, slots: i === 0 ? ['0-5000'] : n.slots })) };
  assert.deepEqual(await cluster.push(gap, [0]), ['-ERR slots 5001-5460 are not assigned to any node: every slot 0-16383 needs exactly one node']);
  // Version 2 gives the key's slot to `to`. The old owner gets it first: it hands the key over.
  const nodes = cluster.topology.nodes.map((n) => ({ ...n, slots: [...n.slots] }));
  nodes[to].slots.push(String(slot));
  nodes[from].slots = nodes[from].slots.flatMap((r) => {
    const [a, b] = r.split('-').map(Number);
    const parts = [];
    if (slot > a) parts.push(`${a}-${slot - 1}`);
    if (slot < b) parts.push(`${slot + 1}-${b}`);
    return parts;
  });
  const v2 = { version: 2, nodes };
  // The slot's keys on the old owner: this test's two, and any earlier test left there.
  const held = await raw(cluster.nodes[from].port, 'CLUSTER', 'COUNTKEYSINSLOT', String(slot));
  assert.ok(Number(held.slice(1)) >= 2, held);
  assert.deepEqual(await cluster.push(v2, [from, to, 3 - from - to]), ['+OK', '+OK', '+OK']);
  cluster.topology = v2;
  assert.match(await raw(cluster.nodes[from].port, 'RL.PEEK', key, 'LIMIT', '5', 'PER', '60000'), new RegExp(`^-MOVED ${slot} 127.0.0.1:${cluster.nodes[to].port}`));
  // On the new owner the key has 2 left, not 5: the rebalance did not reset it.
  const peek = (await raw(cluster.nodes[to].port, 'RL.PEEK', key, 'LIMIT', '5', 'PER', '60000')).split('\r\n');
  assert.equal(peek[3], ':2', peek.join('|'));
  assert.equal(await raw(cluster.nodes[to].port, 'SEM.COUNT', '{moving}:sem'), ':1\r\n');
  assert.equal(await raw(cluster.nodes[from].port, 'CLUSTER', 'COUNTKEYSINSLOT', String(slot)), ':0\r\n');
  assert.equal(await raw(cluster.nodes[to].port, 'CLUSTER', 'COUNTKEYSINSLOT', String(slot)), held);
  // The cluster client follows the move (MOVED, then a refreshed slot map).
  assert.equal(((await client.call('RL.HIT', key, 'LIMIT', '5', 'PER', '60000')) as number[])[2], 1);
  assert.equal(((await client.call('RL.HIT', key, 'LIMIT', '5', 'PER', '60000')) as number[])[2], 0);
  assert.equal(((await client.call('RL.HIT', key, 'LIMIT', '5', 'PER', '60000')) as number[])[0], 0);
  const topology = await raw(cluster.nodes[2].port, 'SLUICE.CLUSTER', 'TOPOLOGY');
  assert.equal(JSON.parse(topology.slice(topology.indexOf('\r\n') + 2, -2)).version, 2);
});

test('a handoff to a node that is down fails with what to do, and the keys stay until a retry', async () => {
  const extra = await startDaemon(['--cluster-enabled', 'yes', '--cluster-node-id', 'd']);
  try {
    const key = 'handoff:{retry}';
    const slot = keySlot(key);
    await client.call('RL.HIT', key, 'LIMIT', '5', 'PER', '60000');
    const fromIndex = cluster.nodes.findIndex((n) => n.port === portOf(slot));
    // Version 3: node d (port 1, where nothing listens) takes the key's slot.
    const nodes = cluster.topology.nodes.map((n) => ({ ...n, slots: [...n.slots] }));
    nodes[fromIndex].slots = nodes[fromIndex].slots.flatMap((r) => {
      const [a, b = a] = r.split('-').map(Number);
      if (slot < a || slot > b) return [r];
      return [...(slot > a ? [`${a}-${slot - 1}`] : []), ...(slot < b ? [`${slot + 1}-${b}`] : [])];
    });
    const down = { version: 3, nodes: [...nodes, { id: 'd', host: '127.0.0.1', port: 1, slots: [String(slot)] }] };
    const held = await raw(cluster.nodes[fromIndex].port, 'CLUSTER', 'COUNTKEYSINSLOT', String(slot));
    const [reply] = await cluster.push(down, [fromIndex]);
    assert.match(reply, new RegExp(`^-ERR topology version 3 is in force, but handing slot state over failed: ${held.slice(1, -2)} key\\(s\\) to 'd'`));
    assert.match(reply, /to 'd' \(127\.0\.0\.1:1\): .*push the same topology again to retry$/);
    assert.equal(await raw(cluster.nodes[fromIndex].port, 'CLUSTER', 'COUNTKEYSINSLOT', String(slot)), held);
    // d comes up at its real address in version 4: the retry sends the key there.
    const up = { version: 4, nodes: [...nodes, { id: 'd', host: '127.0.0.1', port: extra.port, slots: [String(slot)] }] };
    assert.deepEqual(await cluster.push(up, [fromIndex]), ['+OK']);
    assert.equal(await raw(extra.port, 'SLUICE.CLUSTER', 'SETTOPOLOGY', JSON.stringify(up)), '+OK\r\n');
    assert.equal((await raw(extra.port, 'RL.PEEK', key, 'LIMIT', '5', 'PER', '60000')).split('\r\n')[3], ':4');
    // Back to the three nodes (version 5), d handing the key back.
    const back = { version: 5, nodes: cluster.topology.nodes };
    assert.equal(await raw(extra.port, 'SLUICE.CLUSTER', 'SETTOPOLOGY', JSON.stringify(back)), '+OK\r\n');
    assert.deepEqual(await cluster.push(back), ['+OK', '+OK', '+OK']);
    cluster.topology = back;
    assert.equal((await raw(portOf(slot), 'RL.PEEK', key, 'LIMIT', '5', 'PER', '60000')).split('\r\n')[3], ':4');
  } finally {
    await extra.stop();
  }
});

test('without cluster-enabled, CLUSTER answers as a standalone Redis does', async () => {
  const d = await startDaemon();
  try {
    for (const cmd of [['CLUSTER', 'INFO'], ['CLUSTER', 'SLOTS'], ['CLUSTER', 'KEYSLOT', 'a'], ['READONLY'], ['READWRITE'], ['ASKING'], ['SLUICE.CLUSTER', 'SETTOPOLOGY', '{}']]) {
      assert.equal(await raw(d.port, ...cmd), '-ERR This instance has cluster support disabled\r\n', cmd.join(' '));
    }
    assert.equal(await raw(d.port, 'CLUSTER'), "-ERR wrong number of arguments for 'cluster' command\r\n");
    assert.match(await raw(d.port, 'INFO', 'cluster'), /cluster_enabled:0/);
    assert.equal((await raw(d.port, 'RL.HIT', 'a', 'LIMIT', '1', 'PER', '1000')).split('\r\n')[1], ':1');
  } finally {
    await d.stop();
  }
});

test('cluster-enabled without a topology: keyed commands get CLUSTERDOWN until one is pushed', async () => {
  const d = await startDaemon(['--cluster-enabled', 'yes', '--cluster-node-id', 'a']);
  try {
    assert.equal(await raw(d.port, 'RL.HIT', 'k', 'LIMIT', '1', 'PER', '1000'), '-CLUSTERDOWN Hash slot not served\r\n');
    assert.match(await raw(d.port, 'CLUSTER', 'INFO'), /^\$\d+\r\ncluster_state:fail\r\ncluster_slots_assigned:0\r\n/);
    assert.equal(await raw(d.port, 'CLUSTER', 'SLOTS'), '*0\r\n');
    assert.equal(await raw(d.port, 'SLUICE.CLUSTER', 'TOPOLOGY'), '$-1\r\n');
    assert.equal(await raw(d.port, 'TOK.COUNT', 'cl100k_base', 'hi'), ':1\r\n');
    const all = { version: 1, nodes: [{ id: 'a', host: '127.0.0.1', port: d.port, slots: ['0-16383'] }] };
    assert.equal(await raw(d.port, 'SLUICE.CLUSTER', 'SETTOPOLOGY', `cluster:\n  ${JSON.stringify(all)}`.replace('cluster:\n  ', 'cluster: ')), '+OK\r\n');
    assert.equal((await raw(d.port, 'RL.HIT', 'k', 'LIMIT', '1', 'PER', '1000')).split('\r\n')[1], ':1');
  } finally {
    await d.stop();
  }
});

test('a topology with a gap, an overlap or without this node is refused at start, naming it', async () => {
  const start = async (cluster: string, id = 'a'): Promise<string> => {
    const file = path.join(dir, `bad-${Math.random()}.yaml`);
    writeFileSync(file, cluster);
    const err = await startDaemon(['--config', file, '--cluster-enabled', 'yes', '--cluster-node-id', id]).then(
      (d) => d.stop().then(() => 'started'),
      (e: Error) => e.message,
    );
    return err;
  };
  const nodes = (slots: string[]) => slots.map((s, i) => `    - { id: ${'abc'[i]}, host: 127.0.0.1, port: ${7101 + i}, slots: [${s}] }`).join('\n');
  assert.match(await start(`cluster:\n  version: 1\n  nodes:\n${nodes(['"0-5460"', '"5461-10922"', '"10923-16382"'])}\n`), /cluster: slots 16383 are not assigned to any node/);
  assert.match(await start(`cluster:\n  version: 1\n  nodes:\n${nodes(['"0-5460"', '"5400-10922"', '"10923-16383"'])}\n`), /cluster: slots 5400-5460 are assigned to both 'a' and 'b'/);
  assert.match(await start(`cluster:\n  version: 1\n  nodes:\n${nodes(['"0-16383"'])}\n`, 'z'), /cluster-node-id 'z' is not a node of the cluster topology \(version 1: a\)/);
  assert.match(await start(`cluster:\n  version: 1\n  nodes:\n${nodes(['"0-16383"'])}\n`, ''), /cluster-enabled is yes but cluster-node-id is not set/);
  assert.match(await start(`cluster:\n  version: 1\n  nodes:\n${nodes(['"0-20000"'])}\n`), /slot range 0-20000 is not within 0-16383/);
  // A good file: this node serves its slots, the others' are MOVED to the addresses given.
  const file = path.join(dir, 'good.yaml');
  writeFileSync(file, `cluster:\n  version: 7\n  nodes:\n${nodes(evenSlots(3).map((s) => `"${s}"`))}\n`);
  const d = await startDaemon(['--config', file, '--cluster-enabled', 'yes'], { SLUICE_CLUSTER_NODE_ID: 'b' });
  try {
    assert.equal(await raw(d.port, 'CLUSTER', 'MYID'), '$1\r\nb\r\n');
    assert.equal(await raw(d.port, 'RL.HIT', 'a', 'LIMIT', '1', 'PER', '1000'), `-MOVED ${keySlot('a')} 127.0.0.1:7103\r\n`);
    assert.equal(await raw(d.port, 'SLUICE.CLUSTER', 'SETTOPOLOGY', 'version: 7\nnodes: []'), '-ERR the cluster topology needs a list of nodes\r\n');
    assert.equal(await raw(d.port, 'SLUICE.CLUSTER', 'SETTOPOLOGY', '{"version": 6, "nodes": [{"id": "b", "host": "h", "port": 1, "slots": ["0-16383"]}]}'), '-ERR topology version 6 is not above the current version 7: push it with a higher version\r\n');
    assert.match(await raw(d.port, 'SLUICE.CLUSTER', 'SETTOPOLOGY', '{'), /^-ERR the topology is neither valid YAML nor JSON: /);
    assert.equal(await raw(d.port, 'CLUSTER', 'COUNTKEYSINSLOT', '16384'), '-ERR Invalid slot\r\n');
    assert.equal(await raw(d.port, 'CLUSTER', 'COUNTKEYSINSLOT', 'x'), '-ERR value is not an integer or out of range\r\n');
    assert.equal(await raw(d.port, 'CLUSTER', 'FOO'), "-ERR unknown subcommand 'FOO'. Try CLUSTER HELP.\r\n");
    assert.equal(await raw(d.port, 'SLUICE.CLUSTER', 'IMPORT', 'garbage'), '-ERR cannot take in the handed-over state: truncated: 7 bytes, shorter than the 64 bytes of an empty snapshot\r\n');
  } finally {
    await d.stop();
  }
});

test('a pushed topology survives a restart, and restored keys of slots another node serves are dropped', async () => {
  const data = mkdtempSync(path.join(tmpdir(), 'sluice-cluster-restart-'));
  const args = ['--cluster-enabled', 'yes', '--cluster-node-id', 'a', '--dir', data];
  let d = await startDaemon(args);
  const key = 'restart:{k}';
  const slot = keySlot(key);
  const v1 = { version: 1, nodes: [{ id: 'a', host: '127.0.0.1', port: d.port, slots: ['0-16383'] }] };
  assert.equal(await raw(d.port, 'SLUICE.CLUSTER', 'SETTOPOLOGY', JSON.stringify(v1)), '+OK\r\n');
  await raw(d.port, 'RL.HIT', key, 'LIMIT', '5', 'PER', '60000');
  await raw(d.port, 'RL.HIT', 'stays', 'LIMIT', '5', 'PER', '60000');
  // Version 2 gives the key's slot to b, which is not there: the key stays here for now.
  const rest = [...(slot > 0 ? [`0-${slot - 1}`] : []), ...(slot < 16383 ? [`${slot + 1}-16383`] : [])];
  const v2 = { version: 2, nodes: [{ id: 'a', host: '127.0.0.1', port: d.port, slots: rest }, { id: 'b', host: '127.0.0.1', port: 1, slots: [String(slot)] }] };
  assert.match(await raw(d.port, 'SLUICE.CLUSTER', 'SETTOPOLOGY', JSON.stringify(v2)), /^-ERR topology version 2 is in force, but handing slot state over failed/);
  assert.equal(await raw(d.port, 'DBSIZE'), ':2\r\n');
  await d.stop();
  d = await startDaemon(args);
  try {
    assert.match(await raw(d.port, 'CLUSTER', 'INFO'), /cluster_current_epoch:2\r\n/);
    assert.equal(await raw(d.port, 'DBSIZE'), ':1\r\n');
    assert.match(d.output(), /dropped 1 restored key\(s\) of slots other nodes serve/);
  } finally {
    await d.stop();
  }
});

test('with requirepass, a node AUTHs to hand over more state than an unauthenticated client may send', async () => {
  const args = (id: string) => ['--cluster-enabled', 'yes', '--cluster-node-id', id, '--requirepass', 'pw'];
  const [a, b] = await Promise.all([startDaemon(args('a')), startDaemon(args('b'))]);
  const authed = async (port: number) => {
    const c = await RawClient.connect(port);
    await c.send(resp('AUTH', 'pw'), '+OK\r\n');
    return c;
  };
  try {
    const topology = (owner: number, version: number) => ({
      version,
      nodes: [
        { id: 'a', host: '127.0.0.1', port: a.port, slots: owner === 0 ? ['0-16383'] : [] },
        { id: 'b', host: '127.0.0.1', port: b.port, slots: owner === 1 ? ['0-16383'] : [] },
      ],
    });
    const ca = await authed(a.port);
    const cb = await authed(b.port);
    await ca.send(resp('SLUICE.CLUSTER', 'SETTOPOLOGY', JSON.stringify(topology(0, 1))), '+OK\r\n');
    await cb.send(resp('SLUICE.CLUSTER', 'SETTOPOLOGY', JSON.stringify(topology(0, 1))), '+OK\r\n');
    // 3000 keys: the handoff is far over the 16 KB a client may send before AUTH.
    const hits = Buffer.concat(Array.from({ length: 3000 }, (_, i) => resp('RL.HIT', `key:${i}`, 'LIMIT', '5', 'PER', '600000')));
    const before = ca.received.length;
    ca.write(hits);
    await ca.until((t) => (t.slice(before).match(/\*5\r\n/g) ?? []).length === 3000, 30_000);
    assert.equal(await ca.send(resp('SLUICE.CLUSTER', 'SETTOPOLOGY', JSON.stringify(topology(1, 2))), '\r\n'), '+OK\r\n');
    assert.equal(await ca.send(resp('DBSIZE'), '\r\n'), ':0\r\n');
    assert.equal(await cb.send(resp('DBSIZE'), '\r\n'), ':3000\r\n');
    assert.equal(await cb.send(resp('SLUICE.CLUSTER', 'SETTOPOLOGY', JSON.stringify(topology(1, 2))), '\r\n'), '+OK\r\n');
    const reply = await raw(b.port, 'RL.PEEK', 'key:2999', 'LIMIT', '5', 'PER', '600000');
    assert.match(reply, /^-NOAUTH/, 'a fresh connection to b must AUTH');
    const peek = cb.received.length;
    cb.write(resp('RL.PEEK', 'key:2999', 'LIMIT', '5', 'PER', '600000'));
    const answer = (await cb.until((t) => replyEnd(t, peek) >= 0)).slice(peek);
    assert.equal(answer.split('\r\n')[3], ':4', answer);
    ca.close();
    cb.close();
  } finally {
    await Promise.all([a.stop(), b.stop()]);
  }
});
