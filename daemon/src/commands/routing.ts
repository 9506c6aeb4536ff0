/**
 * The routing family (ROUTE.*): which deployment of a model group takes a request. The registry,
 * live state and every decision live in native/core/src/routing (one atomic step per pick); this
 * module parses arguments, loads the LiteLLM configuration, and keeps the queue of picks that
 * WAIT for room.
 *
 * Configuration: the config file itself may be a LiteLLM proxy `config.yaml` (`model_list`,
 * `router_settings`; its other sections are ignored with a log line each), or name one with
 * `routing: path/to/config.yaml`. `os.environ/NAME` values are resolved from the environment
 * (LiteLLM derives deployment ids from the resolved values, so give Sluice the same variables,
 * or set `model_info.id`); credentials are dropped by the native side before anything is kept.
 * ROUTE.RELOAD and SIGHUP read the file again.
 *
 * WAIT: a pick that finds no room and may find some later waits in a queue per group, served
 * by PRIORITY (lower first, as in LiteLLM; default 0) then arrival, whenever room may have
 * appeared (a lease done or expired, a cooldown lifted or ended, a minute rolled, the
 * deployments changed). It answers the refusal when its time is up, and leaves the queue when
 * its connection closes.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { keySlot, ReplyWriter } from '@sluice/protocol';
import { parseDocument, visit } from 'yaml';
import type { Context, Family, Handler, LaterReply, MetricFamily, Session } from '../context';
import { ArgReader, isWord } from '../args';
import { ConfigError, type Config } from '../config';
import { log } from '../log';
import { asReplyError, errors, ReplyError } from '../reply-error';
import { writeHelp } from '../replies';
import native from '../native';
import { slotRedirect } from '../cluster-redirect';

const reader = new ArgReader();
/** [1 picked | 0 refused | -1 no room in the buffer, end offset, retry ms or -1]; see native/src/routing.rs. */
const io = new Float64Array(3);
const NONE = Buffer.alloc(0);
const PICKED = 1;
const REFUSED = 0;
const NO_ROOM = -1;

/** ROUTE.PICK's keywords: TAGS and EXCLUDE take values up to the next one. */
const PICK_WORDS = ['tokens', 'chat', 'strategy', 'tags', 'exclude', 'ttl', 'wait', 'priority'];

/** A parsed ROUTE.PICK (its buffers are copies when the pick waits). */
interface PickArgs {
  group: Buffer;
  tokens: number;
  chat: Buffer;
  strategy: Buffer;
  tags: Buffer;
  exclude: Buffer;
  ttl: number;
  wait: number;
  priority: number;
}

function isPickWord(arg: Buffer): boolean {
  for (const w of PICK_WORDS) if (isWord(arg, w)) return true;
  return false;
}

/** The values after TAGS / EXCLUDE up to the next keyword, NUL-separated as the native side reads them. */
function list(r: ArgReader, what: string): Buffer[] {
  const values: Buffer[] = [];
  for (let next = r.peek(); next !== undefined && !isPickWord(next); next = r.peek()) {
    if (next.includes(0)) throw new ReplyError(`ERR ${what} values must not contain NUL bytes`);
    values.push(r.next());
  }
  if (values.length === 0) throw errors.syntax();
  return values;
}

function joined(parts: Buffer[]): Buffer {
  const out: Buffer[] = [];
  parts.forEach((p, i) => {
    if (i > 0) out.push(Buffer.from([0]));
    out.push(p);
  });
  return Buffer.concat(out);
}

function parsePick(args: Buffer[]): PickArgs {
  const p: PickArgs = { group: args[1], tokens: 0, chat: NONE, strategy: NONE, tags: NONE, exclude: NONE, ttl: -1, wait: -1, priority: 0 };
  const tags: Buffer[] = [];
  const exclude: Buffer[] = [];
  let sized = false;
  let prioritized = false;
  const r = reader.over(args, 2);
  while (r.left > 0) {
    if (r.word('tokens') && !sized) {
      p.tokens = r.integerOr('ERR TOKENS must be a non-negative integer');
      if (p.tokens < 0) throw new ReplyError('ERR TOKENS must be a non-negative integer');
      sized = true;
    } else if (r.word('chat') && !sized) {
      p.chat = r.next();
      if (p.chat.length === 0) throw new ReplyError('ERR CHAT needs the messages as a JSON array');
      sized = true;
    } else if (r.word('strategy')) p.strategy = r.next();
    else if (r.word('tags')) tags.push(...list(r, 'TAGS'));
    else if (r.word('exclude')) exclude.push(...list(r, 'EXCLUDE'));
    else if (r.word('ttl')) p.ttl = r.positive('TTL');
    else if (r.word('wait')) {
      p.wait = r.integerOr('ERR WAIT must be a non-negative integer (ms)');
      if (p.wait < 0) throw new ReplyError('ERR WAIT must be a non-negative integer (ms)');
    } else if (r.word('priority')) {
      p.priority = r.integer();
      prioritized = true;
    } else throw errors.syntax();
  }
  if (prioritized && p.wait < 0) throw new ReplyError('ERR PRIORITY applies to a pick that WAITs');
  if (tags.length > 0) p.tags = joined(tags);
  if (exclude.length > 0) p.exclude = joined(exclude);
  return p;
}

/** Counters for INFO routing. */
const stats = { picks: 0, refusals: 0, waited: 0, waitTimeouts: 0, done: 0 };
/** Refused picks by group (metrics; bounded by the groups that exist: an unknown group is an error, not a refusal). */
const refusalsByGroup = new Map<string, number>();

/** Picks and settled DONEs the native fast path answered (fast-path.ts), for INFO routing. */
export function countRouting(picks: number, settled: number): void {
  stats.picks += picks;
  stats.done += settled;
}

/** True while picks WAIT: then every ROUTE.DONE takes the ordinary path, which wakes them. */
export function routingHasWaiters(): boolean {
  return queues.size > 0;
}

/**
 * Runs one pick, writing its reply (the pick, or the refusal as an error) into `w`. Returns how
 * it ended; io[2] holds the ms until a retry may succeed (-1: waiting cannot help).
 */
function pick(p: PickArgs, now: number, w: ReplyWriter, resp3: boolean): number {
  for (let room = 4096; ; room *= 4) {
    const pool = w.room(room);
    io[1] = w.writeOffset;
    try {
      native.routePick(p.group, p.tokens, p.chat, p.strategy, p.tags, p.exclude, p.ttl, now, resp3, pool, io);
    } catch (err) {
      throw asReplyError(err);
    }
    if (io[0] !== NO_ROOM) break;
    if (room > 1 << 20) throw new ReplyError('ERR the pick reply does not fit in 4 MB');
  }
  w.advanceTo(io[1]);
  if (io[0] === PICKED) stats.picks++;
  else {
    stats.refusals++;
    const group = p.group.toString();
    refusalsByGroup.set(group, (refusalsByGroup.get(group) ?? 0) + 1);
  }
  return io[0];
}

// --- WAIT: the shared queue of picks waiting for room -------------------------------------------

interface Waiter {
  args: PickArgs;
  session: Session;
  seq: number;
  timer: NodeJS.Timeout;
  answer: (write: (w: ReplyWriter) => void) => void;
}

/** Waiters by group name (latin1), each queue ordered by priority (lower first) then arrival. */
const queues = new Map<string, Waiter[]>();
/** A timer per group with waiters: when room may appear by time alone (minute roll, cooldown end). */
const wakeTimers = new Map<string, NodeJS.Timeout>();
let nextSeq = 0;

function owned(b: Buffer): Buffer {
  return b.length === 0 ? NONE : Buffer.from(b);
}

/** Queues a refused pick that may succeed within `p.wait` ms. */
function enqueue(ctx: Context, p: PickArgs): LaterReply {
  const args: PickArgs = { ...p, group: owned(p.group), chat: owned(p.chat), strategy: owned(p.strategy), tags: owned(p.tags), exclude: owned(p.exclude) };
  const group = args.group.toString('latin1');
  stats.waited++;
  return new Promise((resolve) => {
    const waiter: Waiter = {
      args,
      session: ctx.session,
      seq: nextSeq++,
      timer: setTimeout(() => timeUp(group, waiter), args.wait),
      answer: resolve,
    };
    const queue = queues.get(group) ?? [];
    let at = queue.length;
    while (at > 0 && queue[at - 1].args.priority > args.priority) at--;
    queue.splice(at, 0, waiter);
    queues.set(group, queue);
    scheduleWake(group);
  });
}

function remove(group: string, waiter: Waiter): void {
  clearTimeout(waiter.timer);
  const queue = queues.get(group);
  if (queue === undefined) return;
  const i = queue.indexOf(waiter);
  if (i >= 0) queue.splice(i, 1);
  if (queue.length === 0) {
    queues.delete(group);
    clearTimeout(wakeTimers.get(group));
    wakeTimers.delete(group);
  }
}

/**
 * Tries the pick once more for `waiter`; answers it (picked, or refused when `final`). In a
 * cluster, a group whose slot another node took meanwhile answers MOVED: its state went there.
 */
function attempt(group: string, waiter: Waiter, final: boolean): boolean {
  const moved = slotRedirect(keySlot(waiter.args.group), waiter.session.tls);
  if (moved !== null) {
    remove(group, waiter);
    waiter.answer((out) => out.error(moved));
    return true;
  }
  const w = new ReplyWriter();
  w.resp3 = waiter.session.resp3;
  let outcome: number;
  try {
    outcome = pick(waiter.args, native.clockMs(), w, w.resp3);
  } catch (err) {
    const message = err instanceof ReplyError ? err.message : `ERR internal error in 'route.pick': ${(err as Error).message}`;
    remove(group, waiter);
    waiter.answer((out) => out.error(message));
    return true;
  }
  if (outcome !== PICKED && !final) return false;
  remove(group, waiter);
  const bytes = w.take() ?? NONE;
  waiter.answer((out) => out.raw(bytes));
  return true;
}

function timeUp(group: string, waiter: Waiter): void {
  stats.waitTimeouts++;
  attempt(group, waiter, true);
}

/** Serves the waiters of `group` in order while picks succeed; the first refusal keeps its place. */
function wake(group: string): void {
  const queue = queues.get(group);
  if (queue === undefined) return;
  while (queue.length > 0 && !queue[0].session.closed) {
    if (!attempt(group, queue[0], false)) break;
  }
  if (queues.has(group)) scheduleWake(group);
}

/** Wakes every group whose lease tag is `tag` (a lease names its group's cluster hash tag). */
function wakeByLease(lease: Buffer): void {
  const text = lease.toString('latin1');
  const close = text.indexOf('}');
  const tag = text.startsWith('{') && close > 0 ? text.slice(1, close) : null;
  for (const group of [...queues.keys()]) if (tag === null || hashTag(group) === tag) wake(group);
}

/** The part of a name Redis Cluster hashes (as native/core/src/routing/state.rs hash_tag). */
function hashTag(name: string): string {
  const open = name.indexOf('{');
  if (open >= 0) {
    const close = name.indexOf('}', open + 1);
    if (close > open + 1) return name.slice(open + 1, close);
  }
  return name;
}

function wakeAll(): void {
  for (const group of [...queues.keys()]) wake(group);
}

/** A new cluster topology is in force: waiting picks of groups another node now serves get MOVED. */
export function wakeWaitingPicks(): void {
  wakeAll();
}

/** Wakes `group` when time alone may give it room (a minute rolls, a cooldown ends). */
function scheduleWake(group: string): void {
  clearTimeout(wakeTimers.get(group));
  const ms = native.routeNextChangeMs(group, native.clockMs());
  if (ms < 0) {
    wakeTimers.delete(group);
    return;
  }
  const timer = setTimeout(() => wake(group), Math.max(1, Math.ceil(ms))).unref();
  wakeTimers.set(group, timer);
}

// --- handlers ------------------------------------------------------------------------------------

const routePick: Handler = (ctx, args, w) => {
  const p = parsePick(args);
  const start = w.writeOffset;
  const outcome = pick(p, ctx.server.now, w, ctx.session.resp3);
  if (outcome === REFUSED && p.wait > 0 && io[2] >= 0) {
    w.advanceTo(start); // the refusal is not the answer yet
    return enqueue(ctx, p);
  }
};

const routeDone: Handler = (ctx, args, w) => {
  let status = -1;
  let latency = -1;
  let ttft = -1;
  let total = -1;
  let input = -1;
  let output = -1;
  const r = reader.over(args, 2);
  const nonNegative = (what: string) => {
    const n = r.integerOr(`ERR ${what} must be a non-negative integer`);
    if (n < 0) throw new ReplyError(`ERR ${what} must be a non-negative integer`);
    return n;
  };
  while (r.left > 0) {
    if (r.word('status') && status < 0) status = nonNegative('STATUS');
    else if (r.word('latency') && latency < 0) latency = nonNegative('LATENCY');
    else if (r.word('ttft') && ttft < 0) ttft = nonNegative('TTFT');
    else if (r.word('tokens') && total < 0 && input < 0) total = nonNegative('TOKENS');
    else if (r.word('input') && input < 0 && total < 0) input = nonNegative('INPUT');
    else if (r.word('output') && output < 0 && total < 0) output = nonNegative('OUTPUT');
    else throw errors.syntax();
  }
  if ((input < 0) !== (output < 0)) throw new ReplyError('ERR INPUT and OUTPUT go together (or give TOKENS total)');
  let settled: boolean;
  try {
    settled = native.routeDone(args[1], status, latency, ttft, total, input, output, ctx.server.now);
  } catch (err) {
    throw asReplyError(err);
  }
  if (settled) stats.done++;
  w.integer(settled ? 1 : 0);
  if (settled && queues.size > 0) wakeByLease(args[1]);
};

/** Runs a native call whose errors are RESP errors (`ERR ...`). */
function call<T>(f: () => T): T {
  try {
    return f();
  } catch (err) {
    throw asReplyError(err);
  }
}

/** ROUTE.SET group [REPLACE] deployment-json...: REPLACE makes the group exactly these deployments. */
const routeSet: Handler = (_ctx, args, w) => {
  const replace = isWord(args[2], 'replace');
  const entries = args.slice(replace ? 3 : 2).map((a) => a.toString());
  const ids = call(() => native.routeSet(args[1].toString(), entries, replace));
  w.bulks(ids);
  if (queues.size > 0) wakeAll();
};

const routeList: Handler = (ctx, args, w) => {
  const json = native.routeList(args[1].toString(), ctx.server.now);
  if (json === null || json === undefined) throw new ReplyError(`ERR no such group '${args[1].toString().slice(0, 128)}'`);
  const views = JSON.parse(json) as Record<string, unknown>[];
  w.array(views.length);
  for (const v of views) writeValue(w, v);
};

/** A JSON value as RESP: objects as maps, arrays as arrays, null as nil, numbers as integers or doubles. */
function writeValue(w: ReplyWriter, v: unknown): void {
  if (v === null || v === undefined) w.null();
  else if (typeof v === 'number') {
    if (Number.isInteger(v)) w.integer(v);
    else w.double(v);
  } else if (typeof v === 'boolean') w.integer(v ? 1 : 0);
  else if (typeof v === 'string') w.bulk(v);
  else if (Array.isArray(v)) {
    w.array(v.length);
    for (const x of v) writeValue(w, x);
  } else {
    const entries = Object.entries(v as Record<string, unknown>);
    w.map(entries.length);
    for (const [k, x] of entries) {
      w.bulk(k);
      writeValue(w, x);
    }
  }
}

const handlers: Record<string, Handler> = {
  'route.pick': routePick,
  'route.done': routeDone,
  'route.set': routeSet,
  'route.del': (_ctx, args, w) => {
    w.integer(native.routeDel(args[1].toString(), args.slice(2).map((a) => a.toString())));
    if (queues.size > 0) wakeAll();
  },
  'route.groups': (_ctx, _args, w) => w.bulks(native.routeGroups()),
  'route.list': routeList,
  'route.cooldown': (ctx, args, w) => {
    const ms = reader.over(args, 3).integerOr('ERR ms must be a non-negative integer');
    if (ms < 0) throw new ReplyError('ERR ms must be a non-negative integer');
    if (!native.routeCooldown(args[1].toString(), args[2].toString(), ms, ctx.server.now)) {
      throw new ReplyError(`ERR no deployment '${args[2].toString().slice(0, 128)}' in group '${args[1].toString().slice(0, 128)}'`);
    }
    w.ok();
    if (ms === 0) wake(args[1].toString('latin1'));
  },
  'route.reload': (ctx, _args, w) => {
    const loaded = loadRouting(ctx.server.config, 'ROUTE.RELOAD');
    if (!loaded) throw new ReplyError('ERR no routing configuration file to reload: start Sluice with --config FILE (model_list:, or routing: path)');
    w.ok();
  },
  'route.settings|get': (_ctx, _args, w) => w.bulk(native.routeSettingsGet()),
  'route.settings|set': (_ctx, args, w) => {
    call(() => native.routeSettingsSet(args[2].toString()));
    w.ok();
    if (queues.size > 0) wakeAll();
  },
  'route.settings|help': (_ctx, _args, w) =>
    writeHelp(w, [
      'ROUTE.SETTINGS <subcommand> [<arg> ...]. Subcommands are:',
      'GET', '    Return the router settings as JSON.',
      'SET <json>', '    Replace the router settings (LiteLLM router_settings as JSON).',
      'HELP', '    Print this help.',
    ]),
};

// --- configuration -------------------------------------------------------------------------------

/**
 * A YAML float with an integral value (`weight: 1.0`, `timeout: 600.0`). LiteLLM reads the file
 * with PyYAML, gets a Python float and hashes `str(1.0)`, i.e. `1.0`, into the deployment id;
 * JSON would write `1` and the native side would hash `1`. Kept apart from numbers until
 * `toJson` writes it as `1.0`, which serde keeps a float, so the ids agree.
 */
class IntegralFloat {
  constructor(readonly value: number) {}
}

/** A YAML file as plain values, integral floats marked (see IntegralFloat). */
function readYaml(file: string): unknown {
  const doc = parseDocument(readFileSync(file, 'utf8'));
  if (doc.errors.length > 0) throw new Error(doc.errors[0].message);
  visit(doc, {
    Scalar(_key, node) {
      if (typeof node.value === 'number' && Number.isInteger(node.value) && /\./.test(node.source ?? '')) {
        node.value = new IntegralFloat(node.value);
      }
    },
  });
  return doc.toJS();
}

/** JSON for the native side: as JSON.stringify, but an IntegralFloat keeps its decimal point. */
function toJson(value: unknown): string {
  if (value instanceof IntegralFloat) {
    // Python writes 1e16 and beyond in exponent form; serde reads both as floats.
    return Math.abs(value.value) < 1e16 ? `${value.value}.0` : value.value.toExponential();
  }
  if (Array.isArray(value)) return `[${value.map(toJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    return `{${Object.entries(value).map(([k, v]) => `${JSON.stringify(k)}:${toJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** Replaces `os.environ/NAME` strings with the variable's value (null, with a warning, if unset). */
function resolveEnv(value: unknown, where: string): unknown {
  if (value instanceof IntegralFloat) return value;
  if (typeof value === 'string' && value.startsWith('os.environ/')) {
    const name = value.slice('os.environ/'.length);
    const v = process.env[name];
    if (v === undefined) log.warning(`${where} refers to os.environ/${name}, which is not set: using null (set it, as LiteLLM's environment does, so deployment ids match LiteLLM's)`);
    return v ?? null;
  }
  if (Array.isArray(value)) return value.map((x, i) => resolveEnv(x, `${where}[${i}]`));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, x]) => [k, resolveEnv(x, `${where}.${k}`)]));
  }
  return value;
}

/** The LiteLLM sections: from the config file itself, or from the file its `routing:` names. */
function routingSections(config: Config): { file: string; doc: Record<string, unknown> } | null {
  if (!config.filePath) return null;
  // The file is read again each time, so ROUTE.RELOAD and SIGHUP see edits.
  const read = (file: string): Record<string, unknown> => {
    let doc: unknown;
    try {
      doc = readYaml(file) ?? {};
    } catch (err) {
      throw new ConfigError(`cannot load routing configuration ${file}: ${(err as Error).message}`);
    }
    if (typeof doc !== 'object' || Array.isArray(doc)) throw new ConfigError(`routing configuration ${file} must be a mapping (model_list:, router_settings:)`);
    return doc as Record<string, unknown>;
  };
  const main = read(config.filePath);
  if (typeof main.routing === 'string') {
    const file = path.resolve(path.dirname(config.filePath), main.routing);
    return { file, doc: read(file) };
  }
  if (main.routing !== undefined) throw new ConfigError(`config file ${config.filePath}: routing must name a LiteLLM config file (routing: litellm.yaml)`);
  if (main.model_list === undefined && main.router_settings === undefined) return null;
  return { file: config.filePath, doc: main };
}

/** The reason loadRouting is given at start-up. */
const START_UP = 'start-up';

/**
 * Loads (or reloads) the routing configuration; false if there is none. Throws ConfigError.
 * ROUTE.RELOAD and SIGHUP replace every group and the settings. At start-up the file goes over
 * what the snapshot restored, as `policies:` do: its groups and its router_settings (when it
 * has them) win, and groups set with ROUTE.SET that it does not name stay.
 */
function loadRouting(config: Config, why: string): boolean {
  const found = routingSections(config);
  if (found === null) return false;
  const { file, doc } = found;
  const atStart = why === START_UP;
  const modelList = resolveEnv(doc.model_list ?? [], 'model_list');
  const settings = atStart && doc.router_settings === undefined ? null : resolveEnv(doc.router_settings ?? {}, 'router_settings');
  if (!Array.isArray(modelList)) throw new ConfigError(`${file}: model_list must be a list of deployments`);
  let ignored: string[];
  try {
    ignored = native.routeReload(toJson(modelList), toJson(settings), atStart);
  } catch (err) {
    throw new ConfigError(`${file}: ${(err as Error).message.replace(/^ERR /, '')}`);
  }
  for (const key of ignored) log.notice(`${file}: router_settings.${key} is not used by Sluice; ignored`);
  if (file !== config.filePath) {
    for (const key of Object.keys(doc)) {
      if (key !== 'model_list' && key !== 'router_settings') log.notice(`${file}: section '${key}' is not used by Sluice; ignored`);
    }
  }
  log.notice(`routing: ${modelList.length} deployment(s) in ${native.routeGroups().length} group(s) from ${file} (${why})`);
  if (queues.size > 0) wakeAll();
  return true;
}

function start(config: Config): void {
  for (const key of config.ignoredSections) log.notice(`config file ${config.filePath}: section '${key}' is not used by Sluice; ignored`);
  // The persistence family started first: what is here now came from the snapshot.
  const restored = native.routeGroups().length;
  if (restored > 0) log.notice(`routing: ${restored} group(s) with their live state and ${native.routeOpenLeases()} open lease(s) restored from the snapshot`);
  loadRouting(config, START_UP);
  process.on('SIGHUP', () => {
    try {
      if (!loadRouting(config, 'SIGHUP')) log.notice('SIGHUP: no routing configuration file to reload');
    } catch (err) {
      log.warning(`SIGHUP: the routing configuration was not reloaded (the old one stays): ${(err as Error).message}`);
    }
  });
  // Leases never done expire after their TTL; their groups' waiters may go on.
  setInterval(() => {
    for (const group of native.routeSweep(native.clockMs())) if (queues.has(group)) wake(group);
  }, 250).unref();
}

function routingInfo(): string[] {
  let waiting = 0;
  for (const q of queues.values()) waiting += q.length;
  return [
    `routing_groups:${native.routeGroups().length}`,
    `routing_open_leases:${native.routeOpenLeases()}`,
    `routing_picks:${stats.picks}`,
    `routing_refusals:${stats.refusals}`,
    `routing_done:${stats.done}`,
    `routing_waiting_picks:${waiting}`,
    `routing_waited_picks:${stats.waited}`,
    `routing_wait_timeouts:${stats.waitTimeouts}`,
  ];
}

/** Picks, cooldowns, in-flight requests per deployment; refusals per group. */
function routingMetrics(): MetricFamily[] {
  const per = (name: string, help: string, type: 'counter' | 'gauge'): MetricFamily => ({ name, help, type, samples: [] });
  const picks = per('sluice_route_picks_total', 'ROUTE.PICK answers naming this deployment.', 'counter');
  const cooldowns = per('sluice_route_cooldowns_total', 'Times this deployment entered cooldown (after failures, or by ROUTE.COOLDOWN).', 'counter');
  const inFlight = per('sluice_route_in_flight', 'Requests picked for this deployment and not yet done.', 'gauge');
  const cooling = per('sluice_route_cooling_down', '1 while this deployment is cooling down.', 'gauge');
  for (const d of native.routeDeploymentStats(native.clockMs())) {
    const labels = { group: d.group, deployment: d.id };
    picks.samples.push({ labels, value: d.picks });
    cooldowns.samples.push({ labels, value: d.cooldowns });
    inFlight.samples.push({ labels, value: d.inFlight });
    cooling.samples.push({ labels, value: d.cooldownMs > 0 ? 1 : 0 });
  }
  const refusals = per('sluice_route_refusals_total', 'ROUTE.PICK refusals (no deployment had room), by group.', 'counter');
  for (const [group, n] of refusalsByGroup) refusals.samples.push({ labels: { group }, value: n });
  return [picks, refusals, cooldowns, inFlight, cooling];
}

export const routingFamily: Family = {
  name: 'routing',
  handlers,
  configSections: ['model_list', 'router_settings', 'routing'],
  info: [{ name: 'routing', lines: routingInfo }],
  metrics: routingMetrics,
  start,
  resetStats: () => {
    stats.picks = stats.refusals = stats.waited = stats.waitTimeouts = stats.done = 0;
    refusalsByGroup.clear();
  },
  sessionClosed: (session) => {
    for (const [group, queue] of [...queues]) {
      for (const waiter of queue.filter((x) => x.session === session)) {
        remove(group, waiter);
        waiter.answer(() => {}); // nobody reads it: the connection is gone
      }
    }
  },
};
