/**
 * TOK.* over real TCP against a real daemon, checked against an independent implementation
 * (npm gpt-tokenizer) on a varied corpus.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Redis from 'ioredis';
import * as cl100k from 'gpt-tokenizer/encoding/cl100k_base';
import * as o200k from 'gpt-tokenizer/encoding/o200k_base';
import * as o200kHarmony from 'gpt-tokenizer/encoding/o200k_harmony';
import * as p50k from 'gpt-tokenizer/encoding/p50k_base';
import * as p50kEdit from 'gpt-tokenizer/encoding/p50k_edit';
import * as r50k from 'gpt-tokenizer/encoding/r50k_base';
import { RawClient, redisCli, resp, startDaemon, type Daemon } from '../testing';

type Oracle = { encode(text: string, options?: { disallowedSpecial?: Set<string> }): number[] };
const ORACLES: Record<string, Oracle> = {
  cl100k_base: cl100k,
  o200k_base: o200k,
  o200k_harmony: o200kHarmony,
  p50k_base: p50k,
  p50k_edit: p50kEdit,
  r50k_base: r50k,
};
/** Special-token strings are ordinary text: neither allowed as specials nor refused. */
const oracleIds = (encoding: string, text: string) => ORACLES[encoding].encode(text, { disallowedSpecial: new Set() });

const CORPUS: Record<string, string> = {
  english: 'The quick brown fox jumps over the lazy dog. It\'s 3:45pm; we\'ll see what they\'re doing.',
  german: 'Zwölf Boxkämpfer jagen Viktor quer über den großen Sylter Deich. Straße, Größe, Übermaß.',
  russian: 'Съешь же ещё этих мягких французских булок, да выпей чаю.',
  chinese: '我能吞下玻璃而不伤身体。机器学习模型的分词器把文本切成词元。',
  japanese: 'いろはにほへと ちりぬるを わかよたれそ つねならむ。カタカナとひらがな、漢字。',
  korean: '다람쥐 헌 쳇바퀴에 타고파. 한국어 토큰 수를 셉니다.',
  arabic: 'نص حكيم له سر قاطع وذو شأن عظيم مكتوب على ثوب أخضر ومغلف بجلد أزرق',
  hindi: 'ऋषियों को सताने वाले दुष्ट राक्षसों के राजा रावण का सर्वनाश करने वाले विष्णुवतार भगवान श्रीराम',
  greek: 'Ξεσκεπάζω τὴν ψυχοφθόρα βδελυγμία.',
  emoji: '🙂🚀 👩‍👩‍👧‍👦 family, 🇫🇷🇯🇵 flags, skin tones 👍🏽👍🏿, keycap 1️⃣ and ❤️‍🔥',
  code: 'function fib(n: number): number {\n  return n < 2 ? n : fib(n - 1) + fib(n - 2);\n}\n\nconst xs = [1, 2, 3].map((x) => x ** 2); // squares\nif (xs.length !== 3) throw new Error("bad");\n',
  python: 'def main():\n\tfor i in range(10):\n\t\tprint(f"{i:>4}", end="")\n\nif __name__ == "__main__":\n    main()\n',
  whitespace: '   leading\n\n\n\ttabs\t\t\tand    spaces    \r\n\r\ntrailing   \n   \n  ',
  numbers: '1234567890 3.14159265358979 -42 1e10 0x1F 2024-11-27T21:30:00Z 1,000,000',
  special: 'Text with <|endoftext|> and <|im_start|>user<|im_end|> and <|fim_prefix|><|endofprompt|> inside.',
  url: 'https://example.com/path/to/page?query=value&other=ünïcödé#fragment mailto:a@b.c',
  mixed: 'Español: ¿Dónde está la biblioteca? Français: où est-ce ? Tiếng Việt: Xin chào. עברית: שלום',
  repeated: 'a'.repeat(10_000),
  repeatedSpace: ' '.repeat(3000) + 'x',
  repeatedDigits: '9'.repeat(5000),
  repeatedCjk: '字'.repeat(4000),
};

let daemon: Daemon;
let redis: Redis;
const dir = mkdtempSync(path.join(os.tmpdir(), 'sluice-tokens-'));

function writeConfig(name: string, text: string): string {
  const file = path.join(dir, name);
  writeFileSync(file, text);
  return file;
}

async function infoTokens(client: Redis = redis): Promise<Record<string, number>> {
  const text = (await client.info('tokens')) as string;
  const out: Record<string, number> = {};
  for (const line of text.split('\r\n')) {
    const m = /^(tokens_\w+):(\d+)$/.exec(line);
    if (m) out[m[1]] = Number(m[2]);
  }
  return out;
}

/** Sends a command and returns the error message it is answered with. */
async function errorOf(...args: (string | Buffer | number)[]): Promise<string> {
  const err = await redis.call(String(args[0]), ...args.slice(1)).then(
    (v) => assert.fail(`expected an error, got ${JSON.stringify(v)}`),
    (e: Error) => e,
  );
  return err.message;
}

before(async () => {
  const config = writeConfig(
    'sluice.yaml',
    [
      'tokens-cache-entries: 1000',
      'models:',
      '  prod-chat: gpt-4o',
      '  legacy-deployment:',
      '    model: gpt-4',
      '    max-output-tokens: 1000',
      '  private-llm:',
      '    encoding: cl100k_base',
      '    context-window: 32000',
      '',
    ].join('\n'),
  );
  daemon = await startDaemon(['--config', config]);
  redis = new Redis({ port: daemon.port, lazyConnect: true, maxRetriesPerRequest: 0 });
  await redis.connect();
});

after(async () => {
  redis?.disconnect();
  await daemon?.stop();
});

describe('TOK.COUNT and TOK.ENCODE agree with gpt-tokenizer', () => {
  for (const encoding of Object.keys(ORACLES)) {
    test(encoding, async () => {
      for (const [name, text] of Object.entries(CORPUS)) {
        const expected = oracleIds(encoding, text);
        assert.equal(await redis.call('TOK.COUNT', encoding, text), expected.length, `${encoding} ${name}`);
        assert.deepEqual(await redis.call('TOK.ENCODE', encoding, text), expected, `${encoding} ${name}`);
      }
    });
  }

  test('the whole corpus at once (large enough to go to a worker thread)', async () => {
    const before = await infoTokens();
    const all = Object.values(CORPUS).join('\n').repeat(4);
    assert.ok(all.length > 64 * 1024);
    for (const encoding of ['cl100k_base', 'o200k_base']) {
      const expected = oracleIds(encoding, all);
      assert.equal(await redis.call('TOK.COUNT', encoding, all), expected.length);
      assert.deepEqual(await redis.call('TOK.ENCODE', encoding, all), expected);
      assert.equal(await redis.call('TOK.WITHIN', encoding, expected.length, all), expected.length);
    }
    const afterInfo = await infoTokens();
    assert.equal(afterInfo.tokens_offloaded_calls - before.tokens_offloaded_calls, 6);
  });

  test('special-token strings count as their characters, not as one special token', async () => {
    assert.equal(await redis.call('TOK.COUNT', 'cl100k_base', '<|endoftext|>'), 7);
    const ids = (await redis.call('TOK.ENCODE', 'gpt-4o', '<|endoftext|>')) as number[];
    assert.ok(!ids.includes(199999), 'o200k_base <|endoftext|> is id 199999');
  });
});

describe('model names', () => {
  test('OpenAI names, prefixes and fine-tunes pick the right encoding', async () => {
    const text = CORPUS.mixed + CORPUS.emoji;
    const o200 = oracleIds('o200k_base', text).length;
    const cl100 = oracleIds('cl100k_base', text).length;
    assert.notEqual(o200, cl100);
    for (const m of ['gpt-4o', 'gpt-4o-mini-2024-07-18', 'gpt-4.1-nano', 'gpt-5', 'o3-mini', 'ft:gpt-4o-2024-08-06:acme::abc123']) {
      assert.equal(await redis.call('TOK.COUNT', m, text), o200, m);
    }
    for (const m of ['gpt-4', 'gpt-4-0613', 'gpt-3.5-turbo', 'gpt-35-turbo-16k', 'text-embedding-3-large', 'ft:gpt-3.5-turbo-0125:acme::x']) {
      assert.equal(await redis.call('TOK.COUNT', m, text), cl100, m);
    }
    assert.equal(await redis.call('TOK.COUNT', 'text-davinci-003', text), oracleIds('p50k_base', text).length);
    assert.equal(await redis.call('TOK.COUNT', 'davinci', text), oracleIds('r50k_base', text).length);
  });

  test("private names from the config file's models: section", async () => {
    const text = CORPUS.mixed + CORPUS.emoji;
    assert.equal(await redis.call('TOK.COUNT', 'prod-chat', text), oracleIds('o200k_base', text).length);
    assert.equal(await redis.call('TOK.COUNT', 'legacy-deployment', text), oracleIds('cl100k_base', text).length);
    assert.equal(await redis.call('TOK.COUNT', 'private-llm', text), oracleIds('cl100k_base', text).length);
    assert.deepEqual(await redis.call('TOK.INFO', 'prod-chat'), ['encoding', 'o200k_base', 'context_window', 128000, 'max_output_tokens', 16384]);
    assert.deepEqual(await redis.call('TOK.INFO', 'legacy-deployment'), ['encoding', 'cl100k_base', 'context_window', 8192, 'max_output_tokens', 1000]);
    assert.deepEqual(await redis.call('TOK.INFO', 'private-llm'), ['encoding', 'cl100k_base', 'context_window', 32000, 'max_output_tokens', null]);
  });

  test('TOK.INFO for built-in models and encodings, in RESP2 and RESP3', async () => {
    assert.deepEqual(await redis.call('TOK.INFO', 'gpt-4o'), ['encoding', 'o200k_base', 'context_window', 128000, 'max_output_tokens', 16384]);
    assert.deepEqual(await redis.call('TOK.INFO', 'gpt-4.1'), ['encoding', 'o200k_base', 'context_window', 1047576, 'max_output_tokens', 32768]);
    assert.deepEqual(await redis.call('TOK.INFO', 'o200k_harmony'), ['encoding', 'o200k_harmony', 'context_window', null, 'max_output_tokens', null]);
    const c = await RawClient.connect(daemon.port);
    try {
      await c.send(resp('HELLO', '3'), 'proto');
      const reply = await c.send(resp('TOK.INFO', 'gpt-4'), 'max_output_tokens');
      await c.until((t) => t.endsWith(':8192\r\n'));
      assert.ok(reply.startsWith('%3\r\n$8\r\nencoding\r\n$11\r\ncl100k_base\r\n'), reply);
      const none = await c.send(resp('TOK.INFO', 'p50k_base'), 'max_output_tokens\r\n_\r\n');
      assert.ok(none.includes('context_window\r\n_\r\n'), none);
    } finally {
      c.close();
    }
  });

  test('an unknown model is an error that says how to map it', async () => {
    const msg = await errorOf('TOK.COUNT', 'my-llama-3', 'hello');
    assert.match(msg, /^ERR unknown model 'my-llama-3'/);
    assert.match(msg, /o200k_base/);
    assert.match(msg, /models:/);
    for (const cmd of [['TOK.CHAT', 'nope', '[]'], ['TOK.WITHIN', 'nope', '5', 'x'], ['TOK.ENCODE', 'nope', 'x'], ['TOK.DECODE', 'nope', '1'], ['TOK.INFO', 'nope']]) {
      assert.match(await errorOf(...cmd), /^ERR unknown model 'nope'/, cmd[0]);
    }
    // On the worker-thread path too.
    assert.match(await errorOf('TOK.COUNT', 'nope', 'x'.repeat(200_000)), /^ERR unknown model 'nope'/);
  });

  test('a bad models: section stops start-up with a message that names the entry', async () => {
    const bad = writeConfig('bad.yaml', 'models:\n  my-deployment:\n    model: no-such-model\n');
    await assert.rejects(startDaemon(['--config', bad]), /models\.my-deployment: unknown model 'no-such-model'/);
    const both = writeConfig('both.yaml', 'models:\n  x:\n    model: gpt-4o\n    encoding: cl100k_base\n');
    await assert.rejects(startDaemon(['--config', both]), /models\.x: give exactly one of model or encoding/);
  });
});

/** The OpenAI cookbook's example ("How to count tokens with tiktoken"). */
const COOKBOOK_MESSAGES = [
  { role: 'system', content: 'You are a helpful, pattern-following assistant that translates corporate jargon into plain English.' },
  { role: 'system', name: 'example_user', content: 'New synergies will help drive top-line growth.' },
  { role: 'system', name: 'example_assistant', content: 'Things working well together will increase revenue.' },
  { role: 'system', name: 'example_user', content: "Let's circle back when we have more bandwidth to touch base on opportunities for increased leverage." },
  { role: 'system', name: 'example_assistant', content: "Let's talk later when we're less busy about how to do better." },
  { role: 'user', content: "This late pivot means we don't have time to boil the ocean for the client deliverable." },
];

describe('TOK.CHAT', () => {
  test("reproduces the cookbook's worked examples", async () => {
    const json = JSON.stringify(COOKBOOK_MESSAGES);
    assert.equal(await redis.call('TOK.CHAT', 'gpt-4', json), 129);
    assert.equal(await redis.call('TOK.CHAT', 'gpt-4-0613', json), 129);
    assert.equal(await redis.call('TOK.CHAT', 'gpt-4o', json), 124);
    assert.equal(await redis.call('TOK.CHAT', 'gpt-4o-mini', json), 124);
  });

  test('per-message and per-name overheads, content parts, priming', async () => {
    const c = (t: string) => oracleIds('o200k_base', t).length;
    const messages = [
      { role: 'system', content: CORPUS.english },
      { role: 'user', name: 'alice', content: [{ type: 'text', text: CORPUS.german }, { type: 'image_url', image_url: { url: 'https://x/y.png' } }, { type: 'text', text: CORPUS.emoji }] },
      { role: 'assistant', content: null },
    ];
    const expected = 3 * 3 + c('system') + c(CORPUS.english) + c('user') + c('alice') + 1 + c(CORPUS.german) + c(CORPUS.emoji) + c('assistant') + 3;
    assert.equal(await redis.call('TOK.CHAT', 'gpt-4o', JSON.stringify(messages)), expected);
    assert.equal(await redis.call('TOK.CHAT', 'gpt-4o', '[]'), 3);
  });

  test("tool definitions by the cookbook's formula", async () => {
    const tools = [
      {
        type: 'function',
        function: {
          name: 'get_current_weather',
          description: 'Get the current weather in a given location.',
          parameters: {
            type: 'object',
            properties: {
              location: { type: 'string', description: 'The city and state, e.g. San Francisco, CA' },
              unit: { type: 'string', description: 'The unit of temperature.', enum: ['celsius', 'fahrenheit'] },
            },
            required: ['location'],
          },
        },
      },
      { type: 'function', function: { name: 'ping', description: 'No parameters', parameters: { type: 'object', properties: {} } } },
    ];
    const messages = JSON.stringify([{ role: 'user', content: "What's the weather like in San Francisco?" }]);
    for (const [model, encoding, funcInit] of [['gpt-4o', 'o200k_base', 7], ['gpt-4', 'cl100k_base', 10]] as const) {
      const c = (t: string) => oracleIds(encoding, t).length;
      const toolTokens =
        funcInit + c('get_current_weather:Get the current weather in a given location') + 3 +
        3 + c('location:string:The city and state, e.g. San Francisco, CA') +
        3 - 3 + (3 + c('celsius')) + (3 + c('fahrenheit')) + c('unit:string:The unit of temperature') +
        funcInit + c('ping:No parameters') +
        12;
      const plain = (await redis.call('TOK.CHAT', model, messages)) as number;
      assert.equal(plain, 3 + c('user') + c("What's the weather like in San Francisco?") + 3);
      assert.equal(await redis.call('TOK.CHAT', model, messages, 'TOOLS', JSON.stringify(tools)), plain + toolTokens, model);
      assert.equal(await redis.call('TOK.CHAT', model, messages, 'tools', '[]'), plain);
    }
  });

  test('large chats are counted on a worker thread with the same result', async () => {
    const many = Array.from({ length: 400 }, (_, i) => ({ role: i % 2 ? 'assistant' : 'user', content: `${CORPUS.english} ${i} ${CORPUS.chinese}` }));
    const c = (t: string) => oracleIds('o200k_base', t).length;
    const expected = many.reduce((sum, m) => sum + 3 + c(m.role) + c(m.content), 3);
    const before = await infoTokens();
    assert.equal(await redis.call('TOK.CHAT', 'gpt-4o', JSON.stringify(many)), expected);
    assert.equal((await infoTokens()).tokens_offloaded_calls - before.tokens_offloaded_calls, 1);
  });

  test('invalid JSON, wrong shapes and syntax errors', async () => {
    assert.match(await errorOf('TOK.CHAT', 'gpt-4o', '[{"role": "user",'), /^ERR messages is not valid JSON: /);
    assert.match(await errorOf('TOK.CHAT', 'gpt-4o', '[]', 'TOOLS', '[{'), /^ERR tools is not valid JSON: /);
    assert.equal(await errorOf('TOK.CHAT', 'gpt-4o', '{"role": "user"}'), 'ERR messages must be a JSON array of message objects, not an object');
    assert.equal(await errorOf('TOK.CHAT', 'gpt-4o', '["hi"]'), 'ERR messages[0] must be an object, not a string');
    assert.equal(await errorOf('TOK.CHAT', 'gpt-4o', '[]', 'TOLS', '[]'), 'ERR syntax error');
    assert.equal(await errorOf('TOK.CHAT', 'gpt-4o', '[]', 'TOOLS'), 'ERR syntax error');
    assert.equal(await errorOf('TOK.CHAT', 'gpt-4o', Buffer.from('[{"content":"\xff"}]', 'latin1')), 'ERR messages is not valid UTF-8 (bad byte at offset 13)');
    const bigBad = '[' + '{"role":"user","content":"x"},'.repeat(10_000) + ']';
    assert.match(await errorOf('TOK.CHAT', 'gpt-4o', bigBad), /^ERR messages is not valid JSON: /);
  });
});

describe('TOK.WITHIN', () => {
  test('the count when within the limit, else -1', async () => {
    for (const text of [CORPUS.english, CORPUS.code, CORPUS.repeated]) {
      const n = oracleIds('o200k_base', text).length;
      assert.equal(await redis.call('TOK.WITHIN', 'gpt-4o', n, text), n);
      assert.equal(await redis.call('TOK.WITHIN', 'gpt-4o', n + 100, text), n);
      assert.equal(await redis.call('TOK.WITHIN', 'gpt-4o', n - 1, text), -1);
      assert.equal(await redis.call('TOK.WITHIN', 'gpt-4o', 0, text), -1);
    }
    assert.equal(await redis.call('TOK.WITHIN', 'gpt-4o', 0, ''), 0);
  });

  test('stops early on a long text far over the limit', async () => {
    // 6 MB of seeded, non-repeating words (larger than tokens-inline-max-bytes: the worker path).
    let seed = 12345;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2147483648);
    const syllables = ['ka', 'lo', 'mi', 'sun', 'dre', 'qua', 'vex', 'ori', 'pel', 'zu', 'thra', 'gno'];
    const words: string[] = [];
    let size = 0;
    while (size < 6 * 1024 * 1024) {
      let word = '';
      for (let k = 1 + (next() % 4); k > 0; k--) word += syllables[next() % syllables.length];
      word += next() % 7 === 0 ? `${next() % 1000}, ` : ' ';
      words.push(word);
      size += word.length;
    }
    const big = words.join('');
    const before = await infoTokens();
    assert.equal(await redis.call('TOK.WITHIN', 'gpt-4o', 100, big), -1);
    const after = await infoTokens();
    // Counted, not timed: the call stopped once past 100 tokens, leaving nearly all 6 MB uncounted.
    assert.equal(after.tokens_within_early_stops - before.tokens_within_early_stops, 1);
    const skipped = after.tokens_within_bytes_skipped - before.tokens_within_bytes_skipped;
    assert.ok(skipped > big.length - 64 * 1024, `only ${skipped} of ${big.length} bytes were skipped`);
    // And the whole text still counts to more than the limit.
    assert.ok(((await redis.call('TOK.COUNT', 'gpt-4o', big)) as number) > 100_000);
  });

  test('a bad limit', async () => {
    assert.equal(await errorOf('TOK.WITHIN', 'gpt-4o', '-1', 'x'), 'ERR limit must be a non-negative integer');
    assert.equal(await errorOf('TOK.WITHIN', 'gpt-4o', 'ten', 'x'), 'ERR limit must be a non-negative integer');
  });
});

describe('TOK.ENCODE and TOK.DECODE', () => {
  test('round-trip every corpus text in every encoding', async () => {
    for (const encoding of ['r50k_base', 'p50k_base', 'p50k_edit', 'cl100k_base', 'o200k_base', 'o200k_harmony']) {
      for (const [name, text] of Object.entries(CORPUS)) {
        const ids = (await redis.call('TOK.ENCODE', encoding, text)) as number[];
        if (ids.length === 0) continue;
        const back = await redis.callBuffer('TOK.DECODE', encoding, ...ids.map(String));
        assert.equal((back as Buffer).toString('utf8'), text, `${encoding} ${name}`);
      }
    }
    assert.deepEqual(await redis.call('TOK.ENCODE', 'gpt-4o', ''), []);
  });

  test('decoding part of a character returns its bytes as they are', async () => {
    const ids = (await redis.call('TOK.ENCODE', 'cl100k_base', '🙂')) as number[];
    assert.ok(ids.length > 1);
    const first = (await redis.callBuffer('TOK.DECODE', 'cl100k_base', String(ids[0]))) as Buffer;
    assert.ok(Buffer.from('🙂').subarray(0, first.length).equals(first));
  });

  test('bad ids', async () => {
    assert.equal(await errorOf('TOK.DECODE', 'cl100k_base', '15339', '200000'), 'ERR token id 200000 is not in encoding cl100k_base');
    assert.equal(await errorOf('TOK.DECODE', 'cl100k_base', 'abc'), "ERR token ids must be integers from 0 to 4294967295, got 'abc'");
    assert.equal(await errorOf('TOK.DECODE', 'cl100k_base', '-5'), "ERR token ids must be integers from 0 to 4294967295, got '-5'");
    assert.equal(await errorOf('TOK.DECODE', 'cl100k_base', '4294967296'), "ERR token ids must be integers from 0 to 4294967295, got '4294967296'");
    assert.equal(await errorOf('TOK.DECODE', 'cl100k_base', '1.5'), "ERR token ids must be integers from 0 to 4294967295, got '1.5'");
  });
});

describe('bad input', () => {
  test('invalid UTF-8, inline and on a worker thread', async () => {
    const small = Buffer.concat([Buffer.from('abc'), Buffer.from([0xc3, 0x28]), Buffer.from('def')]);
    assert.equal(await errorOf('TOK.COUNT', 'gpt-4o', small), 'ERR text is not valid UTF-8 (bad byte at offset 3)');
    assert.equal(await errorOf('TOK.ENCODE', 'gpt-4o', small), 'ERR text is not valid UTF-8 (bad byte at offset 3)');
    assert.equal(await errorOf('TOK.WITHIN', 'gpt-4o', '10', small), 'ERR text is not valid UTF-8 (bad byte at offset 3)');
    const big = Buffer.concat([Buffer.alloc(300_000, 'a'), Buffer.from([0xff])]);
    assert.equal(await errorOf('TOK.COUNT', 'gpt-4o', big), 'ERR text is not valid UTF-8 (bad byte at offset 300000)');
    assert.equal(await errorOf('TOK.ENCODE', 'gpt-4o', big), 'ERR text is not valid UTF-8 (bad byte at offset 300000)');
  });

  test('input over tokens-max-input-bytes', async () => {
    await redis.config('SET', 'tokens-max-input-bytes', '1000');
    try {
      const msg = await errorOf('TOK.COUNT', 'gpt-4o', 'x'.repeat(1001));
      assert.match(msg, /^ERR text is 1001 bytes, over tokens-max-input-bytes \(1000\)/);
      assert.match(await errorOf('TOK.ENCODE', 'gpt-4o', 'x'.repeat(1001)), /over tokens-max-input-bytes/);
      assert.match(await errorOf('TOK.WITHIN', 'gpt-4o', '5', 'x'.repeat(1001)), /over tokens-max-input-bytes/);
      assert.match(await errorOf('TOK.CHAT', 'gpt-4o', '[]', 'TOOLS', `["${'x'.repeat(1000)}"]`), /^ERR messages and tools JSON is 1006 bytes, over/);
      assert.equal(await redis.call('TOK.COUNT', 'gpt-4o', 'x'.repeat(1000)), oracleIds('o200k_base', 'x'.repeat(1000)).length);
    } finally {
      await redis.config('SET', 'tokens-max-input-bytes', '32mb');
    }
  });

  test('arity errors come from the command table', async () => {
    assert.equal(await errorOf('TOK.COUNT', 'gpt-4o'), "ERR wrong number of arguments for 'tok.count' command");
    assert.equal(await errorOf('TOK.DECODE', 'gpt-4o'), "ERR wrong number of arguments for 'tok.decode' command");
  });
});

describe('worker threads', () => {
  /** A text whose count is known exactly: lines that the pre-tokenizer always splits between. */
  const LINE = 'Hello world, this is one line of a very long document.\n';

  test('a large count does not block other connections, and replies stay in order', async () => {
    const lines = Math.ceil((12 * 1024 * 1024) / LINE.length);
    const big = Buffer.from(LINE.repeat(lines));
    const expected = oracleIds('o200k_base', LINE).length * lines;
    assert.equal(oracleIds('o200k_base', LINE.repeat(50)).length, expected / lines * 50);

    const a = await RawClient.connect(daemon.port);
    const b = new Redis({ port: daemon.port });
    try {
      const before = await infoTokens(b);
      // On connection A: a reply before, the large count, a reply after, a small count.
      a.write(Buffer.concat([resp('PING', 'first'), resp('TOK.COUNT', 'gpt-4o', big), resp('PING', 'after'), resp('TOK.COUNT', 'gpt-4o', 'hello world')]));
      // Wait until the daemon has handed the count to a worker thread...
      for (const deadline = Date.now() + 10_000; ; ) {
        const now = await infoTokens(b);
        if (now.tokens_offloaded_calls > before.tokens_offloaded_calls) break;
        assert.ok(Date.now() < deadline, 'the large count never went to a worker thread');
        await new Promise((r) => setTimeout(r, 5));
      }
      // ...then another connection is answered while it runs.
      assert.equal(await b.ping(), 'PONG');
      assert.equal(await b.call('TOK.COUNT', 'gpt-4o', 'hello world'), 2);
      const soFar = a.received.toString('latin1');
      assert.equal(soFar, '$5\r\nfirst\r\n', 'A has only the reply before the count while it runs');
      const all = await a.until((t) => t.endsWith(':2\r\n'), 30_000);
      assert.equal(all, `$5\r\nfirst\r\n:${expected}\r\n$5\r\nafter\r\n:2\r\n`);
    } finally {
      a.close();
      b.disconnect();
    }
  });

  test('tokens-inline-max-bytes decides where a count runs (CONFIG SET)', async () => {
    const text = LINE.repeat(100); // 5.5 KB
    const expected = oracleIds('o200k_base', LINE).length * 100;
    const where = async () => {
      const s0 = await infoTokens();
      assert.equal(await redis.call('TOK.COUNT', 'o200k_base', text), expected);
      const s1 = await infoTokens();
      return [s1.tokens_inline_calls - s0.tokens_inline_calls, s1.tokens_offloaded_calls - s0.tokens_offloaded_calls];
    };
    assert.deepEqual(await redis.config('GET', 'tokens-inline-max-bytes'), ['tokens-inline-max-bytes', '512']);
    assert.deepEqual(await where(), [0, 1]);
    await redis.config('SET', 'tokens-inline-max-bytes', String(text.length));
    try {
      assert.deepEqual(await where(), [1, 0]);
    } finally {
      await redis.config('SET', 'tokens-inline-max-bytes', '512');
    }
    assert.deepEqual(await where(), [0, 1]);
  });

  test('many large counts in flight on one connection keep their order', async () => {
    const texts = [1, 7, 3, 12, 2, 9].map((n) => LINE.repeat(n * 2000));
    const per = oracleIds('cl100k_base', LINE).length;
    const a = await RawClient.connect(daemon.port);
    try {
      a.write(Buffer.concat(texts.flatMap((t, i) => [resp('TOK.COUNT', 'gpt-4', t), resp('ECHO', String(i))])));
      const expected = texts.map((t, i) => `:${per * (t.length / LINE.length)}\r\n$1\r\n${i}\r\n`).join('');
      assert.equal(await a.until((t) => t.length >= expected.length, 30_000), expected);
    } finally {
      a.close();
    }
  });
});

describe('count cache', () => {
  test('repeated texts hit the cache; INFO reports hits and misses', async () => {
    const prompt = `You are Sluice's test assistant ${Date.now()}. ` + CORPUS.english.repeat(20);
    const n = oracleIds('o200k_base', prompt).length;
    const s0 = await infoTokens();
    assert.equal(await redis.call('TOK.COUNT', 'gpt-4o', prompt), n);
    const s1 = await infoTokens();
    assert.equal(s1.tokens_cache_misses - s0.tokens_cache_misses, 1);
    assert.equal(s1.tokens_cache_hits - s0.tokens_cache_hits, 0);
    assert.equal(await redis.call('TOK.COUNT', 'gpt-4o', prompt), n);
    assert.equal(await redis.call('TOK.WITHIN', 'gpt-4o', n, prompt), n);
    assert.equal(await redis.call('TOK.WITHIN', 'gpt-4o', n - 1, prompt), -1);
    // The same text in another encoding is another entry.
    assert.equal(await redis.call('TOK.COUNT', 'gpt-4', prompt), oracleIds('cl100k_base', prompt).length);
    const s2 = await infoTokens();
    assert.equal(s2.tokens_cache_hits - s1.tokens_cache_hits, 3);
    assert.equal(s2.tokens_cache_misses - s1.tokens_cache_misses, 1);
    assert.equal(s2.tokens_cache_capacity, 1000);
    assert.ok(s2.tokens_cache_entries >= 2 && s2.tokens_cache_entries <= 1000);
  });

  test('a repeated system prompt inside TOK.CHAT hits the cache', async () => {
    const system = `System prompt ${Date.now()}: ` + CORPUS.german.repeat(10);
    const chat = (q: string) => JSON.stringify([{ role: 'system', content: system }, { role: 'user', content: q }]);
    const c = (t: string) => oracleIds('o200k_base', t).length;
    const s0 = await infoTokens();
    assert.equal(await redis.call('TOK.CHAT', 'gpt-4o', chat('first question?')), 6 + c('system') + c(system) + c('user') + c('first question?') + 3);
    assert.equal(await redis.call('TOK.CHAT', 'gpt-4o', chat('second question?')), 6 + c('system') + c(system) + c('user') + c('second question?') + 3);
    const s1 = await infoTokens();
    assert.equal(s1.tokens_cache_hits - s0.tokens_cache_hits, 1);
  });

  test('tokens-cache-entries 0 turns it off', async () => {
    const d = await startDaemon(['--tokens-cache-entries', '0']);
    const r = new Redis({ port: d.port });
    try {
      const text = CORPUS.russian.repeat(5);
      for (let i = 0; i < 3; i++) assert.equal(await r.call('TOK.COUNT', 'gpt-4o', text), oracleIds('o200k_base', text).length);
      const s = await infoTokens(r);
      assert.equal(s.tokens_cache_hits, 0);
      assert.equal(s.tokens_cache_entries, 0);
      assert.equal(s.tokens_cache_capacity, 0);
    } finally {
      r.disconnect();
      await d.stop();
    }
  });
});

test('redis-cli: counts, and shows argument hints from COMMAND DOCS', async () => {
  assert.equal((await redisCli(daemon.port, ['TOK.COUNT', 'gpt-4o', 'hello world'])).trim(), '2');
  const docs = await redisCli(daemon.port, ['COMMAND', 'DOCS', 'tok.chat']);
  assert.match(docs, /TOOLS/);
  assert.match(docs, /messages-json/);
  const info = await redisCli(daemon.port, ['COMMAND', 'INFO', 'tok.count']);
  assert.match(info, /readonly/);
  assert.doesNotMatch(info, /fast/);
});
