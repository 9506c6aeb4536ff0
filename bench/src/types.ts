/** Shapes shared by the scenarios, the runner and the report. */

export interface Options {
  quick: boolean;
  only: string[] | null;
  out: string;
  log: (msg: string) => void;
}

export interface RbRow {
  scenario: string;
  title: string;
  server: 'sluice' | 'redis';
  pipeline: 1 | 16;
  rps: number;
  p50: number;
  p99: number;
  runs: number[];
  command: string;
}

export interface LoadgenRow {
  scenario: string;
  title: string;
  server: 'sluice' | 'redis';
  rate: number;
  vus: number;
  durationS: number;
  iterations: number;
  dropped: number;
  errors: number;
  iterPerS: number;
  latency: Record<string, { count: number; p50_ms: number; p90_ms: number; p99_ms: number; max_ms: number; mean_ms: number }>;
  p99Threshold: number;
  thresholdPassed: boolean;
  checks: { name: string; passed: boolean; detail: string }[];
  counters: Record<string, number>;
  keys: { key: string; admitted: number; refused: number; allowed_max: number }[];
  /** gateway-route: per deployment, what the loadgen saw and ROUTE.LIST said after the run. */
  routes?: RouteCheckRow[];
  command: string;
}

export interface RouteCheckRow {
  id: string;
  rpm: number;
  tpm: number;
  max_parallel_requests: number;
  picks: number;
  max_holding: number;
  max_picks_in_a_minute: number;
  max_tokens_in_a_minute: number;
  picks_near_minute_edge: number;
  by_status: Record<string, number>;
  list_in_flight: number;
  list_rpm_used: number;
  list_tpm_used: number;
}

export interface TokRow {
  impl: string;
  chunk: string;
  mbps: number;
  tokens: number;
  bytes: number;
  ms: number;
  command: string;
}

export interface PathoRow {
  impl: string;
  chars: number;
  ms: number | null;
  tokens: number | null;
  note?: string;
}

export interface MemRow {
  server: 'sluice' | 'redis';
  what: string;
  keys: number;
  bytesBefore: number;
  bytesAfter: number;
  perKey: number;
  metric: string;
  command: string;
}

export interface DurRow {
  server: 'sluice' | 'redis';
  what: string;
  keys: number;
  /** Snapshot file size. */
  bytes: number;
  /** From SAVE / BGSAVE until the file is complete (ms). */
  saveMs: number;
  /** Loading it at the next start (ms); null where not measured. */
  loadMs: number | null;
  /** The longest stall of the server's main thread while saving (ms): Sluice's event loop, Redis's fork. */
  loopPauseMs: number | null;
  /** The longest PING round trip of a client pinging throughout the save (ms). */
  maxPingMs: number;
  /** The same over 1 s just before, with no save running: what the machine's noise alone gives. */
  maxPingIdleMs: number;
  command: string;
}

export interface SoakResult {
  durationS: number;
  rate: number;
  samples: { t: number; rss: number }[];
  startRss: number;
  endRss: number;
  maxRss: number;
  secondHalfGrowthPct: number;
  command: string;
}

export interface Outcome {
  id: string;
  title: string;
  status: 'ok' | 'failed' | 'skipped';
  reason?: string;
  seconds: number;
}

export class ScenarioFailure extends Error {}

/** One setup of the cluster scenario (cluster.ts): the same RL.HIT load through the client. */
export interface ClusterRow {
  setup: string;
  nodes: number;
  requests: number;
  concurrency: number;
  runs: number;
  /** Median over the runs. */
  seconds: number;
  rps: number;
  usPerRequest: number;
  /** Every key admitted exactly its limit. */
  exact: boolean;
  detail: string;
  command: string;
}
