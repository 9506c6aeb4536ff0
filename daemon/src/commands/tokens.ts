/**
 * The tokens family (TOK.*): parse arguments, call native/, write the reply.
 * Inputs up to `tokens-inline-max-bytes` are counted on the event loop; larger ones on the
 * libuv thread pool (the reply holds its slot in the connection's reply queue meanwhile, and
 * other connections carry on). Native errors arrive as JS Errors whose message is the RESP
 * error (`ERR ...`).
 */
import type { ReplyWriter } from '@sluice/protocol';
import type { Context, Family, Handler, LaterReply, MetricFamily } from '../context';
import { ArgReader, integerOrNaN } from '../args';
import { ConfigError, type Config, type OptionSpec } from '../config';
import { asReplyError, ReplyError } from '../reply-error';
import native from '../native';

const encodingNames = native.tokEncodingNames();

const options: OptionSpec[] = [
  { name: 'tokens-max-input-bytes', type: 'bytes', default: '32mb', min: 1, mutable: true, help: 'Largest text (or messages/tools JSON) the TOK.* commands accept; larger input is refused with an error.' },
  { name: 'tokens-inline-max-bytes', type: 'bytes', default: '512', min: 0, mutable: true, help: 'TOK.* inputs up to this size are counted on the event loop (cheaper for short texts); larger ones on worker threads, so other clients keep getting answers. Measured default: see docs/tokens.md.' },
  {
    name: 'tokens-preload',
    type: 'list',
    default: '',
    choices: encodingNames,
    mutable: false,
    help: `Encodings whose tables are built at start (any of ${encodingNames.join(', ')}); the others are built by their first use, on a worker thread (80 to 160 ms, 15 to 75 MB each). Empty: none, the smallest start.`,
  },
  { name: 'tokens-cache-entries', type: 'integer', default: '10000', min: 0, mutable: false, help: 'Entries in the cache of token counts for repeated texts (keyed by encoding and a BLAKE3 digest of the text); 0 turns it off.' },
];

const reader = new ArgReader();

const infoOut = new Float64Array(2);
const statsOut = new Float64Array(6);

/** Calls served on the event loop and on worker threads (INFO tokens). */
const calls = { inline: 0, offloaded: 0, firstUse: 0, tokens: 0 };

/** The reply for work running on the thread pool; `start` may throw (unknown model). */
function later<T>(start: () => Promise<T>, write: (w: ReplyWriter, value: T) => void): LaterReply {
  let p: Promise<T>;
  try {
    p = start();
  } catch (err) {
    throw asReplyError(err);
  }
  calls.offloaded++;
  return p.then(
    (value) => (w: ReplyWriter) => write(w, value),
    (err) => {
      throw asReplyError(err);
    },
  );
}

/** Refuses input over tokens-max-input-bytes; says whether it is small enough to count inline. */
function inline(ctx: Context, bytes: number, what: string): boolean {
  const config = ctx.server.config;
  const max = config.num('tokens-max-input-bytes');
  if (bytes > max) {
    throw new ReplyError(`ERR ${what} is ${bytes} bytes, over tokens-max-input-bytes (${max}); split it or raise the limit (CONFIG SET tokens-max-input-bytes)`);
  }
  if (bytes <= config.num('tokens-inline-max-bytes')) {
    calls.inline++;
    return true;
  }
  return false;
}

const writeInteger = (w: ReplyWriter, n: number) => w.integer(n);
/** TOK.COUNT and TOK.CHAT replies: the tokens counted add up (metrics). */
const writeCount = (w: ReplyWriter, n: number) => {
  calls.tokens += n;
  w.integer(n);
};
const writeIds = (w: ReplyWriter, ids: Uint32Array) => w.integers(ids);

/** What the sync functions return while the model's encoding is not built (tokEncode: null). */
const NOT_LOADED = native.TOK_NOT_LOADED;

/**
 * Runs `sync` on the event loop for small input, else `offload` on the thread pool. The first
 * use of an encoding goes to the thread pool whatever the size: `sync` answers NOT_LOADED (or
 * null) without building the encoding's tables, and `offload` builds them there (80 to 160 ms).
 */
function run<T>(
  ctx: Context,
  w: ReplyWriter,
  bytes: number,
  what: string,
  sync: () => T | null,
  offload: () => Promise<T>,
  write: (w: ReplyWriter, value: T) => void,
): void | LaterReply {
  if (!inline(ctx, bytes, what)) return later(offload, write);
  let value: T | null;
  try {
    value = sync();
  } catch (err) {
    throw asReplyError(err);
  }
  if (value === NOT_LOADED || value === null) {
    calls.inline--;
    calls.firstUse++;
    return later(offload, write);
  }
  write(w, value);
}

const count: Handler = (ctx, args, w) => {
  const [, model, text] = args;
  return run(ctx, w, text.length, 'text', () => native.tokCount(model, text), () => native.tokCountAsync(model, text), writeCount);
};

const NEGATIVE_LIMIT = 'ERR limit must be a non-negative integer';

const within: Handler = (ctx, args, w) => {
  const [, model, , text] = args;
  const limit = reader.over(args, 2).integerOr(NEGATIVE_LIMIT);
  if (limit < 0) throw new ReplyError(NEGATIVE_LIMIT);
  return run(ctx, w, text.length, 'text', () => native.tokWithin(model, limit, text), () => native.tokWithinAsync(model, limit, text), writeInteger);
};

const chat: Handler = (ctx, args, w) => {
  const [, model, messages] = args;
  const r = reader.over(args, 3);
  const tools = r.word('tools') ? r.next() : undefined;
  r.finish();
  const bytes = messages.length + (tools?.length ?? 0);
  return run(ctx, w, bytes, 'messages and tools JSON', () => native.tokChat(model, messages, tools), () => native.tokChatAsync(model, messages, tools), writeCount);
};

const encode: Handler = (ctx, args, w) => {
  const [, model, text] = args;
  return run(ctx, w, text.length, 'text', () => native.tokEncode(model, text), () => native.tokEncodeAsync(model, text), writeIds);
};

const decode: Handler = (_ctx, args, w) => {
  const ids = new Uint32Array(args.length - 2);
  for (let i = 2; i < args.length; i++) {
    const id = integerOrNaN(args[i]);
    if (!(id >= 0 && id <= 0xffffffff)) {
      throw new ReplyError(`ERR token ids must be integers from 0 to 4294967295, got '${args[i].subarray(0, 64).toString()}'`);
    }
    ids[i - 2] = id;
  }
  let text: Buffer;
  try {
    text = native.tokDecode(args[1], ids);
  } catch (err) {
    throw asReplyError(err);
  }
  w.bulk(text);
};

const info: Handler = (_ctx, args, w) => {
  let encoding: number;
  try {
    encoding = native.tokInfo(args[1], infoOut);
  } catch (err) {
    throw asReplyError(err);
  }
  w.map(3);
  w.bulk('encoding');
  w.bulk(encodingNames[encoding]);
  w.bulk('context_window');
  if (infoOut[0] < 0) w.null();
  else w.integer(infoOut[0]);
  w.bulk('max_output_tokens');
  if (infoOut[1] < 0) w.null();
  else w.integer(infoOut[1]);
};

const handlers: Record<string, Handler> = {
  'tok.count': count,
  'tok.chat': chat,
  'tok.within': within,
  'tok.encode': encode,
  'tok.decode': decode,
  'tok.info': info,
};

/** INFO tokens. */
function tokensInfo(): string[] {
  native.tokCacheStats(statsOut);
  const [hits, misses, entries, capacity, earlyStops, bytesSkipped] = statsOut;
  return [
    `tokens_cache_hits:${hits}`,
    `tokens_cache_misses:${misses}`,
    `tokens_cache_entries:${entries}`,
    `tokens_cache_capacity:${capacity}`,
    `tokens_inline_calls:${calls.inline}`,
    `tokens_offloaded_calls:${calls.offloaded}`,
    `tokens_encodings_loaded:${loadedNames(native.tokLoaded())}`,
    `tokens_special_decoders_loaded:${loadedNames(native.tokLoaded() >> 8)}`,
    `tokens_first_use_calls:${calls.firstUse}`,
    `tokens_within_early_stops:${earlyStops}`,
    `tokens_within_bytes_skipped:${bytesSkipped}`,
  ];
}

/** The names of the encodings whose bit is set in `bits` (native.tokLoaded), comma-separated. */
function loadedNames(bits: number): string {
  return encodingNames.filter((_, i) => (bits & (1 << i)) !== 0).join(',');
}

/** CONFIG RESETSTAT. */
function resetTokensStats(): void {
  native.tokCacheResetStats();
  calls.inline = 0;
  calls.offloaded = 0;
  calls.firstUse = 0;
  calls.tokens = 0;
}

function tokensMetrics(): MetricFamily[] {
  native.tokCacheStats(statsOut);
  const [hits, misses, entries] = statsOut;
  const counter = (name: string, help: string, value: number): MetricFamily => ({ name, help, type: 'counter', samples: [{ value }] });
  return [
    counter('sluice_tokens_counted_total', 'Tokens counted by TOK.COUNT and TOK.CHAT.', calls.tokens),
    counter('sluice_token_cache_hits_total', 'Token counts answered from the cache.', hits),
    counter('sluice_token_cache_misses_total', 'Token counts not in the cache.', misses),
    { name: 'sluice_token_cache_entries', help: 'Entries in the token count cache.', type: 'gauge', samples: [{ value: entries }] },
    {
      name: 'sluice_token_calls_total',
      help: 'TOK.* calls counted on the event loop (where="inline") or on worker threads ("offloaded").',
      type: 'counter',
      samples: [{ labels: { where: 'inline' }, value: calls.inline }, { labels: { where: 'offloaded' }, value: calls.offloaded }],
    },
  ];
}

const WINDOW_KEYS: Record<string, string> = { 'context-window': 'context window', 'max-output-tokens': 'max output tokens' };

/**
 * Loads the tokenizers, sizes the count cache and registers the config file's `models:`
 * section, which maps private names (an Azure deployment, say) to a model or an encoding:
 *
 *   models:
 *     prod-chat: gpt-4o                      # same as gpt-4o
 *     my-deployment:
 *       model: gpt-4o-mini                   # or: encoding: o200k_base
 *       context-window: 64000                # optional overrides
 *       max-output-tokens: 4096
 */
function configureTokens(config: Config): void {
  native.tokConfigure(config.num('tokens-cache-entries'));
  for (const name of config.str('tokens-preload').split(',')) if (name !== '') native.tokLoad(encodingNames.indexOf(name));
  native.tokClearModels();
  const section = config.file.models;
  if (section === undefined || section === null) return;
  const where = `config file ${config.filePath}: models`;
  if (typeof section !== 'object' || Array.isArray(section)) throw new ConfigError(`${where} must be a mapping of model name to a model, an encoding or { model|encoding, context-window, max-output-tokens }`);
  for (const [name, value] of Object.entries(section as Record<string, unknown>)) {
    let target: unknown = value;
    let context = -1;
    let maxOutput = -1;
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
      const v = value as Record<string, unknown>;
      for (const key of Object.keys(v)) {
        if (!['model', 'encoding', 'context-window', 'max-output-tokens'].includes(key)) {
          throw new ConfigError(`${where}.${name}: unknown key '${key}' (use model or encoding, context-window, max-output-tokens)`);
        }
      }
      if ((v.model === undefined) === (v.encoding === undefined)) throw new ConfigError(`${where}.${name}: give exactly one of model or encoding`);
      target = v.model ?? v.encoding;
      const windowValue = (key: string): number => {
        const x = v[key];
        if (x === undefined) return -1;
        if (typeof x !== 'number' || !Number.isSafeInteger(x) || x < 0 || x > 0xffffffff) {
          throw new ConfigError(`${where}.${name}: ${key} must be a whole number of tokens (the ${WINDOW_KEYS[key]})`);
        }
        return x;
      };
      context = windowValue('context-window');
      maxOutput = windowValue('max-output-tokens');
    }
    if (typeof target !== 'string') throw new ConfigError(`${where}.${name}: expected a model or encoding name, or a mapping`);
    try {
      native.tokAddModel(Buffer.from(name), Buffer.from(target), context, maxOutput);
    } catch (err) {
      throw new ConfigError(`${where}.${name}: ${(err as Error).message.replace(/^ERR /, '')}`);
    }
  }
}

export const tokensFamily: Family = {
  name: 'tokens',
  handlers,
  options,
  configSections: ['models'],
  info: [{ name: 'tokens', lines: tokensInfo }],
  start: configureTokens,
  resetStats: resetTokensStats,
  metrics: tokensMetrics,
};
