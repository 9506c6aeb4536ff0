/**
 * The native fast path (native/core/src/fastpath.rs): runs of PING, RL.HIT, RL.PEEK,
 * CL.THROTTLE, and ROUTE.PICK / ROUTE.DONE in their plain forms, are answered by one native call that parses the frames, runs the limiter and
 * writes the replies into the reply writer's pool. It stops, without consuming it, at the
 * first frame it does not take (anything unusual, any other command, anything that would be
 * an error); the connection's parser and dispatch answer that one command, and the next run
 * starts after it (Connection.readWithFastPath).
 * So the ordinary path stays the one authority on errors and limits, and the replies are the
 * same either way (`native-fast-path no` turns it off; a test compares the two).
 *
 * Statistics stay whole: the native call returns how many commands of each kind it answered,
 * and they are counted on the same command-table entries as the ordinary path's calls.
 */
import type { ReplyWriter } from '@sluice/protocol';
import type { Session, ServerStats } from './context';
import { TIMING_SAMPLE, type CommandRegistry, type CommandEntry } from './dispatch';
import native from './native';
import { countRouting, routingHasWaiters } from './commands/routing';
import { commandTimer } from './command-timer';

/** The command-table names of the kinds native/core/src/fastpath.rs answers, in its order. */
const KIND_NAMES = ['ping', 'rl.hit', 'rl.peek', 'cl.throttle', 'route.pick', 'route.done'];
const PICK = 4;
/** io slots after the counts (native/src/area.rs): resp3 and take-DONE in, DONEs settled out. */
const IO_RESP3 = 4 + KIND_NAMES.length;
const IO_TAKE_DONE = IO_RESP3 + 1;
const IO_SETTLED = IO_RESP3 + 2;

/** Room a native run needs in the writer: several replies (its own stop margin is 124 bytes). */
const ROOM = 4096;

/** Binds the buffer every socket reads into (see connection.ts); the fast path reads from it. */
export function bindFastPath(readBuffer: Buffer): void {
  native.bindFastPath(readBuffer, io);
}

/** [start, end, out offset, last kind, count per kind..., resp3, take DONE, settled]; see native/src/area.rs fast_run. */
const io = new Float64Array(IO_SETTLED + 1);

export class FastPath {
  /** The table entries of the kinds, in native order: calls are counted on them. */
  private readonly kinds: CommandEntry[];
  /** Commands answered by kind in the current run (across its native calls). */
  private readonly runCounts = new Float64Array(KIND_NAMES.length);
  private untilTimed = TIMING_SAMPLE;

  constructor(private readonly commands: CommandRegistry) {
    this.kinds = KIND_NAMES.map((name) => commands.named(name));
  }

  /**
   * Answers what it can of the bound read buffer's `[from, end)` into `w`; returns where the
   * ordinary path should carry on.
   */
  run(session: Session, stats: ServerStats, w: ReplyWriter, from: number, end: number): number {
    const kinds = this.kinds;
    const runCounts = this.runCounts;
    const timed = --this.untilTimed === 0;
    const started = timed ? performance.now() : 0;
    io[0] = from;
    io[1] = end;
    io[IO_RESP3] = session.resp3 ? 1 : 0;
    // A DONE may free room for picks that WAIT: the ordinary path wakes them.
    io[IO_TAKE_DONE] = routingHasWaiters() ? 0 : 1;
    let answered = 0;
    let settled = 0;
    runCounts.fill(0);
    for (;;) {
      const pool = w.room(ROOM);
      io[2] = w.writeOffset;
      const code = native.fastRun(pool);
      w.advanceTo(io[2]);
      settled += io[IO_SETTLED];
      for (let k = 0; k < kinds.length; k++) {
        const n = io[4 + k];
        if (n !== 0) {
          kinds[k].calls += n;
          if (kinds[k].write) this.commands.writes += n;
          runCounts[k] += n;
          answered += n;
        }
      }
      if (code !== 1 || io[0] >= end) break; // 1: the pool was full; go on in a fresh one
    }
    if (answered > 0) {
      stats.commandsProcessed += answered;
      stats.fastPathCommands += answered;
      if (io[3] >= 0) session.lastCommand = kinds[io[3]].name;
      if (runCounts[PICK] !== 0 || settled !== 0) countRouting(runCounts[PICK], settled);
    }
    let usecEach = NaN;
    if (timed) {
      this.untilTimed = TIMING_SAMPLE;
      if (answered > 0) {
        // The run's time, shared by the commands it answered (one sample per TIMING_SAMPLE runs).
        usecEach = ((performance.now() - started) * 1000) / answered;
        for (let k = 0; k < kinds.length; k++) {
          const n = runCounts[k];
          kinds[k].timedCalls += n;
          kinds[k].usec += usecEach * n;
        }
      }
    }
    if (answered > 0) {
      for (let k = 0; k < kinds.length; k++) if (runCounts[k] !== 0) commandTimer.fastCalls(kinds[k], runCounts[k], usecEach, k);
      commandTimer.interrupted();
    }
    return io[0];
  }
}
