/**
 * ROUTE.* against a real daemon: a LiteLLM config.yaml loads as it is, picks reserve and DONE
 * settles, limits hold across many connections, WAIT queues by priority, reload keeps live
 * state, no secret ever leaves, bad input changes nothing. (The router's own rules — every
 * strategy, cooldown rule, budget, fallback — are tested in native/core/tests/routing.rs.)
 */
import test, { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Redis from 'ioredis';
import Redis6 from 'ioredis6';
import { RawClient, resp, startDaemon, type Daemon } from '../testing';

const SECRET = 'sk-very-secret-key-123';
const dir = mkdtempSync(path.join(tmpdir(), 'sluice-route-'));

/** A LiteLLM proxy config.yaml as teams have them, with sections Sluice does not read. */
const LITELLM_CONFIG = `
model_list:
  - model_name: gpt-4o
    litellm_params:
      model: azure/gpt-4o-eu
      api_base: os.environ/EU_BASE
      api_key: os.environ/EU_KEY
      api_version: "2024-06-01"
      rpm: 4
    model_info: { id: eu-1 }
  - model_name: gpt-4o
    litellm_params:
      model: openai/gpt-4o
      api_key: ${SECRET}
      rpm: 2
    model_info: { id: us-1 }
  - model_name: small
    litellm_params: { model: openai/gpt-4o-mini, tpm: 1000, max_parallel_requests: 1 }
    model_info: { id: small-1 }
litellm_settings:
  drop_params: true
general_settings:
  master_key: sk-master-1234
router_settings:
  routing_strategy: least-busy
  redis_host: localhost
`;

let daemon: Daemon;
let redis: Redis;
const configFile = path.join(dir, 'litellm.yaml');

before(async () => {
  writeFileSync(configFile, LITELLM_CONFIG);
  daemon = await startDaemon(['--config', configFile], { EU_BASE: 'https://eu.example.com', EU_KEY: SECRET });
  redis = new Redis({ port: daemon.port, lazyConnect: true });
  await redis.connect();
});

after(async () => {
  redis.disconnect();
  await daemon.stop();
});

/** A reply map (RESP2 flat array) as an object. */
function record(reply: unknown): Record<string, unknown> {
  const flat = reply as unknown[];
  const out: Record<string, unknown> = {};
  for (let i = 0; i < flat.length; i += 2) out[String(flat[i])] = flat[i + 1];
  return out;
}

/**
 * Waits out the last 3 s of a wall-clock minute: rpm and tpm are counted in minutes aligned to
 * the Unix epoch, and a test that counts them must not straddle two.
 */
async function awayFromMinuteEdge(): Promise<void> {
  const into = Date.now() % 60_000;
  if (into > 57_000) await new Promise((r) => setTimeout(r, 60_000 - into + 100));
}

const pick = async (...args: (string | number)[]) => record(await redis.call('ROUTE.PICK', ...args));
const done = (lease: unknown, ...args: (string | number)[]) => redis.call('ROUTE.DONE', lease as string, ...args);
const listed = async (group: string) => ((await redis.call('ROUTE.LIST', group)) as unknown[]).map(record);

test('a LiteLLM config.yaml loads as it is: groups, deployments, unknown sections and keys logged once each', async () => {
  assert.deepEqual(await redis.call('ROUTE.GROUPS'), ['gpt-4o', 'small']);
  const list = await listed('gpt-4o');
  assert.deepEqual(list.map((d) => d.id), ['eu-1', 'us-1']);
  assert.equal(list[0].api_base, 'https://eu.example.com', 'os.environ/ resolved');
  assert.equal(list[0].rpm, 4);
  assert.match(daemon.output(), /section 'litellm_settings' is not used by Sluice; ignored/);
  assert.match(daemon.output(), /section 'general_settings' is not used by Sluice; ignored/);
  assert.match(daemon.output(), /router_settings\.redis_host is not used by Sluice; ignored/);
  assert.match(daemon.output(), /routing: 3 deployment\(s\) in 2 group\(s\)/);
});

test('no secret in any reply, log line or INFO field', async () => {
  const everything = [
    JSON.stringify(await redis.call('ROUTE.LIST', 'gpt-4o')),
    JSON.stringify(await redis.call('ROUTE.LIST', 'small')),
    String(await redis.call('ROUTE.SETTINGS', 'GET')),
    String(await redis.call('INFO', 'all')),
    JSON.stringify(await pick('gpt-4o')),
    daemon.output(),
  ].join('\n');
  assert.ok(!everything.includes(SECRET), 'the api_key appears nowhere');
  assert.ok(!everything.includes('sk-master-1234'), 'nor the master key');
});

test('PICK replies the deployment and a lease; DONE settles it once (idempotent)', async () => {
  await awayFromMinuteEdge();
  const p = await pick('small', 'TOKENS', 100);
  assert.equal(p.deployment, 'small-1');
  assert.equal(p.group, 'small');
  assert.equal(p.model, 'openai/gpt-4o-mini');
  assert.equal(p.api_base, null);
  assert.equal(p.tokens, 100);
  assert.equal(p.fallback, null);
  assert.match(String(p.lease), /^\{small\}:\d+$/);
  let [d] = await listed('small');
  assert.equal(d.in_flight, 1);
  assert.equal(d.tpm_used, 100);
  // max_parallel_requests 1: the next pick is refused with why and when.
  await assert.rejects(redis.call('ROUTE.PICK', 'small', 'TOKENS', 10), /^ReplyError: NODEPLOYMENT .*small.*1 at max parallel requests.*; retry in \d+ ms$/);
  assert.equal(await done(p.lease, 'STATUS', 200, 'LATENCY', 120, 'INPUT', 80, 'OUTPUT', 40), 1);
  assert.equal(await done(p.lease, 'STATUS', 200), 0, 'a lease settles once');
  [d] = await listed('small');
  assert.equal(d.in_flight, 0);
  assert.equal(d.tpm_used, 120, 'tpm settled with the real tokens');
  assert.ok(Number(d.latency_ms) > 0);
});

test('RESP3: PICK is a map with nil as _ (HELLO 3 over a raw socket; ioredis 6 too)', async () => {
  const c = await RawClient.connect(daemon.port);
  await c.send(resp('HELLO', '3'), 'modules');
  const text = await c.send(resp('ROUTE.PICK', 'small'), '$8\r\nfallback\r\n_\r\n');
  assert.match(text, /^%9\r\n\$10\r\ndeployment\r\n\$7\r\nsmall-1\r\n\$5\r\nlease\r\n\$\d+\r\n\{small\}:\d+\r\n/);
  assert.match(text, /\$8\r\napi_base\r\n_\r\n/);
  const lease = /\{small\}:\d+/.exec(text)![0];
  assert.equal(await c.send(resp('ROUTE.DONE', lease), '\r\n'), ':1\r\n');
  c.close();
  const r6 = new Redis6({ port: daemon.port, lazyConnect: true });
  await r6.connect();
  const p = record(await r6.call('ROUTE.PICK', 'small'));
  assert.equal(p.deployment, 'small-1');
  assert.equal(await r6.call('ROUTE.DONE', p.lease as string), 1);
  r6.disconnect();
});

test('CHAT counts the messages with the group model\'s encoding in the same step', async () => {
  const messages = JSON.stringify([{ role: 'user', content: 'Hello there, how are you today?' }]);
  const expected = (await redis.call('TOK.CHAT', 'gpt-4o-mini', messages)) as number;
  const p = await pick('small', 'CHAT', messages);
  assert.equal(p.tokens, expected);
  await done(p.lease);
  await assert.rejects(redis.call('ROUTE.PICK', 'small', 'CHAT', 'not json'), /ERR messages is not valid JSON/);
});

test('rpm and max parallel hold exactly across 40 concurrent connections', async () => {
  await awayFromMinuteEdge();
  const group = 'burst';
  await redis.call('ROUTE.SET', group, JSON.stringify({ model_name: group, litellm_params: { model: 'openai/a', rpm: 7, max_parallel_requests: 5 }, model_info: { id: 'a' } }), JSON.stringify({ model_name: group, litellm_params: { model: 'openai/b', rpm: 3 }, model_info: { id: 'b' } }));
  const clients = await Promise.all(Array.from({ length: 40 }, async () => {
    const c = new Redis({ port: daemon.port, lazyConnect: true });
    await c.connect();
    return c;
  }));
  const results = await Promise.allSettled(clients.map((c) => c.call('ROUTE.PICK', group)));
  const picked = results.filter((r) => r.status === 'fulfilled').map((r) => record((r as PromiseFulfilledResult<unknown>).value));
  const byId = (id: string) => picked.filter((p) => p.deployment === id).length;
  assert.equal(byId('a'), 5, 'a: max parallel 5 (below its rpm of 7)');
  assert.equal(byId('b'), 3, 'b: rpm 3');
  // Finish a's five: two more fit a's rpm of 7 this minute, then nothing.
  for (const p of picked.filter((x) => x.deployment === 'a')) await done(p.lease);
  const more = await Promise.allSettled(clients.map((c) => c.call('ROUTE.PICK', group)));
  assert.equal(more.filter((r) => r.status === 'fulfilled').length, 2);
  for (const c of clients) c.disconnect();
});

test('WAIT: queued picks are served by priority the moment a lease is done, time out on time, and leave with their connection', async () => {
  await redis.call('ROUTE.SET', 'q', JSON.stringify({ model_name: 'q', litellm_params: { model: 'openai/q', max_parallel_requests: 1 }, model_info: { id: 'q1' } }));
  const holder = await pick('q');
  const order: string[] = [];
  const waiter = async (name: string, priority: number) => {
    const c = new Redis({ port: daemon.port, lazyConnect: true });
    await c.connect();
    const p = record(await c.call('ROUTE.PICK', 'q', 'WAIT', 5000, 'PRIORITY', priority));
    order.push(name);
    c.disconnect();
    return p;
  };
  const low = waiter('low', 5);
  await new Promise((r) => setTimeout(r, 50));
  const high = waiter('high', 1);
  const gone = await RawClient.connect(daemon.port);
  gone.write(resp('ROUTE.PICK', 'q', 'WAIT', '5000', 'PRIORITY', '0')); // the best priority, but it leaves
  await new Promise((r) => setTimeout(r, 100));
  assert.match(String(await redis.info('routing')), /routing_waiting_picks:3/);
  gone.close();
  await new Promise((r) => setTimeout(r, 100));
  assert.match(String(await redis.info('routing')), /routing_waiting_picks:2/, 'the closed connection left the queue');
  const started = Date.now();
  await done(holder.lease);
  const first = await high;
  assert.ok(Date.now() - started < 500, 'served the moment the lease was done');
  assert.deepEqual(order, ['high']);
  await done(first.lease);
  const second = await low;
  assert.deepEqual(order, ['high', 'low']);
  // Time is up: the refusal, about when asked.
  const t0 = Date.now();
  await assert.rejects(redis.call('ROUTE.PICK', 'q', 'WAIT', 300), /NODEPLOYMENT/);
  const waited = Date.now() - t0;
  assert.ok(waited >= 290 && waited < 1500, `answered after ${waited} ms`);
  await done(second.lease);
});

test('a lease never done expires after its TTL and frees its slot', async () => {
  await redis.call('ROUTE.SET', 'ttl', JSON.stringify({ model_name: 'ttl', litellm_params: { model: 'openai/t', max_parallel_requests: 1 }, model_info: { id: 't1' } }));
  const p = await pick('ttl', 'TTL', 200);
  await assert.rejects(redis.call('ROUTE.PICK', 'ttl'), /NODEPLOYMENT/);
  const waited = await pick('ttl', 'WAIT', 3000); // woken by the expiry sweep
  assert.equal(waited.deployment, 't1');
  assert.equal(await done(p.lease), 0, 'the expired lease is gone');
  await done(waited.lease);
});

test('COOLDOWN by hand, and 0 lifts it; a 429 cools a deployment of a multi-deployment group', async () => {
  const dep = (id: string) => JSON.stringify({ model_name: 'cool', litellm_params: { model: `openai/${id}`, rpm: 1000 }, model_info: { id } });
  await redis.call('ROUTE.SET', 'cool', dep('c1'), dep('c2'));
  await redis.call('ROUTE.COOLDOWN', 'cool', 'c1', 60000);
  for (let i = 0; i < 4; i++) assert.equal((await pick('cool')).deployment, 'c2');
  assert.ok(Number((await listed('cool'))[0].cooldown_ms) > 50000);
  await redis.call('ROUTE.COOLDOWN', 'cool', 'c1', 0);
  const p = await pick('cool', 'EXCLUDE', 'c2');
  assert.equal(p.deployment, 'c1');
  await done(p.lease, 'STATUS', 429);
  assert.ok(Number((await listed('cool'))[0].cooldown_ms) > 0, 'a 429 cooled c1 at once');
  for (let i = 0; i < 4; i++) assert.equal((await pick('cool')).deployment, 'c2');
  await assert.rejects(redis.call('ROUTE.COOLDOWN', 'cool', 'nope', 10), /ERR no deployment 'nope' in group 'cool'/);
});

test('RELOAD (and SIGHUP) read the file again and keep the live state of deployments that stay', async () => {
  const p = await pick('small');
  writeFileSync(configFile, LITELLM_CONFIG.replace('max_parallel_requests: 1', 'max_parallel_requests: 2').replace(/  - model_name: gpt-4o\n    litellm_params:\n      model: openai\/gpt-4o[\s\S]*?model_info: \{ id: us-1 \}\n/, ''));
  assert.equal(await redis.call('ROUTE.RELOAD'), 'OK');
  assert.deepEqual((await listed('gpt-4o')).map((d) => d.id), ['eu-1']);
  const [small] = await listed('small');
  assert.equal(small.in_flight, 1, 'the open lease survived the reload');
  assert.equal(small.max_parallel_requests, 2);
  assert.equal(await done(p.lease), 1, 'and can be done');
  writeFileSync(configFile, LITELLM_CONFIG);
  daemon.process.kill('SIGHUP');
  for (let i = 0; i < 50 && (await listed('gpt-4o')).length !== 2; i++) await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual((await listed('gpt-4o')).map((d) => d.id), ['eu-1', 'us-1']);
  // A broken file is refused and the running configuration stays.
  writeFileSync(configFile, 'model_list: [ {');
  await assert.rejects(redis.call('ROUTE.RELOAD'), /ERR .*litellm\.yaml/);
  assert.deepEqual((await listed('gpt-4o')).map((d) => d.id), ['eu-1', 'us-1']);
  writeFileSync(configFile, LITELLM_CONFIG);
});

test('ROUTE.SET adds and replaces by id (live state kept), ROUTE.DEL removes; ids are LiteLLM\'s when model_info.id is absent', async () => {
  const entry = { model_name: 'set', litellm_params: { model: 'openai/gpt-4o', rpm: 10, tags: ['eu'] } };
  const [id] = (await redis.call('ROUTE.SET', 'set', JSON.stringify(entry))) as string[];
  assert.match(id, /^[0-9a-f]{64}$/, 'a SHA-256 id derived from the parameters, as LiteLLM derives it');
  const [again] = (await redis.call('ROUTE.SET', 'set', JSON.stringify(entry))) as string[];
  assert.equal(again, id, 'the same parameters give the same id');
  const p = await pick('set');
  await redis.call('ROUTE.SET', 'set', JSON.stringify({ ...entry, model_info: { id } }));
  assert.equal((await listed('set'))[0].in_flight, 1, 'replaced, live state kept');
  await done(p.lease);
  await assert.rejects(redis.call('ROUTE.SET', 'set', JSON.stringify({ ...entry, model_name: 'other' })), /ERR/);
  await assert.rejects(redis.call('ROUTE.SET', 'set', '{not json'), /ERR a deployment is not valid JSON/);
  assert.equal((await listed('set')).length, 1, 'a refused SET changed nothing');
  assert.equal(await redis.call('ROUTE.DEL', 'set', id), 1);
  await assert.rejects(redis.call('ROUTE.LIST', 'set'), /ERR no such group 'set'/);
});

test('ROUTE.SET REPLACE makes the group exactly the given deployments; those that stay keep their live state and leases', async () => {
  const dep = (id: string, model = `openai/${id}`) => JSON.stringify({ model_name: 'rep', litellm_params: { model, rpm: 1000 }, model_info: { id } });
  await redis.call('ROUTE.SET', 'rep', dep('r1'), dep('r2'), dep('r3'));
  const onR1 = await pick('rep', 'EXCLUDE', 'r2', 'r3');
  const onR3 = await pick('rep', 'EXCLUDE', 'r1', 'r2');
  await redis.call('ROUTE.COOLDOWN', 'rep', 'r2', 60000);
  // Without REPLACE a deployment left out stays (ROUTE.SET adds or replaces).
  await redis.call('ROUTE.SET', 'rep', dep('r1'), dep('r2'));
  assert.deepEqual((await listed('rep')).map((d) => d.id), ['r1', 'r2', 'r3']);
  // The keyword in any case; the reply is the ids given, in order.
  assert.deepEqual(await redis.call('ROUTE.SET', 'rep', 'replace', dep('r2'), dep('r1', 'openai/r1-new')), ['r2', 'r1']);
  const replaced = await listed('rep');
  assert.deepEqual(replaced.map((d) => d.id), ['r2', 'r1'], 'r3 is gone');
  assert.equal(replaced[1].model, 'openai/r1-new');
  assert.equal(replaced[1].in_flight, 1, 'r1 kept its open lease');
  assert.ok(Number(replaced[0].cooldown_ms) > 50000, 'r2 kept its cooldown');
  for (let i = 0; i < 20; i++) assert.equal((await pick('rep')).deployment, 'r1', 'r3 is never picked again');
  assert.equal(await done(onR1.lease), 1);
  assert.equal(await done(onR3.lease), 1, 'a lease on a removed deployment can still be settled');
  // Refused: nothing to replace with, or a bad entry; the group stays as it was.
  const before = await state('rep');
  await assert.rejects(redis.call('ROUTE.SET', 'rep', 'REPLACE'), /ERR ROUTE.SET needs at least one deployment/);
  await assert.rejects(redis.call('ROUTE.SET', 'rep', 'REPLACE', dep('r9'), '{not json'), /ERR a deployment is not valid JSON/);
  assert.equal(await state('rep'), before);
  assert.equal(await redis.call('ROUTE.DEL', 'rep'), 2);
});

/** A group's deployments and live state, without what changes by itself with time (cooldown left). */
const state = async (group: string) => JSON.stringify((await listed(group)).map(({ cooldown_ms: _, ...rest }) => rest));

test('bad input gets a clear error and changes nothing', async () => {
  const before = await state('gpt-4o');
  const cases: [string[], RegExp][] = [
    [['ROUTE.PICK', 'gpt-4o', 'TOKENS', 'x'], /ERR TOKENS must be a non-negative integer/],
    [['ROUTE.PICK', 'gpt-4o', 'TOKENS', '5', 'CHAT', '[]'], /ERR syntax error/],
    [['ROUTE.PICK', 'gpt-4o', 'TAGS'], /ERR syntax error/],
    [['ROUTE.PICK', 'gpt-4o', 'PRIORITY', '1'], /ERR PRIORITY applies to a pick that WAITs/],
    [['ROUTE.PICK', 'gpt-4o', 'STRATEGY', 'fastest'], /ERR unknown STRATEGY 'fastest'/],
    [['ROUTE.PICK', 'gpt-4o', 'BOGUS'], /ERR syntax error/],
    [['ROUTE.PICK', 'nope'], /ERR no such group 'nope'/],
    [['ROUTE.DONE', 'not-a-lease'], /ERR/],
    [['ROUTE.DONE', '{gpt-4o}:1', 'STATUS', '-1'], /ERR STATUS must be a non-negative integer/],
    [['ROUTE.DONE', '{gpt-4o}:1', 'INPUT', '5'], /ERR INPUT and OUTPUT go together/],
    [['ROUTE.SETTINGS', 'SET', '{"routing_strategy": "fastest"}'], /ERR unknown routing_strategy 'fastest'/],
    [['ROUTE.SETTINGS', 'SET', 'nope'], /ERR the settings is not valid JSON/],
  ];
  for (const [args, error] of cases) await assert.rejects(redis.call(args[0], ...args.slice(1)), error, args.join(' '));
  assert.equal(await state('gpt-4o'), before);
});

test('a 1000-deployment group loads from a config file and picks', async () => {
  const lines = ['model_list:'];
  for (let i = 0; i < 1000; i++) lines.push(`  - { model_name: big, litellm_params: { model: openai/m${i}, rpm: 100, weight: ${1 + (i % 3)} }, model_info: { id: d${i} } }`);
  const file = path.join(dir, 'big.yaml');
  writeFileSync(file, lines.join('\n') + '\n');
  const d = await startDaemon(['--config', file]);
  try {
    const c = new Redis({ port: d.port, lazyConnect: true });
    await c.connect();
    assert.equal(((await c.call('ROUTE.LIST', 'big')) as unknown[]).length, 1000);
    const p = record(await c.call('ROUTE.PICK', 'big'));
    assert.match(String(p.deployment), /^d\d+$/);
    c.disconnect();
  } finally {
    await d.stop();
  }
});

test('the ROUTE.* commands are in COMMAND DOCS, keyed by group or lease', async () => {
  const docs = (await redis.call('COMMAND', 'DOCS', 'route.pick')) as unknown[];
  assert.equal(docs[0], 'route.pick');
  assert.deepEqual(await redis.call('COMMAND', 'GETKEYS', 'ROUTE.DONE', '{gpt-4o}:1'), ['{gpt-4o}:1']);
  assert.deepEqual(await redis.call('COMMAND', 'GETKEYS', 'ROUTE.PICK', 'gpt-4o', 'TOKENS', '5'), ['gpt-4o']);
});
