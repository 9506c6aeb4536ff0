#!/usr/bin/env node
// The floor for any Node.js RESP server: net + redis-parser, PONG to every command, one socket
// write per read. Used to tell how much of Sluice's gap to Redis is Node itself:
//   node bench/scripts/node-baseline-server.js 6392 &
//   redis-benchmark -p 6392 -n 2000000 -c 50 -P 16 --csv PING
const net = require('node:net');
const Parser = require('redis-parser');

const port = Number(process.argv[2] ?? 6392);
net
  .createServer((socket) => {
    socket.setNoDelay(true);
    let out = [];
    const parser = new Parser({
      returnBuffers: true,
      returnReply: () => out.push('+PONG\r\n'),
      returnError: () => {},
      returnFatalError: () => socket.destroy(),
    });
    socket.on('data', (chunk) => {
      parser.execute(chunk);
      if (out.length) {
        socket.write(out.join(''));
        out = [];
      }
    });
    socket.on('error', () => {});
  })
  .listen(port, '127.0.0.1', () => console.log(`baseline PONG server on 127.0.0.1:${port}`));
