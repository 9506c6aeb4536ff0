/**
 * A typed client for Sluice on top of ioredis: every Sluice command as a method with typed
 * arguments and a typed result. Anything else goes through `client.redis` (the ioredis
 * instance), so existing Redis code keeps working.
 *
 *   const sluice = new SluiceClient({ port: 6380 });
 *   const hit = await sluice.hit('user:42', { limit: 60, perMs: 60_000 });
 *   if (!hit.allowed) await sleep(hit.retryAfterMs!);
 */
import { EventEmitter } from 'node:events';
import Redis, { Command, type RedisOptions } from 'ioredis';
import { clientFieldName, commandTable, findSpec, keyPositions, keySlot, type CommandSpec, type ReplyField, type ReplySpec } from '@sluice/protocol';
import { fromReplyError, LeaseBusyError, NoDeploymentError, SluiceUnavailableError } from './errors';
import { Deadlines } from './deadlines';
import { toMs, type Duration } from './duration';
import { LocalLimiter, type LocalLimit } from './local';

export * from './errors';
export { toMs, type Duration, type DurationUnit } from './duration';
export { LocalLimiter } from './local';
export { rateLimitHeaders, type RateLimitHeaderOptions } from './headers';

export type Algorithm = 'gcra' | 'sliding' | 'fixed';

/** A limit given with the request: LIMIT n PER ms [BURST b] [ALGO a]. */
export interface RateLimit {
  limit: number;
  /** The window: ms, or a string such as '1s', '1m', '1h'. */
  perMs: Duration;
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
  /** Set when the daemon did not answer and `onUnavailable` decided (open, closed or local). */
  unavailable?: true;
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
  unavailable?: true;
}

/** CL.THROTTLE's reply, as redis-cell gives it (durations in whole seconds). */
export interface ThrottleResult {
  limited: boolean;
  limit: number;
  remaining: number;
  retryAfterSeconds: number | null;
  resetAfterSeconds: number;
  unavailable?: true;
}

export interface Lease {
  acquired: boolean;
  /** The lease id to release or extend; null when not acquired. */
  leaseId: number | null;
  inUse: number;
  unavailable?: true;
}

export interface WithLeaseOptions {
  /** The lease's time to live (ms or '30s'); it is extended while `fn` runs. Default 30 s. */
  ttlMs?: Duration;
  /** How long to wait for a free slot before LeaseBusyError (default 0: do not wait). */
  waitMs?: Duration;
}

/** The deployment ROUTE.PICK chose (and reserved). */
export interface Deployment {
  /** Its id (model_info.id, or the id LiteLLM derives). */
  deployment: string;
  /** The lease ROUTE.DONE settles (`done()` sends it). */
  lease: string;
  /** The group that served (after aliases and fallbacks). */
  group: string;
  /** The provider model string, e.g. azure/gpt-4o-eu. */
  model: string;
  apiBase: string | null;
  apiVersion: string | null;
  region: string | null;
  /** Tokens reserved against its tpm. */
  tokens: number;
  /** The group it fell back from, when it did. */
  fallback: string | null;
}

/** What happened to a call on a picked deployment, for ROUTE.DONE. */
export interface RouteOutcome {
  /** The HTTP status the provider answered (408 for a timeout); omitted: success. */
  status?: number;
  /** Defaults to the time since the pick. */
  latencyMs?: number;
  ttftMs?: number;
  inputTokens?: number;
  outputTokens?: number;
  /** Total tokens, when input and output are not known apart. */
  tokens?: number;
}

export interface PickedDeployment extends Deployment {
  /** ROUTE.DONE: frees the slot and records the outcome; true if the lease was still open. */
  done(outcome?: RouteOutcome): Promise<boolean>;
}

export interface PickOptions {
  /** Tokens to reserve against tpm (the prompt's count, or an estimate). */
  tokens?: number;
  /** Chat messages: the daemon counts them (TOK.CHAT rules) in the same step. */
  messages?: ChatMessage[];
  tags?: string[];
  /** Deployment ids not to pick. */
  exclude?: string[];
  /** Overrides the group's routing strategy (least-busy, usage-based-routing-v2, ...). */
  strategy?: string;
  /** How long the lease lives if never done (daemon default 10 min). */
  ttlMs?: Duration;
  /** Wait in the daemon's shared queue this long for a deployment to free up. */
  waitMs?: Duration;
  /** Queue priority with waitMs (lower first). */
  priority?: number;
}

export interface RouteCallOptions<T> extends PickOptions {
  /** Further attempts on other deployments after a retryable failure (429, 408, 5xx, network); default 2. */
  retries?: number;
  /** Tokens used, read from fn's result; default: an OpenAI-style `usage` field when there is one. */
  usage?: (result: T) => Pick<RouteOutcome, 'inputTokens' | 'outputTokens' | 'tokens' | 'ttftMs'>;
}

/** A deployment as ROUTE.LIST shows it, with its live state. */
export interface DeploymentState {
  id: string;
  model: string;
  provider: string;
  apiBase: string | null;
  apiVersion: string | null;
  region: string | null;
  order: number | null;
  weight: number | null;
  rpm: number | null;
  tpm: number | null;
  maxParallelRequests: number | null;
  tags: string[];
  inputCostPerToken: number;
  outputCostPerToken: number;
  maxInputTokens: number | null;
  maxBudget: number | null;
  budgetDurationMs: number | null;
  cooldownTimeMs: number | null;
  inFlight: number;
  rpmUsed: number;
  tpmUsed: number;
  latencyMs: number | null;
  cooldownMs: number;
  fails: number;
  budgetSpent: number;
}

/**
 * The HTTP status an error stands for, for ROUTE.DONE: its own `status` or `statusCode` (as
 * the OpenAI SDK, fetch wrappers and axios-style errors carry), 408 for a timeout, 503 for a
 * network failure (refused, reset); null for anything else (a bug in the caller's code is not
 * the deployment's failure).
 */
export function statusOfError(err: unknown): number | null {
  if (err === null || typeof err !== 'object') return null;
  const e = err as { status?: unknown; statusCode?: unknown; name?: unknown; code?: unknown; response?: { status?: unknown } };
  for (const s of [e.status, e.statusCode, e.response?.status]) if (typeof s === 'number' && Number.isInteger(s)) return s;
  if (e.name === 'TimeoutError' || e.code === 'ETIMEDOUT' || e.code === 'UND_ERR_HEADERS_TIMEOUT' || e.code === 'UND_ERR_BODY_TIMEOUT') return 408;
  if (typeof e.code === 'string' && /^(ECONN|EPIPE|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|UND_ERR_SOCKET)/.test(e.code)) return 503;
  return null;
}

/** Worth another deployment: rate limited, timed out, or the provider failed. */
export function isRetryableStatus(status: number | null): boolean {
  return status !== null && (status === 429 || status === 408 || status >= 500);
}

/** OpenAI's `usage` block, when a result has one. */
function openAiUsage(result: unknown): Pick<RouteOutcome, 'inputTokens' | 'outputTokens'> {
  const usage = (result as { usage?: { prompt_tokens?: unknown; completion_tokens?: unknown } } | null)?.usage;
  if (!usage || typeof usage.prompt_tokens !== 'number' || typeof usage.completion_tokens !== 'number') return {};
  return { inputTokens: usage.prompt_tokens, outputTokens: usage.completion_tokens };
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

export interface PolicyInfo extends Omit<RateLimit, 'burst' | 'perMs'> {
  perMs: number;
  /** The gcra bucket's capacity; null for sliding and fixed windows (they have no burst). */
  burst: number | null;
  algo: Algorithm;
}

const DEFAULT_PORT = 6380;

/** What the client needs of a connection: ioredis 5 or 6 (RESP2 or RESP3), or a compatible one. */
export interface RedisLike {
  call(command: string, ...args: (string | number | Buffer)[]): Promise<unknown>;
  quit(): Promise<unknown>;
  disconnect?(): void;
  /** ioredis's pipeline: one write for many commands. */
  pipeline?(): { call(command: string, ...args: (string | number | Buffer)[]): unknown; exec(): Promise<[Error | null, unknown][] | null> };
  /** ioredis's connection state ('ready' when commands go out at once). */
  status?: string;
  options?: { keyPrefix?: string };
  on?(event: string, listener: (...args: unknown[]) => void): unknown;
  off?(event: string, listener: (...args: unknown[]) => void): unknown;
  /** True for an ioredis Cluster: commands go straight to the node of their key's slot. */
  isCluster?: boolean;
  /** ioredis's own send, which routes a Command by its `slot` in a Cluster. */
  sendCommand?(command: unknown): unknown;
}

/** What limit calls do while the daemon does not answer. */
export type UnavailablePolicy = 'open' | 'closed' | 'local';

export interface SluiceOptions extends RedisOptions {
  /** An ioredis instance (or compatible) to use instead of connecting with the options above. */
  redis?: RedisLike;
  /**
   * The most any call waits for the daemon (ms or '1s'). With it (or onUnavailable), the client
   * sends nothing while the connection is down, so a timed-out call is never replayed later.
   */
  timeoutMs?: Duration;
  /**
   * Limit and lease calls while the daemon is down or slow: 'open' admits, 'closed' refuses
   * (both with `unavailable: true`), 'local' answers from an in-process limiter. Unset: those
   * calls throw SluiceUnavailableError.
   */
  onUnavailable?: UnavailablePolicy;
}

/** A daemon that went away is tried again this often (and ioredis reconnects on its own). */
const PROBE_MS = 250;
/** The default per-call timeout once the availability options are in use. */
const DEFAULT_TIMEOUT_MS = 1000;

function isRedisLike(x: unknown): x is RedisLike {
  return typeof (x as RedisLike).call === 'function';
}

/** The words of a limit (`POLICY p` or `LIMIT n PER ms ...`), after `key` when one is given. */
function limitArgs(spec: LimitSpec, key?: string): (string | number)[] {
  const args: (string | number)[] = key === undefined ? [] : [key];
  if ('policy' in spec) {
    args.push('POLICY', spec.policy);
    return args;
  }
  args.push('LIMIT', spec.limit, 'PER', toMs(spec.perMs));
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

/** Field names in the client's form, worked out once per field (decoding is on every call's path). */
const clientNames = new WeakMap<ReplyField, string>();
function nameOf(field: ReplyField): string {
  let name = clientNames.get(field);
  if (name === undefined) clientNames.set(field, (name = clientFieldName(field)));
  return name;
}

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
      for (let i = 0; i < fields.length; i++) out[nameOf(fields[i])] = decodeReply(fields[i], values[i], `${where}.${fields[i].name}`);
      if (spec.rest) {
        const rest = spec.rest;
        out[nameOf(rest)] = values.slice(fields.length).map((v, i) => decodeReply(rest, v, `${where}.${rest.name}[${i}]`));
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
        out[nameOf(f)] = decodeReply(f, v, `${where}.${k}`);
      }
      for (const f of spec.fields) if (!(nameOf(f) in out)) throw new ReplyShapeError(where, `the field '${f.name}' is missing`);
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

/** A reply error as the typed error it stands for (a promise's rejection handler). */
const throwTyped = (err: unknown): never => {
  throw fromReplyError(err);
};

/** How ioredis's call() asks for replies: strings, not Buffers. */
const UTF8_REPLY = { replyEncoding: 'utf8' as const };

/** An ioredis Command for `w` with `args`, as call() would make it. */
function newCommand({ head, tail }: Wired, args: (string | number | Buffer)[]): Command {
  return new Command(head, tail.length === 0 ? args : [...tail, ...args], UTF8_REPLY);
}

/** A compiled decoder's "not this shape": decodeReply then says exactly where and why. */
const MISMATCH = new Error('reply shape mismatch');
type Decoder = (raw: unknown) => unknown;

/**
 * decodeReply for one declaration, worked out once: field names, field decoders and lookup
 * maps are made here, not on every call (decoding is on every call's path, and hit() is the
 * hot one). It gives decodeReply's values for every reply of the declared shape; for any other
 * it throws MISMATCH, and the caller asks decodeReply for the error that names the place.
 */
export function compileDecoder(spec: ReplySpec): Decoder {
  const decode = compileShape(spec);
  return spec.none === 'nil' ? (raw) => (raw === null ? null : decode(raw)) : decode;
}

function compileShape(spec: ReplySpec): Decoder {
  switch (spec.type) {
    case 'integer': {
      const minusOneIsNone = spec.none === -1;
      return (raw) => {
        if (typeof raw !== 'number' || !Number.isInteger(raw)) throw MISMATCH;
        return minusOneIsNone && raw === -1 ? null : raw;
      };
    }
    case 'boolean':
      return (raw) => {
        if (raw === 1 || raw === true) return true;
        if (raw === 0 || raw === false) return false;
        throw MISMATCH;
      };
    case 'double':
    case 'oneof':
    case 'none':
      // Rare in hot replies; the interpreter is the definition.
      return (raw) => decodeReply(spec, raw);
    case 'bulk':
    case 'simple': {
      const fixed = spec.value;
      return (raw) => {
        const text = Buffer.isBuffer(raw) ? raw.toString() : raw;
        if (typeof text !== 'string' || (fixed !== undefined && text !== fixed)) throw MISMATCH;
        return text;
      };
    }
    case 'array': {
      const item = spec.items && compileDecoder(spec.items);
      return (raw) => {
        if (!Array.isArray(raw)) throw MISMATCH;
        return item ? raw.map((v) => item(v)) : raw;
      };
    }
    case 'tuple': {
      const fields = spec.fields!;
      const count = fields.length;
      const names = fields.map(nameOf);
      const decoders = fields.map(compileDecoder);
      const rest = spec.rest && { name: nameOf(spec.rest), decode: compileDecoder(spec.rest) };
      return (raw) => {
        if (!Array.isArray(raw) || (rest ? raw.length < count : raw.length !== count)) throw MISMATCH;
        const out: Record<string, unknown> = {};
        for (let i = 0; i < count; i++) out[names[i]] = decoders[i](raw[i]);
        if (rest) out[rest.name] = raw.slice(count).map((v) => rest.decode(v));
        return out;
      };
    }
    case 'map': {
      // Maps are the less frequent replies (LIST, INFO, PICK); the entries' checks stay as declared.
      const byName = spec.fields && new Map(spec.fields.map((f) => [f.name, { name: nameOf(f), decode: compileDecoder(f) }]));
      const items = spec.items && compileDecoder(spec.items);
      return (raw) => {
        const out: Record<string, unknown> = {};
        for (const [k, v] of mapEntries('reply', raw)) {
          if (!byName) {
            out[k] = items ? items(v) : v;
            continue;
          }
          const field = byName.get(k);
          if (!field) throw MISMATCH;
          out[field.name] = field.decode(v);
        }
        if (byName) for (const f of byName.values()) if (!(f.name in out)) throw MISMATCH;
        return out;
      };
    }
  }
}

/** The declared reply of a command or subcommand (`rl.policy|get`). */
export function replySpecOf(name: string): ReplySpec {
  const reply = findSpec(commandTable, name)?.reply;
  if (!reply) throw new Error(`the command table declares no reply for '${name}'`);
  return reply;
}

/** Each command's reply spec, wire words and whether its keys take the keyPrefix, looked up once. */
interface Wired {
  words: string[];
  /** words[0], and the words after it (a subcommand's), sent before the arguments. */
  head: string;
  tail: string[];
  reply: ReplySpec;
  /** The reply's decoder: the compiled one, with decodeReply's errors for any other shape. */
  decode: Decoder;
  spec: CommandSpec | undefined;
  /** Its table entry, for the key whose slot a cluster routes by (routing groups and leases too). */
  keyed: CommandSpec | undefined;
}
const wired = new Map<string, Wired>();
function wire(name: string): Wired {
  let w = wired.get(name);
  if (!w) {
    // ROUTE.* keys are not prefixed: a group is a name from the shared routing configuration
    // (the LiteLLM file), and ROUTE.DONE's key is a lease the daemon handed out.
    const keyed = !name.includes('|') && !name.startsWith('route.');
    const table = commandTable.get(name);
    const words = name.toUpperCase().split('|');
    const reply = replySpecOf(name);
    const where = words.join(' ');
    const fast = compileDecoder(reply);
    const decode: Decoder = (raw) => {
      try {
        return fast(raw);
      } catch {
        return decodeReply(reply, raw, where);
      }
    };
    w = { words, head: words[0], tail: words.slice(1), reply, decode, spec: keyed ? table : undefined, keyed: table?.keys.first ? table : undefined };
    wired.set(name, w);
  }
  return w;
}

/** `args` (after the command name) with `prefix` put before each key the command table declares. */
function prefixKeys(spec: CommandSpec, args: (string | number | Buffer)[], prefix: string): (string | number | Buffer)[] {
  const positions = keyPositions(spec, args.length + 1);
  if (positions.length === 0) return args;
  const out = [...args];
  for (const p of positions) {
    const key = out[p - 1];
    out[p - 1] = Buffer.isBuffer(key) ? Buffer.concat([Buffer.from(prefix), key]) : prefix + String(key);
  }
  return out;
}

export interface SluiceEvents {
  /** The daemon stopped answering (a call timed out or the connection closed). */
  unavailable: [error: Error];
  /** The daemon answers again; calls go to it from now on. */
  recovered: [];
}

/** `client.route`: deployment routing (ROUTE.*). */
export interface RouteMethods {
  pick: SluiceClient['routePick'];
  call: SluiceClient['routeCall'];
  done: SluiceClient['routeDone'];
  list: SluiceClient['routeList'];
  groups: SluiceClient['routeGroups'];
  set: SluiceClient['routeSet'];
  del: SluiceClient['routeDel'];
  cooldown: SluiceClient['routeCooldown'];
}

/** `client.limits`: rate limits (RL.*, CL.THROTTLE) and named policies. */
export interface LimitMethods {
  hit: SluiceClient['hit'];
  peek: SluiceClient['peek'];
  all: SluiceClient['all'];
  adjust: SluiceClient['adjust'];
  reset: SluiceClient['reset'];
  throttle: SluiceClient['throttle'];
  setPolicy: SluiceClient['setPolicy'];
  getPolicy: SluiceClient['getPolicy'];
  deletePolicy: SluiceClient['deletePolicy'];
  listPolicies: SluiceClient['listPolicies'];
  loadPolicies: SluiceClient['loadPolicies'];
}

/** `client.leases`: concurrency slots (SEM.*). */
export interface LeaseMethods {
  acquire: SluiceClient['acquire'];
  release: SluiceClient['release'];
  extend: SluiceClient['extend'];
  count: SluiceClient['leasesInUse'];
  with: SluiceClient['withLease'];
}

/** `client.tokens`: exact token counts (TOK.*). */
export interface TokenMethods {
  count: SluiceClient['countTokens'];
  chat: SluiceClient['countChatTokens'];
  within: SluiceClient['countTokensWithin'];
  encode: SluiceClient['encode'];
  decode: SluiceClient['decode'];
  info: SluiceClient['modelInfo'];
}

export class SluiceClient extends EventEmitter<SluiceEvents> {
  /** The underlying connection: use it for anything this class does not wrap. */
  readonly redis: RedisLike;
  // The families name each method once, unambiguously (`limits.reset`); the flat methods
  // below are the same functions, kept so existing code keeps working.
  readonly limits: LimitMethods = {
    hit: (key, spec, cost) => this.hit(key, spec, cost),
    peek: (key, spec, cost) => this.peek(key, spec, cost),
    all: (entries) => this.all(entries),
    adjust: (key, policy, delta) => this.adjust(key, policy, delta),
    reset: (...keys) => this.reset(...keys),
    throttle: (key, maxBurst, count, periodSeconds, quantity) => this.throttle(key, maxBurst, count, periodSeconds, quantity),
    setPolicy: (name, limit) => this.setPolicy(name, limit),
    getPolicy: (name) => this.getPolicy(name),
    deletePolicy: (name) => this.deletePolicy(name),
    listPolicies: () => this.listPolicies(),
    loadPolicies: () => this.loadPolicies(),
  };
  readonly leases: LeaseMethods = {
    acquire: (key, limit, ttlMs) => this.acquire(key, limit, ttlMs),
    release: (key, leaseId) => this.release(key, leaseId),
    extend: (key, leaseId, ttlMs) => this.extend(key, leaseId, ttlMs),
    count: (key) => this.leasesInUse(key),
    with: (key, limit, options, fn) => this.withLease(key, limit, options, fn),
  };
  readonly tokens: TokenMethods = {
    count: (model, text) => this.countTokens(model, text),
    chat: (model, messages, tools) => this.countChatTokens(model, messages, tools),
    within: (model, limit, text) => this.countTokensWithin(model, limit, text),
    encode: (model, text) => this.encode(model, text),
    decode: (model, ids) => this.decode(model, ids),
    info: (model) => this.modelInfo(model),
  };
  /** Routing: `route.pick(group, opts)`, `route.call(group, opts, fn)`, ... */
  readonly route: RouteMethods = {
    pick: (group, options) => this.routePick(group, options),
    call: (group, options, fn) => this.routeCall(group, options, fn),
    done: (lease, outcome) => this.routeDone(lease, outcome),
    list: (group) => this.routeList(group),
    groups: () => this.routeGroups(),
    set: (group, ...deployments) => this.routeSet(group, ...deployments),
    del: (group, ...ids) => this.routeDel(group, ...ids),
    cooldown: (group, id, ms) => this.routeCooldown(group, id, ms),
  };
  /** The per-call timeout in ms; null: calls wait as long as ioredis does (no availability handling). */
  readonly timeoutMs: number | null;
  readonly onUnavailable: UnavailablePolicy | null;
  /**
   * ioredis's keyPrefix, put before every key the command table declares (ioredis itself
   * prefixes only the commands it knows). Routing groups and leases are not prefixed.
   */
  readonly keyPrefix: string;
  /** The in-process limiter used while the daemon is down with `onUnavailable: 'local'`. */
  readonly local = new LocalLimiter();
  private down = false;
  private probe: NodeJS.Timeout | null = null;
  /**
   * Commands go to ioredis's sendCommand as Commands made here: a plain ioredis connection
   * (this package's ioredis) without auto-pipelining or friendly error stacks, which call()
   * would handle.
   */
  private readonly direct: boolean;
  /** Each call's timeoutMs, one timer for all (null: no timeout). */
  private readonly deadlines: Deadlines | null;
  private closing = false;
  /** Policies seen (set, got or listed), so that `local` can apply them by name. */
  private readonly knownPolicies = new Map<string, LocalLimit>();
  private readonly onClose = () => this.#markDown(new SluiceUnavailableError('the connection to Sluice closed'));
  private readonly onReady = () => this.#markUp();

  /**
   * Connects with ioredis (port 6380 unless given), or wraps a connection you already have
   * (`new SluiceClient(redis)` or `new SluiceClient({ redis, timeoutMs, onUnavailable })`).
   */
  constructor(connection: SluiceOptions | RedisLike = {}) {
    super();
    const options: SluiceOptions = isRedisLike(connection) ? { redis: connection } : connection;
    const { redis, timeoutMs, onUnavailable, ...redisOptions } = options;
    this.onUnavailable = onUnavailable ?? null;
    const guarded = timeoutMs !== undefined || onUnavailable !== undefined;
    this.timeoutMs = guarded ? toMs(timeoutMs ?? DEFAULT_TIMEOUT_MS) : null;
    const ms = this.timeoutMs;
    this.deadlines = ms === null ? null : new Deadlines(ms, () => new SluiceUnavailableError(`Sluice did not answer within ${ms} ms`));
    this.redis = redis ?? new Redis({
      port: DEFAULT_PORT,
      // Guarded: a command is sent only on a live connection and never replayed after a
      // reconnect, so one that timed out (and was answered locally) is not counted twice.
      ...(guarded && { enableOfflineQueue: false, autoResendUnfulfilledCommands: false, maxRetriesPerRequest: 0 }),
      ...redisOptions,
    });
    const o = this.redis instanceof Redis ? this.redis.options : null;
    this.direct = o !== null && !o.enableAutoPipelining && !o.showFriendlyErrorStack;
    // Ours prefixes; ioredis would prefix nothing of Sluice's and its other commands keep theirs.
    this.keyPrefix = this.redis.options?.keyPrefix ?? '';
    if (guarded && this.redis.on) {
      this.redis.on('close', this.onClose);
      this.redis.on('ready', this.onReady);
      // ioredis emits 'error' on every failed reconnect; the 'unavailable' event reports it once.
      this.redis.on('error', () => {});
    }
  }

  /** True while the daemon is considered down (between 'unavailable' and 'recovered'). */
  get unavailable(): boolean {
    return this.down;
  }

  #markDown(err: Error): void {
    if (this.down || this.closing || this.timeoutMs === null) return;
    this.down = true;
    this.emit('unavailable', err);
    // A hung daemon keeps the connection 'ready', so no 'ready' event would say it is back: probe.
    this.probe = setInterval(() => void this.#probeOnce(), PROBE_MS);
    this.probe.unref();
  }

  #markUp(): void {
    if (!this.down) return;
    this.down = false;
    if (this.probe) clearInterval(this.probe);
    this.probe = null;
    this.local.clear();
    this.emit('recovered');
  }

  async #probeOnce(): Promise<void> {
    if (this.redis.status !== undefined && this.redis.status !== 'ready') return;
    try {
      await this.#withTimeout(this.redis.call('PING'));
      this.#markUp();
    } catch {
      // still down
    }
  }

  /** Resolves with `call`, or rejects with SluiceUnavailableError after timeoutMs. */
  #withTimeout<T>(call: Promise<T>): Promise<T> {
    return this.deadlines === null ? call : this.deadlines.race(call);
  }

  /** Waits (within the deadline) for a connection that is still being made for the first time. */
  async #untilReady(deadline: number): Promise<void> {
    const status = this.redis.status;
    if (status === undefined || status === 'ready' || this.down || !this.redis.on || !this.redis.off) return;
    if (status !== 'wait' && status !== 'connecting' && status !== 'connect') return;
    const redis = this.redis;
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        redis.off!('ready', done);
        redis.off!('close', done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, deadline - Date.now()));
      redis.on!('ready', done);
      redis.on!('close', done);
    });
  }

  /**
   * Sends `name` (`rl.hit`, `rl.policy|get`) with `args` and decodes the reply by the command
   * table's declaration; `T` is the typed view of that declaration. Error replies become the
   * typed errors; a daemon that does not answer makes `whenDown` answer (limit calls, under an
   * onUnavailable policy) or SluiceUnavailableError.
   */
  private send<T>(name: string, args: (string | number | Buffer)[], whenDown?: () => T): Promise<T> {
    // Not an async method (hit() is the call an app makes per request; its cost over raw
    // ioredis is benchmarked), so what would throw here rejects instead, as from one.
    try {
      const w = wire(name);
      if (this.down && whenDown) return Promise.resolve(whenDown());
      if (this.keyPrefix && w.spec) args = prefixKeys(w.spec, args, this.keyPrefix);
      // Without a timeout there is no availability to keep: one promise, the reply decoded on it.
      if (this.timeoutMs === null) return this.#call(w, args).then(w.decode as (raw: unknown) => T, throwTyped);
      return this.#sendGuarded(w, args, whenDown);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** send() with timeoutMs: a call that fails or times out marks the daemon down and answers by whenDown. */
  #sendGuarded<T>(w: Wired, args: (string | number | Buffer)[], whenDown?: () => T): Promise<T> {
    const status = this.redis.status;
    if (this.direct && status === 'ready') {
      // The deadline watches the Command itself: no promise of its own per call.
      const command = this.#sendDirect(w, args);
      this.deadlines!.watch(command);
      return command.promise.then(w.decode as (raw: unknown) => T, (err: unknown) => this.#whenFailed(err, whenDown));
    }
    const call = status === 'ready' || status === undefined ? this.#call(w, args) : this.#untilReady(Date.now() + this.timeoutMs!).then(() => this.#call(w, args));
    return this.#withTimeout(call).then(w.decode as (raw: unknown) => T, (err: unknown) => this.#whenFailed(err, whenDown));
  }

  /** A guarded call's failure: a reply error as its typed error; anything else means the daemon is unavailable. */
  #whenFailed<T>(err: unknown, whenDown?: () => T): T {
    const typed = fromReplyError(err);
    if (typed !== err || !(err instanceof Error)) throw typed;
    const unavailable = err instanceof SluiceUnavailableError ? err : new SluiceUnavailableError(`Sluice is unavailable: ${err.message}`, { cause: err });
    this.#markDown(unavailable);
    if (whenDown) return whenDown();
    throw unavailable;
  }

  /**
   * Sends one command. Through an ioredis Cluster, a keyed command goes straight to the node of
   * its first key's slot (ioredis knows Sluice's key positions only from this client: it would
   * send the command to any node and follow the MOVED).
   */
  #call(w: Wired, args: (string | number | Buffer)[]): Promise<unknown> {
    const { head, tail, keyed } = w;
    const redis = this.redis;
    if (redis.isCluster && keyed && redis.sendCommand) {
      const at = keyPositions(keyed, args.length + 1)[0];
      if (at !== undefined) {
        const key = args[at - 1];
        const command = newCommand(w, args);
        // ioredis routes by `slot` (Command.getSlot computes it only for commands it knows).
        (command as unknown as { slot: number }).slot = keySlot(typeof key === 'number' ? String(key) : key);
        redis.sendCommand(command);
        return command.promise;
      }
    }
    if (this.direct) return this.#sendDirect(w, args).promise;
    return tail.length === 0 ? redis.call(head, ...args) : redis.call(head, ...tail, ...args);
  }

  /**
   * What ioredis's call() does on a plain connection, without its argument shuffling (hit() is
   * the call an app makes per request; the bench `client` scenario measures the difference).
   */
  #sendDirect(w: Wired, args: (string | number | Buffer)[]): Command {
    const command = newCommand(w, args);
    (this.redis as Redis).sendCommand(command);
    return command;
  }

  /** The limit a spec stands for, when known here (inline, or a policy seen before). */
  #localLimit(spec: LimitSpec): LocalLimit | null {
    if (!('policy' in spec)) return { limit: spec.limit, perMs: toMs(spec.perMs), burst: spec.burst, algo: spec.algo };
    return this.knownPolicies.get(spec.policy) ?? null;
  }

  /** A limit call's answer while the daemon is down, by the onUnavailable policy. */
  #hitWhenDown(key: string, spec: LimitSpec, cost: number, consume: boolean): (() => HitResult) | undefined {
    const policy = this.onUnavailable;
    if (!policy) return undefined;
    return () => {
      const limit = this.#localLimit(spec);
      // A policy never seen cannot be applied locally: it is admitted, as 'open' would.
      if (policy === 'local' && limit) return { ...this.local.hit(key, limit, cost, consume), unavailable: true };
      const capacity = limit ? (limit.algo === 'gcra' || !limit.algo ? limit.burst ?? limit.limit : limit.limit) : 0;
      return policy === 'closed'
        ? { allowed: false, limit: capacity, remaining: 0, retryAfterMs: PROBE_MS, resetAfterMs: 0, unavailable: true }
        : { allowed: true, limit: capacity, remaining: capacity, retryAfterMs: null, resetAfterMs: 0, unavailable: true };
    };
  }

  /** A typed batch of calls sent in one write; see SluicePipeline. */
  pipeline(): SluicePipeline {
    return new SluicePipeline((queued) => this.#runPipeline(queued));
  }

  async #runPipeline(queued: Queued[]): Promise<unknown[]> {
    const commands = queued.map(({ name, args }) => {
      const wired = wire(name);
      return { wired, args: this.keyPrefix && wired.spec ? prefixKeys(wired.spec, args, this.keyPrefix) : args };
    });
    let replies: [Error | null, unknown][];
    try {
      if (this.timeoutMs !== null) await this.#untilReady(Date.now() + this.timeoutMs);
      // A cluster pipeline must keep to one slot: across a cluster, the calls go out unawaited.
      if (typeof this.redis.pipeline === 'function' && !this.redis.isCluster) {
        const pipe = this.redis.pipeline();
        for (const { wired, args } of commands) pipe.call(wired.head, ...wired.tail, ...args);
        replies = (await this.#withTimeout(pipe.exec())) ?? [];
      } else {
        // A connection without pipelines: the calls still go out back to back, unawaited.
        replies = await this.#withTimeout(Promise.all(commands.map((c) => this.#call(c.wired, c.args).then((r): [null, unknown] => [null, r], (e: Error): [Error, unknown] => [e, null]))));
      }
    } catch (err) {
      if (this.timeoutMs === null || !(err instanceof Error)) throw err;
      const unavailable = err instanceof SluiceUnavailableError ? err : new SluiceUnavailableError(`Sluice is unavailable: ${err.message}`, { cause: err });
      this.#markDown(unavailable);
      throw unavailable;
    }
    return replies.map(([err, raw], i) => {
      if (err) throw fromReplyError(err);
      return commands[i].wired.decode(raw);
    });
  }

  // --- rate limits ------------------------------------------------------------------------

  /** RL.HIT: take `cost` tokens if they fit, else nothing. */
  hit(key: string, spec: LimitSpec, cost = 1): Promise<HitResult> {
    return this.#limitCall('rl.hit', key, spec, cost, true);
  }

  /** RL.PEEK: what hit() would answer, consuming nothing. */
  peek(key: string, spec: LimitSpec, cost = 1): Promise<HitResult> {
    return this.#limitCall('rl.peek', key, spec, cost, false);
  }

  /**
   * RL.HIT or RL.PEEK. Not an async method (hit() is the call an app makes per request; an async
   * layer costs promise turns): a bad spec still rejects rather than throws, as from one.
   */
  #limitCall(name: 'rl.hit' | 'rl.peek', key: string, spec: LimitSpec, cost: number, consume: boolean): Promise<HitResult> {
    let args: (string | number)[];
    try {
      args = limitArgs(spec, key);
      args.push('COST', cost);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.send<HitResult>(name, args, this.#hitWhenDown(key, spec, cost, consume));
  }

  /** RL.ALL: every key admits its cost and all are consumed, or none is touched. */
  async all(entries: AllEntry[]): Promise<AllResult> {
    const args = entries.flatMap((e) => [e.key, e.policy, e.cost]);
    const policy = this.onUnavailable;
    const whenDown = policy && ((): AllResult => {
      const limits = entries.map((e) => this.knownPolicies.get(e.policy));
      if (policy === 'local' && limits.every((l) => l)) {
        return { ...this.local.all(entries.map((e, i) => ({ key: e.key, spec: limits[i]!, cost: e.cost }))), unavailable: true };
      }
      const capacity = limits.map((l) => (l ? (l.algo === 'gcra' || !l.algo ? l.burst ?? l.limit : l.limit) : 0));
      return policy === 'closed'
        ? { allowed: false, refusedIndex: 0, retryAfterMs: PROBE_MS, remaining: capacity.map(() => 0), unavailable: true }
        : { allowed: true, refusedIndex: null, retryAfterMs: null, remaining: capacity, unavailable: true };
    });
    return this.send<AllResult>('rl.all', [entries.length, ...args], whenDown || undefined);
  }

  /** RL.ADJUST: charge (positive) or refund (negative) after the fact; returns tokens left. */
  async adjust(key: string, policy: string, delta: number): Promise<number> {
    const limit = this.knownPolicies.get(policy);
    const whenDown = this.onUnavailable === 'local' && limit ? () => this.local.adjust(key, limit, delta) : undefined;
    return this.send<number>('rl.adjust', [key, policy, delta], whenDown);
  }

  /** RL.RESET: forget the keys' state; returns how many held state. */
  async reset(...keys: string[]): Promise<number> {
    return this.send<number>('rl.reset', keys, this.onUnavailable === 'local' ? () => this.local.reset(keys) : undefined);
  }

  /** CL.THROTTLE, the redis-cell command. */
  async throttle(key: string, maxBurst: number, count: number, periodSeconds: number, quantity = 1): Promise<ThrottleResult> {
    const limit: RateLimit = { limit: count, perMs: periodSeconds * 1000, burst: maxBurst + 1 };
    const down = this.#hitWhenDown(key, limit, quantity, true);
    const whenDown = down && ((): ThrottleResult => {
      const r = down();
      const seconds = (ms: number) => Math.ceil(ms / 1000);
      return { limited: !r.allowed, limit: r.limit, remaining: r.remaining, retryAfterSeconds: r.retryAfterMs === null ? null : seconds(r.retryAfterMs), resetAfterSeconds: seconds(r.resetAfterMs), unavailable: true };
    });
    return this.send<ThrottleResult>('cl.throttle', [key, maxBurst, count, periodSeconds, quantity], whenDown);
  }

  async setPolicy(name: string, limit: RateLimit): Promise<void> {
    await this.send('rl.policy|set', [name, ...limitArgs(limit)]);
    this.knownPolicies.set(name, { limit: limit.limit, perMs: toMs(limit.perMs), burst: limit.burst, algo: limit.algo });
  }

  async getPolicy(name: string): Promise<PolicyInfo | null> {
    const info = await this.send<PolicyInfo | null>('rl.policy|get', [name]);
    if (info) this.knownPolicies.set(name, { limit: info.limit, perMs: info.perMs, burst: info.burst ?? undefined, algo: info.algo });
    else this.knownPolicies.delete(name);
    return info;
  }

  async deletePolicy(name: string): Promise<boolean> {
    this.knownPolicies.delete(name);
    return this.send<boolean>('rl.policy|del', [name]);
  }

  async listPolicies(): Promise<string[]> {
    return this.send<string[]>('rl.policy|list', []);
  }

  /**
   * Reads every policy the daemon has, so that `onUnavailable: 'local'` can apply policies by
   * name during an outage (those this client set or read are known already).
   */
  async loadPolicies(): Promise<number> {
    const names = await this.listPolicies();
    await Promise.all(names.map((n) => this.getPolicy(n)));
    return names.length;
  }

  // --- concurrency leases -----------------------------------------------------------------

  /**
   * SEM.ACQUIRE: one of `limit` slots for `ttlMs` (the daemon's default when omitted). Leases
   * given while the daemon is down have negative ids and are released here, never sent.
   */
  async acquire(key: string, limit: number, ttlMs?: Duration): Promise<Lease> {
    const ttl = ttlMs === undefined ? undefined : toMs(ttlMs);
    const args: (string | number)[] = [key, limit];
    if (ttl !== undefined) args.push('TTL', ttl);
    const policy = this.onUnavailable;
    const whenDown = policy && ((): Lease => {
      if (policy === 'closed') return { acquired: false, leaseId: null, inUse: 0, unavailable: true };
      if (policy === 'open') return { acquired: true, leaseId: -this.openLeases++, inUse: 0, unavailable: true };
      const lease = this.local.acquire(key, limit, ttl);
      return { ...lease, leaseId: lease.leaseId === null ? null : -lease.leaseId, unavailable: true };
    });
    return this.send<Lease>('sem.acquire', args, whenDown || undefined);
  }
  private openLeases = 1;

  async release(key: string, leaseId: number): Promise<boolean> {
    if (leaseId < 0) return this.onUnavailable === 'local' ? this.local.release(key, -leaseId) : true;
    return this.send<boolean>('sem.release', [key, leaseId]);
  }

  async extend(key: string, leaseId: number, ttlMs: Duration): Promise<boolean> {
    if (leaseId < 0) return this.onUnavailable === 'local' ? this.local.extend(key, -leaseId, toMs(ttlMs)) : true;
    return this.send<boolean>('sem.extend', [key, leaseId, toMs(ttlMs)]);
  }

  async leasesInUse(key: string): Promise<number> {
    return this.send<number>('sem.count', [key], this.onUnavailable === 'local' ? () => this.local.inUse(key) : undefined);
  }

  /**
   * One of `limit` slots of `key` for as long as `fn` runs: acquires (waiting up to `waitMs`,
   * else LeaseBusyError), runs `fn`, and always releases, also when `fn` throws. The lease is
   * extended every ttl/3 while `fn` runs, so a TTL shorter than the work does not free the
   * slot; the TTL only matters if this process dies. `signal` aborts if an extension finds the
   * lease gone (it expired while this process stalled).
   */
  async withLease<T>(key: string, limit: number, options: WithLeaseOptions, fn: (lease: Lease, signal: AbortSignal) => Promise<T> | T): Promise<T> {
    const ttl = toMs(options.ttlMs ?? 30_000);
    const deadline = Date.now() + toMs(options.waitMs ?? 0);
    let lease = await this.acquire(key, limit, ttl);
    for (let pause = 10; !lease.acquired && Date.now() < deadline; pause = Math.min(pause * 2, 250)) {
      await new Promise((r) => setTimeout(r, Math.min(pause, Math.max(0, deadline - Date.now()))));
      lease = await this.acquire(key, limit, ttl);
    }
    if (!lease.acquired) throw new LeaseBusyError(key, lease.inUse);
    const id = lease.leaseId!;
    const lost = new AbortController();
    const keeper = setInterval(() => {
      this.extend(key, id, ttl).then(
        (held) => held || lost.abort(new LeaseBusyError(key, limit)),
        () => {}, // the daemon is down: the next tick tries again, the TTL covers the gap
      );
    }, Math.max(1, Math.floor(ttl / 3)));
    try {
      return await fn(lease, lost.signal);
    } finally {
      clearInterval(keeper);
      await this.release(key, id).catch(() => {}); // a daemon that is down frees it at the TTL
    }
  }

  // --- routing ----------------------------------------------------------------------------

  /**
   * ROUTE.PICK: chooses a deployment of `group` and reserves it; `done()` on the result settles
   * it. NoDeploymentError (with retryAfterMs) when none has room.
   */
  async routePick(group: string, options: PickOptions = {}): Promise<PickedDeployment> {
    const args: (string | number)[] = [group];
    if (options.tokens !== undefined) args.push('TOKENS', options.tokens);
    else if (options.messages !== undefined) args.push('CHAT', JSON.stringify(options.messages));
    if (options.strategy !== undefined) args.push('STRATEGY', options.strategy);
    if (options.tags?.length) args.push('TAGS', ...options.tags);
    if (options.exclude?.length) args.push('EXCLUDE', ...options.exclude);
    if (options.ttlMs !== undefined) args.push('TTL', toMs(options.ttlMs));
    if (options.waitMs !== undefined) {
      args.push('WAIT', toMs(options.waitMs));
      if (options.priority !== undefined) args.push('PRIORITY', options.priority);
    }
    const picked = await this.send<Deployment>('route.pick', args);
    const pickedAt = performance.now();
    return { ...picked, done: (outcome = {}) => this.routeDone(picked.lease, { latencyMs: Math.round(performance.now() - pickedAt), ...outcome }) };
  }

  /** ROUTE.DONE: settles a lease; true if it was open, false if already done or expired. */
  async routeDone(lease: string, outcome: RouteOutcome = {}): Promise<boolean> {
    const args: (string | number)[] = [lease];
    if (outcome.status !== undefined) args.push('STATUS', outcome.status);
    if (outcome.latencyMs !== undefined) args.push('LATENCY', Math.max(0, Math.round(outcome.latencyMs)));
    if (outcome.ttftMs !== undefined) args.push('TTFT', Math.max(0, Math.round(outcome.ttftMs)));
    if (outcome.inputTokens !== undefined || outcome.outputTokens !== undefined) args.push('INPUT', outcome.inputTokens ?? 0, 'OUTPUT', outcome.outputTokens ?? 0);
    else if (outcome.tokens !== undefined) args.push('TOKENS', outcome.tokens);
    return this.send<boolean>('route.done', args);
  }

  /**
   * Picks a deployment, runs `fn(deployment)`, and reports the outcome (status from a thrown
   * error's `status`/`statusCode`, tokens from the result's `usage`). On 429, 408, 5xx or a
   * network failure it tries another deployment (EXCLUDE the ones that failed), up to `retries`
   * more times, then throws the last error. A thrown error without a status is reported without
   * one and thrown at once: it is not the deployment's failure.
   */
  async routeCall<T>(group: string, options: RouteCallOptions<T>, fn: (deployment: Deployment) => Promise<T> | T): Promise<T> {
    const { retries = 2, usage = openAiUsage, ...pickOptions } = options;
    const exclude = [...(pickOptions.exclude ?? [])];
    let lastError: unknown;
    for (let attempt = 0; attempt <= retries; attempt++) {
      let picked: PickedDeployment;
      try {
        picked = await this.routePick(group, { ...pickOptions, exclude });
      } catch (err) {
        // Nothing left to try: the upstream failure says more than "no deployment".
        if (lastError !== undefined && err instanceof NoDeploymentError) throw lastError;
        throw err;
      }
      const { done, ...deployment } = picked;
      let result: T;
      try {
        result = await fn(deployment);
      } catch (err) {
        const status = statusOfError(err);
        await done(status === null ? {} : { status }).catch(() => {});
        if (!isRetryableStatus(status)) throw err;
        lastError = err;
        exclude.push(deployment.deployment);
        continue;
      }
      await done({ status: 200, ...usage(result) }).catch(() => {});
      return result;
    }
    throw lastError;
  }

  /** ROUTE.LIST: the group's deployments with their live state. */
  async routeList(group: string): Promise<DeploymentState[]> {
    return this.send<DeploymentState[]>('route.list', [group]);
  }

  async routeGroups(): Promise<string[]> {
    return this.send<string[]>('route.groups', []);
  }

  /** ROUTE.SET: adds or replaces deployments (LiteLLM model_list entries); returns their ids. */
  async routeSet(group: string, ...deployments: object[]): Promise<string[]> {
    return this.send<string[]>('route.set', [group, ...deployments.map((d) => JSON.stringify(d))]);
  }

  /** ROUTE.DEL: removes deployments by id (none given: the whole group); returns how many. */
  async routeDel(group: string, ...ids: string[]): Promise<number> {
    return this.send<number>('route.del', [group, ...ids]);
  }

  /** ROUTE.COOLDOWN: cools a deployment for `ms` by hand (0 lifts it). */
  async routeCooldown(group: string, id: string, ms: Duration): Promise<void> {
    await this.send('route.cooldown', [group, id, toMs(ms)]);
  }

  // --- tokens -----------------------------------------------------------------------------

  /** TOK.COUNT; with `onUnavailable: 'local'`, counted here by gpt-tokenizer (if installed) while the daemon is down. */
  async countTokens(model: string, text: string | Buffer): Promise<number> {
    return this.send<number>('tok.count', [model, text], this.#localCount(model, text));
  }

  /** TOK.CHAT: prompt tokens of a chat request, by the OpenAI cookbook's accounting. */
  async countChatTokens(model: string, messages: ChatMessage[], tools?: unknown[]): Promise<number> {
    const args: string[] = [model, JSON.stringify(messages)];
    if (tools !== undefined) args.push('TOOLS', JSON.stringify(tools));
    return this.send<number>('tok.chat', args);
  }

  /** TOK.WITHIN: the count if it is at most `limit`, else null. */
  async countTokensWithin(model: string, limit: number, text: string | Buffer): Promise<number | null> {
    const count = this.#localCount(model, text);
    return this.send<number | null>('tok.within', [model, limit, text], count && (() => {
      const n = count();
      return n <= limit ? n : null;
    }));
  }

  async encode(model: string, text: string | Buffer): Promise<number[]> {
    return this.send<number[]>('tok.encode', [model, text]);
  }

  async decode(model: string, ids: number[]): Promise<string> {
    return this.send<string>('tok.decode', [model, ...ids]);
  }

  async modelInfo(model: string): Promise<ModelInfo> {
    return this.send<ModelInfo>('tok.info', [model]);
  }

  #localCount(model: string, text: string | Buffer): (() => number) | undefined {
    if (this.onUnavailable !== 'local') return undefined;
    return () => {
      const count = localTokenCounter(model);
      if (!count) throw new SluiceUnavailableError('Sluice is unavailable and gpt-tokenizer is not installed for a local count');
      return count(Buffer.isBuffer(text) ? text.toString() : text);
    };
  }

  async quit(): Promise<void> {
    this.closing = true;
    if (this.probe) clearInterval(this.probe);
    this.redis.off?.('close', this.onClose);
    this.redis.off?.('ready', this.onReady);
    // QUIT needs a live connection; one that is down or reconnecting is just dropped (else
    // ioredis would keep trying to reconnect, and keep the process alive, to send it).
    if (this.redis.status !== undefined && this.redis.status !== 'ready' && this.redis.disconnect) this.redis.disconnect();
    else await this.redis.quit();
  }
}

/** One queued command of a pipeline. */
interface Queued {
  name: string;
  args: (string | number | Buffer)[];
}

/**
 * A typed batch of Sluice calls sent in one write (ioredis's pipeline): each method queues a
 * command and adds its result type to the tuple `exec()` resolves with.
 *
 *   const [user, model, tokens] = await sluice.pipeline()
 *     .hit('user:42', { policy: 'rpm' }).hit('model:gpt-4o', { policy: 'rpm' }).countTokens('gpt-4o', text).exec();
 *
 * Not atomic (use limits.all for all-or-nothing) and without the onUnavailable fallback: a
 * daemon that does not answer within timeoutMs makes exec() throw SluiceUnavailableError.
 */
export class SluicePipeline<R extends unknown[] = []> {
  private readonly queued: Queued[] = [];

  constructor(private readonly run: (queued: Queued[]) => Promise<unknown[]>) {}

  private add<T>(name: string, args: (string | number | Buffer)[]): SluicePipeline<[...R, T]> {
    this.queued.push({ name, args });
    return this as unknown as SluicePipeline<[...R, T]>;
  }

  hit(key: string, spec: LimitSpec, cost = 1) {
    return this.add<HitResult>('rl.hit', [key, ...limitArgs(spec), 'COST', cost]);
  }

  peek(key: string, spec: LimitSpec, cost = 1) {
    return this.add<HitResult>('rl.peek', [key, ...limitArgs(spec), 'COST', cost]);
  }

  all(entries: AllEntry[]) {
    return this.add<AllResult>('rl.all', [entries.length, ...entries.flatMap((e) => [e.key, e.policy, e.cost])]);
  }

  adjust(key: string, policy: string, delta: number) {
    return this.add<number>('rl.adjust', [key, policy, delta]);
  }

  reset(...keys: string[]) {
    return this.add<number>('rl.reset', keys);
  }

  acquire(key: string, limit: number, ttlMs?: Duration) {
    return this.add<Lease>('sem.acquire', ttlMs === undefined ? [key, limit] : [key, limit, 'TTL', toMs(ttlMs)]);
  }

  release(key: string, leaseId: number) {
    return this.add<boolean>('sem.release', [key, leaseId]);
  }

  leasesInUse(key: string) {
    return this.add<number>('sem.count', [key]);
  }

  countTokens(model: string, text: string | Buffer) {
    return this.add<number>('tok.count', [model, text]);
  }

  countChatTokens(model: string, messages: ChatMessage[]) {
    return this.add<number>('tok.chat', [model, JSON.stringify(messages)]);
  }

  /** How many calls are queued. */
  get length(): number {
    return this.queued.length;
  }

  /** Sends every queued call at once; resolves with their results in order, or throws the first error (typed). */
  async exec(): Promise<R> {
    return (await this.run(this.queued)) as R;
  }
}

/**
 * A local token count for `model` by gpt-tokenizer (when the app has it installed: the daemon's
 * exact count is the truth; this only bridges an outage), or null when it is not installed.
 * Models gpt-tokenizer does not know count with o200k_base, the encoding of current models.
 */
function localTokenCounter(model: string): ((text: string) => number) | null {
  type Tokenizer = { countTokens(text: string): number };
  const load = (id: string): Tokenizer | null => {
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      return require(id) as Tokenizer;
    } catch {
      return null;
    }
  };
  const bare = model.includes('/') ? model.slice(model.lastIndexOf('/') + 1) : model;
  const tokenizer = (/^[\w.-]+$/.test(bare) && load(`gpt-tokenizer/model/${bare}`)) || load('gpt-tokenizer/encoding/o200k_base');
  return tokenizer ? (text) => tokenizer.countTokens(text) : null;
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
