/** Writes bench/RESULTS.md and the SVG chart from one run's results. */
import type { ClusterRow, DurRow, LoadgenRow, MemRow, Outcome, PathoRow, RbRow, SoakResult, TokRow } from './types';
import type { Corpus } from './corpus';
import { type ClientResult, clientHeadline, clientMarkdown } from './client';
import { routingHeadlines, routingMarkdown, type RoutingResults, routingSvgGroups } from './routing';

export interface Machine {
  date: string;
  nproc: number;
  cpu: string;
  memGiB: number;
  kernel: string;
  node: string;
  redis: string;
  redisBenchmark: string;
  go: string;
  sluice: string;
  git: string;
  /** 1-minute load average when the run started and ended (other work on the machine shows here). */
  load?: string;
}

export interface Results {
  mode: 'full' | 'quick';
  machine: Machine;
  outcomes: Outcome[];
  rb: RbRow[];
  loadgen: LoadgenRow[];
  tokens: TokRow[];
  corpus?: Corpus;
  patho: PathoRow[];
  memory: MemRow[];
  /** Absent in results saved before the durability scenario existed. */
  durability?: DurRow[];
  soak?: SoakResult;
  text400?: string;
  routing?: RoutingResults;
  client?: ClientResult;
  /** Absent in results saved before the cluster scenario existed. */
  cluster?: ClusterRow[];
  totalSeconds: number;
}

/** Text safe inside a Markdown table cell. */
const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const ratio = (a: number | undefined, b: number | undefined) => (a !== undefined && b !== undefined && b > 0 ? `${(a / b).toFixed(2)}x` : 'n/a');

function rb(results: Results, scenario: string, server: string, pipeline: number): RbRow | undefined {
  return results.rb.find((r) => r.scenario === scenario && r.server === server && r.pipeline === pipeline);
}

export interface Headline {
  what: string;
  p1: string;
  p16: string;
  target: string;
}

export function headlines(results: Results): Headline[] {
  const h: Headline[] = [];
  const add = (what: string, a: [string, string], b: [string, string], target: string) => {
    const r1 = ratio(rb(results, a[0], a[1], 1)?.rps, rb(results, b[0], b[1], 1)?.rps);
    const r16 = ratio(rb(results, a[0], a[1], 16)?.rps, rb(results, b[0], b[1], 16)?.rps);
    h.push({ what, p1: r1, p16: r16, target });
  };
  add('Sluice PING / Redis PING', ['ping', 'sluice'], ['ping', 'redis'], '>= 0.9x unpipelined, >= 0.8x -P 16 (issue 2)');
  add('Sluice RL.HIT / Redis INCR', ['rlhit', 'sluice'], ['incr', 'redis'], '>= 0.9x unpipelined, >= 0.6x -P 16 (issue 3)');
  add('Sluice CL.THROTTLE / Redis INCR', ['throttle', 'sluice'], ['incr', 'redis'], '>= 0.9x unpipelined, >= 0.6x -P 16 (issue 3)');
  add('Sluice RL.HIT / Redis Lua token bucket', ['rlhit', 'sluice'], ['lua', 'redis'], '>= 4x -P 16 (issue 3)');
  add('Sluice CL.THROTTLE / Redis Lua token bucket', ['throttle', 'sluice'], ['lua', 'redis'], '>= 4x -P 16 (issue 3)');
  return h;
}

function machineLines(m: Machine): string[] {
  return [
    `- Date: ${m.date}`,
    `- CPU: ${m.cpu}, \`nproc\` = ${m.nproc}; memory ${m.memGiB.toFixed(1)} GiB; Linux ${m.kernel}`,
    `- Node ${m.node}; ${m.redis}; ${m.redisBenchmark}; ${m.go}`,
    `- Sluice ${m.sluice}, commit ${m.git}`,
    ...(m.load ? [`- 1-minute load average at start / end of the run: ${m.load}`] : []),
    `- Server and load generators share the same cores: compare the ratios taken in this run; absolute numbers are context.`,
  ];
}

export function renderMarkdown(results: Results): string {
  const L: string[] = [];
  const m = results.machine;
  L.push('# Sluice benchmark results', '');
  L.push(`Written by \`npm run bench${results.mode === 'quick' ? ' -- --quick' : ''}\` (${results.mode} run, ${fmt(results.totalSeconds)} s). Every figure below was measured in this one run; the command next to it reproduces it.`);
  if (results.mode === 'quick') L.push('', '**Quick run**: small request counts and short durations, meant to prove that every scenario runs. Do not quote these figures; run `npm run bench` for real ones.');
  L.push('', '## Machine', '', ...machineLines(m), '');

  const failed = results.outcomes.filter((o) => o.status !== 'ok');
  L.push('## Scenarios', '', '| scenario | status | seconds | note |', '| --- | --- | --- | --- |');
  for (const o of results.outcomes) L.push(`| ${o.title} | ${o.status === 'ok' ? 'ok' : `**${o.status.toUpperCase()}**`} | ${fmt(o.seconds, 1)} | ${(o.reason ?? '').replace(/\|/g, '\\|').replace(/\n/g, ' ').slice(0, 300)} |`);
  L.push('');
  if (failed.length) L.push(`**${failed.length} scenario(s) did not produce figures** (see the table above); the run exits non-zero.`, '');

  L.push('## Headline: ratios from this run', '', '| ratio (requests/s) | unpipelined | -P 16 | target |', '| --- | --- | --- | --- |');
  for (const h of headlines(results)) L.push(`| ${h.what} | ${h.p1} | ${h.p16} | ${h.target} |`);
  const tokHead = tokenRatios(results);
  for (const t of tokHead) L.push(`| ${t.what} | ${t.value} | | ${t.target} |`);
  for (const t of [...routingHeadlines(results), ...clientHeadline(results.client)]) L.push(`| ${t.what} | ${t.value} | | ${t.target} |`);
  L.push('', 'Chart: [results.svg](results.svg)', '', '![benchmark chart](results.svg)', '');

  if (results.rb.length) {
    L.push('## redis-benchmark (-c 50, 100k random keys)', '');
    L.push('Start the servers as the suite does (it picks free ports; the commands below use the default ports):', '', '```sh');
    L.push('npm start                                                            # Sluice on 127.0.0.1:6380');
    L.push("redis-server --port 6379 --bind 127.0.0.1 --save '' --appendonly no  # Redis");
    if (results.rb.some((r) => r.scenario === 'lua')) L.push(`SHA=$(redis-cli -p 6379 SCRIPT LOAD "$(cat bench/lua/token-bucket.lua)")`);
    if (results.text400) L.push(`TEXT400=${JSON.stringify(results.text400).replace(/\$/g, '\\$').replace(/`/g, '\\`')}`);
    L.push('```', '');
    L.push(`Median of ${results.mode === 'quick' ? 1 : 3} runs (servers alternate order).`, '');
    L.push('| command | server | pipeline | requests/s | p50 ms | p99 ms | all runs | command |', '| --- | --- | --- | --- | --- | --- | --- | --- |');
    for (const r of results.rb) {
      L.push(`| ${r.title} | ${r.server} | ${r.pipeline === 1 ? 'none' : '-P 16'} | ${fmt(r.rps)} | ${isNaN(r.p50) ? '-' : r.p50} | ${isNaN(r.p99) ? '-' : r.p99} | ${r.runs.map((x) => fmt(x)).join(' / ')} | \`${cell(r.command.replace(/[0-9a-f]{40}/g, '$SHA'))}\` |`);
    }
    L.push('');
  }

  if (results.loadgen.length) {
    L.push('## Open-model load (constant arrival rate, virtual users)', '');
    L.push(
      'Driven by `bench/.cache/sluice-loadgen` (bench/loadgen, Go standard library only), which plays the part the issue gave to k6 + xk6-redis: ' +
        'iterations start at a fixed rate, each is served by an idle virtual user (one connection each) or counted as dropped; p99 thresholds; checks after the run. ' +
        'k6 itself is not used: it is AGPL-licensed and this machine\'s package notes list it as not to be used.',
      '',
    );
    L.push('| scenario | server | rate/s | VUs | s | iterations | dropped | p50 ms | p99 ms | p99 threshold | checks | command |', '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
    for (const r of results.loadgen) {
      const it = r.latency.iteration;
      const checks = r.checks.map((c) => `${c.passed ? 'ok' : 'FAILED'}: ${c.detail}`).join('; ') || '-';
      L.push(`| ${r.title} | ${r.server} | ${fmt(r.rate)} | ${r.vus} | ${fmt(r.durationS, 1)} | ${fmt(r.iterations)} | ${fmt(r.dropped)} | ${it?.p50_ms ?? '-'} | ${it?.p99_ms ?? '-'} | ${r.p99Threshold} ms: ${r.thresholdPassed ? 'pass' : '**FAIL**'} | ${cell(checks)} | \`${cell(r.command)}\` |`);
    }
    L.push('');
    const perCmd = results.loadgen.filter((r) => Object.keys(r.latency).length > 2);
    for (const r of perCmd) {
      L.push(`Per command in "${r.title}": ` + Object.entries(r.latency).filter(([k]) => k !== 'iteration').map(([k, v]) => `${k} p50 ${v.p50_ms} ms / p99 ${v.p99_ms} ms (${fmt(v.count)})`).join('; ') + (Object.keys(r.counters).length ? `; counters: ${Object.entries(r.counters).map(([k, v]) => `${k} ${fmt(v)}`).join(', ')}` : ''), '');
    }
    const shared = results.loadgen.filter((r) => r.scenario.startsWith('shared'));
    if (shared.length) {
      L.push('Admissions per shared key (must never exceed what the limit allows over the elapsed time):', '');
      L.push('| scenario | server | key | admitted | refused | allowed at most |', '| --- | --- | --- | --- | --- | --- |');
      for (const r of shared) for (const k of r.keys) L.push(`| ${r.title} | ${r.server} | ${k.key.replace(/^bench\d+:/, '')} | ${fmt(k.admitted)} | ${fmt(k.refused)} | ${fmt(k.allowed_max)} |`);
      L.push('');
    }
  }

  L.push(...routingMarkdown(results));
  L.push(...clientMarkdown(results.client));

  if (results.soak) {
    const s = results.soak;
    L.push('## Soak: Sluice RSS over time', '');
    L.push(`${s.durationS} s at ${fmt(s.rate)} iterations/s (RL.HIT over 200k keys that expire after use, plus TOK.COUNT every 10th iteration). RSS sampled from /proc every ${results.mode === 'quick' ? 0.5 : 1} s: start ${fmt(s.startRss / 1e6, 1)} MB, max ${fmt(s.maxRss / 1e6, 1)} MB, end ${fmt(s.endRss / 1e6, 1)} MB; growth over the second half ${s.secondHalfGrowthPct.toFixed(1)} %. Command: \`${s.command}\` (RSS sampled by the suite).`, '');
  }

  if (results.tokens.length) {
    const c = results.corpus;
    L.push('## Token counting throughput (o200k_base / gpt-4o)', '');
    if (c) {
      L.push(`Corpus: ${fmt(c.bytes / 1e6, 2)} MB of text shipped on this machine, paragraphs shuffled with a fixed seed:`, '');
      for (const p of c.parts) L.push(`- ${p.kind}: ${fmt(p.bytes / 1e3)} KB from ${p.files} files (${p.detail})`);
      L.push('');
    }
    L.push('Each pass over the corpus starts at a different offset, so no chunk repeats (a cache of whole-text counts does not help). Libraries run in-process in a worker thread; Sluice is reached over one pipelined RESP connection. The token totals of all four agree (checked).', '');
    L.push('| implementation | chunk | MB/s | vs gpt-tokenizer | chunks x passes bytes | tokens | command |', '| --- | --- | --- | --- | --- | --- | --- |');
    for (const r of results.tokens) {
      const g = results.tokens.find((x) => x.chunk === r.chunk && x.impl.startsWith('gpt-tokenizer'));
      L.push(`| ${r.impl} | ${r.chunk} | ${fmt(r.mbps, 2)} | ${ratio(r.mbps, g?.mbps)} | ${fmt(r.bytes)} | ${fmt(r.tokens)} | \`${cell(r.command)}\` |`);
    }
    L.push('');
  }
  if (results.patho.length) {
    L.push('## Pathological input: one character repeated', '');
    const sizes = [...new Set(results.patho.map((p) => p.chars))].sort((a, b) => a - b);
    L.push(`| implementation | ${sizes.map((s) => `${fmt(s)} chars`).join(' | ')} | time ratio (x${sizes.length > 1 ? sizes[1] / sizes[0] : '-'} input) |`, `| --- | ${sizes.map(() => '---').join(' | ')} | --- |`);
    for (const impl of [...new Set(results.patho.map((p) => p.impl))]) {
      const cells = sizes.map((s) => {
        const p = results.patho.find((x) => x.impl === impl && x.chars === s);
        return p?.ms == null ? (p?.note ?? '-') : `${fmt(p.ms, 1)} ms (${fmt(p.tokens ?? 0)} tokens)`;
      });
      const a = results.patho.find((x) => x.impl === impl && x.chars === sizes[0])?.ms;
      const b = results.patho.find((x) => x.impl === impl && x.chars === sizes[sizes.length - 1])?.ms;
      L.push(`| ${impl} | ${cells.join(' | ')} | ${a && b ? `${(b / a).toFixed(1)}x` : '-'} |`);
    }
    L.push('', 'Linear growth shows as a time ratio near the input ratio. Command: `npm run bench -- --only tokens`.', '');
  }

  if (results.memory.length) {
    L.push('## Memory per key (16-byte key names)', '');
    L.push('| server | state | keys | metric | before | after | bytes per key | command |', '| --- | --- | --- | --- | --- | --- | --- | --- |');
    for (const r of results.memory) L.push(`| ${r.server} | ${r.what} | ${fmt(r.keys)} | ${r.metric} | ${fmt(r.bytesBefore / 1e6, 1)} MB | ${fmt(r.bytesAfter / 1e6, 1)} MB | **${fmt(r.perKey, 1)}** | \`${cell(r.command)}\` |`);
    L.push('', 'Target (issue 3): <= 64 bytes per key for Sluice, measured as RSS growth / keys.', '');
  }

  if (results.durability?.length) {
    L.push('## Snapshots (16-byte key names)', '');
    L.push('| server | state, how | keys | file | save | load at start | longest main-thread stall while saving | longest PING while saving | longest PING, 1 s without a save | command |', '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
    for (const r of results.durability) {
      const load = r.loadMs === null ? '-' : `${fmt(r.loadMs)} ms`;
      const stall = r.loopPauseMs === null ? '-' : `${fmt(r.loopPauseMs, 1)} ms`;
      L.push(`| ${r.server} | ${r.what} | ${fmt(r.keys)} | ${fmt(r.bytes / 1e6, 1)} MB | ${fmt(r.saveMs)} ms | ${load} | **${stall}** | ${fmt(r.maxPingMs, 1)} ms | ${fmt(r.maxPingIdleMs, 1)} ms | \`${cell(r.command)}\` |`);
    }
    L.push('', "Sluice's stall is the longest event-loop delay monitorEventLoopDelay saw during the save (1 ms sampling); Redis's is its fork (INFO latest_fork_usec). See docs/durability.md.", '');
  }

  if (results.cluster?.length) {
    const base = results.cluster.find((r) => r.setup.startsWith('single node, fast path off'));
    const fast = results.cluster.find((r) => r.setup.startsWith('single node, fast path on'));
    L.push('## Cluster: the same load through the client on one node and on a cluster', '');
    L.push('| setup | nodes | RL.HIT per s | us per request | vs single node, fast path off | vs single node, fast path on | limits exact | command |', '| --- | --- | --- | --- | --- | --- | --- | --- |');
    const diff = (r: ClusterRow, b: ClusterRow | undefined) => (b === undefined || r === b ? '-' : `${r.usPerRequest >= b.usPerRequest ? '+' : ''}${fmt(r.usPerRequest - b.usPerRequest, 1)} us`);
    for (const r of results.cluster) {
      L.push(`| ${r.setup} | ${r.nodes} | ${fmt(r.rps)} | **${fmt(r.usPerRequest, 1)}** | ${diff(r, base)} | ${diff(r, fast)} | ${r.exact ? 'yes' : 'NO'}: ${cell(r.detail)} | \`${cell(r.command)}\` |`);
    }
    const r0 = results.cluster[0];
    L.push('', `${fmt(r0.requests)} RL.HIT (fixed window) over 1,000 keys through SluiceClient (ioredis; an ioredis Cluster for the cluster rows), ${r0.concurrency} in flight, median of ${r0.runs} run(s), all nodes on this machine. Time per request is wall time / requests with ${r0.concurrency} in flight, so it includes the client's own cost; the difference between rows is the cluster path's cost per request. In cluster mode the native fast path is off (it would bypass the slot check). See docs/cluster.md.`, '');
  }

  L.push('## Reproduce', '', '```sh', 'npm install', 'npm run bench              # full run (about 15 minutes on 2 cores); rewrites this file and results.svg', 'npm run bench -- --quick   # about 6 minutes (the first run also creates the LiteLLM venv); checks that every scenario runs', 'npm run bench -- --only ping,memory   # some scenarios: ' + results.outcomes.map((o) => o.id).join(', '), '```', '');
  return L.join('\n');
}

function tokenRatios(results: Results): { what: string; value: string; target: string }[] {
  const out: { what: string; value: string; target: string }[] = [];
  for (const chunk of ['400 B', '4 KB', '64 KB']) {
    const s = results.tokens.find((r) => r.chunk === chunk && r.impl.startsWith('Sluice'));
    const g = results.tokens.find((r) => r.chunk === chunk && r.impl.startsWith('gpt-tokenizer'));
    if (s && g) out.push({ what: `Sluice TOK.COUNT / gpt-tokenizer, ${chunk} chunks (MB/s)`, value: ratio(s.mbps, g.mbps), target: chunk === '400 B' ? '>= 1x (issue 4)' : '>= 2x (issue 4)' });
  }
  const sm = results.memory.find((r) => r.server === 'sluice');
  const rm = results.memory.find((r) => r.server === 'redis' && r.metric.startsWith('INFO'));
  if (sm && rm) out.push({ what: `Bytes per key: Sluice (RSS) / Redis Lua bucket (used_memory)`, value: `${fmt(sm.perKey, 1)} / ${fmt(rm.perKey, 1)} = ${(sm.perKey / rm.perKey).toFixed(2)}x`, target: 'Sluice <= 64 bytes (issue 3)' });
  return out;
}

// ---- SVG ----------------------------------------------------------------------------------

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export interface Bar {
  label: string;
  value: number;
  color: string;
  text: string;
}

export function barPanel(x0: number, y0: number, width: number, title: string, groups: { name: string; bars: Bar[] }[], scalePerGroup = false): { svg: string; height: number } {
  const labelW = 250;
  const barH = 14;
  const parts: string[] = [`<text x="${x0}" y="${y0 + 16}" font-size="15" font-weight="bold">${esc(title)}</text>`];
  let y = y0 + 30;
  const max = Math.max(1e-9, ...groups.flatMap((g) => g.bars.map((b) => b.value)));
  for (const g of groups) {
    const scale = (width - labelW - 120) / (scalePerGroup ? Math.max(1e-9, ...g.bars.map((b) => b.value)) : max);
    parts.push(`<text x="${x0}" y="${y + 12}" font-size="12" font-weight="bold">${esc(g.name)}</text>`);
    y += 16;
    for (const b of g.bars) {
      const w = Math.max(1, b.value * scale);
      parts.push(`<text x="${x0 + labelW - 6}" y="${y + 11}" font-size="11" text-anchor="end">${esc(b.label)}</text>`);
      parts.push(`<rect x="${x0 + labelW}" y="${y}" width="${w.toFixed(1)}" height="${barH}" fill="${b.color}"/>`);
      parts.push(`<text x="${x0 + labelW + w + 4}" y="${y + 11}" font-size="11">${esc(b.text)}</text>`);
      y += barH + 3;
    }
    y += 6;
  }
  return { svg: parts.join('\n'), height: y - y0 };
}

function linePanel(x0: number, y0: number, width: number, title: string, pts: { t: number; rss: number }[]): { svg: string; height: number } {
  const h = 160;
  const left = 60;
  const parts: string[] = [`<text x="${x0}" y="${y0 + 16}" font-size="15" font-weight="bold">${esc(title)}</text>`];
  const top = y0 + 30;
  const maxT = Math.max(1, ...pts.map((p) => p.t));
  const maxR = Math.max(1, ...pts.map((p) => p.rss)) * 1.1;
  const X = (t: number) => x0 + left + (t / maxT) * (width - left - 20);
  const Y = (r: number) => top + h - (r / maxR) * h;
  parts.push(`<line x1="${x0 + left}" y1="${top + h}" x2="${x0 + width - 20}" y2="${top + h}" stroke="#888"/>`);
  parts.push(`<line x1="${x0 + left}" y1="${top}" x2="${x0 + left}" y2="${top + h}" stroke="#888"/>`);
  for (const f of [0, 0.5, 1]) {
    const r = maxR * f;
    parts.push(`<text x="${x0 + left - 4}" y="${Y(r) + 4}" font-size="10" text-anchor="end">${(r / 1e6).toFixed(0)} MB</text>`);
  }
  parts.push(`<text x="${x0 + width - 20}" y="${top + h + 14}" font-size="10" text-anchor="end">${maxT.toFixed(0)} s</text>`);
  parts.push(`<polyline fill="none" stroke="#1f77b4" stroke-width="2" points="${pts.map((p) => `${X(p.t).toFixed(1)},${Y(p.rss).toFixed(1)}`).join(' ')}"/>`);
  return { svg: parts.join('\n'), height: h + 50 };
}

export function renderSvg(results: Results): string {
  const W = 900;
  const colors = { sluice: '#1f77b4', redis: '#d62728', lib: '#7f7f7f' };
  const panels: { svg: string; height: number }[] = [];
  let y = 10;
  const groups: { name: string; bars: Bar[] }[] = [];
  for (const p of [1, 16]) {
    const bars = results.rb
      .filter((r) => r.pipeline === p)
      .map((r) => ({ label: `${r.server === 'sluice' ? 'Sluice' : 'Redis'} ${r.title.replace(/ \(.*\)$/, '')}`, value: r.rps, color: colors[r.server], text: `${fmt(r.rps / 1000, 0)}k/s` }));
    if (bars.length) groups.push({ name: p === 1 ? 'unpipelined (own scale)' : '-P 16 (own scale)', bars });
  }
  if (groups.length) {
    const pnl = barPanel(10, y, W - 20, `redis-benchmark -c 50, requests/s (${results.mode} run, ${results.machine.date.slice(0, 10)}, ${results.machine.nproc} cores)`, groups, true);
    panels.push(pnl);
    y += pnl.height + 10;
  }
  const tg: { name: string; bars: Bar[] }[] = [];
  for (const chunk of ['400 B', '4 KB', '64 KB']) {
    const bars = results.tokens.filter((r) => r.chunk === chunk).map((r) => ({ label: r.impl.replace(/ \(.*\)$/, ''), value: r.mbps, color: r.impl.startsWith('Sluice') ? colors.sluice : colors.lib, text: `${fmt(r.mbps, 1)} MB/s` }));
    if (bars.length) tg.push({ name: `${chunk} chunks`, bars });
  }
  if (tg.length) {
    const pnl = barPanel(10, y, W - 20, 'Token counting, o200k, MB/s (higher is better)', tg);
    panels.push(pnl);
    y += pnl.height + 10;
  }
  if (results.memory.length) {
    const bars = results.memory.map((r) => ({ label: `${r.server === 'sluice' ? 'Sluice' : 'Redis'} ${r.metric.startsWith('INFO') ? 'used_memory' : 'RSS'}`, value: Math.max(0, r.perKey), color: colors[r.server], text: `${fmt(r.perKey, 1)} B/key` }));
    const pnl = barPanel(10, y, W - 20, `Memory per rate-limit key (${fmt(results.memory[0].keys)} keys, lower is better)`, [{ name: '', bars }]);
    panels.push(pnl);
    y += pnl.height + 10;
  }
  const routingBars = routingSvgGroups(results);
  if (routingBars.length) {
    const pnl = barPanel(10, y, W - 20, 'Deployment pick: LiteLLM async pick time / Sluice core PICK+DONE time (x, same size and strategy)', routingBars, true);
    panels.push(pnl);
    y += pnl.height + 10;
  }
  if (results.soak) {
    const pnl = linePanel(10, y, W - 20, `Sluice RSS during the ${results.soak.durationS} s soak`, results.soak.samples);
    panels.push(pnl);
    y += pnl.height + 10;
  }
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${y + 10}" viewBox="0 0 ${W} ${y + 10}" font-family="DejaVu Sans, Arial, sans-serif">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    ...panels.map((p) => p.svg),
    '</svg>',
    '',
  ].join('\n');
}
