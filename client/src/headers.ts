/**
 * HTTP response headers from a limit result, so an app can pass its limits on to its callers:
 * the IETF fields (draft-ietf-httpapi-ratelimit-headers-10: `RateLimit-Policy: "name";q=..;w=..`
 * and `RateLimit: "name";r=..;t=..`), the widespread X-RateLimit-Limit/Remaining/Reset, and
 * Retry-After on a refusal. Seconds are rounded up, so a caller never comes back too early.
 */
import type { AllResult, HitResult, ThrottleResult } from './index';
import { toMs, type Duration } from './duration';

export interface RateLimitHeaderOptions {
  /** The policy's name in the IETF fields (default "default"); quoted as a structured-field string. */
  policy?: string;
  /** The policy's window, for `w=` in RateLimit-Policy (omitted when not given). */
  window?: Duration;
  /** The quota, when the result does not carry one (RL.ALL's results do not). */
  limit?: number;
  /** X-RateLimit-Reset as seconds from now (default, as the IETF `t`) or a Unix time in seconds (GitHub's way). */
  reset?: 'seconds' | 'unix';
}

const seconds = (ms: number) => Math.max(0, Math.ceil(ms / 1000));
const sfString = (s: string) => `"${s.replace(/[\\"]/g, (c) => `\\${c}`).replace(/[^\x20-\x7e]/g, '')}"`;

/** Headers for a hit/peek, all() or throttle() result; names are canonical case. */
export function rateLimitHeaders(result: HitResult | AllResult | ThrottleResult, options: RateLimitHeaderOptions = {}): Record<string, string> {
  let limit: number | undefined;
  let remaining: number;
  let resetMs: number | undefined;
  let retryMs: number | null;
  let allowed: boolean;
  if ('limited' in result) {
    ({ limit, remaining } = result);
    allowed = !result.limited;
    resetMs = result.resetAfterSeconds * 1000;
    retryMs = result.retryAfterSeconds === null ? null : result.retryAfterSeconds * 1000;
  } else if (Array.isArray(result.remaining)) {
    const all = result as AllResult;
    // The binding constraint is the key with the least left.
    remaining = all.remaining.length ? Math.min(...all.remaining) : 0;
    allowed = all.allowed;
    retryMs = all.retryAfterMs;
  } else {
    const hit = result as HitResult;
    ({ limit, remaining } = hit);
    allowed = hit.allowed;
    resetMs = hit.resetAfterMs;
    retryMs = hit.retryAfterMs;
  }
  limit = options.limit ?? limit;
  remaining = Math.max(0, remaining);
  const name = sfString(options.policy ?? 'default');
  const headers: Record<string, string> = {};
  if (limit !== undefined) {
    headers['RateLimit-Policy'] = `${name};q=${limit}${options.window !== undefined ? `;w=${seconds(toMs(options.window))}` : ''}`;
    headers['X-RateLimit-Limit'] = String(limit);
  }
  headers['RateLimit'] = `${name};r=${remaining}${resetMs !== undefined ? `;t=${seconds(resetMs)}` : ''}`;
  headers['X-RateLimit-Remaining'] = String(remaining);
  if (resetMs !== undefined) {
    headers['X-RateLimit-Reset'] = String(options.reset === 'unix' ? Math.ceil((Date.now() + resetMs) / 1000) : seconds(resetMs));
  }
  if (!allowed && retryMs !== null) headers['Retry-After'] = String(seconds(retryMs));
  return headers;
}
