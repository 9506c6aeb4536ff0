/** The leases family (SEM.*): concurrency slots with a TTL, one native call each. */
import type { Family, Handler, MetricFamily } from '../context';
import { ArgReader } from '../args';
import { MAX_PER_MS } from './limits';
import native from '../native';

const DEFAULT_TTL_MS = 60_000;
const out = new Float64Array(3);
const reader = new ArgReader();

const handlers: Record<string, Handler> = {
  'sem.acquire': (ctx, args, w) => {
    const r = reader.over(args, 2);
    const limit = r.positive('limit');
    let ttl = DEFAULT_TTL_MS;
    if (r.word('ttl')) ttl = r.positive('TTL', MAX_PER_MS);
    r.finish();
    native.semAcquire(args[1], limit, ttl, ctx.server.now, out);
    w.integers(out, 3);
  },
  'sem.release': (ctx, args, w) => {
    const lease = reader.over(args, 2).positive('lease');
    w.integer(native.semRelease(args[1], lease, ctx.server.now) ? 1 : 0);
  },
  'sem.extend': (ctx, args, w) => {
    const r = reader.over(args, 2);
    const lease = r.positive('lease');
    const ttl = r.positive('ttl', MAX_PER_MS);
    w.integer(native.semExtend(args[1], lease, ttl, ctx.server.now) ? 1 : 0);
  },
  'sem.count': (ctx, args, w) => w.integer(native.semCount(args[1], ctx.server.now)),
};

const statsOut = new Float64Array(2);

/** Leases held now (walks every key: at scrape time only). */
function leasesMetrics(): MetricFamily[] {
  native.leaseStats(native.clockMs(), statsOut);
  return [
    { name: 'sluice_leases_held', help: 'Live SEM.* leases across every key.', type: 'gauge', samples: [{ value: statsOut[1] }] },
    { name: 'sluice_lease_keys', help: 'Keys holding at least one live lease.', type: 'gauge', samples: [{ value: statsOut[0] }] },
  ];
}

export const leasesFamily: Family = { name: 'leases', handlers, metrics: leasesMetrics };
