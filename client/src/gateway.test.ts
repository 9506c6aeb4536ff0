/**
 * examples/gateway against a real daemon and three fake upstreams: one answers 429, one is
 * slower than the gateway's upstream timeout, one is fine. Callers get answers, their limits
 * hold (requests and tokens per minute, 429 with headers), and the failing upstream is cooled.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { startDaemon, type Daemon } from '@sluice/daemon/dist/testing';
import { SluiceClient } from './index';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { createGateway } = require(path.join(__dirname, '../../examples/gateway/gateway.js')) as {
  createGateway(o: { sluice: SluiceClient; rpm: number; tpm: number; upstreamTimeoutMs?: number }): Promise<http.Server>;
};

type Upstream = { server: http.Server; url: string; requests: number };

function fakeUpstream(name: string, behaviour: 'limited' | 'slow' | 'ok'): Promise<Upstream> {
  const up: Upstream = { server: http.createServer(), url: '', requests: 0 };
  up.server.on('request', (req, res) => {
    up.requests++;
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      if (behaviour === 'limited') {
        res.writeHead(429, { 'content-type': 'application/json' });
        return res.end(JSON.stringify({ error: { message: 'slow down', type: 'rate_limit' } }));
      }
      const answer = () => {
        if (res.destroyed) return;
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({
          object: 'chat.completion', model: JSON.parse(body).model,
          choices: [{ index: 0, message: { role: 'assistant', content: `hello from ${name}` }, finish_reason: 'stop' }],
          usage: { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 },
        }));
      };
      if (behaviour === 'slow') setTimeout(answer, 800);
      else answer();
    });
  });
  return new Promise((resolve) => up.server.listen(0, '127.0.0.1', () => {
    up.url = `http://127.0.0.1:${(up.server.address() as AddressInfo).port}`;
    resolve(up);
  }));
}

let daemon: Daemon;
let sluice: SluiceClient;
let gateway: http.Server;
let gatewayUrl: string;
const upstreams: Record<string, Upstream> = {};

before(async () => {
  daemon = await startDaemon();
  sluice = new SluiceClient({ port: daemon.port, timeoutMs: 2000 });
  for (const [name, b] of [['limited', 'limited'], ['slow', 'slow'], ['fast', 'ok']] as const) upstreams[name] = await fakeUpstream(name, b);
  // The 429 upstream is in the first tier, so the first request always meets it.
  const deployment = (id: string, order: number) => ({ model_name: 'gpt-4o', litellm_params: { model: 'openai/gpt-4o', api_base: upstreams[id].url, rpm: 1000, order }, model_info: { id } });
  await sluice.route.set('gpt-4o', deployment('limited', 1), deployment('slow', 2), deployment('fast', 2));
  gateway = await createGateway({ sluice, rpm: 5, tpm: 300, upstreamTimeoutMs: 300 });
  await new Promise<void>((r) => gateway.listen(0, '127.0.0.1', () => r()));
  gatewayUrl = `http://127.0.0.1:${(gateway.address() as AddressInfo).port}/v1/chat/completions`;
});

after(async () => {
  gateway.closeAllConnections();
  gateway.close();
  for (const u of Object.values(upstreams)) {
    u.server.closeAllConnections();
    u.server.close();
  }
  await sluice.quit();
  await daemon.stop();
});

const ask = (caller: string, content = 'Say hello') =>
  fetch(gatewayUrl, {
    method: 'POST',
    headers: { authorization: `Bearer ${caller}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content }] }),
  });

test('callers get answers past a 429 upstream and a slow one; the 429 one is cooled; limits hold', async () => {
  const remaining: number[] = [];
  for (let i = 0; i < 5; i++) {
    const res = await ask('alice');
    assert.equal(res.status, 200, await res.clone().text());
    const body = (await res.json()) as { choices: { message: { content: string } }[] };
    assert.equal(body.choices[0].message.content, 'hello from fast', 'the slow one timed out, the 429 one is skipped');
    remaining.push(Number(res.headers.get('x-ratelimit-remaining')));
  }
  assert.deepEqual(remaining, [4, 3, 2, 1, 0]);
  // The 429 upstream was tried once: it is cooled down for everyone after that.
  assert.equal(upstreams.limited.requests, 1);
  const state = Object.fromEntries((await sluice.route.list('gpt-4o')).map((d) => [d.id, d]));
  assert.ok(state.limited.cooldownMs > 0, 'the 429 deployment cools down');
  assert.equal(state.fast.fails, 0);
  assert.equal(state.slow.fails, upstreams.slow.requests, 'each timeout was reported');
  for (const d of Object.values(state)) assert.equal(d.inFlight, 0, `${d.id} settled`);

  // Requests per minute: alice's sixth is refused with the headers, carol is still served.
  const sixth = await ask('alice');
  assert.equal(sixth.status, 429);
  assert.match(((await sixth.json()) as { error: { message: string } }).error.message, /requests per minute/);
  assert.ok(Number(sixth.headers.get('retry-after')) > 0);
  assert.equal(sixth.headers.get('ratelimit-policy'), '"rpm";q=5;w=60');
  assert.equal((await ask('carol')).status, 200);
});

test('tokens per minute: a prompt bigger than what is left is refused', async () => {
  const big = 'word '.repeat(400); // ~400 tokens > 300 per minute
  const res = await ask('bob', big);
  assert.equal(res.status, 429);
  assert.match(((await res.json()) as { error: { message: string } }).error.message, /tokens per minute/);
  // Refused all or nothing: bob's request count was not charged.
  assert.equal((await sluice.limits.peek('gateway:rpm:bob', { policy: 'gateway-rpm' })).remaining, 5);
  assert.equal((await ask('bob')).status, 200);
});
