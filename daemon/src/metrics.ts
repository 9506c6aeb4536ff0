/**
 * The Prometheus endpoint (`metrics-port`): GET /metrics answers the text exposition format
 * (version 0.0.4). The server's own metrics (commands, errors, latency per command family,
 * connections, memory) are read here from the counters dispatch and the connections keep
 * anyway; each family adds its own through its `metrics` hook. Everything is read at scrape
 * time: nothing here runs on the command path.
 */
import http from 'node:http';
import { commandFamilies } from '@sluice/protocol';
import type { MetricFamily, Services } from './context';
import { BUCKETS, bucketUpperNs, commandTimer } from './command-timer';
import { log } from './log';
import native from './native';

/** Command name (`config`, `rl.hit`) -> its family's name in protocol's commandFamilies. */
const familyOfCommand = new Map<string, string>();
for (const [family, specs] of Object.entries(commandFamilies)) for (const s of specs) familyOfCommand.set(s.name, family);

/** The server's own metric families. */
export function serverMetrics(server: Services): MetricFamily[] {
  const calls: MetricFamily = { name: 'sluice_commands_total', help: 'Commands run, by command (subcommands as parent|sub).', type: 'counter', samples: [] };
  const errors: MetricFamily = {
    name: 'sluice_command_errors_total',
    help: 'Commands answered with an error: reason="failed" (the command ran and refused, e.g. a bad argument) or "rejected" (refused before it ran: arity, NOAUTH, transaction).',
    type: 'counter',
    samples: [],
  };
  const byFamily = new Map<string, { buckets: Float64Array; usec: number }>();
  for (const e of server.commandStats()) {
    if (e.calls > 0) calls.samples.push({ labels: { command: e.name }, value: e.calls });
    if (e.failedCalls > 0) errors.samples.push({ labels: { command: e.name, reason: 'failed' }, value: e.failedCalls });
    if (e.rejectedCalls > 0) errors.samples.push({ labels: { command: e.name, reason: 'rejected' }, value: e.rejectedCalls });
    if (e.histogram === undefined) continue;
    const family = familyOfCommand.get(e.name.split('|')[0]) ?? 'other';
    let f = byFamily.get(family);
    if (f === undefined) byFamily.set(family, (f = { buckets: new Float64Array(BUCKETS), usec: 0 }));
    for (let k = 0; k < BUCKETS; k++) f.buckets[k] += e.histogram[k];
    // Fast-path time is measured on a sample of runs: scaled to every call, as INFO commandstats does.
    f.usec += e.timedCalls > 0 ? (e.usec / e.timedCalls) * e.calls : 0;
  }
  const latency: MetricFamily = {
    name: 'sluice_command_duration_seconds',
    help: 'Time to run a command, by command family (bucket bounds are the LATENCY HISTOGRAM buckets).',
    type: 'histogram',
    samples: [],
  };
  for (const [family, f] of byFamily) {
    let cumulative = 0;
    for (let k = 0; k < BUCKETS; k++) {
      cumulative += f.buckets[k];
      latency.samples.push({ suffix: '_bucket', labels: { family, le: String(bucketUpperNs[k] / 1e9) }, value: cumulative });
    }
    latency.samples.push({ suffix: '_bucket', labels: { family, le: '+Inf' }, value: cumulative });
    latency.samples.push({ suffix: '_sum', labels: { family }, value: f.usec / 1e6 });
    latency.samples.push({ suffix: '_count', labels: { family }, value: cumulative });
  }
  const s = server.stats;
  const m = process.memoryUsage();
  const gauge = (name: string, help: string, value: number): MetricFamily => ({ name, help, type: 'gauge', samples: [{ value }] });
  const counter = (name: string, help: string, value: number): MetricFamily => ({ name, help, type: 'counter', samples: [{ value }] });
  return [
    calls,
    errors,
    latency,
    counter('sluice_fast_path_commands_total', 'Of sluice_commands_total, commands the native fast path answered.', s.fastPathCommands),
    gauge('sluice_connected_clients', 'Open client connections.', server.clients.size),
    counter('sluice_connections_received_total', 'Client connections accepted since start.', s.connectionsReceived),
    counter('sluice_rejected_connections_total', 'Connections refused (maxclients).', s.rejectedConnections),
    counter('sluice_net_input_bytes_total', 'Bytes read from clients.', s.netInputBytes),
    counter('sluice_net_output_bytes_total', 'Bytes sent to clients.', s.netOutputBytes),
    gauge('sluice_resident_memory_bytes', 'Resident set size of the process (native state included).', m.rss),
    gauge('sluice_js_heap_used_bytes', 'JavaScript heap in use.', m.heapUsed),
    gauge('sluice_keys', 'Keys across every family (DBSIZE).', native.keyCount()),
    gauge('sluice_uptime_seconds', 'Seconds since start.', (Date.now() - server.startedAt) / 1000),
    gauge('sluice_slowlog_entries', 'Entries in the slow log (SLOWLOG LEN).', commandTimer.slowlog.length),
  ];
}

/** The text exposition format of `families`. */
export function renderMetrics(families: MetricFamily[]): string {
  let out = '';
  for (const f of families) {
    out += `# HELP ${f.name} ${f.help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}\n# TYPE ${f.name} ${f.type}\n`;
    for (const s of f.samples) {
      const labels = s.labels === undefined ? '' : Object.entries(s.labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(',');
      out += `${f.name}${s.suffix ?? ''}${labels === '' ? '' : `{${labels}}`} ${formatValue(s.value)}\n`;
    }
  }
  return out;
}

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

/** Every metric: the server's, then each family's (a family whose hook throws is logged and skipped). */
export function collectMetrics(server: Services): MetricFamily[] {
  const all = serverMetrics(server);
  for (const f of server.families) {
    if (f.metrics === undefined) continue;
    try {
      all.push(...f.metrics());
    } catch (err) {
      log.warning(`metrics of family ${f.name} failed, left out of this scrape: ${(err as Error).message}`);
    }
  }
  return all;
}

/** The HTTP listener of `metrics-port`. */
export class MetricsEndpoint {
  private readonly http: http.Server;

  constructor(server: Services, host: string, port: number) {
    this.http = http.createServer((req, res) => {
      const path = (req.url ?? '').split('?')[0];
      if (path !== '/metrics') {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('Not found: Sluice serves its metrics at /metrics\n');
        return;
      }
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('Use GET /metrics\n');
        return;
      }
      const body = renderMetrics(collectMetrics(server));
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }).end(req.method === 'HEAD' ? undefined : body);
    });
    this.http.on('error', (err: NodeJS.ErrnoException) => {
      const why = err.code === 'EADDRINUSE' ? `port ${port} is in use: choose another --metrics-port` : err.message;
      log.warning(`cannot serve metrics on ${host}:${port}: ${why}; the daemon runs on without a metrics endpoint`);
    });
    this.http.listen({ host, port }, () => log.notice(`metrics at http://${host.includes(':') ? `[${host}]` : host}:${port}/metrics`));
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.http.close(() => resolve());
      this.http.closeAllConnections();
    });
  }
}
