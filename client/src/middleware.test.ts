/**
 * examples/express-middleware against a real daemon, mounted on node:http the way Express calls
 * a middleware: per-user and per-route limits, headers on every answer, 429s, all or nothing.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { startDaemon, type Daemon } from '@sluice/daemon/dist/testing';
import { SluiceClient } from './index';

type Middleware = (req: http.IncomingMessage, res: http.ServerResponse, next: (err?: unknown) => void) => void;
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { rateLimit } = require(path.join(__dirname, '../../examples/express-middleware/middleware.js')) as {
  rateLimit(o: { sluice: SluiceClient; rules: { name: string; key: (req: http.IncomingMessage) => string | null; limit: { limit: number; perMs: number | string } }[] }): Middleware;
};

let daemon: Daemon;
let sluice: SluiceClient;
let server: http.Server;
let base: string;

before(async () => {
  daemon = await startDaemon();
  sluice = new SluiceClient({ port: daemon.port });
  const limit = rateLimit({
    sluice,
    rules: [
      { name: 'user', key: (req) => String(req.headers['x-user'] ?? 'anonymous'), limit: { limit: 3, perMs: '1m' } },
      { name: 'expensive', key: (req) => (req.url === '/expensive' ? '/expensive' : null), limit: { limit: 2, perMs: '1m' } },
    ],
  });
  server = http.createServer((req, res) => limit(req, res, (err) => {
    res.statusCode = err ? 500 : 200;
    res.end(err ? String(err) : `ok ${req.url}`);
  }));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  server.closeAllConnections();
  server.close();
  await sluice.quit();
  await daemon.stop();
});

const get = (url: string, user: string) => fetch(`${base}${url}`, { headers: { 'x-user': user } });

test('per-user: three a minute each, headers on every answer, then 429 with Retry-After', async () => {
  const left: string[] = [];
  for (let i = 0; i < 3; i++) {
    const res = await get('/', 'alice');
    assert.equal(res.status, 200);
    assert.equal(await res.text(), 'ok /');
    left.push(res.headers.get('x-ratelimit-remaining')!);
    assert.equal(res.headers.get('ratelimit-policy'), '"user";q=3;w=60');
  }
  assert.deepEqual(left, ['2', '1', '0']);
  const refused = await get('/', 'alice');
  assert.equal(refused.status, 429);
  assert.match(((await refused.json()) as { error: string }).error, /'user'/);
  assert.ok(Number(refused.headers.get('retry-after')) >= 19, refused.headers.get('retry-after')!);
  assert.equal((await get('/', 'bob')).status, 200, 'another user is not limited');
});

test('per-route: shared by every user, refused all or nothing', async () => {
  assert.equal((await get('/expensive', 'carol')).status, 200);
  assert.equal((await get('/expensive', 'dave')).status, 200);
  const refused = await get('/expensive', 'erin');
  assert.equal(refused.status, 429);
  assert.match(((await refused.json()) as { error: string }).error, /'expensive'/);
  assert.equal(refused.headers.get('ratelimit-policy'), '"expensive";q=2;w=60');
  // erin's own counter was not charged by the refused request.
  const ok = await get('/', 'erin');
  assert.equal(ok.headers.get('x-ratelimit-remaining'), '2');
});
