/**
 * Which node serves a command, in cluster mode: the one rule dispatch applies before running a
 * keyed command. The command table's key positions (what COMMAND INFO reports) say which
 * arguments are keys; their CRC16 slots (hash tags included) must be one slot, and that slot
 * must be this node's, else the client is sent where it belongs:
 *
 *   -MOVED <slot> <host>:<port>     another node serves the slot (cluster clients follow it)
 *   -CROSSSLOT ...                  the keys are in more than one slot
 *   -CLUSTERDOWN Hash slot not served   no topology yet (cluster-enabled, none given or pushed)
 *
 * Commands without keys (TOK.*, RL.POLICY, PING...) are answered by any node. The cluster
 * family (commands/cluster.ts) sets the topology in force here.
 */
import { keyPositions, keySlot, type CommandSpec } from '@sluice/protocol';
import type { Topology } from './cluster-topology';

export const CROSSSLOT = "CROSSSLOT Keys in request don't hash to the same slot";
export const SLOT_NOT_SERVED = 'CLUSTERDOWN Hash slot not served';

/** The cluster as this node sees it. */
export const clusterView = {
  /** `cluster-enabled`: when false, every command is served here (a standalone server). */
  enabled: false,
  /** The topology in force, or null before one is given. */
  topology: null as Topology | null,
  /** This node's index in `topology.nodes`, or -1 when it is not one of them (it serves no slot). */
  me: -1,
  /**
   * `MOVED <slot> ` is followed by these, by node index: `host:port` for clients on the plain
   * port, `host:tls-port` for clients on the TLS port (each falling back to the node's other
   * port when it has only one), as Redis does.
   */
  addresses: [] as string[],
  tlsAddresses: [] as string[],
};

/** The port a client on TLS (or not) is sent to: the node's port of that kind, else its other one. */
export function announcedPort(node: { port: number; tlsPort: number }, tls: boolean): number {
  return tls ? node.tlsPort || node.port : node.port || node.tlsPort;
}

/** Puts `topology` in force for this node (`myId`: cluster-node-id). */
export function setClusterTopology(topology: Topology | null, myId: string): void {
  clusterView.topology = topology;
  clusterView.me = topology === null ? -1 : topology.nodes.findIndex((n) => n.id === myId);
  clusterView.addresses = topology === null ? [] : topology.nodes.map((n) => `${n.host}:${announcedPort(n, false)}`);
  clusterView.tlsAddresses = topology === null ? [] : topology.nodes.map((n) => `${n.host}:${announcedPort(n, true)}`);
}

/** Does this node serve `slot`? (Always, outside cluster mode.) */
export function servesSlot(slot: number): boolean {
  const t = clusterView.topology;
  return !clusterView.enabled || (t !== null && t.owner[slot] === clusterView.me);
}

/**
 * The error that sends a command elsewhere (without the leading `-`), or null when this node
 * serves it. `tls`: the client is on the TLS port.
 */
export function clusterRedirect(spec: CommandSpec, args: Buffer[], tls: boolean): string | null {
  if (!clusterView.enabled) return null;
  const { first, last } = spec.keys;
  if (first === 0) return null;
  let slot = -1;
  if (first === last) {
    // One key (most commands): no list of positions to build.
    if (first < args.length) slot = keySlot(args[first]);
  } else {
    for (const p of keyPositions(spec, args.length)) {
      const s = keySlot(args[p]);
      if (slot === -1) slot = s;
      else if (s !== slot) return CROSSSLOT;
    }
  }
  if (slot === -1) return null;
  return slotRedirect(slot, tls);
}

/** The error that sends a command about `slot` elsewhere, or null when this node serves it (or cluster mode is off). */
export function slotRedirect(slot: number, tls: boolean): string | null {
  if (!clusterView.enabled) return null;
  const t = clusterView.topology;
  if (t === null) return SLOT_NOT_SERVED;
  const owner = t.owner[slot];
  if (owner === clusterView.me) return null;
  return `MOVED ${slot} ${(tls ? clusterView.tlsAddresses : clusterView.addresses)[owner]}`;
}
