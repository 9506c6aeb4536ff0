/**
 * The limits family: CL.THROTTLE (redis-cell's drop-in) and RL.*. Thin: parse the arguments
 * from Buffers, make one native call that writes into a preallocated Float64Array, write the
 * reply. Also loads `policies:` from the config file.
 */
import type { Family, Handler, MetricFamily } from '../context';
import { ArgReader, isWord } from '../args';
import { errors, ReplyError } from '../reply-error';
import { writeHelp } from '../replies';
import { ConfigError, type Config } from '../config';
import native from '../native';

/** Largest PER (ms): the native clock's span limit, 2^58 ns. */
export const MAX_PER_MS = 288230376151;
const ALGOS = ['gcra', 'sliding', 'fixed'];

/** The caller-owned array every native limiter call writes its results into. */
let out = new Float64Array(64);

/**
 * The call area of the hottest calls (RL.HIT, RL.PEEK, CL.THROTTLE): the key is copied into
 * `callKey` and the numbers into `callIo`, so the native call takes no arguments (napi-rs's argument
 * conversion costs more than the limiter's work; see native/src/lib.rs). Both stay alive, and the
 * same size, for the life of the process. Longer keys take the ordinary call.
 */
const callKey = Buffer.alloc(1024);
const callIo = new Float64Array(8);
native.bindCallArea(callKey, callIo);

/** Copies `key` into the call area; false if it does not fit. */
function toCallArea(key: Buffer): boolean {
  const len = key.length;
  if (len > callKey.length) return false;
  if (len <= 64) for (let i = 0; i < len; i++) callKey[i] = key[i];
  else key.copy(callKey);
  callIo[0] = len;
  return true;
}

/** Makes a call through the call area and moves its five results to `out`. */
function callBound(call: () => number): number {
  const code = call();
  for (let i = 0; i < 5; i++) out[i] = callIo[i];
  return code;
}

/** The one argument reader of this family's handlers (they run one at a time). */
const reader = new ArgReader();

function algoCode(arg: Buffer): number {
  for (let i = 0; i < ALGOS.length; i++) if (isWord(arg, ALGOS[i])) return i;
  throw new ReplyError(`ERR unknown ALGO '${arg.toString().slice(0, 64)}' (expected gcra, sliding or fixed)`);
}

function unknownPolicy(name: Buffer): ReplyError {
  return new ReplyError(`ERR unknown POLICY '${name.toString().slice(0, 128)}'`);
}

/** Turns a native status code into the error it stands for. */
function check(code: number): void {
  if (code === native.STATUS_BAD_PARAMS) throw new ReplyError('ERR LIMIT, PER and BURST must be positive integers');
  if (code === native.STATUS_SPAN_TOO_LONG) throw new ReplyError(`ERR PER, or BURST's refill time (BURST * PER / LIMIT), must be at most ${MAX_PER_MS} ms`);
}

// A limit spec parsed from `LIMIT n PER ms [BURST b] [ALGO a]` (module state: no object per call).
let specLimit = 0;
let specPer = 0;
let specBurst = 0;
let specAlgo = 0;

/**
 * Parses `LIMIT n PER ms [BURST b] [ALGO a]` (any order) from args[from..to) into the spec
 * variables. BURST applies to gcra only and defaults to LIMIT.
 */
function parseSpec(args: Buffer[], from: number, to: number): void {
  specLimit = specPer = specBurst = 0;
  specAlgo = -1;
  const r = reader.over(args, from, to);
  while (r.left > 0) {
    if (r.left < 2) throw errors.syntax();
    if (specLimit === 0 && r.word('limit')) specLimit = r.positive('LIMIT');
    else if (specPer === 0 && r.word('per')) specPer = r.positive('PER');
    else if (specBurst === 0 && r.word('burst')) specBurst = r.positive('BURST');
    else if (specAlgo === -1 && r.word('algo')) specAlgo = algoCode(r.next());
    else throw errors.syntax();
  }
  if (specLimit === 0 || specPer === 0) throw errors.syntax();
  if (specPer > MAX_PER_MS) check(native.STATUS_SPAN_TOO_LONG);
  if (specAlgo === -1) specAlgo = 0;
  if (specBurst !== 0 && specAlgo !== 0) throw new ReplyError('ERR BURST applies to ALGO gcra only');
  if (specBurst === 0) specBurst = specLimit;
}

/** RL.HIT / RL.PEEK with the parsed spec: through the call area when the key fits. */
function hitInline(key: Buffer, cost: number, peek: boolean, now: number): number {
  if (!toCallArea(key)) return native.rlHit(key, specLimit, specPer, specBurst, specAlgo, cost, peek, now, out);
  callIo[1] = specLimit;
  callIo[2] = specPer;
  callIo[3] = specBurst;
  callIo[4] = specAlgo;
  callIo[5] = cost;
  callIo[6] = peek ? 1 : 0;
  callIo[7] = now;
  return callBound(native.rlHitBound);
}

/** RL.HIT and RL.PEEK: `key (POLICY name | LIMIT ...) [COST c]`. */
function hitOrPeek(peek: boolean): Handler {
  return (ctx, args, w) => {
    let end = args.length;
    let cost = 1;
    if (end >= 4 && isWord(args[end - 2], 'cost')) {
      cost = reader.over(args, end - 1).positive('COST');
      end -= 2;
    }
    const now = ctx.server.now;
    if (isWord(args[2], 'policy')) {
      if (end !== 4) throw errors.syntax();
      if (native.rlHitPolicy(args[1], args[3], cost, peek, now, out) === native.STATUS_UNKNOWN_POLICY) throw unknownPolicy(args[3]);
    } else {
      parseSpec(args, 2, end);
      check(hitInline(args[1], cost, peek, now));
    }
    w.integers(out, 5);
  };
}

/**
 * redis-cell parses with Rust's i64 parser: an optional sign, then digits (leading zeros
 * allowed). Read from the bytes; a string is made only for an error.
 */
function cellInteger(arg: Buffer): number {
  const len = arg.length;
  let i = 0;
  const negative = len > 0 && arg[0] === 45;
  if (len > 0 && (arg[0] === 43 || negative)) i = 1;
  if (i === len) throw cellParseError(arg);
  let n = 0;
  for (; i < len; i++) {
    const c = arg[i] - 48;
    if (c < 0 || c > 9) throw cellParseError(arg);
    n = n * 10 + c;
  }
  if (n > Number.MAX_SAFE_INTEGER) {
    const exact = BigInt(arg.toString());
    if (exact >= -(2n ** 63n) && exact < 2n ** 63n) throw new ReplyError('ERR value is out of range for CL.THROTTLE');
    throw cellParseError(arg);
  }
  return negative ? -n : n;
}

function cellParseError(arg: Buffer): ReplyError {
  return new ReplyError(`Cell error: Couldn't parse as integer: ${arg.toString()}`);
}

const clThrottle: Handler = (ctx, args, w) => {
  if (args.length > 6) throw errors.wrongArgs('cl.throttle');
  const burst = cellInteger(args[2]);
  const count = cellInteger(args[3]);
  const period = cellInteger(args[4]);
  const quantity = args.length === 6 ? cellInteger(args[5]) : 1;
  let code: number;
  if (toCallArea(args[1])) {
    callIo[1] = burst;
    callIo[2] = count;
    callIo[3] = period;
    callIo[4] = quantity;
    callIo[5] = ctx.server.now;
    code = callBound(native.clThrottleBound);
  } else {
    code = native.clThrottle(args[1], burst, count, period, quantity, ctx.server.now, out);
  }
  if (code === native.STATUS_BAD_PARAMS) throw new ReplyError('ERR max_burst must be >= 0, count and period must be > 0');
  if (code === native.STATUS_SPAN_TOO_LONG) throw new ReplyError('ERR value is out of range for CL.THROTTLE');
  w.integers(out, 5);
};

/** RL.ALL numkeys key policy cost [key policy cost ...] */
const rlAll: Handler = (ctx, args, w) => {
  const r = reader.over(args, 1);
  const n = r.positive('numkeys');
  if (args.length !== 2 + 3 * n) throw errors.wrongArgs('rl.all');
  const keys: Buffer[] = new Array(n);
  const policies: Buffer[] = new Array(n);
  const costs = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    keys[i] = r.next();
    policies[i] = r.next();
    costs[i] = r.positive('cost');
  }
  if (out.length < 3 + n) out = new Float64Array(3 + n);
  if (native.rlAll(keys, policies, costs, ctx.server.now, out) === native.STATUS_UNKNOWN_POLICY) throw unknownPolicy(policies[out[1]]);
  w.integers(out, 3 + n);
};

const rlAdjust: Handler = (ctx, args, w) => {
  const delta = reader.over(args, 3).integer();
  if (native.rlAdjust(args[1], args[2], delta, ctx.server.now, out) === native.STATUS_UNKNOWN_POLICY) throw unknownPolicy(args[2]);
  w.integer(out[0]);
};

const rlReset: Handler = (ctx, args, w) => {
  let n = 0;
  for (let i = 1; i < args.length; i++) if (native.rlReset(args[i], ctx.server.now)) n++;
  w.integer(n);
};

const policyHelp = [
  'RL.POLICY <subcommand> [<arg> ...]. Subcommands are:',
  'SET <name> LIMIT <n> PER <ms> [BURST <b>] [ALGO gcra|sliding|fixed]', '    Declare or replace a named limit.',
  'GET <name>', '    Return the policy: limit, per, burst, algo.',
  'DEL <name>', '    Delete the policy.',
  'LIST', '    List policy names.',
  'HELP', '    Print this help.',
];

const handlers: Record<string, Handler> = {
  'cl.throttle': clThrottle,
  'rl.hit': hitOrPeek(false),
  'rl.peek': hitOrPeek(true),
  'rl.all': rlAll,
  'rl.adjust': rlAdjust,
  'rl.reset': rlReset,
  'rl.policy|set': (_ctx, args, w) => {
    parseSpec(args, 3, args.length);
    check(native.rlPolicySet(args[2], specLimit, specPer, specBurst, specAlgo));
    w.ok();
  },
  'rl.policy|get': (_ctx, args, w) => {
    if (!native.rlPolicyGet(args[2], out)) return w.null();
    w.map(4);
    w.bulk('limit');
    w.integer(out[0]);
    w.bulk('per');
    w.integer(out[1]);
    w.bulk('burst');
    // BURST is a GCRA bucket's capacity; windows have none (their capacity is LIMIT).
    if (out[3] === 0) w.integer(out[2]);
    else w.null();
    w.bulk('algo');
    w.bulk(ALGOS[out[3]]);
  },
  'rl.policy|del': (_ctx, args, w) => w.integer(native.rlPolicyDel(args[2]) ? 1 : 0),
  'rl.policy|list': (_ctx, _args, w) => w.bulks(native.rlPolicyList()),
  'rl.policy|help': (_ctx, _args, w) => writeHelp(w, policyHelp),
};

/**
 * Declares the config file's policies:
 * ```yaml
 * policies:
 *   user-rpm: { limit: 60, per: 60000 }                   # gcra, burst = limit
 *   model-tpm: { limit: 100000, per: 60000, algo: sliding }
 * ```
 */
function loadPolicies(config: Config): void {
  const section = config.file.policies;
  if (section === undefined || section === null) return;
  const where = `config file ${config.filePath}: policies`;
  if (typeof section !== 'object' || Array.isArray(section)) throw new ConfigError(`${where} must map policy names to { limit, per, burst, algo }`);
  for (const [name, spec] of Object.entries(section as Record<string, unknown>)) {
    if (spec === null || typeof spec !== 'object' || Array.isArray(spec)) throw new ConfigError(`${where}.${name} must be a mapping such as { limit: 60, per: 60000 }`);
    const words: Buffer[] = [];
    for (const [field, value] of Object.entries(spec as Record<string, unknown>)) {
      if (!['limit', 'per', 'burst', 'algo'].includes(field)) throw new ConfigError(`${where}.${name}: unknown field '${field}' (expected limit, per, burst, algo)`);
      words.push(Buffer.from(field), Buffer.from(String(value)));
    }
    try {
      parseSpec(words, 0, words.length);
      check(native.rlPolicySet(Buffer.from(name), specLimit, specPer, specBurst, specAlgo));
    } catch (err) {
      const why = err instanceof ReplyError ? err.message.replace(/^ERR /, '') : (err as Error).message;
      throw new ConfigError(`${where}.${name}: ${why === 'syntax error' ? 'needs limit and per' : why}`);
    }
  }
}

/** Limiter decisions per key prefix (bounded: 64 prefixes, then one overflow series). */
function limitsMetrics(): MetricFamily[] {
  const decisions: MetricFamily = { name: 'sluice_limit_decisions_total', help: 'RL.HIT, RL.ALL and CL.THROTTLE decisions by key prefix (the key up to its first ":"; "(none)" without one; "(other)" past the first 64 prefixes).', type: 'counter', samples: [] };
  const near: MetricFamily = { name: 'sluice_limit_near_total', help: 'Admitted hits that left a tenth of the capacity or less, by key prefix.', type: 'counter', samples: [] };
  for (const p of native.limitDecisions()) {
    const prefix = p.overflow ? '(other)' : p.prefix.length === 0 ? '(none)' : p.prefix.toString();
    decisions.samples.push({ labels: { prefix, decision: 'allowed' }, value: p.allowed }, { labels: { prefix, decision: 'refused' }, value: p.refused });
    near.samples.push({ labels: { prefix }, value: p.near });
  }
  return [decisions, near, { name: 'sluice_limit_policies', help: 'Named policies (RL.POLICY LIST).', type: 'gauge', samples: [{ value: native.rlPolicyList().length }] }];
}

export const limitsFamily: Family = {
  name: 'limits',
  handlers,
  configSections: ['policies'],
  start: loadPolicies,
  metrics: limitsMetrics,
  resetStats: () => native.limitDecisionsReset(),
};
