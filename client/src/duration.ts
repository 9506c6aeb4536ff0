/**
 * Durations as @upstash/ratelimit users write them: a number of milliseconds, or a string
 * such as '100ms', '1s', '10 s', '1m', '1h', '1d'.
 */
export type Duration = number | `${number}${DurationUnit}` | `${number} ${DurationUnit}`;
export type DurationUnit = 'ms' | 's' | 'm' | 'h' | 'd';

const UNIT_MS: Record<DurationUnit, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Milliseconds of `d`; throws a RangeError on text that is not a duration or a negative value. */
export function toMs(d: Duration | string): number {
  if (typeof d === 'number') {
    if (!Number.isFinite(d) || d < 0) throw new RangeError(`a duration must be a non-negative number of ms, got ${d}`);
    return Math.round(d);
  }
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$/.exec(d);
  if (!m) throw new RangeError(`'${d}' is not a duration (write e.g. 500, '500ms', '1s', '1m', '1h', '1d')`);
  return Math.round(Number(m[1]) * UNIT_MS[m[2] as DurationUnit]);
}
