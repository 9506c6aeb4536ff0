// @ts-check
/**
 * A small OpenAI-compatible gateway on Sluice: per request it
 *   1. counts the prompt's tokens exactly (TOK.CHAT),
 *   2. limits the caller: requests and tokens per minute, all or nothing (RL.ALL),
 *      answering 429 with RateLimit / Retry-After headers when over,
 *   3. picks a deployment of the requested model (ROUTE.PICK), forwards the request to it, and
 *      reports the outcome (ROUTE.DONE); a 429, 5xx or timeout is retried on another deployment
 *      and the failing one is cooled down for every gateway instance at once,
 *   4. charges the caller's token budget for the completion it got.
 * Every instance of the gateway shares the same limits and routing state through Sluice.
 *
 *   node examples/gateway/gateway.js --sluice-port 6380 --port 8080   (routing from Sluice's LiteLLM config)
 */
const http = require('node:http');
const { SluiceClient, NoDeploymentError, SluiceUnavailableError, rateLimitHeaders, statusOfError } = require('@sluice/client');

/**
 * @param {{ sluice: SluiceClient, rpm: number, tpm: number, upstreamTimeoutMs?: number, retries?: number }} options
 * @returns {Promise<http.Server>} not yet listening
 */
async function createGateway({ sluice, rpm, tpm, upstreamTimeoutMs = 10_000, retries = 2 }) {
  await sluice.limits.setPolicy('gateway-rpm', { limit: rpm, perMs: '1m' });
  await sluice.limits.setPolicy('gateway-tpm', { limit: tpm, perMs: '1m' });

  return http.createServer((req, res) => {
    handle(req, res).catch((err) => send(res, 500, { error: { message: String(err && err.message), type: 'gateway_error' } }));
  });

  /** @param {http.IncomingMessage} req @param {http.ServerResponse} res */
  async function handle(req, res) {
    if (req.method !== 'POST' || req.url !== '/v1/chat/completions') return send(res, 404, { error: { message: 'not found', type: 'invalid_request_error' } });
    const body = JSON.parse(await readBody(req));
    if (typeof body.model !== 'string' || !Array.isArray(body.messages)) {
      return send(res, 400, { error: { message: 'model and messages are required', type: 'invalid_request_error' } });
    }
    const caller = callerOf(req);

    // 1-2. Count, then charge one request and the prompt's tokens, or nothing.
    const promptTokens = await sluice.tokens.chat(body.model, body.messages);
    const limits = await sluice.limits.all([
      { key: `gateway:rpm:${caller}`, policy: 'gateway-rpm', cost: 1 },
      { key: `gateway:tpm:${caller}`, policy: 'gateway-tpm', cost: promptTokens },
    ]);
    const refusedBy = limits.refusedIndex === 1 ? 'tokens' : 'requests';
    const headers = rateLimitHeaders(limits, { policy: limits.refusedIndex === 1 ? 'tpm' : 'rpm', limit: limits.refusedIndex === 1 ? tpm : rpm, window: '1m' });
    if (!limits.allowed) {
      return send(res, 429, { error: { message: `rate limit on ${refusedBy} per minute for ${caller}`, type: 'rate_limit_exceeded' } }, headers);
    }

    // 3. Route: pick, forward, report; retried on another deployment when the upstream fails.
    try {
      const answer = await sluice.route.call(body.model, { tokens: promptTokens, retries }, (d) => forward(d.apiBase, body, upstreamTimeoutMs));
      // 4. The completion's tokens count against the caller's tokens per minute too.
      const completion = answer.usage && answer.usage.completion_tokens;
      if (typeof completion === 'number' && completion > 0) await sluice.limits.adjust(`gateway:tpm:${caller}`, 'gateway-tpm', completion);
      return send(res, 200, answer, headers);
    } catch (err) {
      if (err instanceof NoDeploymentError) {
        const retry = err.retryAfterMs === null ? {} : { 'Retry-After': String(Math.ceil(err.retryAfterMs / 1000)) };
        return send(res, 503, { error: { message: err.message, type: 'no_deployment' } }, retry);
      }
      if (err instanceof SluiceUnavailableError) return send(res, 503, { error: { message: err.message, type: 'sluice_unavailable' } });
      const status = statusOfError(err);
      if (status === null) throw err;
      return send(res, status === 429 ? 429 : 502, { error: { message: `upstream failed: ${err.message}`, type: 'upstream_error' } });
    }
  }
}

/** Forwards the request to a deployment's OpenAI-compatible endpoint; throws with `status` on failure. */
async function forward(apiBase, body, timeoutMs) {
  if (!apiBase) throw new Error('the deployment has no api_base');
  const res = await fetch(`${apiBase.replace(/\/$/, '')}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(timeoutMs),
  });
  if (!res.ok) throw Object.assign(new Error(`${apiBase} answered ${res.status}`), { status: res.status });
  return res.json();
}

/** The caller: the bearer token (a real gateway would map it to a user or team). */
function callerOf(req) {
  const auth = req.headers.authorization || '';
  return auth.startsWith('Bearer ') ? auth.slice(7) : 'anonymous';
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString()));
    req.on('error', reject);
  });
}

function send(res, status, json, headers = {}) {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(json));
}

module.exports = { createGateway };

if (require.main === module) {
  const arg = (name, fallback) => {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 ? process.argv[i + 1] : fallback;
  };
  const sluice = new SluiceClient({ port: Number(arg('sluice-port', 6380)), timeoutMs: 500 });
  createGateway({ sluice, rpm: Number(arg('rpm', 60)), tpm: Number(arg('tpm', 100_000)) }).then((server) => {
    const port = Number(arg('port', 8080));
    server.listen(port, '127.0.0.1', () => console.log(`gateway on http://127.0.0.1:${port}/v1/chat/completions`));
  });
}
