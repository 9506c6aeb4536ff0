/**
 * A cluster topology: which node serves which of Redis Cluster's 16384 slots. The same
 * topology is given to every node (the config file's `cluster:` section, or pushed with
 * SLUICE.CLUSTER SETTOPOLOGY); each node learns which one it is from `cluster-node-id`.
 *
 *   cluster:
 *     version: 1
 *     nodes:
 *       - { id: a, host: 10.0.0.1, port: 6380, slots: ["0-5460"] }
 *       - { id: b, host: 10.0.0.2, port: 6380, slots: ["5461-10922"] }
 *       - { id: c, host: 10.0.0.3, port: 6380, slots: ["10923-16383"] }
 *
 * A node may also give a `tls-port` (its TLS listener), or only a `tls-port`: Redis Cluster
 * announces both (CLUSTER SHARDS), and nodes with `tls-cluster yes` hand slot state to each
 * other over TLS.
 *
 * A topology is accepted only when every slot is served by exactly one node: the error names the
 * first gap or overlap.
 */
import { CLUSTER_SLOTS } from '@sluice/protocol';

export interface ClusterNode {
  id: string;
  host: string;
  /** The plain TCP port; 0 when the node is reached by TLS only. */
  port: number;
  /** The TLS port (`tls-port`); 0 when it has none. */
  tlsPort: number;
  /** Inclusive slot ranges, sorted. */
  ranges: [number, number][];
}

export interface Topology {
  version: number;
  nodes: ClusterNode[];
  /** The index in `nodes` of each slot's node. */
  owner: Uint16Array;
}

/** A topology that is not usable; the message says what to fix. */
export class TopologyError extends Error {}

/** Longest node id accepted (Redis's are 40 hex characters). */
const MAX_ID = 256;

/** Checks a parsed `cluster:` section (YAML or JSON) and builds the slot table. */
export function parseTopology(doc: unknown): Topology {
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
    throw new TopologyError('a cluster topology must be a mapping with version and nodes');
  }
  const { version, nodes, ...rest } = doc as Record<string, unknown>;
  const unknown = Object.keys(rest);
  if (unknown.length > 0) throw new TopologyError(`unknown field '${unknown[0]}' in the cluster topology (expected version, nodes)`);
  if (typeof version !== 'number' || !Number.isSafeInteger(version) || version < 1) {
    throw new TopologyError(`the cluster topology's version must be a whole number of at least 1 (got ${JSON.stringify(version)})`);
  }
  if (!Array.isArray(nodes) || nodes.length === 0) throw new TopologyError('the cluster topology needs a list of nodes');
  const parsed = nodes.map((n, i) => parseNode(n, i));
  const ids = new Set<string>();
  for (const n of parsed) {
    if (ids.has(n.id)) throw new TopologyError(`node id '${n.id}' appears twice in the cluster topology`);
    ids.add(n.id);
  }
  const owner = new Uint16Array(CLUSTER_SLOTS);
  const taken = new Uint8Array(CLUSTER_SLOTS);
  parsed.forEach((n, index) => {
    for (const [from, to] of n.ranges) {
      for (let s = from; s <= to; s++) {
        if (taken[s]) {
          let end = s;
          while (end < to && taken[end + 1] && owner[end + 1] === owner[s]) end++;
          throw new TopologyError(`slots ${span(s, end)} are assigned to both '${parsed[owner[s]].id}' and '${n.id}': give each slot to one node`);
        }
        taken[s] = 1;
        owner[s] = index;
      }
    }
  });
  for (let s = 0; s < CLUSTER_SLOTS; s++) {
    if (!taken[s]) {
      let end = s;
      while (end + 1 < CLUSTER_SLOTS && !taken[end + 1]) end++;
      throw new TopologyError(`slots ${span(s, end)} are not assigned to any node: every slot 0-16383 needs exactly one node`);
    }
  }
  return { version, nodes: parsed, owner };
}

function span(from: number, to: number): string {
  return from === to ? String(from) : `${from}-${to}`;
}

function parseNode(raw: unknown, i: number): ClusterNode {
  const where = `node ${i + 1} of the cluster topology`;
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new TopologyError(`${where} must be a mapping with id, host, port and slots`);
  const { id, host, port, 'tls-port': tlsPort, slots, ...rest } = raw as Record<string, unknown>;
  const unknown = Object.keys(rest);
  if (unknown.length > 0) throw new TopologyError(`unknown field '${unknown[0]}' in ${where} (expected id, host, port, tls-port, slots)`);
  const idText = typeof id === 'number' ? String(id) : id;
  if (typeof idText !== 'string' || !/^[A-Za-z0-9_.:-]+$/.test(idText) || idText.length > MAX_ID) {
    throw new TopologyError(`${where}: id must be a name of letters, digits, '_', '.', ':' or '-' (got ${JSON.stringify(id)})`);
  }
  if (typeof host !== 'string' || host === '' || /[\s@,]/.test(host)) throw new TopologyError(`${where} ('${idText}'): host must be an address or host name clients can reach`);
  const portNumber = (value: unknown, name: string): number => {
    if (value === undefined) return 0;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 65535) {
      throw new TopologyError(`${where} ('${idText}'): ${name} must be 1-65535 (got ${JSON.stringify(value)})`);
    }
    return value;
  };
  const plain = portNumber(port, 'port');
  const secure = portNumber(tlsPort, 'tls-port');
  if (plain === 0 && secure === 0) throw new TopologyError(`${where} ('${idText}') needs a port, a tls-port or both`);
  const list = slots === undefined ? [] : Array.isArray(slots) ? slots : [slots];
  const ranges = list.map((r) => parseRange(r, `${where} ('${idText}')`)).sort((a, b) => a[0] - b[0]);
  return { id: idText, host, port: plain, tlsPort: secure, ranges };
}

/** `"0-5460"`, `"7"` or `7`. */
function parseRange(raw: unknown, where: string): [number, number] {
  const text = typeof raw === 'number' ? String(raw) : raw;
  const m = typeof text === 'string' ? /^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$/.exec(text) : null;
  if (!m) throw new TopologyError(`${where}: slots must be ranges such as "0-5460" or single slots (got ${JSON.stringify(raw)})`);
  const from = Number(m[1]);
  const to = m[2] === undefined ? from : Number(m[2]);
  if (from > to || to >= CLUSTER_SLOTS) throw new TopologyError(`${where}: slot range ${text} is not within 0-16383 from low to high`);
  return [from, to];
}

/** The topology as the config file's `cluster:` section would hold it (SLUICE.CLUSTER TOPOLOGY). */
export function topologyJson(t: Topology): string {
  return JSON.stringify({
    version: t.version,
    nodes: t.nodes.map((n) => ({
      id: n.id,
      host: n.host,
      ...(n.port !== 0 && { port: n.port }),
      ...(n.tlsPort !== 0 && { 'tls-port': n.tlsPort }),
      slots: n.ranges.map(([a, b]) => span(a, b)),
    })),
  });
}
