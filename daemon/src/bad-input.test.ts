/**
 * Bad input: malformed RESP, huge lengths, slow or vanishing clients. In every case the daemon
 * stays up, keeps its state, and other clients are unaffected.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import Redis from 'ioredis';
import { RawClient, resp, startDaemon, type Daemon } from './testing';

let daemon: Daemon;
let bystander: Redis;

before(async () => {
  daemon = await startDaemon(['--proto-max-bulk-len', '1mb', '--client-output-limit', '4mb']);
  bystander = new Redis({ port: daemon.port, lazyConnect: true });
  await bystander.connect();
  await bystander.client('SETNAME', 'bystander');
});

after(async () => {
  bystander.disconnect();
  const code = await daemon.stop();
  assert.equal(code, 0, `daemon exit code; output:\n${daemon.output()}`);
});

/** The daemon still answers, and still knows what it knew. */
async function stillHealthy(): Promise<void> {
  assert.equal(await bystander.ping(), 'PONG');
  assert.equal(await bystander.client('GETNAME'), 'bystander');
  assert.equal(daemon.process.exitCode, null);
}

test('random bytes: the sender gets an error or is ignored, never a crash', async () => {
  for (let i = 0; i < 20; i++) {
    const c = await RawClient.connect(daemon.port);
    c.write(randomBytes(2000 + i * 100));
    c.write(resp('PING'));
    await new Promise((r) => setTimeout(r, 10));
    c.close();
  }
  await stillHealthy();
});

test('negative multibulk count (*-5) is ignored as Redis does', async () => {
  const c = await RawClient.connect(daemon.port);
  assert.equal(await c.send('*-5\r\n' + resp('PING').toString(), '\r\n'), '+PONG\r\n');
  c.close();
});

test('$-2 and $99999999999 are invalid bulk lengths: error, then the connection closes', async () => {
  for (const bad of ['*1\r\n$-2\r\n', '*1\r\n$99999999999\r\n']) {
    const c = await RawClient.connect(daemon.port);
    c.write(bad);
    assert.equal(await c.waitClosed(), '-ERR Protocol error: invalid bulk length\r\n');
  }
  await stillHealthy();
});

test('a bulk over proto-max-bulk-len: error, connection closed', async () => {
  const c = await RawClient.connect(daemon.port);
  c.write(`*2\r\n$4\r\nECHO\r\n$${2 * 1024 * 1024}\r\n`);
  assert.equal(await c.waitClosed(), '-ERR Protocol error: invalid bulk length\r\n');
  await stillHealthy();
});

test('an array header of a million elements followed by nothing holds no memory and blocks no one', async () => {
  const rssBefore = await rss();
  const clients: RawClient[] = [];
  for (let i = 0; i < 20; i++) {
    const c = await RawClient.connect(daemon.port);
    c.write('*1000000\r\n');
    clients.push(c);
  }
  await stillHealthy();
  assert.ok((await rss()) - rssBefore < 50 * 1024 * 1024, 'no large allocation per declared count');
  for (const c of clients) c.close();
});

test('a frame sent one byte at a time is answered correctly', async () => {
  const c = await RawClient.connect(daemon.port);
  const frame = Buffer.concat([resp('ECHO', 'slow but sure'), resp('PING')]);
  for (const byte of frame) {
    c.write(Buffer.from([byte]));
    await new Promise((r) => setImmediate(r));
  }
  assert.equal(await c.until((t) => t.endsWith('+PONG\r\n')), '$13\r\nslow but sure\r\n+PONG\r\n');
  c.close();
});

test('a client that disconnects mid-frame leaves nothing behind', async () => {
  for (let i = 0; i < 10; i++) {
    const c = await RawClient.connect(daemon.port);
    c.write('*3\r\n$4\r\nECHO\r\n$100\r\nabc');
    c.close();
  }
  await stillHealthy();
  const list = (await bystander.client('LIST')) as string;
  assert.equal(list.trim().split('\n').length, 1, `only the bystander is left:\n${list}`);
});

test('a client that sends without ever reading is paused, not buffered without bound', async () => {
  const c = await RawClient.connect(daemon.port);
  c.socket.pause(); // never read replies
  const chunk = resp('ECHO', 'z'.repeat(60_000));
  const rssBefore = await rss();
  let sent = 0;
  // Keep writing until our own socket buffer says the server stopped reading.
  while (sent < 400 && c.socket.write(chunk)) sent++;
  for (let i = 0; i < 300; i++) c.socket.write(chunk); // 18 MB more queued on our side
  await new Promise((r) => setTimeout(r, 1000));
  await stillHealthy();
  const grown = (await rss()) - rssBefore;
  assert.ok(grown < 64 * 1024 * 1024, `daemon memory grew by ${grown} bytes`);
  c.close();
});

test('a client whose unread replies pass client-output-limit is disconnected', async () => {
  const c = await RawClient.connect(daemon.port);
  const id = Number((await c.send(resp('CLIENT', 'ID'), '\r\n')).slice(1));
  c.socket.pause(); // never read again
  // Small requests, large replies: 20000 x COMMAND DOCS (~9 KB each) is far more than the 4 MB
  // limit plus what the kernel's socket buffers can absorb (up to ~36 MB here).
  const request = resp('COMMAND', 'DOCS');
  c.socket.write(Buffer.concat(Array.from({ length: 20_000 }, () => request)));
  const deadline = Date.now() + 20_000;
  while (((await bystander.client('LIST')) as string).includes(`id=${id} `)) {
    assert.ok(Date.now() < deadline, 'the client was not disconnected');
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.match(daemon.output(), new RegExp(`client ${id} .* closed: \\d+ bytes of replies unread, over client-output-limit 4194304`));
  const processed = Number(/total_commands_processed:(\d+)/.exec((await bystander.info('stats')) as string)![1]);
  assert.ok(processed < 20_000, `the daemon stopped working for it (${processed} commands processed in all)`);
  c.close();
  await stillHealthy();
});

async function rss(): Promise<number> {
  const info = (await bystander.info('memory')) as string;
  return Number(/used_memory_rss:(\d+)/.exec(info)![1]);
}
