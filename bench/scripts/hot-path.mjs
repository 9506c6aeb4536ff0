#!/usr/bin/env node
// In-process cost of the daemon's hot path, no sockets, over 16-command chunks (as
// redis-benchmark -P 16 sends them): the ordinary path (RequestParser -> dispatch -> handler ->
// ReplyWriter) and the native fast path (one fastRun per chunk, replies into the same writer).
// Prints ns per command for PING, RL.HIT and CL.THROTTLE over 16,000 keys. Run after `npm install`:
//   node bench/scripts/hot-path.mjs
// Absolute numbers depend on the machine's load; compare commands within one run.
import { createRequire } from 'node:module';
const require = createRequire(import.meta.url);
const { RequestParser, ReplyWriter } = require('../../protocol/dist');
const { CommandRegistry } = require('../../daemon/dist/dispatch');
const { bindFastPath, FastPath } = require('../../daemon/dist/fast-path');
const { families } = require('../../daemon/dist/families');
const { users } = require('../../daemon/dist/acl');
const native = require('../../native');

const w = new ReplyWriter();
let clock = native.clockMs();
const { Watches } = require('../../daemon/dist/watches');
const { Monitors } = require('../../daemon/dist/monitors');
const commands = new CommandRegistry(Object.assign({}, ...families.map((f) => f.handlers)), new Watches(), new Monitors());
const fastPath = new FastPath(commands);
const stats = { commandsProcessed: 0, fastPathCommands: 0 };
// A connection as handlers see it: its own session, and the server's clock and statistics.
const conn = { authenticated: true, user: users.defaultUser, resp3: false, lastCommand: '', transaction: null, server: { stats, get now() { return clock; } }, replyLater() {} };
conn.session = conn;
const input = Buffer.alloc(64 * 1024);
bindFastPath(input);
const frame = (...a) => `*${a.length}\r\n` + a.map((x) => `$${Buffer.byteLength(x)}\r\n${x}\r\n`).join('');
const frames = {
  PING: () => frame('PING'),
  'RL.HIT': (k) => frame('RL.HIT', k, 'LIMIT', '100', 'PER', '1000'),
  'CL.THROTTLE': (k) => frame('CL.THROTTLE', k, '99', '100', '1'),
};
const parser = new RequestParser({ maxBulkLen: 1e9, maxArgs: 1e6, maxQueryBuffer: 1e9 });
const sink = (args) => void commands.dispatch(conn, args, w);
for (const [name, make] of Object.entries(frames)) {
  const chunks = [];
  for (let c = 0; c < 1000; c++) {
    let s = '';
    for (let i = 0; i < 16; i++) s += make(`key:${c * 16 + i}`);
    chunks.push(Buffer.from(s));
  }
  const paths = {
    ordinary: (chunk) => parser.feed(chunk, sink),
    'fast path': (chunk) => {
      chunk.copy(input);
      if (fastPath.run(conn, stats, w, 0, chunk.length) !== chunk.length) throw new Error(`the fast path did not take ${name}`);
    },
  };
  for (const [path, run] of Object.entries(paths)) {
    let best = Infinity;
    for (let round = 0; round < 3; round++) {
      const start = process.hrtime.bigint();
      for (let n = 0; n < 50; n++) {
        for (const chunk of chunks) {
          clock += 0.001;
          run(chunk);
          w.take();
        }
      }
      best = Math.min(best, Number(process.hrtime.bigint() - start) / (50 * 16000));
    }
    console.log(`${name.padEnd(12)} ${path.padEnd(10)} ${best.toFixed(0)} ns/command (best of 3)`);
  }
}
