import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ProtocolError, RequestParser, type ParserLimits } from './request-parser';

const LIMITS: ParserLimits = { maxBulkLen: 512 * 1024 * 1024, maxArgs: 1024 * 1024, maxQueryBuffer: 1024 * 1024 * 1024 };

/**
 * Feeds every chunk through one reused buffer that is scribbled over after each feed, as the
 * daemon's shared read buffer is: a parser that kept a view of a chunk instead of a copy would
 * return corrupted arguments here.
 */
function parseAll(chunks: (string | Buffer)[], limits = LIMITS): string[][] {
  const p = new RequestParser(limits);
  const out: string[][] = [];
  let scratch = Buffer.alloc(0);
  for (const c of chunks) {
    const bytes = Buffer.isBuffer(c) ? c : Buffer.from(c, 'latin1');
    if (scratch.length < bytes.length) scratch = Buffer.alloc(bytes.length);
    bytes.copy(scratch);
    try {
      p.feed(scratch.subarray(0, bytes.length), (args) => void out.push(args.map((a) => a.toString('latin1'))));
    } finally {
      scratch.fill(0xee);
    }
  }
  return out;
}

function parseError(input: string, limits = LIMITS): string {
  try {
    parseAll([input], limits);
  } catch (err) {
    assert.ok(err instanceof ProtocolError, `expected ProtocolError, got ${err}`);
    return err.message;
  }
  assert.fail('no error');
}

test('multibulk commands, several per chunk', () => {
  assert.deepEqual(parseAll(['*1\r\n$4\r\nPING\r\n*2\r\n$4\r\nECHO\r\n$5\r\nhello\r\n']), [['PING'], ['ECHO', 'hello']]);
});

test('arguments are real Buffers: methods, instanceof, slices', () => {
  const p = new RequestParser(LIMITS);
  let seen: Buffer[] = [];
  p.feed(Buffer.from('*2\r\n$4\r\nECHO\r\n$5\r\nhello\r\n'), (args) => void (seen = args));
  const arg = seen[1];
  assert.ok(Buffer.isBuffer(arg) && arg instanceof Buffer);
  assert.equal(arg.toString(), 'hello');
  assert.equal(arg.toString('latin1', 1, 3), 'el');
  assert.ok(arg.equals(Buffer.from('hello')));
  assert.equal(arg.subarray(3).toString(), 'lo');
  assert.equal(Buffer.concat([arg, arg]).toString(), 'hellohello');
  assert.equal(arg.readUInt8(0), 104);
});

test('binary-safe arguments, including CRLF and empty strings', () => {
  assert.deepEqual(parseAll(['*3\r\n$3\r\nSET\r\n$4\r\na\r\nb\r\n$0\r\n\r\n']), [['SET', 'a\r\nb', '']]);
});

test('a frame split into one-byte pieces gives the same commands', () => {
  const frame = '*3\r\n$5\r\nRL.HI\r\n$10\r\n0123456789\r\n$2\r\nxy\r\n*1\r\n$4\r\nPING\r\n';
  assert.deepEqual(parseAll([...frame]), parseAll([frame]));
  assert.deepEqual(parseAll([...frame]), [['RL.HI', '0123456789', 'xy'], ['PING']]);
});

test('a stream split in two at every offset gives the same commands', () => {
  const stream = '*3\r\n$6\r\nRL.HIT\r\n$7\r\nuser:42\r\n$5\r\nLIMIT\r\nECHO inline\r\n*2\r\n$4\r\nECHO\r\n$12\r\nhello\r\nworld\r\n';
  const whole = parseAll([stream]);
  assert.deepEqual(whole, [['RL.HIT', 'user:42', 'LIMIT'], ['ECHO', 'inline'], ['ECHO', 'hello\r\nworld']]);
  for (let at = 1; at < stream.length; at++) assert.deepEqual(parseAll([stream.slice(0, at), stream.slice(at)]), whole, `split at ${at}`);
});

test('a large bulk arriving in many chunks is joined once and exact', () => {
  const big = 'x'.repeat(300_000);
  const frame = `*2\r\n$4\r\nECHO\r\n$${big.length}\r\n${big}\r\n`;
  const chunks: string[] = [];
  for (let i = 0; i < frame.length; i += 1000) chunks.push(frame.slice(i, i + 1000));
  const out = parseAll(chunks);
  assert.equal(out.length, 1);
  assert.equal(out[0][1], big);
});

test('inline commands, with quotes and escapes as redis-cli and telnet send them', () => {
  assert.deepEqual(parseAll(['PING\r\n']), [['PING']]);
  assert.deepEqual(parseAll(['PING\n']), [['PING']]);
  assert.deepEqual(parseAll(['  ECHO   "a b\\n\\x41" \'c\\\'d\'  \r\n']), [['ECHO', 'a b\nA', "c'd"]]);
  assert.deepEqual(parseAll(['\r\n\r\nPING\r\n']), [['PING']], 'empty lines are skipped');
  assert.deepEqual(parseAll(['PI', 'NG\r', '\n']), [['PING']], 'inline split across chunks');
});

test('unbalanced quotes in an inline command', () => {
  assert.equal(parseError('ECHO "abc\r\n'), 'ERR Protocol error: unbalanced quotes in request');
  assert.equal(parseError('ECHO "abc"def\r\n'), 'ERR Protocol error: unbalanced quotes in request');
});

test('an inline request over 64 KB without a newline is refused', () => {
  assert.equal(parseError('A'.repeat(70_000)), 'ERR Protocol error: too big inline request');
});

test('empty and negative multibulk counts are ignored, as Redis does', () => {
  assert.deepEqual(parseAll(['*0\r\n*-5\r\n*1\r\n$4\r\nPING\r\n']), [['PING']]);
});

test('invalid lengths are protocol errors with Redis wording', () => {
  assert.equal(parseError('*1\r\n$-2\r\n'), 'ERR Protocol error: invalid bulk length');
  assert.equal(parseError('*1\r\n$99999999999\r\n'), 'ERR Protocol error: invalid bulk length');
  assert.equal(parseError('*1\r\n$4x\r\nPING\r\n'), 'ERR Protocol error: invalid bulk length');
  assert.equal(parseError('*x\r\n'), 'ERR Protocol error: invalid multibulk length');
  assert.equal(parseError('*1\r\n+PING\r\n'), "ERR Protocol error: expected '$', got '+'");
  assert.equal(parseError('*1\r\n$4\r\nPINGxx'), 'ERR Protocol error: bulk string not followed by CRLF');
  assert.equal(parseError('*1\r\n$' + '9'.repeat(70_000)), 'ERR Protocol error: invalid bulk length');
});

test('limits: bulk length, argument count, query buffer', () => {
  const small = { maxBulkLen: 10, maxArgs: 3, maxQueryBuffer: 100 };
  assert.equal(parseError('*1\r\n$11\r\n', small), 'ERR Protocol error: invalid bulk length');
  assert.equal(parseError('*4\r\n', small), 'ERR Protocol error: invalid multibulk length');
  // 3 args of 10 bytes fit; 30 args of 10 bytes would not fit the query buffer.
  assert.deepEqual(parseAll(['*3\r\n$10\r\n0123456789\r\n$1\r\na\r\n$1\r\nb\r\n'], small), [['0123456789', 'a', 'b']]);
  const p = new RequestParser({ maxBulkLen: 1000, maxArgs: 100, maxQueryBuffer: 100 });
  assert.throws(() => p.feed(Buffer.from('*1\r\n$500\r\n'), () => {}), /query buffer limit/);
});

test('unauthenticated limits use Redis wording', () => {
  const pre = { maxBulkLen: 16 * 1024, maxArgs: 10, maxQueryBuffer: 1024 * 1024, unauthenticated: true };
  assert.equal(parseError('*11\r\n', pre), 'ERR Protocol error: unauthenticated multibulk length');
  assert.equal(parseError('*1\r\n$20000\r\n', pre), 'ERR Protocol error: unauthenticated bulk length');
});

test('a huge declared argument count costs nothing until arguments arrive', () => {
  const p = new RequestParser(LIMITS);
  const before = process.memoryUsage().heapUsed;
  p.feed(Buffer.from('*1000000\r\n'), () => assert.fail('no command yet'));
  assert.ok(process.memoryUsage().heapUsed - before < 1024 * 1024);
});

test('the sink can stop parsing (QUIT): later commands are not delivered', () => {
  const p = new RequestParser(LIMITS);
  const seen: string[] = [];
  p.feed(Buffer.from('*1\r\n$4\r\nQUIT\r\n*1\r\n$4\r\nPING\r\n'), (args) => {
    seen.push(args[0].toString());
    return false;
  });
  assert.deepEqual(seen, ['QUIT']);
});

test('what the sink stopped before is handed back, whether it came from the chunk or from held bytes', () => {
  const p = new RequestParser(LIMITS);
  const seen: string[] = [];
  const stopAfterFirst = (args: Buffer[]) => {
    seen.push(args[0].toString());
    return seen.length !== 1;
  };
  assert.equal(p.feed(Buffer.from('*1\r\n$4\r\nPING\r\nECHO a\r\n*1\r\n$4\r\nTIME\r\n'), stopAfterFirst), -1);
  assert.equal(p.takeUnparsed()?.toString(), 'ECHO a\r\n*1\r\n$4\r\nTIME\r\n');
  assert.equal(p.takeUnparsed(), null, 'taken once');
  assert.ok(p.idle);
  // A frame completed from held bytes: the rest is a view of the parser's own copy.
  seen.length = 0;
  p.feed(Buffer.from('*2\r\n$4\r\nECHO\r\n$2\r\nx'), stopAfterFirst);
  const chunk = Buffer.from('y\r\nPING\r\n');
  assert.equal(p.feed(chunk, stopAfterFirst), -1);
  chunk.fill(0); // the caller reuses its buffer
  assert.equal(p.takeUnparsed()?.toString(), 'PING\r\n');
  assert.deepEqual(seen, ['ECHO']);
  // Stopping after the last command leaves nothing.
  assert.equal(p.feed(Buffer.from('PING\r\n'), () => false), -1);
  assert.equal(p.takeUnparsed(), null);
});

test('feedOne parses one command and says where the next begins', () => {
  const p = new RequestParser(LIMITS);
  const seen: string[][] = [];
  const sink = (args: Buffer[]) => void seen.push(args.map((a) => a.toString()));
  const stream = Buffer.from('*1\r\n$4\r\nPING\r\nECHO x\r\n*2\r\n$4\r\nECHO\r\n$3\r\nab');
  let from = p.feedOne(stream, sink);
  assert.equal(from, 14);
  from += p.feedOne(stream.subarray(from), sink);
  assert.equal(from, 22);
  assert.equal(p.feedOne(stream.subarray(from), sink), stream.length - from, 'an incomplete frame is held whole');
  assert.equal(p.idle, false);
  p.feed(Buffer.from('c\r\n'), sink);
  assert.deepEqual(seen, [['PING'], ['ECHO', 'x'], ['ECHO', 'abc']]);
  assert.equal(p.idle, true);
});
