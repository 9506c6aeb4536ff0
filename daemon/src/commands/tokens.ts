/**
 * Handlers of the tokens family (TOK.*): parse arguments, call native/, write the reply.
 * Inputs up to `tokens-inline-max-bytes` are counted on the event loop; larger ones on the
 * libuv thread pool (the reply holds its slot in the connection's reply queue meanwhile, and
 * other connections carry on). Native errors arrive as JS Errors whose message is the RESP
 * error (`ERR ...`).
 */
import type { ReplyWriter } from '@sluice/protocol';
import type { Handler, LaterReply } from './index';
import type { Connection } from '../connection';
import { ConfigError, type Config } from '../config';
import { errors, parseInteger, ReplyError } from '../reply-error';
import native from '../native';

const encodingNames = native.tokEncodingNames();
const infoOut = new Float64Array(2);
const statsOut = new Float64Array(6);

/** Calls served on the event loop and on worker threads (INFO tokens). */
const calls = { inline: 0, offloaded: 0 };

function asReplyError(err: unknown): unknown {
  return err instanceof Error && err.message.startsWith('ERR ') ? new ReplyError(err.message) : err;
}

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
function inline(conn: Connection, bytes: number, what: string): boolean {
  const config = conn.server.config;
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
const writeIds = (w: ReplyWriter, ids: Uint32Array) => w.integers(ids);

/** Runs `sync` on the event loop for small input, else `offload` on the thread pool. */
function run<T>(
  conn: Connection,
  w: ReplyWriter,
  bytes: number,
  what: string,
  sync: () => T,
  offload: () => Promise<T>,
  write: (w: ReplyWriter, value: T) => void,
): void | LaterReply {
  if (!inline(conn, bytes, what)) return later(offload, write);
  let value: T;
  try {
    value = sync();
  } catch (err) {
    throw asReplyError(err);
  }
  write(w, value);
}

const count: Handler = (conn, args, w) => {
  const [, model, text] = args;
  return run(conn, w, text.length, 'text', () => native.tokCount(model, text), () => native.tokCountAsync(model, text), writeInteger);
};

const within: Handler = (conn, args, w) => {
  const [, model, limitArg, text] = args;
  let limit: number;
  try {
    limit = parseInteger(limitArg);
  } catch {
    limit = -1;
  }
  if (limit < 0) throw new ReplyError('ERR limit must be a non-negative integer');
  return run(conn, w, text.length, 'text', () => native.tokWithin(model, limit, text), () => native.tokWithinAsync(model, limit, text), writeInteger);
};

const chat: Handler = (conn, args, w) => {
  const [, model, messages] = args;
  let tools: Buffer | undefined;
  if (args.length === 5 && args[3].toString('latin1').toLowerCase() === 'tools') tools = args[4];
  else if (args.length !== 3) throw errors.syntax();
  const bytes = messages.length + (tools?.length ?? 0);
  return run(conn, w, bytes, 'messages and tools JSON', () => native.tokChat(model, messages, tools), () => native.tokChatAsync(model, messages, tools), writeInteger);
};

const encode: Handler = (conn, args, w) => {
  const [, model, text] = args;
  return run(conn, w, text.length, 'text', () => native.tokEncode(model, text), () => native.tokEncodeAsync(model, text), writeIds);
};

const decode: Handler = (_conn, args, w) => {
  const ids = new Uint32Array(args.length - 2);
  for (let i = 2; i < args.length; i++) {
    let id: number;
    try {
      id = parseInteger(args[i]);
    } catch {
      id = -1;
    }
    if (id < 0 || id > 0xffffffff) {
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

const info: Handler = (_conn, args, w) => {
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

export const tokenHandlers: Record<string, Handler> = {
  'tok.count': count,
  'tok.chat': chat,
  'tok.within': within,
  'tok.encode': encode,
  'tok.decode': decode,
  'tok.info': info,
};

/** INFO tokens. */
export function tokensInfo(): string[] {
  native.tokCacheStats(statsOut);
  const [hits, misses, entries, capacity, earlyStops, bytesSkipped] = statsOut;
  return [
    `tokens_cache_hits:${hits}`,
    `tokens_cache_misses:${misses}`,
    `tokens_cache_entries:${entries}`,
    `tokens_cache_capacity:${capacity}`,
    `tokens_inline_calls:${calls.inline}`,
    `tokens_offloaded_calls:${calls.offloaded}`,
    `tokens_within_early_stops:${earlyStops}`,
    `tokens_within_bytes_skipped:${bytesSkipped}`,
  ];
}

/** CONFIG RESETSTAT. */
export function resetTokensStats(): void {
  native.tokCacheResetStats();
  calls.inline = 0;
  calls.offloaded = 0;
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
export function configureTokens(config: Config): void {
  native.tokConfigure(config.num('tokens-cache-entries'));
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
