/**
 * The persistence family: when to write the snapshot file, and reading it at start-up
 * (docs/durability.md). What is in the file, and writing it atomically, is the native core's
 * (native/core/src/snapshot.rs); a save runs on a worker thread, so the event loop goes on
 * answering while every family is encoded and written.
 *
 * Saves are taken every `save-interval` seconds when a write command ran since the last one, on
 * SAVE and BGSAVE, and at shutdown (unless SHUTDOWN NOSAVE). One runs at a time. A save that
 * fails (full disk, unwritable directory) is logged as a warning and shown in INFO persistence;
 * commands keep being served and accepted: a limiter must not stop the application.
 */
import { accessSync, constants, renameSync, readdirSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import type { Family, Handler, MetricFamily, Services } from '../context';
import { ArgReader } from '../args';
import { ConfigError, type Config, type OptionSpec } from '../config';
import { errors, ReplyError } from '../reply-error';
import { log } from '../log';
import native from '../native';

const options: OptionSpec[] = [
  { name: 'dir', type: 'string', default: '.', mutable: false, help: 'Directory of the snapshot file (relative to the working directory at start).' },
  { name: 'dbfilename', type: 'string', default: 'dump.sluice', mutable: false, help: 'Name of the snapshot file in dir; empty: no snapshots (nothing is loaded or saved).' },
  { name: 'save-interval', type: 'integer', default: '1', min: 0, mutable: true, help: 'Save the snapshot every this many seconds if anything changed (0: only on SAVE, BGSAVE and shutdown). A crash loses at most this much.' },
  { name: 'ignore-bad-snapshot', type: 'boolean', default: 'no', mutable: false, help: 'If the snapshot file cannot be read (truncated, corrupted, newer format), start empty and move it aside as <file>.bad-<time> instead of refusing to start.' },
];

/** While saves keep failing, a warning every this many ms (each failure is in INFO at once). */
const FAILURE_LOG_EVERY_MS = 60_000;

type Trigger = 'SAVE' | 'BGSAVE' | 'timer' | 'shutdown';

/** The state INFO persistence reports, and the save in progress. */
class Persistence {
  /** The snapshot file's absolute path, or '' when snapshots are off. */
  file = '';
  /** Services.changes when the last successful save started. */
  changesSaved = 0;
  lastSaveUnix = Math.floor(Date.now() / 1000);
  lastStatus: 'ok' | 'err' = 'ok';
  lastError = '';
  lastTimeSec = -1;
  lastBytes = 0;
  lastKeys = 0;
  saves = 0;
  loadedKeys = 0;
  /** The longest event-loop delay seen while the last save ran (ms; see `save`). */
  lastLoopDelayMaxMs = 0;
  /** Wall-clock ms when the save in progress started, or -1. */
  startedAt = -1;
  current: Promise<boolean> | null = null;
  /** BGSAVE SCHEDULE asked for another save after the current one. */
  scheduled = false;
  private lastFailureLog = 0;
  private timer: NodeJS.Timeout | null = null;

  /** Reads the file at start-up (before any family applies its config, e.g. policies). */
  start(config: Config): void {
    const name = config.str('dbfilename');
    if (name === '') return;
    if (name.includes('/') || name.includes(path.sep)) throw new ConfigError(`dbfilename '${name}' must be a file name, not a path (use dir for the directory)`);
    this.file = path.resolve(config.str('dir'), name);
    const dir = path.dirname(this.file);
    // A mistyped dir would otherwise run without durability (each save failing): refuse it.
    if (!statSync(dir, { throwIfNoEntry: false })?.isDirectory()) throw new ConfigError(`dir ${dir} is not a directory: create it, or give --dir an existing one`);
    try {
      accessSync(dir, constants.W_OK);
    } catch {
      log.warning(`dir ${dir} is not writable: snapshots will fail until it is (commands are served regardless)`);
    }
    removeStaleTemporaries(this.file);
    let loaded;
    const loadStarted = performance.now();
    try {
      loaded = native.snapshotLoad(this.file, native.clockMs());
    } catch (err) {
      const what = (err as Error).message;
      if (config.get('ignore-bad-snapshot') !== true) {
        throw new ConfigError(
          `cannot load snapshot ${this.file}: ${what}. Sluice will not start with it and will not overwrite it: ` +
            `move it away, or start with --ignore-bad-snapshot yes to start empty (the file is then kept as ${this.file}.bad-<time>)`,
        );
      }
      const aside = `${this.file}.bad-${new Date().toISOString().replace(/[:.]/g, '-')}`;
      renameSync(this.file, aside);
      log.warning(`snapshot ${this.file} is unusable (${what}); starting EMPTY as --ignore-bad-snapshot asks; the file is kept as ${aside}`);
      return;
    }
    if (loaded) {
      this.loadedKeys = loaded.keys;
      log.notice(`loaded ${loaded.keys} keys from snapshot ${this.file} (${loaded.bytes} bytes) in ${(performance.now() - loadStarted).toFixed(1)} ms`);
    }
  }

  serve(server: Services): void {
    this.schedule(server);
  }

  /** (Re)starts the save timer after start-up or CONFIG SET save-interval. */
  schedule(server: Services): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    const seconds = server.config.num('save-interval');
    if (seconds <= 0 || this.file === '') return;
    this.timer = setInterval(() => {
      if (this.current === null && server.changes !== this.changesSaved) void this.save(server, 'timer');
    }, seconds * 1000);
    this.timer.unref();
  }

  /**
   * Writes a snapshot; resolves with whether it succeeded (never rejects: a failure is recorded
   * and logged). Callers check `current` first: one save at a time.
   */
  save(server: Services, trigger: Trigger): Promise<boolean> {
    const changesAtStart = server.changes;
    this.startedAt = Date.now();
    // How long the event loop stalls while the worker encodes (it takes shard locks the
    // commands also take): sampled every ms, reported as sluice_snapshot_last_loop_delay_max_ms.
    const loopDelay: IntervalHistogram = monitorEventLoopDelay({ resolution: 1 });
    loopDelay.enable();
    const run = native.snapshotSaveAsync(this.file, native.clockMs()).then(
      (saved) => {
        this.changesSaved = changesAtStart;
        this.lastSaveUnix = Math.floor(Date.now() / 1000);
        this.lastBytes = saved.bytes;
        this.lastKeys = saved.keys;
        this.saves++;
        if (this.lastStatus === 'err') log.notice(`snapshot saved again after failures: ${this.file}`);
        this.lastStatus = 'ok';
        this.lastError = '';
        const line = `snapshot saved (${trigger}): ${saved.keys} keys, ${saved.bytes} bytes, encoded in ${saved.encodeMs.toFixed(1)} ms, written in ${saved.writeMs.toFixed(1)} ms`;
        if (trigger === 'timer') log.verbose(line);
        else log.notice(line);
        return true;
      },
      (err: Error) => {
        this.lastStatus = 'err';
        this.lastError = err.message;
        const now = Date.now();
        if (trigger !== 'timer' || now - this.lastFailureLog >= FAILURE_LOG_EVERY_MS) {
          this.lastFailureLog = now;
          log.warning(
            `snapshot save FAILED (${trigger}): ${err.message}. Commands are still served, but ` +
              `${server.changes - this.changesSaved} change(s) since the last good snapshot would be lost in a crash.`,
          );
        }
        return false;
      },
    );
    this.current = run.then((ok) => {
      loopDelay.disable();
      this.lastLoopDelayMaxMs = loopDelay.max / 1e6;
      this.lastTimeSec = Math.round((Date.now() - this.startedAt) / 1000);
      this.startedAt = -1;
      this.current = null;
      if (this.scheduled) {
        this.scheduled = false;
        void this.save(server, 'BGSAVE');
      }
      return ok;
    });
    return this.current;
  }

  /** Shutdown: waits for a save in progress, then writes the final snapshot (unless NOSAVE). */
  async stop(server: Services, save: boolean): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.scheduled = false;
    while (this.current !== null) await this.current;
    if (!save || this.file === '') return;
    if (!(await this.save(server, 'shutdown'))) {
      throw new Error(`the final snapshot could not be written (${this.lastError}); changes since ${new Date(this.lastSaveUnix * 1000).toISOString()} are lost`);
    }
  }

  /** Snapshot age and outcome for the metrics endpoint (no samples when snapshots are off). */
  metrics(): MetricFamily[] {
    if (this.file === '') return [];
    const gauge = (name: string, help: string, value: number): MetricFamily => ({ name, help, type: 'gauge', samples: [{ value }] });
    return [
      gauge('sluice_snapshot_age_seconds', 'Seconds since the last snapshot written successfully (or since start-up).', Date.now() / 1000 - this.lastSaveUnix),
      gauge('sluice_snapshot_last_ok', '1 if the last snapshot was written, 0 if it failed.', this.lastStatus === 'ok' ? 1 : 0),
      { name: 'sluice_snapshots_total', help: 'Snapshots written since start.', type: 'counter', samples: [{ value: this.saves }] },
    ];
  }

  info(server: Services): string[] {
    const inProgress = this.startedAt >= 0;
    return [
      'loading:0',
      'async_loading:0',
      `rdb_changes_since_last_save:${server.changes - this.changesSaved}`,
      `rdb_bgsave_in_progress:${inProgress ? 1 : 0}`,
      `rdb_last_save_time:${this.lastSaveUnix}`,
      `rdb_last_bgsave_status:${this.lastStatus}`,
      `rdb_last_bgsave_time_sec:${this.lastTimeSec}`,
      `rdb_current_bgsave_time_sec:${inProgress ? Math.round((Date.now() - this.startedAt) / 1000) : -1}`,
      `rdb_saves:${this.saves}`,
      `rdb_last_load_keys_loaded:${this.loadedKeys}`,
      'aof_enabled:0',
      `sluice_snapshot_file:${this.file}`,
      `sluice_snapshot_last_bytes:${this.lastBytes}`,
      `sluice_snapshot_last_keys:${this.lastKeys}`,
      `sluice_snapshot_last_loop_delay_max_ms:${this.lastLoopDelayMaxMs.toFixed(2)}`,
      `sluice_snapshot_last_error:${this.lastError.replace(/[\r\n]/g, ' ')}`,
    ];
  }
}

/** Temporary files of saves killed mid-write (`<file>.tmp-<pid>` of a process that is gone). */
function removeStaleTemporaries(file: string): void {
  const dir = path.dirname(file);
  const prefix = `${path.basename(file)}.tmp-`;
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return; // a missing directory is reported by the first save
  }
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    const pid = Number(name.slice(prefix.length));
    if (!Number.isSafeInteger(pid) || pid === process.pid || isAlive(pid)) continue;
    rmSync(path.join(dir, name), { force: true });
    log.verbose(`removed ${name}, left by an interrupted save of process ${pid}`);
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const persistence = new Persistence();
/** The running server, once it serves (configChanged is given only the config). */
let served: Services | null = null;
const reader = new ArgReader();

function requireSnapshots(): void {
  if (persistence.file === '') throw new ReplyError('ERR snapshots are off (dbfilename is empty)');
}

const handlers: Record<string, Handler> = {
  save: async (ctx) => {
    requireSnapshots();
    // A save already running may have started before this client's last change: wait for it,
    // then write one that includes it.
    while (persistence.current !== null) await persistence.current;
    if (!(await persistence.save(ctx.server, 'SAVE'))) throw new ReplyError(`ERR ${persistence.lastError}`);
    return (w) => w.ok();
  },
  bgsave: (ctx, args, w) => {
    const r = reader.over(args, 1);
    const schedule = r.left > 0 && r.word('schedule');
    if (r.left > 0) throw errors.syntax();
    requireSnapshots();
    if (persistence.current !== null) {
      if (!schedule) throw new ReplyError('ERR Background save already in progress');
      persistence.scheduled = true;
      w.simple('Background saving scheduled');
      return;
    }
    void persistence.save(ctx.server, 'BGSAVE');
    w.simple('Background saving started');
  },
  lastsave: (_ctx, _args, w) => w.integer(persistence.lastSaveUnix),
};

export const persistenceFamily: Family = {
  name: 'persistence',
  handlers,
  options,
  info: [{ name: 'persistence', lines: (server) => persistence.info(server) }],
  metrics: () => persistence.metrics(),
  start: (config) => persistence.start(config),
  serve: (server) => {
    served = server;
    persistence.serve(server);
  },
  configChanged: () => {
    if (served !== null) persistence.schedule(served);
  },
  stop: (server, save) => persistence.stop(server, save),
};
