/**
 * The observe family: seeing what the daemon does (docs/operations.md).
 * - LATENCY HISTOGRAM / LATEST / RESET and SLOWLOG GET / LEN / RESET, answered as Redis 7
 *   answers them, from the command timer (command-timer.ts);
 * - SLUICE.DOCTOR: advice in plain words (doctor.ts);
 * - the Prometheus endpoint on `metrics-port` (metrics.ts), started once the server listens.
 */
import type { Family, Handler, Services } from '../context';
import type { OptionSpec, Config } from '../config';
import { ArgReader } from '../args';
import { ReplyError } from '../reply-error';
import { writeHelp } from '../replies';
import { bucketUpperNs, commandTimer, histogramOf, BUCKETS } from '../command-timer';
import { MetricsEndpoint } from '../metrics';
import { doctorReport } from '../doctor';

const options: OptionSpec[] = [
  { name: 'metrics-port', type: 'integer', default: '0', min: 0, mutable: false, help: 'Serve Prometheus metrics at http://<bind>:<port>/metrics (0: off). The address is the daemon\'s bind address.' },
  { name: 'slowlog-log-slower-than', type: 'integer', default: '10000', min: -1, mutable: true, help: 'Commands that take at least this many microseconds go to the slow log (SLOWLOG GET); 0 logs every command, -1 none.' },
  { name: 'slowlog-max-len', type: 'integer', default: '128', min: 0, mutable: true, help: 'Entries the slow log keeps (the oldest go first).' },
  { name: 'latency-monitor-threshold', type: 'integer', default: '0', min: 0, mutable: true, help: 'Commands that take at least this many milliseconds are recorded as latency spikes (LATENCY LATEST); 0: off.' },
];

const reader = new ArgReader();
const COUNT_ERROR = 'ERR count should be greater than or equal to -1';

/** Writes one command's `{calls, histogram_usec}` as Redis's fillCommandCDF does. */
function writeCdf(w: Parameters<Handler>[2], histogram: Float64Array): void {
  let total = 0;
  for (let k = 0; k < BUCKETS; k++) total += histogram[k];
  let shown = 0;
  let cumulative = 0;
  const points: number[] = [];
  for (let k = 0; k < BUCKETS && cumulative < total; k++) {
    if (histogram[k] === 0) continue;
    cumulative += histogram[k];
    points.push(Math.floor(bucketUpperNs[k] / 1000), cumulative);
    shown++;
  }
  w.map(2);
  w.bulk('calls');
  w.integer(total);
  w.bulk('histogram_usec');
  w.map(shown);
  for (const p of points) w.integer(p);
}

const latencyHistogram: Handler = (ctx, args, w) => {
  const wanted = args.length > 2 ? new Set(args.slice(2).map((a) => a.toString().toLowerCase())) : null;
  const rows = [];
  for (const e of ctx.server.commandStats()) {
    if (e.histogram === undefined) continue;
    // A named container command (CONFIG) brings its subcommands, as in Redis.
    if (wanted !== null && !wanted.has(e.name) && !wanted.has(e.name.split('|')[0])) continue;
    rows.push(e);
  }
  w.map(rows.length);
  for (const e of rows) {
    w.bulk(e.name);
    writeCdf(w, histogramOf(e));
  }
};

const latencyHelp = [
  'LATENCY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:',
  'LATEST', '    Return the latest latency samples for all events.',
  'RESET [<event> ...]', '    Reset latency data of one or more <event> classes.', '    (default: reset all data for all event classes)',
  'HISTOGRAM [COMMAND ...]', '    Return a cumulative distribution of latencies in the format of a histogram for the specified command names.', '    If no commands are specified then all histograms are replied.',
  'HELP', '    Print this help.',
];

const slowlogHelp = [
  'SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:',
  'GET [<count>]', '    Return top <count> entries from the slowlog (default: 10, -1 mean all).', '    Entries are made of:', '    id, timestamp, time in microseconds, arguments array, client IP and port,', '    client name',
  'LEN', '    Return the length of the slowlog.',
  'RESET', '    Reset the slowlog.',
  'HELP', '    Print this help.',
];

const handlers: Record<string, Handler> = {
  'latency|histogram': latencyHistogram,
  'latency|latest': (_ctx, _args, w) => {
    w.array(commandTimer.events.size);
    for (const [name, e] of commandTimer.events) {
      w.array(4);
      w.bulk(name);
      w.integer(e.time);
      w.integer(e.latest);
      w.integer(e.max);
    }
  },
  'latency|reset': (_ctx, args, w) => {
    let n = 0;
    if (args.length === 2) {
      n = commandTimer.events.size;
      commandTimer.events.clear();
    } else {
      for (const a of args.slice(2)) if (commandTimer.events.delete(a.toString())) n++;
    }
    w.integer(n);
  },
  'latency|help': (_ctx, _args, w) => writeHelp(w, latencyHelp),
  'slowlog|get': (_ctx, args, w) => {
    let count = 10;
    if (args.length > 3) throw new ReplyError(`ERR unknown subcommand or wrong number of arguments for '${args[1].toString()}'. Try SLOWLOG HELP.`);
    if (args.length === 3) {
      count = reader.over(args, 2).integerOr(COUNT_ERROR);
      if (count < -1) throw new ReplyError(COUNT_ERROR);
      if (count === -1) count = commandTimer.slowlog.length;
    }
    const entries = commandTimer.slowlog.slice(0, count);
    w.array(entries.length);
    for (const e of entries) {
      w.array(6);
      w.integer(e.id);
      w.integer(e.time);
      w.integer(e.usec);
      w.bulks(e.args);
      w.bulk(e.addr);
      w.bulk(e.name);
    }
  },
  'slowlog|len': (_ctx, _args, w) => w.integer(commandTimer.slowlog.length),
  'slowlog|reset': (_ctx, _args, w) => {
    commandTimer.slowlog.length = 0;
    w.ok();
  },
  'slowlog|help': (_ctx, _args, w) => writeHelp(w, slowlogHelp),
  'sluice.doctor': (ctx, _args, w) => w.bulk(doctorReport(ctx.server)),
};

function configure(config: Config): void {
  commandTimer.slowerThan = config.num('slowlog-log-slower-than');
  commandTimer.slowlogMax = config.num('slowlog-max-len');
  commandTimer.spikeMs = config.num('latency-monitor-threshold');
  commandTimer.secretOptions = new Set(config.options.filter((o) => o.secret).map((o) => o.name));
  commandTimer.trim();
}

let endpoint: MetricsEndpoint | null = null;

export const observeFamily: Family = {
  name: 'observe',
  handlers,
  options,
  start: configure,
  configChanged: configure,
  serve(server: Services) {
    const port = server.config.num('metrics-port');
    if (port > 0) endpoint = new MetricsEndpoint(server, server.config.str('bind'), port);
  },
  async stop() {
    await endpoint?.close();
    endpoint = null;
  },
};
