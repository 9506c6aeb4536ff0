/**
 * maxmemory-clients: all clients' buffers together have a budget; past it the client holding
 * the most is closed (and logged), the others keep working. Real daemon, raw TCP clients that
 * send the start of large bulks and stop, as the abuse in issue #14 did.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import Redis from 'ioredis';
import { RawClient, resp, startDaemon } from './testing';

const MB = 1024 * 1024;

/** Sends the header of `EXISTS <key of declared bytes>` and `sent` bytes of it, in 1 MB writes. */
async function sendPartialBulk(c: RawClient, declared: number, sent: number): Promise<void> {
  c.write(`*2\r\n$6\r\nEXISTS\r\n$${declared}\r\n`);
  const chunk = Buffer.alloc(MB, 'x');
  for (let done = 0; done < sent && !c.closed; done += MB) {
    const ok = c.socket.write(chunk.subarray(0, Math.min(MB, sent - done)));
    // Until it drains, or the daemon closes the connection.
    if (!ok) await new Promise((resolve) => {
      c.socket.once('drain', resolve);
      c.socket.once('close', resolve);
    });
  }
}

async function infoField(r: Redis, section: string, field: string): Promise<number> {
  const text = (await r.info(section)) as string;
  return Number(new RegExp(`^${field}:(\\d+)`, 'm').exec(text)?.[1]);
}

async function eventually(what: string, check: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

test('past maxmemory-clients the client holding the most is closed; the others keep working; a log line says why', async () => {
  const daemon = await startDaemon(['--maxmemory-clients', '40mb']);
  const r = new Redis({ port: daemon.port });
  const small = await Promise.all([RawClient.connect(daemon.port), RawClient.connect(daemon.port)]);
  const big = await RawClient.connect(daemon.port);
  try {
    // Two clients each hold the start of a 20 MB argument (6 MB sent): about 14 MB in all.
    await Promise.all(small.map((c) => sendPartialBulk(c, 20 * MB, 6 * MB)));
    await eventually('the small clients are counted', async () => (await infoField(r, 'memory', 'mem_clients_normal')) >= 12 * MB);
    assert.equal(await infoField(r, 'stats', 'evicted_clients'), 0);
    // The third declares 500 MB and sends until it is cut off (at most 60 MB).
    await sendPartialBulk(big, 500 * MB, 60 * MB).catch(() => {});
    await big.waitClosed(10_000);
    assert.ok(big.closed, 'the client holding the most was closed');
    assert.equal(await infoField(r, 'stats', 'evicted_clients'), 1);
    assert.match(daemon.output(), /client \d+ \(127\.0\.0\.1:\d+\) closed: it held [\d.]+ MB of buffers, the most of any client, and all clients held [\d.]+ MB, over maxmemory-clients 40\.0 MB; raise maxmemory-clients/);
    // The two smaller ones are still connected: they finish their commands and get the answer.
    const rest = Buffer.alloc(14 * MB, 'x');
    for (const c of small) {
      assert.equal(c.closed, false);
      const before = c.received.length;
      c.write(Buffer.concat([rest, Buffer.from('\r\n'), resp('PING')]));
      assert.equal(await c.until((t) => t.endsWith('+PONG\r\n'), 20_000).then((t) => t.slice(before)), ':0\r\n+PONG\r\n');
    }
    assert.equal(((await r.call('RL.HIT', 'k', 'LIMIT', '10', 'PER', '60000')) as number[])[0], 1, 'other clients are served throughout');
    await eventually('the finished commands free their memory', async () => (await infoField(r, 'memory', 'mem_clients_normal')) < MB);
  } finally {
    for (const c of [...small, big]) c.close();
    r.disconnect();
    await daemon.stop();
  }
});

test('maxmemory-clients 0 turns the limit off; CONFIG SET changes it at run time and it applies at once', async () => {
  const daemon = await startDaemon(['--maxmemory-clients', '0']);
  const r = new Redis({ port: daemon.port });
  const c = await RawClient.connect(daemon.port);
  try {
    await sendPartialBulk(c, 100 * MB, 12 * MB);
    await eventually('the client is counted', async () => (await infoField(r, 'memory', 'mem_clients_normal')) >= 12 * MB);
    assert.equal(c.closed, false);
    assert.equal(await infoField(r, 'memory', 'maxmemory_clients'), 0);
    await r.config('SET', 'maxmemory-clients', '8mb');
    await c.waitClosed(10_000);
    assert.ok(c.closed);
    assert.equal(await infoField(r, 'stats', 'evicted_clients'), 1);
    await assert.rejects(r.config('SET', 'maxmemory-clients', '-1'), /ERR CONFIG SET failed - invalid value '-1' for maxmemory-clients/);
  } finally {
    c.close();
    r.disconnect();
    await daemon.stop();
  }
});
