/**
 * The in-process limiter that stands in while the daemon is unreachable
 * (`onUnavailable: 'local'`). Same algorithms and the same result shapes as the daemon's
 * (native/core/src/limits: GCRA, fixed and sliding windows aligned to the epoch; leases with a
 * TTL), but its state is this process's only: N app instances each admit up to the limit, so an
 * outage loosens a shared limit by up to N times rather than dropping or admitting everything.
 * Times are milliseconds as doubles (the daemon counts nanoseconds), so edges may differ by a ms.
 */
import type { AllResult, Algorithm, HitResult, Lease } from './index';

export interface LocalLimit {
  limit: number;
  perMs: number;
  burst?: number;
  algo?: Algorithm;
}

interface GcraState { kind: 'gcra'; tat: number }
interface WindowState { kind: 'window'; start: number; prev: number; cur: number }

interface Outcome extends HitResult {
  /** The state to store when consumed; undefined when nothing changes. */
  next?: GcraState | WindowState;
}

/** How long the daemon keeps a lease without a TTL given (SEM.ACQUIRE's default). */
export const DEFAULT_LEASE_TTL_MS = 60_000;

export class LocalLimiter {
  private readonly limits = new Map<string, GcraState | WindowState>();
  private readonly leases = new Map<string, Map<number, number>>();
  private nextLeaseId = 1;

  constructor(private readonly now: () => number = Date.now) {}

  hit(key: string, spec: LocalLimit, cost: number, consume = true): HitResult {
    const out = this.evaluate(key, spec, cost, this.now());
    if (consume && out.allowed && out.next) this.limits.set(key, out.next);
    const { next: _, ...result } = out;
    return result;
  }

  /** All or nothing, as RL.ALL: each key is checked first, then all are consumed. */
  all(entries: { key: string; spec: LocalLimit; cost: number }[]): AllResult {
    const now = this.now();
    const outcomes = entries.map((e) => this.evaluate(e.key, e.spec, e.cost, now));
    const refused = outcomes.findIndex((o) => !o.allowed);
    if (refused >= 0) {
      // Nothing is consumed: each key's remaining as it stands.
      const remaining = entries.map((e) => this.evaluate(e.key, e.spec, 0, now).remaining);
      return { allowed: false, refusedIndex: refused, retryAfterMs: outcomes[refused].retryAfterMs, remaining };
    }
    // Two entries on one key must both count: apply them in order, re-evaluating each.
    const remaining = entries.map((e) => {
      const o = this.evaluate(e.key, e.spec, e.cost, now);
      if (o.next) this.limits.set(e.key, o.next);
      return o.remaining;
    });
    return { allowed: true, refusedIndex: null, retryAfterMs: null, remaining };
  }

  /** RL.ADJUST: charge (positive) or refund (negative) regardless of room; returns what is left. */
  adjust(key: string, spec: LocalLimit, delta: number): number {
    const now = this.now();
    const algo = spec.algo ?? 'gcra';
    if (algo === 'gcra') {
      const t = spec.perMs / spec.limit;
      const state = this.limits.get(key);
      const tat = Math.max(state?.kind === 'gcra' ? state.tat : now, now);
      this.limits.set(key, { kind: 'gcra', tat: Math.max(now, tat + delta * t) });
    } else {
      const v = this.window(key, spec, now);
      if (delta >= 0) v.cur += delta;
      else {
        const fromCur = Math.min(-delta, v.cur);
        v.cur -= fromCur;
        v.prev -= Math.min(-delta - fromCur, v.prev);
      }
      this.limits.set(key, v);
    }
    return this.evaluate(key, spec, 0, now).remaining;
  }

  reset(keys: string[]): number {
    let n = 0;
    for (const k of keys) if (this.limits.delete(k)) n++;
    return n;
  }

  acquire(key: string, limit: number, ttlMs = DEFAULT_LEASE_TTL_MS): Lease {
    const held = this.held(key);
    if (held.size >= limit) return { acquired: false, leaseId: null, inUse: held.size };
    const id = this.nextLeaseId++;
    held.set(id, this.now() + ttlMs);
    return { acquired: true, leaseId: id, inUse: held.size };
  }

  release(key: string, leaseId: number): boolean {
    return this.held(key).delete(leaseId);
  }

  extend(key: string, leaseId: number, ttlMs: number): boolean {
    const held = this.held(key);
    if (!held.has(leaseId)) return false;
    held.set(leaseId, this.now() + ttlMs);
    return true;
  }

  inUse(key: string): number {
    return this.held(key).size;
  }

  /** Forgets everything: the daemon's state is the truth again once it is back. */
  clear(): void {
    this.limits.clear();
    this.leases.clear();
  }

  private held(key: string): Map<number, number> {
    let held = this.leases.get(key);
    if (!held) this.leases.set(key, (held = new Map()));
    const now = this.now();
    for (const [id, expires] of held) if (expires <= now) held.delete(id);
    return held;
  }

  private evaluate(key: string, spec: LocalLimit, cost: number, now: number): Outcome {
    const algo = spec.algo ?? 'gcra';
    return algo === 'gcra' ? this.gcra(key, spec, cost, now) : this.windowHit(key, spec, algo, cost, now);
  }

  private gcra(key: string, spec: LocalLimit, cost: number, now: number): Outcome {
    const burst = spec.burst ?? spec.limit;
    const t = spec.perMs / spec.limit;
    const tau = t * burst;
    const state = this.limits.get(key);
    const tat = Math.max(state?.kind === 'gcra' ? state.tat : now, now);
    const remainingAt = (x: number) => Math.floor((tau - (x - now)) / t + 1e-9);
    const out: Outcome = { allowed: false, limit: burst, remaining: remainingAt(tat), retryAfterMs: null, resetAfterMs: Math.ceil(tat - now) };
    if (cost > burst) return out;
    const newTat = tat + cost * t;
    if (newTat - now <= tau + 1e-9) {
      return { ...out, allowed: true, remaining: remainingAt(newTat), resetAfterMs: Math.ceil(newTat - now), next: { kind: 'gcra', tat: newTat } };
    }
    return { ...out, retryAfterMs: Math.ceil(newTat - tau - now) };
  }

  private window(key: string, spec: LocalLimit, now: number): WindowState {
    const w = spec.perMs;
    const start = Math.floor(now / w) * w;
    const state = this.limits.get(key);
    if (state?.kind !== 'window') return { kind: 'window', start, prev: 0, cur: 0 };
    if (state.start === start) return { ...state };
    if (state.start === start - w) return { kind: 'window', start, prev: state.cur, cur: 0 };
    return { kind: 'window', start, prev: 0, cur: 0 };
  }

  private windowHit(key: string, spec: LocalLimit, algo: 'fixed' | 'sliding', cost: number, now: number): Outcome {
    const v = this.window(key, spec, now);
    const w = spec.perMs;
    const elapsed = now - v.start;
    const prevWeight = algo === 'sliding' ? v.prev * (w - elapsed) / w : 0;
    const used = (cur: number) => prevWeight + cur;
    const reset = (cur: number) => Math.ceil(cur > 0 ? (algo === 'sliding' ? v.start + 2 * w - now : v.start + w - now) : algo === 'sliding' && v.prev > 0 ? v.start + w - now : 0);
    const out: Outcome = { allowed: false, limit: spec.limit, remaining: Math.floor(spec.limit - used(v.cur) + 1e-9), retryAfterMs: null, resetAfterMs: reset(v.cur) };
    if (cost > spec.limit) return out;
    if (used(v.cur + cost) <= spec.limit + 1e-9) {
      const next: WindowState = { ...v, cur: v.cur + cost };
      return { ...out, allowed: true, remaining: Math.floor(spec.limit - used(next.cur) + 1e-9), resetAfterMs: reset(next.cur), next };
    }
    if (algo === 'fixed') return { ...out, retryAfterMs: Math.ceil(v.start + w - now) };
    // Sliding: when the previous window's weight has fallen enough, or (if the current window
    // alone is too full) part-way through the next one; the daemon's formula, in ms.
    const spare = (spec.limit - cost - v.cur) * w;
    const at = spare >= 0 ? v.start + w - spare / v.prev : v.start + 2 * w - ((spec.limit - cost) * w) / v.cur;
    return { ...out, retryAfterMs: Math.ceil(at - now) };
  }
}
