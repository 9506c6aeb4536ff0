import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ReplyWriter } from './reply-writer';
// The parser ioredis uses: an independent decoder for our RESP2 output.
import RedisParser = require('redis-parser');

function decodeResp2(bytes: Buffer): unknown[] {
  const replies: unknown[] = [];
  const parser = new RedisParser({
    returnReply: (r: unknown) => replies.push(r),
    returnError: (e: Error) => replies.push(e),
    returnFatalError: (e: Error) => {
      throw e;
    },
  });
  parser.execute(bytes);
  return replies;
}

function written(resp3: boolean, write: (w: ReplyWriter) => void): Buffer {
  const w = new ReplyWriter();
  w.resp3 = resp3;
  write(w);
  return Buffer.from(w.take() ?? Buffer.alloc(0));
}

const everyType = (w: ReplyWriter) => {
  w.simple('OK');
  w.error('ERR bad\r\nthing');
  w.integer(-42);
  w.bulk('héllo');
  w.bulk(Buffer.from([0, 13, 10, 255]));
  w.null();
  w.map(2);
  w.bulk('a');
  w.integer(1);
  w.bulk('b');
  w.double(1.5);
  w.set(1);
  w.boolean(true);
  w.boolean(false);
  w.nullArray();
  w.integers(new Float64Array([1, 2.9, -3]));
};

test('RESP3 types are written natively for RESP3 clients', () => {
  const text = written(true, everyType).toString('latin1');
  assert.equal(
    text,
    '+OK\r\n-ERR bad thing\r\n:-42\r\n$6\r\nh\xc3\xa9llo\r\n$4\r\n\x00\r\n\xff\r\n_\r\n' +
      '%2\r\n$1\r\na\r\n:1\r\n$1\r\nb\r\n,1.5\r\n~1\r\n#t\r\n#f\r\n_\r\n*3\r\n:1\r\n:2\r\n:-3\r\n',
  );
});

test('RESP2 clients get the RESP2 forms, and redis-parser decodes them', () => {
  const replies = decodeResp2(written(false, everyType));
  assert.equal(replies.length, 11);
  assert.equal(replies[0], 'OK');
  assert.equal((replies[1] as Error).message, 'ERR bad thing');
  assert.equal(replies[2], -42);
  assert.equal(replies[3], 'héllo');
  assert.equal((replies[4] as string).length, 4, 'binary bulk keeps its 4 bytes');
  assert.equal(replies[5], null);
  assert.deepEqual(replies[6], ['a', 1, 'b', '1.5']);
  assert.deepEqual(replies[7], [1]);
  assert.equal(replies[8], 0);
  assert.equal(replies[9], null);
  assert.deepEqual(replies[10], [1, 2, -3]);
});

test('doubles: infinities and integers as Redis writes them', () => {
  assert.equal(written(true, (w) => [Infinity, -Infinity, 3].forEach((x) => w.double(x))).toString(), ',inf\r\n,-inf\r\n,3\r\n');
});

test('take() hands out each byte once; a full pool moves on without corrupting taken bytes', () => {
  const w = new ReplyWriter();
  w.bulk('first');
  const first = w.take()!;
  const copy = Buffer.from(first);
  for (let i = 0; i < 2000; i++) w.bulk('y'.repeat(100)); // more than one pool
  const second = w.take()!;
  assert.deepEqual(first, copy, 'bytes already taken were not overwritten');
  assert.equal(decodeResp2(Buffer.from(second)).length, 2000);
  assert.equal(w.take(), null);
});

test('a reply larger than the pool is written whole', () => {
  const big = Buffer.alloc(200_000, 7);
  const out = written(false, (w) => w.bulk(big));
  assert.equal(out.length, big.length + '$200000\r\n'.length + 2);
});

test('integers: every magnitude up to 2^53 - 1, signs, truncation, and a pool boundary', () => {
  const values = [0, -0, 7, -7, 9, 10, -10, 99, 100, 6000, -1, 123456789, 2 ** 53 - 1, -(2 ** 53 - 1), 5.7, -5.7];
  const w = new ReplyWriter();
  w.integers(new Float64Array(values));
  const want = `*${values.length}\r\n` + values.map((v) => `:${Math.trunc(v) === 0 ? 0 : Math.trunc(v)}\r\n`).join('');
  assert.equal(w.take()!.toString('latin1'), want);
  // Many replies in a row cross the 64 KiB pool; each one stays whole.
  const many = new ReplyWriter();
  for (let i = 0; i < 5000; i++) many.integers([i, -i, 2 ** 40 + i], 3);
  const text = many.take()!.toString('latin1');
  assert.equal(text, Array.from({ length: 5000 }, (_, i) => `*3\r\n:${i}\r\n:${i === 0 ? 0 : -i}\r\n:${2 ** 40 + i}\r\n`).join(''));
});

test('a reply made of many small writes is copied O(N) times in all, not once per write', () => {
  // 4,000 bulks of 100 bytes: 424 KB written before any take, as a long COMMAND DOCS reply or
  // a deep pipeline is. Growing the pool by exactly what is needed re-copied the whole pending
  // segment on nearly every write past 64 KB (about 700 MB moved here); doubling moves each
  // byte a bounded number of times.
  const w = new ReplyWriter();
  const item = 'z'.repeat(100);
  for (let i = 0; i < 4000; i++) w.bulk(item);
  const total = w.pendingBytes;
  assert.equal(total, 4000 * (100 + '$100\r\n'.length + 2));
  assert.ok(w.carriedBytes <= 2 * total, `copied ${w.carriedBytes} bytes to write ${total}`);
  // The fast path's contract: room(n) leaves at least n bytes free from writeOffset.
  const pool = w.room(1_000_000);
  assert.ok(pool.length - w.writeOffset >= 1_000_000);
  const replies = decodeResp2(Buffer.from(w.take()!));
  assert.equal(replies.length, 4000);
  assert.ok(replies.every((r) => r === item));
});
