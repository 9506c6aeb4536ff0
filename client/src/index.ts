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
import { commandTable, keyPositions } from '@sluice/protocol';

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

export interface PolicyInfo extends RateLimit {
  burst: number;
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

function toHit(reply: unknown): HitResult {
  const [allowed, limit, remaining, retry, reset] = reply as number[];
  return { allowed: allowed === 1, limit, remaining, retryAfterMs: retry < 0 ? null : retry, resetAfterMs: reset };
}

/** Flat [k, v, k, v] (RESP2) or an object/Map (RESP3) into a record. */
function toRecord(reply: unknown): Record<string, unknown> {
  if (reply instanceof Map) return Object.fromEntries(reply);
  if (Array.isArray(reply)) {
    const out: Record<string, unknown> = {};
    for (let i = 0; i + 1 < reply.length; i += 2) out[String(reply[i])] = reply[i + 1];
    return out;
  }
  return reply as Record<string, unknown>;
}

const nullable = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

export class SluiceClient {
  /** The underlying connection: use it for anything this class does not wrap. */
  readonly redis: RedisLike;

  /** Connects with ioredis (port 6380 unless given), or wraps a connection you already have. */
  constructor(connection: RedisOptions | RedisLike = {}) {
    this.redis = 'call' in connection && typeof connection.call === 'function'
      ? (connection as RedisLike)
      : new Redis({ port: DEFAULT_PORT, ...(connection as RedisOptions) });
  }

  // --- rate limits ------------------------------------------------------------------------

  /** RL.HIT: take `cost` tokens if they fit, else nothing. */
  async hit(key: string, spec: LimitSpec, cost = 1): Promise<HitResult> {
    return toHit(await this.redis.call('RL.HIT', key, ...limitArgs(spec), 'COST', cost));
  }

  /** RL.PEEK: what hit() would answer, consuming nothing. */
  async peek(key: string, spec: LimitSpec, cost = 1): Promise<HitResult> {
    return toHit(await this.redis.call('RL.PEEK', key, ...limitArgs(spec), 'COST', cost));
  }

  /** RL.ALL: every key admits its cost and all are consumed, or none is touched. */
  async all(entries: AllEntry[]): Promise<AllResult> {
    const args = entries.flatMap((e) => [e.key, e.policy, e.cost]);
    const [allowed, index, retry, ...remaining] = (await this.redis.call('RL.ALL', entries.length, ...args)) as number[];
    return { allowed: allowed === 1, refusedIndex: index < 0 ? null : index, retryAfterMs: retry < 0 ? null : retry, remaining };
  }

  /** RL.ADJUST: charge (positive) or refund (negative) after the fact; returns tokens left. */
  async adjust(key: string, policy: string, delta: number): Promise<number> {
    return (await this.redis.call('RL.ADJUST', key, policy, delta)) as number;
  }

  /** RL.RESET: forget the keys' state; returns how many held state. */
  async reset(...keys: string[]): Promise<number> {
    return (await this.redis.call('RL.RESET', ...keys)) as number;
  }

  /** CL.THROTTLE, the redis-cell command. */
  async throttle(key: string, maxBurst: number, count: number, periodSeconds: number, quantity = 1): Promise<ThrottleResult> {
    const [limited, limit, remaining, retry, reset] = (await this.redis.call('CL.THROTTLE', key, maxBurst, count, periodSeconds, quantity)) as number[];
    return { limited: limited === 1, limit, remaining, retryAfterSeconds: retry < 0 ? null : retry, resetAfterSeconds: reset };
  }

  async setPolicy(name: string, limit: RateLimit): Promise<void> {
    await this.redis.call('RL.POLICY', 'SET', name, ...limitArgs(limit));
  }

  async getPolicy(name: string): Promise<PolicyInfo | null> {
    const reply = await this.redis.call('RL.POLICY', 'GET', name);
    if (reply === null) return null;
    const r = toRecord(reply);
    return { limit: Number(r.limit), perMs: Number(r.per), burst: Number(r.burst), algo: String(r.algo) as Algorithm };
  }

  async deletePolicy(name: string): Promise<boolean> {
    return (await this.redis.call('RL.POLICY', 'DEL', name)) === 1;
  }

  async listPolicies(): Promise<string[]> {
    return (await this.redis.call('RL.POLICY', 'LIST')) as string[];
  }

  // --- concurrency leases -----------------------------------------------------------------

  /** SEM.ACQUIRE: one of `limit` slots for `ttlMs` (the daemon's default when omitted). */
  async acquire(key: string, limit: number, ttlMs?: number): Promise<Lease> {
    const args: (string | number)[] = [key, limit];
    if (ttlMs !== undefined) args.push('TTL', ttlMs);
    const [acquired, lease, inUse] = (await this.redis.call('SEM.ACQUIRE', ...args)) as number[];
    return { acquired: acquired === 1, leaseId: lease < 0 ? null : lease, inUse };
  }

  async release(key: string, leaseId: number): Promise<boolean> {
    return (await this.redis.call('SEM.RELEASE', key, leaseId)) === 1;
  }

  async extend(key: string, leaseId: number, ttlMs: number): Promise<boolean> {
    return (await this.redis.call('SEM.EXTEND', key, leaseId, ttlMs)) === 1;
  }

  async leasesInUse(key: string): Promise<number> {
    return (await this.redis.call('SEM.COUNT', key)) as number;
  }

  // --- tokens -----------------------------------------------------------------------------

  async countTokens(model: string, text: string | Buffer): Promise<number> {
    return (await this.redis.call('TOK.COUNT', model, text)) as number;
  }

  /** TOK.CHAT: prompt tokens of a chat request, by the OpenAI cookbook's accounting. */
  async countChatTokens(model: string, messages: ChatMessage[], tools?: unknown[]): Promise<number> {
    const args: string[] = [model, JSON.stringify(messages)];
    if (tools !== undefined) args.push('TOOLS', JSON.stringify(tools));
    return (await this.redis.call('TOK.CHAT', ...args)) as number;
  }

  /** TOK.WITHIN: the count if it is at most `limit`, else null. */
  async countTokensWithin(model: string, limit: number, text: string | Buffer): Promise<number | null> {
    const n = (await this.redis.call('TOK.WITHIN', model, limit, text)) as number;
    return n < 0 ? null : n;
  }

  async encode(model: string, text: string | Buffer): Promise<number[]> {
    return (await this.redis.call('TOK.ENCODE', model, text)) as number[];
  }

  async decode(model: string, ids: number[]): Promise<string> {
    return (await this.redis.call('TOK.DECODE', model, ...ids)) as string;
  }

  async modelInfo(model: string): Promise<ModelInfo> {
    const r = toRecord(await this.redis.call('TOK.INFO', model));
    return { encoding: String(r.encoding), contextWindow: nullable(r.context_window), maxOutputTokens: nullable(r.max_output_tokens) };
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
