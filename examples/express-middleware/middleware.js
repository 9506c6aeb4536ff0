// @ts-check
/**
 * Rate-limit middleware with Express's signature `(req, res, next)` on Sluice: any number of
 * rules (per user, per route, per API key ...), checked all or nothing in one round trip
 * (RL.ALL), with RateLimit / X-RateLimit-* headers on every answer and a 429 with Retry-After
 * when a rule refuses. Limits are shared by every instance of the app.
 *
 *   app.use(rateLimit({ sluice, rules: [
 *     { name: 'user', key: (req) => `user:${req.user.id}`, limit: { limit: 60, perMs: '1m' } },
 *     { name: 'expensive', key: (req) => (req.path === '/expensive' ? 'route:/expensive' : null), limit: { limit: 10, perMs: '1m' } },
 *   ] }));
 */
const { rateLimitHeaders } = require('@sluice/client');

/**
 * @typedef {{ limit: number, perMs: number | string, burst?: number, algo?: 'gcra' | 'sliding' | 'fixed' }} Limit
 * @typedef {{ name: string, key: (req: any) => string | null, limit: Limit, cost?: (req: any) => number }} Rule
 * @param {{ sluice: import('@sluice/client').SluiceClient, rules: Rule[], prefix?: string }} options
 */
function rateLimit({ sluice, rules, prefix = 'mw' }) {
  // The rules become named policies once, so one RL.ALL checks them all.
  let ready = null;
  const policies = () => (ready ??= Promise.all(rules.map((r) => sluice.limits.setPolicy(`${prefix}-${r.name}`, r.limit))).catch((err) => {
    ready = null; // try again on the next request
    throw err;
  }));

  return async function sluiceRateLimit(req, res, next) {
    try {
      await policies();
      const applied = rules.map((rule) => ({ rule, key: rule.key(req) })).filter((a) => a.key !== null);
      if (applied.length === 0) return next();
      const result = await sluice.limits.all(applied.map(({ rule, key }) => ({
        key: `${prefix}:${rule.name}:${key}`,
        policy: `${prefix}-${rule.name}`,
        cost: rule.cost ? rule.cost(req) : 1,
      })));
      // Headers describe the rule that refused, else the one with the least left.
      const shown = result.refusedIndex ?? result.remaining.indexOf(Math.min(...result.remaining));
      const { rule } = applied[shown];
      const headers = rateLimitHeaders(
        { ...result, remaining: [result.remaining[shown]] },
        { policy: rule.name, limit: rule.limit.limit, window: rule.limit.perMs },
      );
      for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
      if (result.allowed) return next();
      res.statusCode = 429;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ error: `rate limit '${rule.name}' exceeded`, retryAfterMs: result.retryAfterMs }));
    } catch (err) {
      next(err);
    }
  };
}

module.exports = { rateLimit };
