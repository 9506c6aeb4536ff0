/** route.pick / route.call against a real daemon's router: reservations, outcomes, retries with EXCLUDE, typed refusals. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startDaemon, type Daemon } from '@sluice/daemon/dist/testing';
import { NoDeploymentError, SluiceClient, statusOfError } from './index';

let daemon: Daemon;
let sluice: SluiceClient;

before(async () => {
  daemon = await startDaemon();
  sluice = new SluiceClient({ port: daemon.port });
});

after(async () => {
  await sluice.quit();
  await daemon.stop();
});

const deployment = (group: string, id: string, extra: object = {}) => ({
  model_name: group,
  litellm_params: { model: `openai/${id}`, rpm: 1000, api_base: `http://${id}.test`, ...extra },
  model_info: { id },
});

const stateOf = async (group: string, id: string) => (await sluice.route.list(group)).find((d) => d.id === id)!;

test('pick reserves, done settles once and reports latency and tokens', async () => {
  assert.deepEqual(await sluice.route.set('r-one', deployment('r-one', 'a', { tags: ['eu'], model: 'openai/gpt-4o' }), deployment('r-one', 'b')), ['a', 'b']);
  assert.ok((await sluice.route.groups()).includes('r-one'));
  const picked = await sluice.route.pick('r-one', { tokens: 120, tags: ['eu'], exclude: ['b'], strategy: 'least-busy' });
  assert.equal(picked.deployment, 'a');
  assert.equal(picked.model, 'openai/gpt-4o');
  assert.equal(picked.apiBase, 'http://a.test');
  assert.equal(picked.tokens, 120);
  assert.equal((await stateOf('r-one', 'a')).inFlight, 1);
  assert.equal(await picked.done({ status: 200, inputTokens: 100, outputTokens: 20, latencyMs: 50 }), true);
  assert.equal(await picked.done(), false, 'a lease settles once');
  const a = await stateOf('r-one', 'a');
  assert.equal(a.inFlight, 0);
  assert.equal(a.tpmUsed, 120, 'tpm settled with the real tokens');
  assert.equal(a.latencyMs !== null, true);
  // messages are counted by the daemon in the same step.
  const chat = await sluice.route.pick('r-one', { messages: [{ role: 'user', content: 'Hello there, how are you?' }], exclude: ['b'] });
  assert.ok(chat.tokens > 5, String(chat.tokens));
  await chat.done();
});

test('no deployment: NoDeploymentError with the retry time parsed', async () => {
  await sluice.route.set('r-full', deployment('r-full', 'only', { max_parallel_requests: 1 }));
  const held = await sluice.route.pick('r-full');
  const err = await sluice.route.pick('r-full').then(() => null, (e: unknown) => e);
  assert.ok(err instanceof NoDeploymentError, String(err));
  assert.ok(err.retryAfterMs !== null && err.retryAfterMs >= 0, String(err.retryAfterMs));
  assert.match(err.message, /^NODEPLOYMENT /);
  await held.done();
});

test('call retries a 429 and a 5xx on other deployments, reports each, returns the answer', async () => {
  await sluice.route.set('r-call', deployment('r-call', 'x'), deployment('r-call', 'y'), deployment('r-call', 'z'));
  const tried: string[] = [];
  const answer = await sluice.route.call('r-call', { tokens: 10 }, async (d) => {
    tried.push(d.deployment);
    if (tried.length === 1) throw Object.assign(new Error('rate limited'), { status: 429 });
    if (tried.length === 2) throw Object.assign(new Error('bad gateway'), { statusCode: 502 });
    return { text: 'hi', usage: { prompt_tokens: 10, completion_tokens: 3 } };
  });
  assert.equal(answer.text, 'hi');
  assert.equal(new Set(tried).size, 3, `three different deployments: ${tried}`);
  const [first, second, third] = await Promise.all(tried.map((id) => stateOf('r-call', id)));
  assert.ok(first.cooldownMs > 0, 'a 429 cools the deployment (multi-deployment group)');
  assert.equal(first.fails, 1);
  assert.equal(second.fails, 1);
  assert.equal(third.fails, 0);
  assert.equal(third.tpmUsed, 13, 'the usage block settled tpm');
  for (const d of [first, second, third]) assert.equal(d.inFlight, 0);
});

test('call: retries run out (last error thrown), non-retryable errors are not retried', async () => {
  await sluice.route.set('r-fail', deployment('r-fail', 'p'), deployment('r-fail', 'q'), deployment('r-fail', 'r'));
  let calls = 0;
  await assert.rejects(
    sluice.route.call('r-fail', { retries: 1 }, () => {
      calls++;
      throw Object.assign(new Error(`down ${calls}`), { status: 503 });
    }),
    /down 2/,
  );
  assert.equal(calls, 2);
  calls = 0;
  await assert.rejects(sluice.route.call('r-fail', {}, () => {
    calls++;
    throw Object.assign(new Error('bad request'), { status: 400 });
  }), /bad request/);
  assert.equal(calls, 1);
  // Every deployment excluded or cooling: the upstream error, not NODEPLOYMENT, comes back.
  await sluice.route.set('r-two', deployment('r-two', 'm'), deployment('r-two', 'n'));
  calls = 0;
  await assert.rejects(sluice.route.call('r-two', { retries: 5 }, () => {
    calls++;
    throw Object.assign(new Error('overloaded'), { status: 529 });
  }), /overloaded/);
  assert.equal(calls, 2);
  for (const d of await sluice.route.list('r-two')) assert.equal(d.inFlight, 0);
});

test('statusOfError reads status, statusCode, timeouts and network errors', () => {
  assert.equal(statusOfError({ status: 429 }), 429);
  assert.equal(statusOfError({ statusCode: 500 }), 500);
  assert.equal(statusOfError({ response: { status: 404 } }), 404);
  assert.equal(statusOfError(new DOMException('x', 'TimeoutError')), 408);
  assert.equal(statusOfError(Object.assign(new Error('x'), { code: 'ECONNREFUSED' })), 503);
  assert.equal(statusOfError(new TypeError('bug')), null);
});
