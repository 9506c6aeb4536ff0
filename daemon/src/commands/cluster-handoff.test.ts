/**
 * Slot handoffs between real daemons (docs/cluster.md, "Changing the topology"): a routing
 * group whose slot moves keeps its live state (in-flight leases, the minute's rpm, cooldowns,
 * failures, latency) on the new owner, where leases picked before the move are done; and a
 * node with `tls-cluster yes` hands slot state over TLS to a node the topology gives only a
 * `tls-port`, verifying it with a CA made here by openssl.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Redis, { Cluster } from 'ioredis';
import { keySlot } from '@sluice/protocol';
import { freePort, openssl, RawClient, resp, startCluster, startDaemon, type Daemon } from '../testing';

const dir = mkdtempSync(path.join(tmpdir(), 'sluice-handoff-'));
const file = (name: string) => path.join(dir, name);
after(() => rmSync(dir, { recursive: true, force: true }));

/** One command on a fresh plain connection; resolves with the first line of its reply. */
async function rawLine(port: number, ...args: string[]): Promise<string> {
  const c = await RawClient.connect(port);
  const line = await c.send(resp(...args), '\r\n');
  c.close();
  return line.trim();
}

/** One command through ioredis on the plain port; resolves with its reply. */
async function call(port: number, ...args: string[]): Promise<unknown> {
  const r = new Redis({ port, maxRetriesPerRequest: 0 });
  try {
    return await r.call(args[0], ...args.slice(1));
  } finally {
    r.disconnect();
  }
}

/** A reply map (RESP2 flat array) as an object. */
function record(reply: unknown): Record<string, unknown> {
  const flat = reply as unknown[];
  const out: Record<string, unknown> = {};
  for (let i = 0; i < flat.length; i += 2) out[String(flat[i])] = flat[i + 1];
  return out;
}

/** Slots of `owner` without `slot` (ranges as strings), for a topology that moves `slot` away. */
function without(ranges: string[], slot: number): string[] {
  return ranges.flatMap((r) => {
    const [a, b = a] = r.split('-').map(Number);
    if (slot < a || slot > b) return [r];
    return [...(slot > a ? [`${a}-${slot - 1}`] : []), ...(slot < b ? [`${slot + 1}-${b}`] : [])];
  });
}

/**
 * Waits out the last 10 s of a wall-clock minute: rpm is counted in minutes aligned to the Unix
 * epoch, and this test compares it across the handoff.
 */
async function awayFromMinuteEdge(): Promise<void> {
  const into = Date.now() % 60_000;
  if (into > 50_000) await new Promise((r) => setTimeout(r, 60_000 - into + 100));
}

const ROUTING_CONFIG = `
router_settings:
  allowed_fails: 1
  cooldown_time: 30
model_list:
  - model_name: chat
    litellm_params: { model: openai/gpt-4o, rpm: 3 }
    model_info: { id: chat-a }
  - model_name: chat
    litellm_params: { model: azure/gpt-4o, rpm: 10 }
    model_info: { id: chat-b }
`;

test('a routing group whose slot moves keeps its leases, rpm, cooldown and failures on the new owner', async () => {
  writeFileSync(file('routing.yaml'), ROUTING_CONFIG);
  const cluster = await startCluster(2, ['--config', file('routing.yaml')]);
  const client = new Cluster([{ host: '127.0.0.1', port: cluster.nodes[0].port }]);
  try {
    await awayFromMinuteEdge();
    const slot = keySlot('chat');
    const from = cluster.topology.nodes.findIndex((n) => n.slots.some((r) => {
      const [a, b = a] = r.split('-').map(Number);
      return slot >= a && slot <= b;
    }));
    const to = 1 - from;
    const [fromPort, toPort] = [cluster.nodes[from].port, cluster.nodes[to].port];
    const pick = async (...args: string[]) => record(await client.call('ROUTE.PICK', 'chat', ...args));
    const list = async (port: number) => Object.fromEntries(((await call(port, 'ROUTE.LIST', 'chat')) as unknown[]).map(record).map((d) => [d.id, d]));
    // On the old owner: a lease left open on chat-a, a request done on chat-a, two 500s on
    // chat-b (allowed_fails 1: it cools for 30 s).
    const open = await pick('EXCLUDE', 'chat-b');
    const finished = await pick('EXCLUDE', 'chat-b');
    assert.equal(await client.call('ROUTE.DONE', finished.lease as string, 'STATUS', '200', 'LATENCY', '150'), 1);
    for (let i = 0; i < 2; i++) {
      const failed = await pick('EXCLUDE', 'chat-a');
      assert.equal(await client.call('ROUTE.DONE', failed.lease as string, 'STATUS', '500'), 1);
    }
    const before = await list(fromPort);
    assert.equal(before['chat-a'].in_flight, 1);
    assert.equal(before['chat-a'].rpm_used, 2);
    assert.equal(before['chat-b'].fails, 2);
    assert.ok(Number(before['chat-b'].cooldown_ms) > 25_000, JSON.stringify(before));

    // Version 2 gives the group's slot to the other node; the old owner gets it first.
    const nodes = cluster.topology.nodes.map((n, i) => ({ ...n, slots: i === from ? without(n.slots, slot) : [...n.slots, String(slot)] }));
    const v2 = { version: 2, nodes };
    assert.deepEqual(await cluster.push(v2, [from, to]), ['+OK', '+OK']);
    assert.match(cluster.nodes[from].output(), /handed \d+ key\(s\) and 1 routing group\(s\) to/);
    assert.equal(await rawLine(fromPort, 'ROUTE.LIST', 'chat'), `-MOVED ${slot} 127.0.0.1:${toPort}`);
    assert.deepEqual(await call(fromPort, 'ROUTE.GROUPS'), ['chat'], 'the old owner keeps the group definition');
    assert.match(String(await call(fromPort, 'INFO', 'routing')), /routing_open_leases:0\r\n/);

    // On the new owner: the same in-flight, rpm, failures, latency; the cooldown goes on.
    const after = await list(toPort);
    for (const id of ['chat-a', 'chat-b']) {
      for (const field of ['in_flight', 'rpm_used', 'tpm_used', 'fails', 'latency_ms']) {
        assert.deepEqual(after[id][field], before[id][field], `${id}.${field}`);
      }
    }
    const cooling = Number(after['chat-b'].cooldown_ms);
    assert.ok(cooling > 0 && cooling <= Number(before['chat-b'].cooldown_ms), `chat-b cooling ${cooling} ms after ${String(before['chat-b'].cooldown_ms)}`);

    // The lease picked before the move: the old owner sends it on, the new owner frees it.
    assert.equal(await rawLine(fromPort, 'ROUTE.DONE', open.lease as string), `-MOVED ${slot} 127.0.0.1:${toPort}`);
    assert.equal(await client.call('ROUTE.DONE', open.lease as string, 'STATUS', '200'), 1);
    assert.equal(await client.call('ROUTE.DONE', open.lease as string, 'STATUS', '200'), 0, 'done once');
    assert.equal((await list(toPort))['chat-a'].in_flight, 0);
    // chat-a has 1 of its 3 rpm left and chat-b is cooling: one more pick, then none.
    assert.equal((await pick()).deployment, 'chat-a');
    await assert.rejects(pick(), /NODEPLOYMENT/);

    // A pick waiting for room on the second owner when version 3 moves the slot back: it is
    // answered MOVED at once (not served from the state that left).
    const waiting = await RawClient.connect(toPort);
    waiting.write(resp('ROUTE.PICK', 'chat', 'WAIT', '20000'));
    for (let i = 0; i < 100 && !/routing_waiting_picks:1\r\n/.test(String(await call(toPort, 'INFO', 'routing'))); i++) await new Promise((r) => setTimeout(r, 20));
    assert.match(String(await call(toPort, 'INFO', 'routing')), /routing_waiting_picks:1\r\n/);
    const v3 = { version: 3, nodes: cluster.topology.nodes };
    assert.deepEqual(await cluster.push(v3, [to, from]), ['+OK', '+OK']);
    assert.equal(await waiting.until((t) => t.endsWith('\r\n'), 5000), `-MOVED ${slot} 127.0.0.1:${fromPort}\r\n`);
    waiting.close();
    // The first owner gets the state the second one left.
    const back = await list(fromPort);
    assert.equal(back['chat-a'].rpm_used, 3);
    assert.equal(back['chat-a'].in_flight, 1);
    assert.equal(back['chat-b'].fails, 2);
  } finally {
    client.disconnect();
    await cluster.stop();
  }
});

test('a handoff that failed leaves the group on the old owner until a restart drops its restored live state', async () => {
  writeFileSync(file('routing.yaml'), ROUTING_CONFIG);
  const data = mkdtempSync(path.join(tmpdir(), 'sluice-handoff-restart-'));
  const args = ['--config', file('routing.yaml'), '--cluster-enabled', 'yes', '--cluster-node-id', 'a', '--dir', data];
  let d = await startDaemon(args);
  try {
    const slot = keySlot('chat');
    const v1 = { version: 1, nodes: [{ id: 'a', host: '127.0.0.1', port: d.port, slots: ['0-16383'] }] };
    assert.equal(await rawLine(d.port, 'SLUICE.CLUSTER', 'SETTOPOLOGY', JSON.stringify(v1)), '+OK');
    await call(d.port, 'ROUTE.PICK', 'chat');
    // Version 2 gives the group's slot to b, which is not there: the group's state stays here.
    const v2 = { version: 2, nodes: [{ ...v1.nodes[0], slots: without(v1.nodes[0].slots, slot) }, { id: 'b', host: '127.0.0.1', port: 1, slots: [String(slot)] }] };
    assert.match(await rawLine(d.port, 'SLUICE.CLUSTER', 'SETTOPOLOGY', JSON.stringify(v2)), /^-ERR topology version 2 is in force, but handing slot state over failed: 0 key\(s\) and 1 routing group\(s\) to 'b'/);
    assert.match(String(await call(d.port, 'INFO', 'routing')), /routing_open_leases:1\r\n/);
    await d.stop();
    d = await startDaemon(args);
    assert.match(d.output(), /dropped the restored live state of 1 routing group\(s\) of slots other nodes serve: chat/);
    assert.match(String(await call(d.port, 'INFO', 'routing')), /routing_open_leases:0\r\n/);
    assert.deepEqual(await call(d.port, 'ROUTE.GROUPS'), ['chat']);
  } finally {
    await d.stop();
    rmSync(data, { recursive: true, force: true });
  }
});

// ---- over TLS --------------------------------------------------------------------------------

/** A self-signed CA `name`.crt/.key. */
function makeCa(name: string): void {
  openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', file(`${name}.key`), '-out', file(`${name}.crt`), '-days', '2', '-subj', `/CN=${name}`);
}

before(() => {
  makeCa('cluster-ca');
  makeCa('other-ca');
  // One certificate every node uses, as server and as client (Redis's tls-cluster does the same).
  openssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', file('node.key'), '-out', file('node.csr'), '-subj', '/CN=sluice-node');
  writeFileSync(file('node.ext'), 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n');
  openssl('x509', '-req', '-in', file('node.csr'), '-CA', file('cluster-ca.crt'), '-CAkey', file('cluster-ca.key'), '-CAcreateserial', '-out', file('node.crt'), '-days', '2', '-extfile', file('node.ext'));
});

const tlsArgs = (id: string, tlsPort: number, ca = 'cluster-ca') => [
  '--cluster-enabled', 'yes', '--cluster-node-id', id,
  '--tls-port', String(tlsPort), '--tls-cert-file', file('node.crt'), '--tls-key-file', file('node.key'),
  '--tls-ca-cert-file', file(`${ca}.crt`), '--tls-cluster', 'yes',
];

/** An ioredis client on a TLS port, presenting the node certificate (the nodes require one). */
function tlsClient(port: number): Redis {
  return new Redis({ port, host: '127.0.0.1', tls: { ca: readFileSync(file('cluster-ca.crt')), cert: readFileSync(file('node.crt')), key: readFileSync(file('node.key')), checkServerIdentity: () => undefined }, maxRetriesPerRequest: 0 });
}

test('with tls-cluster, slot state goes over TLS to a node the topology gives only a tls-port', async () => {
  const [aTls, bTls] = [await freePort(), await freePort()];
  const [a, b] = await Promise.all([startDaemon(tlsArgs('a', aTls)), startDaemon(tlsArgs('b', bTls))]);
  const onB = tlsClient(bTls);
  try {
    const topology = (owner: 'a' | 'b', version: number) => ({
      version,
      nodes: [
        { id: 'a', host: '127.0.0.1', port: a.port, 'tls-port': aTls, slots: owner === 'a' ? ['0-16383'] : [] },
        { id: 'b', host: '127.0.0.1', 'tls-port': bTls, slots: owner === 'b' ? ['0-16383'] : [] },
      ],
    });
    for (const d of [a, b]) assert.equal(await rawLine(d.port, 'SLUICE.CLUSTER', 'SETTOPOLOGY', JSON.stringify(topology('a', 1))), '+OK');
    for (let i = 0; i < 3; i++) await rawLine(a.port, 'RL.HIT', 'tls:{k}', 'LIMIT', '5', 'PER', '60000');

    // CLUSTER SHARDS gives each node's port and tls-port (b has none of the first); a plain
    // client is sent to plain ports where a node has one, a TLS client to TLS ports.
    const shards = (await call(a.port, 'CLUSTER', 'SHARDS')) as unknown[][];
    const described = shards.map((s) => record((record(s).nodes as unknown[][])[0]));
    assert.deepEqual(described.map((n) => [n.id, n.port, n['tls-port']]), [['a', a.port, aTls], ['b', undefined, bTls]]);
    const slotsPlain = (await call(a.port, 'CLUSTER', 'SLOTS')) as unknown[][];
    assert.equal((slotsPlain[0][2] as unknown[])[1], a.port);
    const onA = tlsClient(aTls);
    const slotsTls = (await onA.call('CLUSTER', 'SLOTS')) as unknown[][];
    assert.equal((slotsTls[0][2] as unknown[])[1], aTls);
    assert.match(String(await onA.call('CLUSTER', 'NODES')), new RegExp(`^a 127\\.0\\.0\\.1:${aTls}@0 myself,master .*\\nb 127\\.0\\.0\\.1:${bTls}@0 master `));
    onA.disconnect();

    // Version 2 gives every slot to b: a hands the key over TLS (b's only port here).
    assert.equal(await rawLine(a.port, 'SLUICE.CLUSTER', 'SETTOPOLOGY', JSON.stringify(topology('b', 2))), '+OK');
    assert.match(a.output(), new RegExp(`handed 1 key\\(s\\) to 'b' \\(127\\.0\\.0\\.1:${bTls}, TLS\\), which took in 1`));
    assert.equal(await rawLine(a.port, 'DBSIZE'), ':0');
    assert.equal(await rawLine(a.port, 'RL.PEEK', 'tls:{k}', 'LIMIT', '5', 'PER', '60000'), `-MOVED ${keySlot('tls:{k}')} 127.0.0.1:${bTls}`);
    assert.equal(await onB.call('SLUICE.CLUSTER', 'SETTOPOLOGY', JSON.stringify(topology('b', 2))), 'OK');
    assert.equal(((await onB.call('RL.PEEK', 'tls:{k}', 'LIMIT', '5', 'PER', '60000')) as number[])[2], 2, '2 of 5 left, as on a');
  } finally {
    onB.disconnect();
    await Promise.all([a.stop(), b.stop()]);
  }
});

test('a handoff to a TLS-only node fails with what to do: without tls-cluster, or with a CA that did not sign it', async () => {
  const bTls = await freePort();
  const b = await startDaemon(tlsArgs('b', bTls));
  const others: Daemon[] = [];
  try {
    const attempt = async (args: string[]): Promise<string> => {
      const d = await startDaemon(args);
      others.push(d);
      const topology = (owner: 'a' | 'b', version: number) => ({
        version,
        nodes: [
          { id: 'a', host: '127.0.0.1', port: d.port, slots: owner === 'a' ? ['0-16383'] : [] },
          { id: 'b', host: '127.0.0.1', 'tls-port': bTls, slots: owner === 'b' ? ['0-16383'] : [] },
        ],
      });
      assert.equal(await rawLine(d.port, 'SLUICE.CLUSTER', 'SETTOPOLOGY', JSON.stringify(topology('a', 1))), '+OK');
      await rawLine(d.port, 'RL.HIT', 'stays', 'LIMIT', '5', 'PER', '60000');
      const reply = await rawLine(d.port, 'SLUICE.CLUSTER', 'SETTOPOLOGY', JSON.stringify(topology('b', 2)));
      assert.equal(await rawLine(d.port, 'DBSIZE'), ':1', 'the key stays until a handoff works');
      return reply;
    };
    assert.equal(
      await attempt(['--cluster-enabled', 'yes', '--cluster-node-id', 'a']),
      `-ERR topology version 2 is in force, but handing slot state over failed: 1 key(s) to 'b' (127.0.0.1:${bTls}): it listens with TLS only (tls-port ${bTls}): set tls-cluster yes on this node, with tls-ca-cert-file holding the CA of its certificate. The keys and groups' state stay on this node; push the same topology again to retry`,
    );
    const aTls = await freePort();
    const wrongCa = await attempt(tlsArgs('a', aTls, 'other-ca'));
    assert.match(wrongCa, new RegExp(`^-ERR topology version 2 is in force, but handing slot state over failed: 1 key\\(s\\) to 'b' \\(127\\.0\\.0\\.1:${bTls}, TLS\\): its TLS certificate was refused \\(.+\\): tls-ca-cert-file must hold the CA that signed it\\. `));
    assert.equal(await rawLine(b.port, 'DBSIZE'), ':0');
  } finally {
    await Promise.all([b.stop(), ...others.map((d) => d.stop())]);
  }
});

test('tls-cluster without tls-ca-cert-file is refused at start, saying what to give', async () => {
  const err = await startDaemon(['--cluster-enabled', 'yes', '--cluster-node-id', 'a', '--tls-cluster', 'yes']).then(
    (d) => d.stop().then(() => 'started'),
    (e: Error) => e.message,
  );
  assert.match(err, /tls-cluster is yes but tls-ca-cert-file is not set: give the CA that signed the other nodes' certificates/);
});
