#!/usr/bin/env node
// In-process cost of the cluster slot check dispatch runs before every keyed command in cluster
// mode (daemon/src/cluster-redirect.ts): key positions from the command table, CRC16 of each key,
// the owner of the slot. Prints ns per check for RL.HIT (one key, served here and MOVED) and
// RL.ALL over 3 keys with one hash tag, then, in the same run, ns per RL.HIT through the whole
// ordinary dispatch (handler and reply included) with cluster mode off and on. Run after
// `npm install`:
//   node bench/scripts/cluster-redirect.mjs
// Absolute numbers depend on the machine's load.
import { createRequire } from 'node:module';
const require = createRequire(import.meta.url);
const { commandTable, keySlot } = require('../../protocol/dist');
const { clusterRedirect, clusterView, setClusterTopology } = require('../../daemon/dist/cluster-redirect');
const { parseTopology } = require('../../daemon/dist/cluster-topology');
const { ReplyWriter } = require('../../protocol/dist');
const { CommandRegistry } = require('../../daemon/dist/dispatch');
const { families } = require('../../daemon/dist/families');
const { Watches } = require('../../daemon/dist/watches');
const { Monitors } = require('../../daemon/dist/monitors');
const native = require('../../native');

clusterView.enabled = true;
setClusterTopology(
  parseTopology({ version: 1, nodes: [
    { id: 'a', host: '127.0.0.1', port: 7001, slots: ['0-5460'] },
    { id: 'b', host: '127.0.0.1', port: 7002, slots: ['5461-10922'] },
    { id: 'c', host: '127.0.0.1', port: 7003, slots: ['10923-16383'] },
  ] }),
  'a',
);
const b = (s) => Buffer.from(s);
const mine = [...Array(1000).keys()].map((i) => `user:${i}`).filter((k) => keySlot(k) <= 5460).slice(0, 64);
const theirs = [...Array(1000).keys()].map((i) => `user:${i}`).filter((k) => keySlot(k) > 5460).slice(0, 64);
const cases = {
  'RL.HIT, key served here': [commandTable.get('rl.hit'), mine.map((k) => [b('RL.HIT'), b(k), b('LIMIT'), b('5'), b('PER'), b('1000')])],
  'RL.HIT, key of another node (MOVED)': [commandTable.get('rl.hit'), theirs.map((k) => [b('RL.HIT'), b(k), b('LIMIT'), b('5'), b('PER'), b('1000')])],
  'RL.ALL, 3 keys with one hash tag': [commandTable.get('rl.all'), mine.map((k) => [b('RL.ALL'), b('3'), b(`{${k}}:a`), b('p'), b('1'), b(`{${k}}:b`), b('p'), b('1'), b(`{${k}}:c`), b('p'), b('1')])],
};
const N = 2_000_000;
for (const [name, [spec, argv]] of Object.entries(cases)) {
  let sink = 0;
  for (let i = 0; i < 200_000; i++) sink += clusterRedirect(spec, argv[i & 63], false) === null ? 1 : 0;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < N; i++) sink += clusterRedirect(spec, argv[i & 63], false) === null ? 1 : 0;
  const ns = Number(process.hrtime.bigint() - t0) / N;
  console.log(`${name}: ${ns.toFixed(0)} ns per check (${sink > 0 ? 'served here' : 'redirected'})`);
}

// The whole ordinary path of RL.HIT (dispatch, handler, native call, reply), cluster off and on.
const commands = new CommandRegistry(Object.assign({}, ...families.map((f) => f.handlers)), new Watches(), new Monitors());
const w = new ReplyWriter();
const clock = native.clockMs();
const conn = { authenticated: true, resp3: false, lastCommand: '', transaction: null, server: { now: clock }, replyLater() {} };
conn.session = conn;
const hits = mine.map((k) => [b('RL.HIT'), b(k), b('LIMIT'), b('1000000000'), b('PER'), b('1000')]);
const M = 300_000;
const best = { off: Infinity, on: Infinity };
for (let round = 0; round < 3; round++) {
  for (const mode of ['off', 'on']) {
    clusterView.enabled = mode === 'on';
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < M; i++) {
      commands.dispatch(conn, hits[i & 63], w);
      if ((i & 255) === 255) w.discard();
    }
    w.discard();
    best[mode] = Math.min(best[mode], Number(process.hrtime.bigint() - t0) / M);
  }
}
console.log(`RL.HIT through dispatch, cluster mode off: ${best.off.toFixed(0)} ns per command (best of 3)`);
console.log(`RL.HIT through dispatch, cluster mode on:  ${best.on.toFixed(0)} ns per command (best of 3; +${(best.on - best.off).toFixed(0)} ns)`);
