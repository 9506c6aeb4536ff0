/**
 * A typed client for Sluice on top of ioredis: every Sluice command as a method with typed
 * arguments and a typed result. Anything else goes through `client.redis` (the ioredis
 * instance), so existing Redis code keeps working.
 *
 *   const sluice = new SluiceClient({ port: 6380 });
 *   const hit = await sluice.hit('user:42', { limit: 60, perMs: 60_000 });
 *   if (!hit.allowed) await sleep(hit.retryAfterMs!);
 */
import Redis, { type RedisOptions } from 'ioredis';
import { clientFieldName, commandTable, findSpec, keyPositions, type ReplySpec } from '@sluice/protocol';

export type Algorithm = 'gcra' | 'sliding' | 'fixed';

/** A limit given with the request: LIMIT n PER ms [BURST b] [ALGO a]. */
export interface RateLimit {
  limit: number;
  perMs: number;
  burst?: number;
  algo?: Algorithm;
}

/** A limit given inline or by the name of a policy (RL.POLICY SET, or the config file). */
export type LimitSpec = RateLimit | { policy: string };

export interface HitResult {
  allowed: boolean;
  /** The capacity `remaining` counts against (BURST for gcra, LIMIT for windows). */
  limit: number;
  remaining: number;
  /** Milliseconds until this same hit would be admitted; null when admitted or never possible. */
  retryAfterMs: number | null;
  /** Milliseconds until the key is full again. */
  resetAfterMs: number;
}

export interface AllEntry {
  key: string;
  policy: string;
  cost: number;
}

export interface AllResult {
  allowed: boolean;
  /** Index (in the entries given) of the first key that refused; null when allowed. */
  refusedIndex: number | null;
  retryAfterMs: number | null;
  /** Each key's remaining tokens, in the order given. */
  remaining: number[];
}

/** CL.THROTTLE's reply, as redis-cell gives it (durations in whole seconds). */
export interface ThrottleResult {
  limited: boolean;
  limit: number;
  remaining: number;
  retryAfterSeconds: number | null;
  resetAfterSeconds: number;
}

export interface Lease {
  acquired: boolean;
  /** The lease id to release or extend; null when not acquired. */
  leaseId: number | null;
  inUse: number;
}

export interface ModelInfo {
  encoding: string;
  contextWindow: number | null;
  maxOutputTokens: number | null;
}

export interface ChatMessage {
  role: string;
  content: string | null | { type: string; text?: string }[];
  name?: string;
  [field: string]: unknown;
}

export interface PolicyInfo extends Omit<RateLimit, 'burst'> {
  /** The gcra bucket's capacity; null for sliding and fixed windows (they have no burst). */
  burst: number | null;
  algo: Algorithm;
}

const DEFAULT_PORT = 6380;

/** What the client needs of a connection: ioredis 5 or 6 (RESP2 or RESP3), or a compatible one. */
export interface RedisLike {
  call(command: string, ...args: (string | number | Buffer)[]): Promise<unknown>;
  quit(): Promise<unknown>;
}

function limitArgs(spec: LimitSpec): (string | number)[] {
  if ('policy' in spec) return ['POLICY', spec.policy];
  const args: (string | number)[] = ['LIMIT', spec.limit, 'PER', spec.perMs];
  if (spec.burst !== undefined) args.push('BURST', spec.burst);
  if (spec.algo !== undefined) args.push('ALGO', spec.algo);
  return args;
}

/** A reply that is not what the command table declares (a daemon of another version?). */
export class ReplyShapeError extends Error {
  constructor(where: string, why: string) {
    super(`${where}: ${why}, which is not the reply the command table declares`);
    this.name = 'ReplyShapeError';
  }
}

/** A map reply's entries: a flat [k, v, k, v] array (RESP2), a Map or an object (RESP3). */
function mapEntries(where: string, raw: unknown): [string, unknown][] {
  if (raw instanceof Map) return [...raw].map(([k, v]) => [String(k), v]);
  if (Array.isArray(raw)) {
    if (raw.length % 2 !== 0) throw new ReplyShapeError(where, `a flat map of odd length ${raw.length}`);
    const out: [string, unknown][] = [];
    for (let i = 0; i < raw.length; i += 2) out.push([String(raw[i]), raw[i + 1]]);
    return out;
  }
  if (raw !== null && typeof raw === 'object' && !Buffer.isBuffer(raw)) return Object.entries(raw);
  throw new ReplyShapeError(where, `got ${typeof raw} where a map belongs`);
}

const describe = (raw: unknown) => (raw === null ? 'nil' : Array.isArray(raw) ? `an array of ${raw.length}` : `${typeof raw} ${String(raw).slice(0, 40)}`);

/**
 * Decodes a reply by its declaration in the command table: tuples and maps become objects keyed
 * by the fields' client names (`retry_after_ms` -> `retryAfterMs`), a tuple's repeated tail a
 * list, "none" (-1 or nil, as declared) null, 1/0 booleans true/false. Strict: a reply of
 * another shape throws ReplyShapeError rather than yielding undefined fields.
 */
export function decodeReply(spec: ReplySpec, raw: unknown, where = 'reply'): unknown {
  if (spec.none === 'nil' && raw === null) return null;
  switch (spec.type) {
    case 'integer':
      if (typeof raw !== 'number' || !Number.isInteger(raw)) throw new ReplyShapeError(where, `got ${describe(raw)} where an integer belongs`);
      return spec.none === -1 && raw === -1 ? null : raw;
    case 'double': {
      const x = typeof raw === 'string' ? Number(raw) : raw;
      if (typeof x !== 'number' || Number.isNaN(x)) throw new ReplyShapeError(where, `got ${describe(raw)} where a double belongs`);
      return x;
    }
    case 'boolean':
      if (raw === 1 || raw === true) return true;
      if (raw === 0 || raw === false) return false;
      throw new ReplyShapeError(where, `got ${describe(raw)} where 1 or 0 belongs`);
    case 'bulk':
    case 'simple': {
      const text = Buffer.isBuffer(raw) ? raw.toString() : raw;
      if (typeof text !== 'string') throw new ReplyShapeError(where, `got ${describe(raw)} where a string belongs`);
      if (spec.value !== undefined && text !== spec.value) throw new ReplyShapeError(where, `got '${text.slice(0, 40)}' where ${spec.value} belongs`);
      return text;
    }
    case 'array':
      if (!Array.isArray(raw)) throw new ReplyShapeError(where, `got ${describe(raw)} where an array belongs`);
      return spec.items ? raw.map((v, i) => decodeReply(spec.items!, v, `${where}[${i}]`)) : raw;
    case 'tuple': {
      const fields = spec.fields!;
      const sizeOk = Array.isArray(raw) && (spec.rest ? raw.length >= fields.length : raw.length === fields.length);
      if (!sizeOk) throw new ReplyShapeError(where, `got ${describe(raw)} where ${spec.rest ? 'at least ' : ''}${fields.length} values belong`);
      const values = raw as unknown[];
      const out: Record<string, unknown> = {};
      fields.forEach((f, i) => (out[clientFieldName(f)] = decodeReply(f, values[i], `${where}.${f.name}`)));
      if (spec.rest) {
        const rest = spec.rest;
        out[clientFieldName(rest)] = values.slice(fields.length).map((v, i) => decodeReply(rest, v, `${where}.${rest.name}[${i}]`));
      }
      return out;
    }
    case 'map': {
      const entries = mapEntries(where, raw);
      const out: Record<string, unknown> = {};
      if (!spec.fields) {
        for (const [k, v] of entries) out[k] = spec.items ? decodeReply(spec.items, v, `${where}.${k}`) : v;
        return out;
      }
      const byName = new Map(spec.fields.map((f) => [f.name, f]));
      for (const [k, v] of entries) {
        const f = byName.get(k);
        if (!f) throw new ReplyShapeError(where, `got the undeclared field '${k.slice(0, 40)}'`);
        out[clientFieldName(f)] = decodeReply(f, v, `${where}.${k}`);
      }
      for (const f of spec.fields) if (!(clientFieldName(f) in out)) throw new ReplyShapeError(where, `the field '${f.name}' is missing`);
      return out;
    }
    case 'oneof': {
      let last: unknown;
      for (const option of spec.options!) {
        try {
          return decodeReply(option, raw, where);
        } catch (err) {
          last = err;
        }
      }
      throw last;
    }
    case 'none':
      return undefined;
  }
}

/** The declared reply of a command or subcommand (`rl.policy|get`). */
export function replySpecOf(name: string): ReplySpec {
  const reply = findSpec(commandTable, name)?.reply;
  if (!reply) throw new Error(`the command table declares no reply for '${name}'`);
  return reply;
}

/** Each command's reply spec and wire words, looked up once. */
const wired = new Map<string, { words: string[]; reply: ReplySpec }>();
function wire(name: string): { words: string[]; reply: ReplySpec } {
  let w = wired.get(name);
  if (!w) {
    w = { words: name.toUpperCase().split('|'), reply: replySpecOf(name) };
    wired.set(name, w);
  }
  return w;
}

export class SluiceClient {
  /** The underlying connection: use it for anything this class does not wrap. */
  readonly redis: RedisLike;

  /** Connects with ioredis (port 6380 unless given), or wraps a connection you already have. */
  constructor(connection: RedisOptions | RedisLike = {}) {
    this.redis = 'call' in connection && typeof connection.call === 'function'
      ? (connection as RedisLike)
      : new Redis({ port: DEFAULT_PORT, ...(connection as RedisOptions) });
  }

  /**
   * Sends `name` (`rl.hit`, `rl.policy|get`) with `args` and decodes the reply by the command
   * table's declaration; `T` is the typed view of that declaration.
   */
  private async send<T>(name: string, ...args: (string | number | Buffer)[]): Promise<T> {
    const { words, reply } = wire(name);
    const raw = await this.redis.call(words[0], ...words.slice(1), ...args);
    return decodeReply(reply, raw, words.join(' ')) as T;
  }

  // --- rate limits ------------------------------------------------------------------------

  /** RL.HIT: take `cost` tokens if they fit, else nothing. */
  async hit(key: string, spec: LimitSpec, cost = 1): Promise<HitResult> {
    return this.send<HitResult>('rl.hit', key, ...limitArgs(spec), 'COST', cost);
  }

  /** RL.PEEK: what hit() would answer, consuming nothing. */
  async peek(key: string, spec: LimitSpec, cost = 1): Promise<HitResult> {
    return this.send<HitResult>('rl.peek', key, ...limitArgs(spec), 'COST', cost);
  }

  /** RL.ALL: every key admits its cost and all are consumed, or none is touched. */
  async all(entries: AllEntry[]): Promise<AllResult> {
    const args = entries.flatMap((e) => [e.key, e.policy, e.cost]);
    return this.send<AllResult>('rl.all', entries.length, ...args);
  }

  /** RL.ADJUST: charge (positive) or refund (negative) after the fact; returns tokens left. */
  async adjust(key: string, policy: string, delta: number): Promise<number> {
    return this.send<number>('rl.adjust', key, policy, delta);
  }

  /** RL.RESET: forget the keys' state; returns how many held state. */
  async reset(...keys: string[]): Promise<number> {
    return this.send<number>('rl.reset', ...keys);
  }

  /** CL.THROTTLE, the redis-cell command. */
  async throttle(key: string, maxBurst: number, count: number, periodSeconds: number, quantity = 1): Promise<ThrottleResult> {
    return this.send<ThrottleResult>('cl.throttle', key, maxBurst, count, periodSeconds, quantity);
  }

  async setPolicy(name: string, limit: RateLimit): Promise<void> {
    await this.send('rl.policy|set', name, ...limitArgs(limit));
  }

  async getPolicy(name: string): Promise<PolicyInfo | null> {
    return this.send<PolicyInfo | null>('rl.policy|get', name);
  }

  async deletePolicy(name: string): Promise<boolean> {
    return this.send<boolean>('rl.policy|del', name);
  }

  async listPolicies(): Promise<string[]> {
    return this.send<string[]>('rl.policy|list');
  }

  // --- concurrency leases -----------------------------------------------------------------

  /** SEM.ACQUIRE: one of `limit` slots for `ttlMs` (the daemon's default when omitted). */
  async acquire(key: string, limit: number, ttlMs?: number): Promise<Lease> {
    const args: (string | number)[] = [key, limit];
    if (ttlMs !== undefined) args.push('TTL', ttlMs);
    return this.send<Lease>('sem.acquire', ...args);
  }

  async release(key: string, leaseId: number): Promise<boolean> {
    return this.send<boolean>('sem.release', key, leaseId);
  }

  async extend(key: string, leaseId: number, ttlMs: number): Promise<boolean> {
    return this.send<boolean>('sem.extend', key, leaseId, ttlMs);
  }

  async leasesInUse(key: string): Promise<number> {
    return this.send<number>('sem.count', key);
  }

  // --- tokens -----------------------------------------------------------------------------

  async countTokens(model: string, text: string | Buffer): Promise<number> {
    return this.send<number>('tok.count', model, text);
  }

  /** TOK.CHAT: prompt tokens of a chat request, by the OpenAI cookbook's accounting. */
  async countChatTokens(model: string, messages: ChatMessage[], tools?: unknown[]): Promise<number> {
    const args: string[] = [model, JSON.stringify(messages)];
    if (tools !== undefined) args.push('TOOLS', JSON.stringify(tools));
    return this.send<number>('tok.chat', ...args);
  }

  /** TOK.WITHIN: the count if it is at most `limit`, else null. */
  async countTokensWithin(model: string, limit: number, text: string | Buffer): Promise<number | null> {
    return this.send<number | null>('tok.within', model, limit, text);
  }

  async encode(model: string, text: string | Buffer): Promise<number[]> {
    return this.send<number[]>('tok.encode', model, text);
  }

  async decode(model: string, ids: number[]): Promise<string> {
    return this.send<string>('tok.decode', model, ...ids);
  }

  async modelInfo(model: string): Promise<ModelInfo> {
    return this.send<ModelInfo>('tok.info', model);
  }

  async quit(): Promise<void> {
    await this.redis.quit();
  }
}

/**
 * The key arguments of a full command, from the command table (e.g. to shard keys across
 * several Sluice daemons): keysOf(['RL.ALL', '2', 'a', 'rpm', '1', 'b', 'tpm', '5']) -> ['a', 'b'].
 */
export function keysOf(args: string[]): string[] {
  const spec = commandTable.get(args[0].toLowerCase());
  if (!spec) throw new Error(`unknown command '${args[0]}'`);
  return keyPositions(spec, args.length).map((i) => args[i]);
}
