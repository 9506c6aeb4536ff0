/**
 * The cluster family: Sluice sharded with Redis Cluster's protocol (docs/cluster.md). Every
 * node has the same topology (the config file's `cluster:` section, or a newer one pushed with
 * SLUICE.CLUSTER SETTOPOLOGY) and knows which node it is (`cluster-node-id`); there is no
 * gossip between nodes. Cluster clients read the slot map with CLUSTER SLOTS / SHARDS / NODES /
 * INFO in Redis's formats; dispatch sends keyed commands of other nodes' slots there with
 * -MOVED (cluster-redirect.ts). When a push moves slots away, this node sends the state of
 * their keys to the new owner (SLUICE.CLUSTER IMPORT over RESP), so quotas survive a rebalance.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { CLUSTER_SLOTS, keySlot, type ReplyWriter } from '@sluice/protocol';
import { ConfigError, type Config } from '../config';
import type { Family, Handler, Services } from '../context';
import { parseInteger } from '../args';
import { ReplyError } from '../reply-error';
import { writeHelp } from '../replies';
import { log } from '../log';
import native from '../native';
import { parseTopology, topologyJson, TopologyError, type ClusterNode, type Topology } from '../cluster-topology';
import { peerTlsOptions } from '../tls';
import { wakeWaitingPicks } from './routing';
import { announcedPort, clusterView, servesSlot, setClusterTopology } from '../cluster-redirect';

const DISABLED = 'ERR This instance has cluster support disabled';
/** Where a pushed topology is kept (in `dir`), so a restart does not fall back to an older one. */
const SAVED_TOPOLOGY = 'cluster-topology.json';
/** How long a handoff to another node may take before it counts as failed. */
const HANDOFF_TIMEOUT_MS = 30_000;
/** Keys per native SCAN step when walking the whole keyspace. */
const SCAN_STEP = 65_536;

let myId = '';
let savedTopologyPath = '';
/** The running configuration (requirepass, which every node of a cluster shares, may change). */
let config: Config | null = null;
/** `tls-cluster`: hand slot state to nodes with a tls-port over TLS. */
let tlsCluster = false;
const scanOut = new Float64Array(2);

function checkEnabled(): void {
  if (!clusterView.enabled) throw new ReplyError(DISABLED);
}

/** The topology in force; keyed commands get CLUSTERDOWN and CLUSTER INFO says fail without one. */
function topology(): Topology | null {
  checkEnabled();
  return clusterView.topology;
}

/** Contiguous runs of one node's slots, in slot order: [start, end, node index]. */
function slotRanges(t: Topology): [number, number, number][] {
  const out: [number, number, number][] = [];
  for (let s = 0; s < CLUSTER_SLOTS; s++) {
    const last = out[out.length - 1];
    if (last !== undefined && last[2] === t.owner[s] && last[1] === s - 1) last[1] = s;
    else out.push([s, s, t.owner[s]]);
  }
  return out;
}

/** Every key this node holds (walked with the native SCAN; the keys come back RESP-encoded). */
function forEachKey(now: number, visit: (key: Buffer) => void): void {
  let cursor = 0;
  const all = Buffer.from('*');
  do {
    const chunk = native.keyspaceScan(cursor, SCAN_STEP, all, -1, now, scanOut);
    cursor = scanOut[0];
    // `$<len>\r\n<bytes>\r\n`, one after the other.
    let at = 0;
    while (at < chunk.length) {
      const eol = chunk.indexOf(13, at);
      const len = Number(chunk.toString('latin1', at + 1, eol));
      visit(chunk.subarray(eol + 2, eol + 2 + len));
      at = eol + 2 + len + 2;
    }
  } while (cursor !== 0);
}

// ---- CLUSTER ----------------------------------------------------------------------------

function clusterInfoText(t: Topology | null): string {
  const nodes = t?.nodes.length ?? 0;
  const serving = t === null ? 0 : t.nodes.filter((n) => n.ranges.length > 0).length;
  const assigned = t === null ? 0 : CLUSTER_SLOTS;
  return [
    `cluster_state:${t === null ? 'fail' : 'ok'}`,
    `cluster_slots_assigned:${assigned}`,
    `cluster_slots_ok:${assigned}`,
    'cluster_slots_pfail:0',
    'cluster_slots_fail:0',
    `cluster_known_nodes:${nodes}`,
    `cluster_size:${serving}`,
    `cluster_current_epoch:${t?.version ?? 0}`,
    `cluster_my_epoch:${t?.version ?? 0}`,
    'cluster_stats_messages_sent:0',
    'cluster_stats_messages_received:0',
    'total_cluster_links_buffer_limit_exceeded:0',
    '',
  ].join('\r\n');
}

const info: Handler = (_ctx, _args, w) => w.verbatim(clusterInfoText(topology()));

const myid: Handler = (_ctx, _args, w) => {
  checkEnabled();
  w.bulk(myId);
};

/** `[start, end, [host, port, id, {}]]` per range, as Redis 7 (ioredis reads host and port). */
const slots: Handler = (ctx, _args, w) => {
  const t = topology();
  if (t === null) return w.array(0);
  const ranges = slotRanges(t);
  w.array(ranges.length);
  for (const [start, end, owner] of ranges) {
    const n = t.nodes[owner];
    w.array(3);
    w.integer(start);
    w.integer(end);
    w.array(4);
    w.bulk(n.host);
    w.integer(announcedPort(n, ctx.session.tls));
    w.bulk(n.id);
    w.map(0);
  }
};

/**
 * One map per node, as Redis 7's CLUSTER SHARDS (each shard is one primary, no replicas): `port`
 * when the node has a plain port, `tls-port` when it has a TLS port.
 */
const shards: Handler = (_ctx, _args, w) => {
  const t = topology();
  if (t === null) return w.array(0);
  w.array(t.nodes.length);
  for (const n of t.nodes) {
    w.map(2);
    w.bulk('slots');
    w.array(n.ranges.length * 2);
    for (const [a, b] of n.ranges) {
      w.integer(a);
      w.integer(b);
    }
    w.bulk('nodes');
    w.array(1);
    w.map(6 + (n.port !== 0 ? 1 : 0) + (n.tlsPort !== 0 ? 1 : 0));
    w.bulk('id');
    w.bulk(n.id);
    if (n.port !== 0) {
      w.bulk('port');
      w.integer(n.port);
    }
    if (n.tlsPort !== 0) {
      w.bulk('tls-port');
      w.integer(n.tlsPort);
    }
    w.bulk('ip');
    w.bulk(n.host);
    w.bulk('endpoint');
    w.bulk(n.host);
    w.bulk('role');
    w.bulk('master');
    w.bulk('replication-offset');
    w.integer(0);
    w.bulk('health');
    w.bulk('online');
  }
};

/** `id host:port@cport flags master ping pong epoch link slots...`, one line per node. */
const nodes: Handler = (ctx, _args, w) => {
  const t = topology();
  if (t === null) return w.verbatim('');
  let text = '';
  t.nodes.forEach((n, i) => {
    const flags = i === clusterView.me ? 'myself,master' : 'master';
    const ranges = n.ranges.map(([a, b]) => (a === b ? ` ${a}` : ` ${a}-${b}`)).join('');
    // No cluster bus: the bus port is given as 0.
    text += `${n.id} ${n.host}:${announcedPort(n, ctx.session.tls)}@0 ${flags} - 0 0 ${t.version} connected${ranges}\n`;
  });
  w.verbatim(text);
};

const keyslot: Handler = (_ctx, args, w) => {
  checkEnabled();
  w.integer(keySlot(args[2]));
};

const countkeysinslot: Handler = (ctx, args, w) => {
  checkEnabled();
  const slot = parseInteger(args[2]);
  if (slot < 0 || slot >= CLUSTER_SLOTS) throw new ReplyError('ERR Invalid slot');
  let n = 0;
  forEachKey(ctx.server.now, (key) => {
    if (keySlot(key) === slot) n++;
  });
  w.integer(n);
};

const clusterHelp: Handler = (_ctx, _args, w) => {
  checkEnabled();
  writeHelp(w, [
    'CLUSTER <subcommand> [<arg> [value] [opt] ...]. Subcommands are:',
    'COUNTKEYSINSLOT <slot>',
    '    Return the number of keys in <slot>.',
    'INFO',
    '    Return information about the cluster.',
    'KEYSLOT <key>',
    '    Return the hash slot for <key>.',
    'MYID',
    '    Return the node id.',
    'NODES',
    '    Return cluster configuration seen by node. Output format:',
    '    <id> <ip:port@cport> <flags> <master> <pings> <pongs> <epoch> <link> <slot> ...',
    'SLOTS',
    '    Return information about slots range mappings. Each range is made of:',
    '    start, end, master and replicas IP addresses, ports and ids',
    'SHARDS',
    '    Return information about slot range mappings and the nodes associated with them.',
    'HELP',
    '    Prints this help.',
    '(The topology is changed with SLUICE.CLUSTER SETTOPOLOGY; there is no cluster bus.)',
  ]);
};

/** READONLY, READWRITE, ASKING: accepted in cluster mode (every node is a primary; no ASK is ever sent). */
const acceptInClusterMode: Handler = (_ctx, _args, w) => {
  checkEnabled();
  w.ok();
};

// ---- SLUICE.CLUSTER -----------------------------------------------------------------------

/** A topology given as YAML or JSON (JSON is YAML), bare or under a `cluster:` key. */
function topologyFromText(text: string): Topology {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new ReplyError(`ERR the topology is neither valid YAML nor JSON: ${(err as Error).message.split('\n')[0]}`);
  }
  if (doc !== null && typeof doc === 'object' && 'cluster' in doc) doc = (doc as { cluster: unknown }).cluster;
  try {
    return parseTopology(doc);
  } catch (err) {
    if (err instanceof TopologyError) throw new ReplyError(`ERR ${err.message}`);
    throw err;
  }
}

/** Keeps a pushed topology in `dir` (written beside, then renamed over), for the next start. */
function saveTopology(t: Topology): void {
  if (savedTopologyPath === '') return;
  try {
    mkdirSync(path.dirname(savedTopologyPath), { recursive: true });
    writeFileSync(savedTopologyPath + '.tmp', topologyJson(t) + '\n');
    renameSync(savedTopologyPath + '.tmp', savedTopologyPath);
  } catch (err) {
    log.warning(`cluster: could not keep topology version ${t.version} in ${savedTopologyPath} (${(err as Error).message}); after a restart this node starts from the config file's topology until the next push`);
  }
}

const settopology: Handler = (ctx, args) => {
  checkEnabled();
  const next = topologyFromText(args[2].toString());
  const current = clusterView.topology;
  // The same topology again retries a handoff that failed; anything else must be newer.
  const retry = current !== null && next.version === current.version && topologyJson(next) === topologyJson(current);
  if (current !== null && next.version <= current.version && !retry) {
    throw new ReplyError(`ERR topology version ${next.version} is not above the current version ${current.version}: push it with a higher version`);
  }
  if (!retry) {
    setClusterTopology(next, myId);
    saveTopology(next);
    wakeWaitingPicks();
    log.notice(`cluster: topology version ${next.version} in force (${next.nodes.length} nodes; this node is '${myId}'${clusterView.me < 0 ? ', which it does not list: it serves no slot' : ''})`);
  }
  return handOff(ctx.server).then(() => (w: ReplyWriter) => w.ok());
};

/** What goes to one new owner: the keys held here of its new slots, and the routing groups named in them. */
interface Handoff {
  keys: Buffer[];
  /** Groups with live state (usage, cooldowns, failures, latency, budgets, open leases). */
  groups: string[];
}

function describe(h: Handoff): string {
  return `${h.keys.length} key(s)${h.groups.length > 0 ? ` and ${h.groups.length} routing group(s)` : ''}`;
}

/**
 * Sends every key this node holds in slots another node serves to that node, with the live
 * state of the routing groups whose names hash to those slots, and forgets them here once the
 * other node took them (the groups keep their deployments: every node loads the same config).
 * Commands of those slots are already answered with MOVED, so nothing changes them meanwhile.
 */
async function handOff(server: Services): Promise<void> {
  const t = clusterView.topology!;
  const byOwner = new Map<number, Handoff>();
  const handoffOf = (slot: number): Handoff | null => {
    if (servesSlot(slot)) return null;
    let h = byOwner.get(t.owner[slot]);
    if (h === undefined) byOwner.set(t.owner[slot], (h = { keys: [], groups: [] }));
    return h;
  };
  forEachKey(server.now, (key) => handoffOf(keySlot(key))?.keys.push(Buffer.from(key)));
  for (const group of native.routeGroupsWithLiveState()) handoffOf(keySlot(group))?.groups.push(group);
  const failures: string[] = [];
  await Promise.all(
    [...byOwner].map(async ([owner, h]) => {
      const node = t.nodes[owner];
      // Group names go in the same list as keys: each family exports what the list names.
      const state = native.snapshotExportKeys(keyList([...h.keys, ...h.groups.map((g) => Buffer.from(g))]), server.now);
      const address = nodeAddress(node);
      try {
        const taken = await sendImport(node, state);
        for (const k of h.keys) native.keyDelete(k, server.now);
        native.routeForgetLive(h.groups);
        log.notice(`cluster: handed ${describe(h)} to '${node.id}' (${address}), which took in ${taken}`);
      } catch (err) {
        failures.push(`${describe(h)} to '${node.id}' (${address}): ${(err as Error).message}`);
      }
    }),
  );
  if (failures.length > 0) {
    const message = `handing slot state over failed: ${failures.join('; ')}. The keys and groups' state stay on this node; push the same topology again to retry`;
    log.warning(`cluster: ${message}`);
    throw new ReplyError(`ERR topology version ${t.version} is in force, but ${message}`);
  }
}

/** Where a handoff to `node` goes: its TLS port with tls-cluster (when it has one), else its plain port. */
function handoffOverTls(node: ClusterNode): boolean {
  return tlsCluster && node.tlsPort !== 0;
}

function nodeAddress(node: ClusterNode): string {
  return handoffOverTls(node) ? `${node.host}:${node.tlsPort}, TLS` : `${node.host}:${node.port || node.tlsPort}`;
}

/** Keys as snapshotExportKeys takes them: each a u32 LE length and its bytes. */
function keyList(keys: Buffer[]): Buffer {
  const parts: Buffer[] = [];
  for (const k of keys) {
    const len = Buffer.alloc(4);
    len.writeUInt32LE(k.length);
    parts.push(len, k);
  }
  return Buffer.concat(parts);
}

function respCommand(...args: (string | Buffer)[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const a of args) {
    const b = typeof a === 'string' ? Buffer.from(a) : a;
    parts.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
}

/**
 * Sends `SLUICE.CLUSTER IMPORT <state>` to another node (after AUTH with this node's
 * requirepass, which every node of a cluster shares) and resolves with what it took in. Over
 * TLS when this node has tls-cluster and the other a tls-port (tls.ts, peerTlsOptions).
 */
function sendImport(node: ClusterNode, state: Buffer): Promise<number> {
  return new Promise((resolve, reject) => {
    const overTls = handoffOverTls(node);
    if (!overTls && node.port === 0) {
      return reject(new Error(`it listens with TLS only (tls-port ${node.tlsPort}): set tls-cluster yes on this node, with tls-ca-cert-file holding the CA of its certificate`));
    }
    let socket: net.Socket;
    try {
      socket = overTls ? tls.connect({ host: node.host, port: node.tlsPort, ...peerTlsOptions(config!) }) : net.connect({ host: node.host, port: node.port });
    } catch (err) {
      return reject(err as Error);
    }
    const requirepass = config?.str('requirepass') ?? '';
    const expected = requirepass === '' ? 1 : 2;
    let text = '';
    const fail = (why: string) => {
      socket.destroy();
      reject(new Error(why));
    };
    socket.setTimeout(HANDOFF_TIMEOUT_MS, () => fail(`no answer within ${HANDOFF_TIMEOUT_MS / 1000} s`));
    socket.on('error', (err: NodeJS.ErrnoException) => {
      const certificate = overTls && /CERT|SELF_SIGNED|UNABLE_TO/.test(err.code ?? '');
      fail(certificate ? `its TLS certificate was refused (${err.message}): tls-ca-cert-file must hold the CA that signed it` : err.message);
    });
    socket.on(overTls ? 'secureConnect' : 'connect', () => {
      if (requirepass !== '') socket.write(respCommand('AUTH', requirepass));
      socket.write(respCommand('SLUICE.CLUSTER', 'IMPORT', state));
    });
    socket.on('data', (d) => {
      text += d.toString('latin1');
      const lines = text.split('\r\n');
      if (lines.length <= expected) return;
      socket.end();
      for (const line of lines.slice(0, expected)) if (line.startsWith('-')) return reject(new Error(`it answered ${line.slice(1)}`));
      const last = lines[expected - 1];
      if (!last.startsWith(':')) return reject(new Error(`unexpected answer ${JSON.stringify(last.slice(0, 100))}`));
      resolve(Number(last.slice(1)));
    });
    socket.on('close', () => reject(new Error('the connection closed before an answer')));
  });
}

const importState: Handler = (ctx, args, w) => {
  checkEnabled();
  let taken: number;
  try {
    taken = native.snapshotImport(args[2], ctx.server.now);
  } catch (err) {
    throw new ReplyError(`ERR cannot take in the handed-over state: ${(err as Error).message}`);
  }
  log.notice(`cluster: took in ${taken} key(s) and routing group(s) handed over by their previous owner`);
  w.integer(taken);
};

const showTopology: Handler = (_ctx, _args, w) => {
  const t = topology();
  if (t === null) w.null();
  else w.bulk(topologyJson(t));
};

const sluiceClusterHelp: Handler = (_ctx, _args, w) =>
  writeHelp(w, [
    'SLUICE.CLUSTER <subcommand> [<arg> ...]. Subcommands are:',
    'SETTOPOLOGY <yaml-or-json>',
    '    Put a topology of a higher version in force (the config file\'s cluster: section: version, nodes of',
    '    id, host, port, tls-port, slots). Send it to every node. Keys and routing groups\' live state of slots',
    '    that move away are handed to their new node.',
    'TOPOLOGY',
    '    Return the topology in force, as JSON.',
    'IMPORT <state>',
    '    Take in keys and routing groups\' live state handed over by another node (sent by SETTOPOLOGY).',
    'HELP',
    '    Print this help.',
  ]);

// ---- start-up ------------------------------------------------------------------------------

function readSavedTopology(file: string): Topology | null {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return null;
  }
  try {
    return parseTopology(JSON.parse(text));
  } catch (err) {
    throw new ConfigError(`${file} (the topology last pushed to this node) is not usable: ${(err as Error).message}; fix or delete it`);
  }
}

function start(running: Config): void {
  config = running;
  clusterView.enabled = config.get('cluster-enabled') === true;
  myId = config.str('cluster-node-id');
  tlsCluster = config.get('tls-cluster') === true;
  if (tlsCluster && config.str('tls-ca-cert-file') === '') {
    throw new ConfigError('tls-cluster is yes but tls-ca-cert-file is not set: give the CA that signed the other nodes\' certificates (and tls-cert-file/tls-key-file, which this node presents to them)');
  }
  const where = config.filePath === '' ? 'the config file' : `config file ${config.filePath}`;
  let fromFile: Topology | null = null;
  if (config.file.cluster !== undefined) {
    try {
      fromFile = parseTopology(config.file.cluster);
    } catch (err) {
      if (err instanceof TopologyError) throw new ConfigError(`${where}: cluster: ${err.message}`);
      throw err;
    }
  }
  if (!clusterView.enabled) {
    if (fromFile !== null) log.notice(`${where} has a cluster: topology but cluster-enabled is no: serving every key here (set cluster-enabled yes to shard)`);
    setClusterTopology(null, myId);
    return;
  }
  if (myId === '') throw new ConfigError('cluster-enabled is yes but cluster-node-id is not set: give this node its id from the topology (--cluster-node-id, SLUICE_CLUSTER_NODE_ID)');
  savedTopologyPath = path.resolve(config.str('dir'), SAVED_TOPOLOGY);
  const saved = readSavedTopology(savedTopologyPath);
  const t = saved !== null && (fromFile === null || saved.version > fromFile.version) ? saved : fromFile;
  if (t !== null && !t.nodes.some((n) => n.id === myId)) {
    throw new ConfigError(`cluster-node-id '${myId}' is not a node of the cluster topology (version ${t.version}: ${t.nodes.map((n) => n.id).join(', ')})`);
  }
  setClusterTopology(t, myId);
  if (t === null) log.notice(`cluster: node '${myId}' has no topology yet: keyed commands get CLUSTERDOWN until one is pushed (SLUICE.CLUSTER SETTOPOLOGY)`);
  else log.notice(`cluster: node '${myId}', topology version ${t.version}${t === saved ? ` (last pushed, from ${savedTopologyPath})` : ''}`);
}

/**
 * After the snapshot is restored: keys of slots other nodes serve are dropped, and so is the
 * live state of routing groups named in them (the groups stay). They predate this start (a
 * handoff that failed, or state from before a rebalance) and the slot's owner holds newer
 * state; handing them over again would overwrite it.
 */
function serve(server: Services): void {
  if (!clusterView.enabled || clusterView.topology === null) return;
  const foreign: Buffer[] = [];
  forEachKey(server.now, (key) => {
    if (!servesSlot(keySlot(key))) foreign.push(Buffer.from(key));
  });
  for (const k of foreign) native.keyDelete(k, server.now);
  if (foreign.length > 0) log.notice(`cluster: dropped ${foreign.length} restored key(s) of slots other nodes serve (their owners hold newer state)`);
  const groups = native.routeGroupsWithLiveState().filter((g) => !servesSlot(keySlot(g)));
  native.routeForgetLive(groups);
  if (groups.length > 0) log.notice(`cluster: dropped the restored live state of ${groups.length} routing group(s) of slots other nodes serve: ${groups.join(', ')}`);
}

export const clusterFamily: Family = {
  name: 'cluster',
  options: [
    { name: 'cluster-enabled', type: 'boolean', default: 'no', mutable: false, help: 'Serve as one node of a cluster (Redis Cluster protocol): keys of slots other nodes serve are answered with -MOVED. Needs cluster-node-id and a topology (the config file\'s cluster: section or SLUICE.CLUSTER SETTOPOLOGY); see docs/cluster.md. Turns the native fast path off.' },
    { name: 'cluster-node-id', type: 'string', default: '', mutable: false, help: 'Which node of the cluster topology this one is (its id there).' },
    { name: 'tls-cluster', type: 'boolean', default: 'no', mutable: false, help: 'Hand slot state to other nodes over TLS, on the tls-port their topology entry gives (verified with tls-ca-cert-file; this node presents tls-cert-file). Nodes without a tls-port get plain TCP.' },
  ],
  configSections: ['cluster'],
  info: [{ name: 'cluster', lines: () => [`cluster_enabled:${clusterView.enabled ? 1 : 0}`] }],
  handlers: {
    'cluster|info': info,
    'cluster|myid': myid,
    'cluster|slots': slots,
    'cluster|shards': shards,
    'cluster|nodes': nodes,
    'cluster|keyslot': keyslot,
    'cluster|countkeysinslot': countkeysinslot,
    'cluster|help': clusterHelp,
    readonly: acceptInClusterMode,
    readwrite: acceptInClusterMode,
    asking: acceptInClusterMode,
    'sluice.cluster|settopology': settopology,
    'sluice.cluster|topology': showTopology,
    'sluice.cluster|import': importState,
    'sluice.cluster|help': sluiceClusterHelp,
  },
  start,
  serve,
};
