/**
 * Choosing what runs: the `features` option (a family left out answers an error naming it and
 * builds no state), tokenizer tables built on first use or at start (`tokens-preload`), and the
 * start-up memory that follows. Real daemons over TCP; memory read from /proc.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Redis from 'ioredis';
import { RawClient, resp, startDaemon, type Daemon } from './testing';

/** The daemon's resident memory in bytes, from /proc (a memory bound, not a timing). */
function rssOf(daemon: Daemon): number {
  const status = readFileSync(`/proc/${daemon.process.pid}/status`, 'utf8');
  const kb = /VmRSS:\s+(\d+) kB/.exec(status);
  assert.ok(kb, `no VmRSS in /proc/${daemon.process.pid}/status`);
  return Number(kb[1]) * 1024;
}

async function infoField(r: Redis, section: string, field: string): Promise<string | undefined> {
  const text = (await r.info(section)) as string;
  return new RegExp(`^${field}:(.*)$`, 'm').exec(text)?.[1]?.trim();
}

async function withDaemon(args: string[], env: NodeJS.ProcessEnv, body: (d: Daemon, r: Redis) => Promise<void>): Promise<void> {
  const d = await startDaemon(args, env);
  const r = new Redis({ port: d.port, maxRetriesPerRequest: 0 });
  try {
    await body(d, r);
  } finally {
    r.disconnect();
    await d.stop();
  }
}

test('with embedded defaults the daemon starts under 80 MB resident, having built no tokenizer', async () => {
  await withDaemon([], {}, async (d, r) => {
    await r.ping();
    const rss = rssOf(d);
    assert.ok(rss < 80 * 1024 * 1024, `RSS at start is ${(rss / 1048576).toFixed(1)} MB`);
    assert.equal(await infoField(r, 'tokens', 'tokens_encodings_loaded'), '');
    assert.equal(await infoField(r, 'server', 'features'), 'limits,leases,tokens,routing');
  });
});

test('an encoding is built on its first use (on a worker thread), and INFO tokens says so', async () => {
  await withDaemon([], {}, async (_d, r) => {
    assert.equal(await infoField(r, 'tokens', 'tokens_encodings_loaded'), '');
    // A short text would count on the event loop; the first use goes to a worker instead.
    assert.equal(await r.call('TOK.COUNT', 'gpt-4', 'hello world'), 2);
    assert.equal(await infoField(r, 'tokens', 'tokens_encodings_loaded'), 'cl100k_base');
    assert.equal(await infoField(r, 'tokens', 'tokens_first_use_calls'), '1');
    // Later short texts count inline.
    assert.equal(await r.call('TOK.COUNT', 'gpt-4', 'hello again'), 2);
    assert.equal(await infoField(r, 'tokens', 'tokens_inline_calls'), '1');
    // Every first-use path: WITHIN, CHAT, ENCODE on o200k_base (o200k_harmony shares its tables).
    assert.equal(await r.call('TOK.WITHIN', 'o200k_base', '5', 'hello world'), 2);
    assert.equal(await infoField(r, 'tokens', 'tokens_encodings_loaded'), 'cl100k_base,o200k_base,o200k_harmony');
    assert.deepEqual(await r.call('TOK.ENCODE', 'p50k_base', 'hello world'), [31373, 995]);
    assert.equal(await r.call('TOK.CHAT', 'davinci', JSON.stringify([{ role: 'user', content: 'hi' }])), 8);
    assert.equal(await infoField(r, 'tokens', 'tokens_encodings_loaded'), 'r50k_base,p50k_base,cl100k_base,o200k_base,o200k_harmony');
    // An unknown model is still refused before anything is built.
    await assert.rejects(r.call('TOK.COUNT', 'no-such-model', 'x'), /ERR unknown model 'no-such-model'/);
    assert.equal(await infoField(r, 'tokens', 'tokens_special_decoders_loaded'), '');
  });
});

test('tokens-preload builds the listed encodings at start; a name that is not an encoding is refused', async () => {
  await withDaemon(['--tokens-preload', 'o200k_base,cl100k_base'], {}, async (_d, r) => {
    assert.equal(await infoField(r, 'tokens', 'tokens_encodings_loaded'), 'cl100k_base,o200k_base,o200k_harmony');
    assert.equal(await r.config('GET', 'tokens-preload').then((x) => (x as string[])[1]), 'o200k_base,cl100k_base');
    assert.equal(await r.call('TOK.COUNT', 'gpt-4o', 'hello world'), 2);
    assert.equal(await infoField(r, 'tokens', 'tokens_first_use_calls'), '0');
  });
  await assert.rejects(startDaemon(['--tokens-preload', 'gpt-4o']), /invalid value 'gpt-4o' for tokens-preload \(from flag --tokens-preload\): 'gpt-4o' is not one of r50k_base/);
});

test('a family left out of features answers an error naming the option; the others work', async () => {
  await withDaemon(['--features', 'limits,leases'], {}, async (_d, r) => {
    await assert.rejects(
      r.call('TOK.COUNT', 'gpt-4o', 'hello'),
      /^ReplyError: ERR the tokens commands are turned off: 'tokens' is not in the features option \(features limits,leases\)\. Add tokens to features \(config file, --features or SLUICE_FEATURES\) and restart Sluice$/,
    );
    await assert.rejects(r.call('ROUTE.PICK', 'gpt-4o'), /ERR the routing commands are turned off: 'routing' is not in the features option/);
    assert.equal(((await r.call('RL.HIT', 'k', 'LIMIT', '10', 'PER', '60000')) as number[])[0], 1);
    assert.deepEqual(((await r.call('SEM.ACQUIRE', 'p', '1')) as number[])[0], 1);
    // No tokens or routing state: their INFO sections are gone, and the server says what runs.
    const all = (await r.info('everything')) as string;
    assert.doesNotMatch(all, /# Tokens|# Routing|tokens_cache/);
    assert.equal(await infoField(r, 'server', 'features'), 'limits,leases');
    // The commands stay known (COMMAND INFO, arity errors come first, as for any command).
    await assert.rejects(r.call('TOK.COUNT', 'gpt-4o'), /ERR wrong number of arguments for 'tok\.count' command/);
  });
});

test('with limits left out the native fast path answers nothing either (pipelined raw RL.HIT, RESP and inline)', async () => {
  await withDaemon([], { SLUICE_FEATURES: 'tokens' }, async (d) => {
    const c = await RawClient.connect(d.port);
    try {
      c.write(Buffer.concat([resp('PING'), resp('RL.HIT', 'k', 'LIMIT', '10', 'PER', '60000'), resp('CL.THROTTLE', 'k', '1', '10', '60'), Buffer.from('RL.PEEK k LIMIT 10 PER 60000\r\n')]));
      const text = await c.until((t) => t.split('restart Sluice\r\n').length === 4);
      assert.match(text, /^\+PONG\r\n-ERR the limits commands are turned off: 'limits' is not in the features option \(features tokens\)/);
      assert.equal(text.split('turned off').length - 1, 3, text);
    } finally {
      c.close();
    }
  });
});

test('features from the config file (a YAML list or a string) and from SLUICE_FEATURES; a wrong name stops the start', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sluice-features-'));
  try {
    const file = path.join(dir, 'sluice.yaml');
    writeFileSync(file, 'features: [routing, limits]\n');
    await withDaemon(['--config', file], {}, async (_d, r) => {
      assert.equal(await infoField(r, 'server', 'features'), 'routing,limits');
      await assert.rejects(r.call('SEM.COUNT', 'p'), /ERR the leases commands are turned off/);
    });
    writeFileSync(file, 'features: leases tokens\n');
    await withDaemon(['--config', file], { SLUICE_FEATURES: 'limits' }, async (_d, r) => {
      assert.equal(await infoField(r, 'server', 'features'), 'leases,tokens', 'the file wins over the environment');
    });
    await withDaemon(['--features', ''], {}, async (_d, r) => {
      await assert.rejects(r.call('RL.HIT', 'k', 'LIMIT', '1', 'PER', '1000'), /ERR the limits commands are turned off: 'limits' is not in the features option \(features \(none\)\)/);
      assert.equal(await r.ping(), 'PONG');
    });
    writeFileSync(file, 'features: [limits, tokenz]\n');
    await assert.rejects(startDaemon(['--config', file]), /invalid value 'limits,tokenz' for features \(from config file .*\): 'tokenz' is not one of limits, leases, tokens, routing/);
    await assert.rejects(startDaemon(['--features', 'keyspace']), /'keyspace' is not one of limits, leases, tokens, routing/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('CONFIG SET cannot change features or tokens-preload at run time', async () => {
  await withDaemon([], {}, async (_d, r) => {
    await assert.rejects(r.config('SET', 'features', 'limits'), /ERR CONFIG SET failed \(possibly related to argument 'features'\) - can't set immutable config/);
    await assert.rejects(r.config('SET', 'tokens-preload', 'cl100k_base'), /can't set immutable config/);
  });
});
