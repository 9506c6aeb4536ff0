/**
 * The Prometheus endpoint against a real daemon: scraped over HTTP and read with a real parser
 * of the text format (parse-prometheus-text-format, as prom2json reads it). The numbers must
 * match what the test did.
 */
import test, { after, before } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import Redis from 'ioredis';
// No types are published for it: it returns prom2json's shape.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const parsePrometheus: (text: string) => ParsedFamily[] = require('parse-prometheus-text-format');
import { freePort, startDaemon, type Daemon } from './testing';

interface ParsedFamily {
  name: string;
  help: string;
  type: string;
  metrics: { labels?: Record<string, string>; value?: string; buckets?: Record<string, string>; count?: string; sum?: string }[];
}

async function scrape(port: number, path = '/metrics'): Promise<{ status: number; type: string | null; body: string }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: res.status, type: res.headers.get('content-type'), body: await res.text() };
}

let daemon: Daemon;
let redis: Redis;
let metricsPort: number;

before(async () => {
  metricsPort = await freePort();
  daemon = await startDaemon(['--metrics-port', String(metricsPort)]);
  redis = new Redis({ port: daemon.port, lazyConnect: true, maxRetriesPerRequest: 0 });
  await redis.connect();
});

after(async () => {
  redis.disconnect();
  await daemon.stop();
});

let lastBody = '';

/**
 * One labelled histogram series of the last scrape, parsed on its own: the parser folds every
 * series of a histogram family into one, so the series' lines are given to it without their
 * `family` label.
 */
function histogramSeries(name: string, family: string): ParsedFamily['metrics'][number] {
  const label = `family="${family}"`;
  const lines = lastBody.split('\n').filter((l) => l.startsWith(`# HELP ${name} `) || l.startsWith(`# TYPE ${name} `) || (l.startsWith(`${name}_`) && l.includes(label)));
  const text = lines.map((l) => l.replace(`${label},`, '').replace(`{${label}}`, '')).join('\n') + '\n';
  const parsed = parsePrometheus(text);
  assert.equal(parsed.length, 1);
  assert.equal(parsed[0].type, 'HISTOGRAM');
  return parsed[0].metrics[0];
}

/** Scrapes and parses; checks the text line by line as well (every line a comment or a sample). */
async function metrics(): Promise<Map<string, ParsedFamily>> {
  const { status, type, body } = await scrape(metricsPort);
  lastBody = body;
  assert.equal(status, 200);
  assert.match(type ?? '', /^text\/plain; version=0\.0\.4/);
  for (const line of body.split('\n')) {
    if (line === '') continue;
    assert.match(line, /^(# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* .*|[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*",?)*\})? [-+0-9.eEInfa]+)$/, `not a text-format line: ${line}`);
  }
  return new Map(parsePrometheus(body).map((f) => [f.name, f]));
}

function sample(families: Map<string, ParsedFamily>, name: string, labels: Record<string, string> = {}): number {
  const f = families.get(name);
  assert.ok(f, `no metric ${name}`);
  const m = f.metrics.find((x) => Object.entries(labels).every(([k, v]) => x.labels?.[k] === v));
  assert.ok(m, `no ${name} with ${JSON.stringify(labels)}; have ${JSON.stringify(f.metrics.map((x) => x.labels))}`);
  return Number(m.value);
}

test('metrics are off by default: no endpoint, no log line', async () => {
  const plain = await startDaemon();
  try {
    assert.doesNotMatch(plain.output(), /metrics at/);
  } finally {
    await plain.stop();
  }
});

test('the log says where the metrics are; other paths are 404, other methods 405', async () => {
  assert.match(daemon.output(), new RegExp(`metrics at http://127\\.0\\.0\\.1:${metricsPort}/metrics`));
  assert.equal((await scrape(metricsPort, '/')).status, 404);
  const post = await fetch(`http://127.0.0.1:${metricsPort}/metrics`, { method: 'POST' });
  assert.equal(post.status, 405);
});

test('commands, errors and latency per family count what clients did', async () => {
  const before = await metrics();
  const hitsBefore = before.get('sluice_commands_total')?.metrics.find((m) => m.labels?.command === 'rl.hit');
  assert.equal(hitsBefore, undefined, 'no RL.HIT yet');
  for (let i = 0; i < 7; i++) await redis.call('RL.HIT', 'cmd:k', 'LIMIT', 100, 'PER', 60000);
  // Pipelined: these go through the native fast path.
  const pipe = redis.pipeline();
  for (let i = 0; i < 50; i++) pipe.call('RL.HIT', 'cmd:k', 'LIMIT', 100, 'PER', 60000);
  await pipe.exec();
  await assert.rejects(redis.call('RL.HIT', 'cmd:k', 'LIMIT', 0, 'PER', 1000), /ERR LIMIT must be a positive integer/);
  await assert.rejects(redis.call('RL.HIT', 'cmd:k'), /wrong number of arguments/);
  const m = await metrics();
  assert.equal(sample(m, 'sluice_commands_total', { command: 'rl.hit' }), 58, '57 hits and one that failed inside');
  assert.equal(sample(m, 'sluice_command_errors_total', { command: 'rl.hit', reason: 'failed' }), 1);
  assert.equal(sample(m, 'sluice_command_errors_total', { command: 'rl.hit', reason: 'rejected' }), 1);
  assert.equal(m.get('sluice_command_duration_seconds')!.type, 'HISTOGRAM');
  const limits = histogramSeries('sluice_command_duration_seconds', 'limits');
  assert.equal(Number(limits.count), 58, 'every call of the limits family is in its histogram');
  const bounds = Object.keys(limits.buckets!).filter((b) => b !== '+Inf').map(Number);
  assert.deepEqual(bounds, [...bounds].sort((a, b) => a - b));
  let last = 0;
  for (const b of Object.values(limits.buckets!)) {
    assert.ok(Number(b) >= last, 'buckets are cumulative');
    last = Number(b);
  }
  assert.equal(last, 58);
  assert.ok(sample(m, 'sluice_fast_path_commands_total') >= 1, 'the pipeline took the fast path');
});

test('limiter decisions per key prefix: allowed and refused, exactly', async () => {
  for (let i = 0; i < 5; i++) await redis.call('RL.HIT', `tenant-a:user${i % 2}`, 'LIMIT', 2, 'PER', 60000);
  await redis.call('CL.THROTTLE', 'tenant-b:x', 0, 1, 60);
  await redis.call('CL.THROTTLE', 'tenant-b:x', 0, 1, 60);
  await redis.call('RL.HIT', 'nocolon', 'LIMIT', 5, 'PER', 60000);
  await redis.call('RL.PEEK', 'tenant-a:user0', 'LIMIT', 2, 'PER', 60000); // a peek decides nothing
  const m = await metrics();
  // user0: hits 1, 3, 5 (third refused); user1: hits 2, 4 (both allowed).
  assert.equal(sample(m, 'sluice_limit_decisions_total', { prefix: 'tenant-a', decision: 'allowed' }), 4);
  assert.equal(sample(m, 'sluice_limit_decisions_total', { prefix: 'tenant-a', decision: 'refused' }), 1);
  assert.equal(sample(m, 'sluice_limit_decisions_total', { prefix: 'tenant-b', decision: 'allowed' }), 1);
  assert.equal(sample(m, 'sluice_limit_decisions_total', { prefix: 'tenant-b', decision: 'refused' }), 1);
  assert.equal(sample(m, 'sluice_limit_decisions_total', { prefix: '(none)', decision: 'allowed' }), 1);
  // The second hit of each tenant-a key left 0 of 2: near the limit.
  assert.equal(sample(m, 'sluice_limit_near_total', { prefix: 'tenant-a' }), 2);
});

test('prefixes are bounded: past 64 they share one "(other)" series and nothing is lost', async () => {
  const pipe = redis.pipeline();
  for (let i = 0; i < 150; i++) pipe.call('RL.HIT', `many${i}:k`, 'LIMIT', 10, 'PER', 60000);
  await pipe.exec();
  const m = await metrics();
  const series = m.get('sluice_limit_decisions_total')!.metrics.filter((x) => x.labels?.decision === 'allowed');
  const prefixes = new Set(series.map((x) => x.labels!.prefix));
  assert.ok(prefixes.size <= 65, `${prefixes.size} prefixes`);
  assert.ok(prefixes.has('(other)'));
  const many = series.filter((x) => x.labels!.prefix.startsWith('many') || x.labels!.prefix === '(other)').reduce((a, x) => a + Number(x.value), 0);
  assert.equal(many, 150);
});

test('leases held, tokens counted and cache hits, snapshot age, connections and memory', async () => {
  await redis.call('SEM.ACQUIRE', 'pool:a', 5, 'TTL', 60000);
  await redis.call('SEM.ACQUIRE', 'pool:a', 5, 'TTL', 60000);
  await redis.call('SEM.ACQUIRE', 'pool:b', 5, 'TTL', 60000);
  const text = 'A text long enough for the token count cache to keep it. '.repeat(3);
  const n1 = Number(await redis.call('TOK.COUNT', 'gpt-4o', text));
  const n2 = Number(await redis.call('TOK.COUNT', 'gpt-4o', text));
  const n3 = Number(await redis.call('TOK.CHAT', 'gpt-4o', JSON.stringify([{ role: 'user', content: 'hi' }])));
  const m = await metrics();
  assert.equal(sample(m, 'sluice_leases_held'), 3);
  assert.equal(sample(m, 'sluice_lease_keys'), 2);
  assert.equal(sample(m, 'sluice_tokens_counted_total'), n1 + n2 + n3);
  assert.ok(sample(m, 'sluice_token_cache_hits_total') >= 1, 'the second count of the same text hit the cache');
  assert.ok(sample(m, 'sluice_token_cache_misses_total') >= 1);
  assert.equal(sample(m, 'sluice_connected_clients'), 1);
  assert.ok(sample(m, 'sluice_resident_memory_bytes') > 10 * 1024 * 1024);
  const age = sample(m, 'sluice_snapshot_age_seconds');
  assert.ok(age >= 0 && age < 600, `snapshot age ${age}`);
  assert.equal(sample(m, 'sluice_snapshot_last_ok'), 1);
});

test('route picks, refusals and cooldowns per deployment', async () => {
  const dep = (id: string, extra: object = {}) => JSON.stringify({ model_name: 'm', litellm_params: { model: `openai/${id}`, ...extra }, model_info: { id } });
  await redis.call('ROUTE.SET', 'm', dep('a', { max_parallel_requests: 2 }), dep('b', { max_parallel_requests: 1 }));
  for (let i = 0; i < 3; i++) await redis.call('ROUTE.PICK', 'm');
  await assert.rejects(redis.call('ROUTE.PICK', 'm'), /NODEPLOYMENT/);
  await redis.call('ROUTE.COOLDOWN', 'm', 'a', 30000);
  const m = await metrics();
  const picks = sample(m, 'sluice_route_picks_total', { group: 'm', deployment: 'a' }) + sample(m, 'sluice_route_picks_total', { group: 'm', deployment: 'b' });
  assert.equal(picks, 3);
  assert.equal(sample(m, 'sluice_route_refusals_total', { group: 'm' }), 1);
  assert.equal(sample(m, 'sluice_route_cooldowns_total', { group: 'm', deployment: 'a' }), 1);
  assert.equal(sample(m, 'sluice_route_cooldowns_total', { group: 'm', deployment: 'b' }), 0);
  assert.equal(sample(m, 'sluice_route_cooling_down', { group: 'm', deployment: 'a' }), 1);
  assert.equal(sample(m, 'sluice_route_in_flight', { group: 'm', deployment: 'a' }) + sample(m, 'sluice_route_in_flight', { group: 'm', deployment: 'b' }), 3);
});

test('CONFIG RESETSTAT zeroes the counters', async () => {
  await redis.config('RESETSTAT');
  const m = await metrics();
  assert.equal(sample(m, 'sluice_limit_decisions_total', { prefix: 'tenant-a', decision: 'allowed' }), 0);
  assert.equal(sample(m, 'sluice_tokens_counted_total'), 0);
  assert.equal(m.get('sluice_commands_total')!.metrics.find((x) => x.labels?.command === 'rl.hit'), undefined);
});

test('a metrics port in use: the daemon says so and serves clients without metrics', async () => {
  const taken = net.createServer();
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
  const port = (taken.address() as net.AddressInfo).port;
  const d = await startDaemon(['--metrics-port', String(port)]);
  try {
    const deadline = Date.now() + 5000;
    while (!/cannot serve metrics/.test(d.output()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.match(d.output(), new RegExp(`cannot serve metrics on 127\\.0\\.0\\.1:${port}: port ${port} is in use: choose another --metrics-port`));
    const c = new Redis({ port: d.port, lazyConnect: true });
    await c.connect();
    assert.equal(await c.ping(), 'PONG');
    c.disconnect();
  } finally {
    await d.stop();
    taken.close();
  }
});
