/**
 * How long commands take: every command of the ordinary path is timed, into INFO commandstats,
 * LATENCY HISTOGRAM (per command), the metrics endpoint (per family), SLOWLOG and LATENCY
 * LATEST (commands/observe.ts answers those).
 *
 * Cheap by construction: reading the clock is what costs, so each command reads it once, when
 * it ends; it started when the previous command ended (or when the read batch began, which
 * the connection reads anyway for its turn). A command's time therefore includes parsing its
 * frame. The native fast path (fast-path.ts) is not timed per command: one run in
 * TIMING_SAMPLE is timed and its commands share the time; the commands of other runs are
 * put in the histogram bucket of their kind's latest sampled time (an estimate, said so in
 * docs/operations.md).
 */
import type { CommandStats, Session } from './context';

/**
 * Histogram buckets as Redis 7 reports them (an HDR histogram iterated in powers of two from
 * 1024 ns, with 2 significant digits): bucket k holds durations up to
 * `(1024 << k) * 129/128 - 1` ns, shown as that many whole µs (1, 2, 4, 8, 16, 33, 66, ...).
 * Durations over a second count in the last bucket, as Redis caps them at a second.
 */
export const BUCKETS = 21;
/** Upper bound of each bucket in ns. */
export const bucketUpperNs: readonly number[] = Array.from({ length: BUCKETS }, (_, k) => 1024 * 2 ** k * (129 / 128) - 1);

/** The bucket of a duration in µs. */
export function bucketOf(usec: number): number {
  const ns = usec * 1000;
  if (ns <= 1031) return 0;
  const k = Math.ceil(Math.log2((ns + 1) / 1032));
  return k < BUCKETS ? k : BUCKETS - 1;
}

/** The histogram of a command, made on its first timed call. */
export function histogramOf(entry: CommandStats): Float64Array {
  return (entry.histogram ??= new Float64Array(BUCKETS));
}

/** SLOWLOG's limits on what an entry keeps (Redis's). */
const SLOWLOG_MAX_ARGS = 32;
const SLOWLOG_MAX_STRING = 128;

export interface SlowlogEntry {
  id: number;
  /** Unix seconds. */
  time: number;
  usec: number;
  args: Buffer[];
  addr: string;
  name: string;
}

/** A latency spike series (LATENCY LATEST): one sample per second at most. */
export interface LatencyEvent {
  /** Unix seconds and ms of the latest sample. */
  time: number;
  latest: number;
  max: number;
  samples: number;
}

/** Commands whose arguments after the name are not written to the slow log (they hold passwords). */
const REDACT_ALL = new Set(['auth']);

export class CommandTimer {
  /** performance.now() when the last timed command ended, or the read batch began. */
  private last = 0;
  /** `last` is not the start of the next command (a fast-path run or a pause came between). */
  private stale = true;
  /** slowlog-log-slower-than (µs; negative: off), slowlog-max-len, latency-monitor-threshold (ms; 0: off). */
  slowerThan = 10_000;
  slowlogMax = 128;
  spikeMs = 0;
  /** Newest first. */
  readonly slowlog: SlowlogEntry[] = [];
  private nextSlowlogId = 0;
  readonly events = new Map<string, LatencyEvent>();
  /** Names of options whose values SLOWLOG must not show (CONFIG SET requirepass ...). */
  secretOptions: ReadonlySet<string> = new Set();

  /** A read batch begins at `now` (performance.now(), read by the connection for its turn). */
  batchBegins(now: number): void {
    this.last = now;
    this.stale = false;
  }

  /** Something other than a timed command ran (a fast-path run, the end of a batch). */
  interrupted(): void {
    this.stale = true;
  }

  /** When the command about to run started. */
  begin(): number {
    if (this.stale) {
      this.last = performance.now();
      this.stale = false;
    }
    return this.last;
  }

  /** The command of `entry` that began at `started` has ended. */
  end(session: Session, entry: CommandStats, args: Buffer[], started: number): void {
    const now = performance.now();
    this.last = now;
    const usec = (now - started) * 1000;
    entry.timedCalls++;
    entry.usec += usec;
    histogramOf(entry)[bucketOf(usec)]++;
    if (this.slowerThan >= 0 && usec >= this.slowerThan && this.slowlogMax > 0) this.logSlow(session, entry, args, usec);
    if (this.spikeMs > 0 && usec >= this.spikeMs * 1000) this.spike('command', usec / 1000);
  }

  /** Fast-path calls: `n` commands of `entry`; `usecEach` their measured time, or NaN when not sampled. */
  fastCalls(entry: CommandStats, n: number, usecEach: number, kind: number): void {
    if (usecEach === usecEach) this.fastBucket[kind] = bucketOf(usecEach);
    histogramOf(entry)[this.fastBucket[kind]] += n;
  }
  private readonly fastBucket = new Uint8Array(8);

  private logSlow(session: Session, entry: CommandStats, args: Buffer[], usec: number): void {
    const n = Math.min(args.length, SLOWLOG_MAX_ARGS);
    const kept: Buffer[] = [];
    const redactFrom = REDACT_ALL.has(entry.name) ? 1 : entry.name === 'hello' ? helloAuthAt(args) : entry.name === 'config|set' ? 3 : args.length;
    for (let i = 0; i < n; i++) {
      if (n !== args.length && i === n - 1) {
        kept.push(Buffer.from(`... (${args.length - n + 1} more arguments)`));
      } else if (i >= redactFrom && this.isSecret(entry.name, args, i)) {
        kept.push(Buffer.from('(redacted)'));
      } else if (args[i].length > SLOWLOG_MAX_STRING) {
        kept.push(Buffer.concat([args[i].subarray(0, SLOWLOG_MAX_STRING), Buffer.from(`... (${args[i].length - SLOWLOG_MAX_STRING} more bytes)`)]));
      } else {
        kept.push(Buffer.from(args[i])); // a copy: args are views of the shared read buffer
      }
    }
    this.slowlog.unshift({ id: this.nextSlowlogId++, time: Math.floor(Date.now() / 1000), usec: Math.round(usec), args: kept, addr: session.addr, name: session.name });
    if (this.slowlog.length > this.slowlogMax) this.slowlog.length = this.slowlogMax;
  }

  /** Is argument `i` a secret? AUTH: all; HELLO: the two after AUTH; CONFIG SET: values of secret options. */
  private isSecret(name: string, args: Buffer[], i: number): boolean {
    if (name === 'config|set') return (i - 3) % 2 === 0 && this.secretOptions.has(args[i - 1].toString().toLowerCase());
    if (name === 'hello') return i < helloAuthAt(args) + 2;
    return true;
  }

  /** Records a latency spike of `event` (ms), merging samples within one second as Redis does. */
  spike(event: string, ms: number): void {
    const now = Math.floor(Date.now() / 1000);
    const rounded = Math.round(ms);
    const e = this.events.get(event);
    if (e === undefined) {
      this.events.set(event, { time: now, latest: rounded, max: rounded, samples: 1 });
      return;
    }
    if (e.time === now) e.latest = Math.max(e.latest, rounded);
    else {
      e.time = now;
      e.latest = rounded;
      e.samples++;
    }
    e.max = Math.max(e.max, rounded);
  }

  /** Trims the slow log after slowlog-max-len shrank. */
  trim(): void {
    if (this.slowlog.length > this.slowlogMax) this.slowlog.length = this.slowlogMax;
  }
}

/** Where HELLO's AUTH username starts, or args.length. */
function helloAuthAt(args: Buffer[]): number {
  for (let i = 2; i < args.length; i++) if (args[i].length === 4 && args[i].toString().toLowerCase() === 'auth') return i + 1;
  return args.length;
}

/** The process's one timer (dispatch, the fast path and the connection report to it). */
export const commandTimer = new CommandTimer();
