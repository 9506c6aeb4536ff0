/**
 * Durability against real daemon processes (docs/durability.md): restarts keep limits, a crash
 * loses at most save-interval of changes, a kill during a save leaves a whole file, bad files
 * stop the start (or are moved aside on purpose), and a failing disk never stops the service.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Redis from 'ioredis';
import { RawClient, resp, startDaemon as startTestDaemon, type Daemon } from './testing';

const CLI = path.join(__dirname, 'cli.js');

/** Every daemon started here, so a failed assertion never leaves one running. */
const started: Daemon[] = [];
async function startDaemon(...args: Parameters<typeof startTestDaemon>): Promise<Daemon> {
  const d = await startTestDaemon(...args);
  started.push(d);
  return d;
}
after(() => {
  for (const d of started) if (d.process.exitCode === null && d.process.signalCode === null) d.process.kill('SIGKILL');
});
const FILE = 'dump.sluice';

function freshDir(): string {
  return mkdtempSync(path.join(tmpdir(), 'sluice-persist-'));
}

async function connect(d: Daemon): Promise<Redis> {
  // No reconnecting: these daemons are killed on purpose.
  const r = new Redis({ port: d.port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  r.on('error', () => {});
  await r.connect();
  return r;
}

/** INFO persistence as a map of field to value. */
async function persistenceInfo(r: Redis): Promise<Record<string, string>> {
  const text = (await r.info('persistence')) as string;
  return Object.fromEntries(text.split('\r\n').filter((l) => l.includes(':')).map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1)]));
}

function kill9(d: Daemon): Promise<number | null> {
  d.process.kill('SIGKILL');
  return d.exited;
}

/** Runs the CLI to completion (a start that must fail). */
function runCli(args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, '--port', '0', ...args], { timeout: 15_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: stdout + stderr }),
    );
  });
}

/** Fills `count` GCRA keys, each refused for 10 minutes, pipelined over one raw socket. */
async function fill(port: number, count: number): Promise<void> {
  const c = await RawClient.connect(port);
  const batch = 2000;
  for (let from = 0; from < count; from += batch) {
    const parts: Buffer[] = [];
    for (let i = from; i < Math.min(count, from + batch); i++) parts.push(resp('RL.HIT', `user:${i}`, 'LIMIT', '1', 'PER', '600000'));
    const before = c.received.length;
    c.write(Buffer.concat(parts));
    const n = Math.min(count, from + batch) - from;
    await c.until((t) => countReplies(t.slice(before)) >= n, 30_000);
  }
  c.close();
}

/** RL.HIT replies are `*5` arrays: count their headers. */
function countReplies(text: string): number {
  let n = 0;
  for (let i = text.indexOf('*5\r\n'); i !== -1; i = text.indexOf('*5\r\n', i + 4)) n++;
  return n;
}

test('a graceful restart keeps limits, leases and policies; a refused key is refused for what is left', async () => {
  // The fixed window of 'w' below is aligned to the epoch's minutes: a run that crossed a minute
  // ended it during the restart (the daemon rightly loaded 2 keys, and the window started over).
  // Start with at least 10 s of the minute left.
  const leftInMinute = 60_000 - (Date.now() % 60_000);
  if (leftInMinute < 10_000) await new Promise((res) => setTimeout(res, leftInMinute + 100));
  const dir = freshDir();
  let d = await startDaemon(['--dir', dir]);
  let r = await connect(d);
  assert.deepEqual(await r.call('RL.HIT', 'user:1', 'LIMIT', '1', 'PER', '60000'), [1, 1, 0, -1, 60000]);
  const refused = (await r.call('RL.HIT', 'user:1', 'LIMIT', '1', 'PER', '60000')) as number[];
  assert.equal(refused[0], 0);
  const lease = (await r.call('SEM.ACQUIRE', 'openai', '1', 'TTL', '600000')) as number[];
  assert.equal(await r.call('RL.POLICY', 'SET', 'rpm', 'LIMIT', '2', 'PER', '60000', 'ALGO', 'fixed'), 'OK');
  await r.call('RL.HIT', 'w', 'POLICY', 'rpm');
  const policy = await r.call('RL.POLICY', 'GET', 'rpm');
  const savedAt = Date.now();
  r.disconnect();
  assert.equal(await d.stop(), 0);
  assert.match(d.output(), /snapshot saved \(shutdown\): 3 keys/);
  await new Promise((res) => setTimeout(res, 1200));

  d = await startDaemon(['--dir', dir]);
  r = await connect(d);
  assert.match(d.output(), /loaded 3 keys from snapshot/);
  const after = (await r.call('RL.HIT', 'user:1', 'LIMIT', '1', 'PER', '60000')) as number[];
  const elapsed = Date.now() - savedAt;
  assert.equal(after[0], 0, 'still refused after the restart');
  // Refused for what was left, not a fresh 60 s: at most the old retry minus the time down.
  assert.ok(after[3] <= refused[3] - elapsed + 50 && after[3] >= refused[3] - elapsed - 2000, `retry ${after[3]} ms, was ${refused[3]} ms, ${elapsed} ms ago`);
  assert.deepEqual(await r.call('SEM.ACQUIRE', 'openai', '1'), [0, -1, 1], 'the lease is still held');
  assert.equal(await r.call('SEM.RELEASE', 'openai', String(lease[1])), 1, 'by its old id');
  const next = (await r.call('SEM.ACQUIRE', 'openai', '1')) as number[];
  assert.ok(next[1] > lease[1], `a new id ${next[1]} never repeats ${lease[1]}`);
  assert.deepEqual(await r.call('RL.POLICY', 'GET', 'rpm'), policy);
  assert.deepEqual((policy as unknown[]).slice(0, 4), ['limit', 2, 'per', 60000]);
  assert.deepEqual(((await r.call('RL.HIT', 'w', 'POLICY', 'rpm')) as number[]).slice(0, 3), [1, 2, 0], 'the fixed window continues');
  r.disconnect();
  await d.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** A reply map (RESP2 flat array) as an object. */
function record(reply: unknown): Record<string, unknown> {
  const flat = reply as unknown[];
  const out: Record<string, unknown> = {};
  for (let i = 0; i < flat.length; i += 2) out[String(flat[i])] = flat[i + 1];
  return out;
}

async function routeList(r: Redis, group: string): Promise<Record<string, Record<string, unknown>>> {
  const views = ((await r.call('ROUTE.LIST', group)) as unknown[]).map(record);
  return Object.fromEntries(views.map((v) => [String(v.id), v]));
}

test('a restart keeps routing: deployments, usage this minute, open leases, a cooldown for what is left of it', async () => {
  // rpm is counted per wall-clock minute: keep the restart inside one (it takes a few seconds).
  const into = Date.now() % 60_000;
  if (into > 45_000) await new Promise((res) => setTimeout(res, 60_000 - into + 100));
  const dir = freshDir();
  let d = await startDaemon(['--dir', dir]);
  let r = await connect(d);
  const deployment = (id: string) => JSON.stringify({ litellm_params: { model: `openai/${id}`, rpm: 10 }, model_info: { id } });
  assert.deepEqual(await r.call('ROUTE.SET', 'gpt', deployment('a'), deployment('b')), ['a', 'b']);
  const leases: unknown[] = [];
  for (let i = 0; i < 3; i++) leases.push(record(await r.call('ROUTE.PICK', 'gpt', 'TOKENS', '100', 'EXCLUDE', 'b')).lease);
  assert.equal(await r.call('ROUTE.DONE', leases[0] as string, 'STATUS', '200', 'LATENCY', '250', 'TOKENS', '40'), 1);
  assert.equal(await r.call('ROUTE.DONE', leases[1] as string, 'STATUS', '200', 'LATENCY', '350', 'TOKENS', '60'), 1);
  assert.equal(await r.call('ROUTE.COOLDOWN', 'gpt', 'b', '60000'), 'OK');
  const before = await routeList(r, 'gpt');
  const savedAt = Date.now();
  r.disconnect();
  assert.equal(await d.stop(), 0);

  d = await startDaemon(['--dir', dir]);
  r = await connect(d);
  assert.match(d.output(), /routing: 1 group\(s\) with their live state and 1 open lease\(s\) restored from the snapshot/);
  assert.deepEqual(await r.call('ROUTE.GROUPS'), ['gpt']);
  const after = await routeList(r, 'gpt');
  const elapsed = Date.now() - savedAt;
  assert.deepEqual([after.a.rpm_used, after.a.tpm_used, after.a.in_flight, after.a.latency_ms], [3, 40 + 60 + 100, 1, 300], "a's usage this minute and its latency samples");
  assert.deepEqual(after.a.rpm, before.a.rpm);
  const left = Number(after.b.cooldown_ms);
  assert.ok(left <= 60_000 - elapsed + 50 && left >= 60_000 - elapsed - 2000, `b cools for ${left} ms more, ${elapsed} ms after 60000 were set`);
  await assert.rejects(r.call('ROUTE.PICK', 'gpt', 'EXCLUDE', 'a'), /NODEPLOYMENT .*1 cooling down/);
  // The lease picked before the restart is done after it: the slot frees, the tokens settle.
  assert.equal(await r.call('ROUTE.DONE', leases[2] as string, 'STATUS', '200', 'TOKENS', '30'), 1);
  assert.equal(await r.call('ROUTE.DONE', leases[2] as string), 0, 'once');
  assert.deepEqual([(await routeList(r, 'gpt')).a.in_flight, (await routeList(r, 'gpt')).a.tpm_used], [0, 40 + 60 + 30]);

  // Routing changes count as changes: the timer saves them, and kill -9 keeps them.
  assert.equal(await r.call('ROUTE.COOLDOWN', 'gpt', 'a', '600000'), 'OK');
  await waitFor(async () => (await persistenceInfo(r)).rdb_changes_since_last_save === '0');
  r.disconnect();
  await kill9(d);
  d = await startDaemon(['--dir', dir]);
  r = await connect(d);
  assert.ok(Number((await routeList(r, 'gpt')).a.cooldown_ms) > 590_000, 'the cooldown set before kill -9 is there');
  r.disconnect();
  await d.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('SHUTDOWN saves, SHUTDOWN NOSAVE does not', async () => {
  const dir = freshDir();
  let d = await startDaemon(['--dir', dir, '--save-interval', '0']);
  let r = await connect(d);
  await r.call('RL.HIT', 'a', 'LIMIT', '1', 'PER', '600000');
  await r.call('SHUTDOWN').catch(() => {});
  r.disconnect();
  assert.equal(await d.exited, 0);
  d = await startDaemon(['--dir', dir, '--save-interval', '0']);
  r = await connect(d);
  assert.equal(await r.dbsize(), 1);
  await r.call('RL.HIT', 'b', 'LIMIT', '1', 'PER', '600000');
  await r.call('SHUTDOWN', 'NOSAVE').catch(() => {});
  r.disconnect();
  assert.equal(await d.exited, 0);
  assert.doesNotMatch(d.output(), /snapshot saved/);
  d = await startDaemon(['--dir', dir]);
  r = await connect(d);
  assert.equal(await r.dbsize(), 1, 'b was never saved');
  r.disconnect();
  await d.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('SAVE, BGSAVE, LASTSAVE, INFO persistence and CONFIG save follow Redis', async () => {
  const dir = freshDir();
  const d = await startDaemon(['--dir', dir, '--save-interval', '0']);
  const r = await connect(d);
  const info0 = await persistenceInfo(r);
  assert.equal(info0.rdb_changes_since_last_save, '0');
  assert.equal(info0.rdb_last_bgsave_status, 'ok');
  assert.equal(info0.rdb_bgsave_in_progress, '0');
  await r.call('RL.HIT', 'a', 'LIMIT', '1', 'PER', '600000');
  await r.call('RL.PEEK', 'a', 'LIMIT', '1', 'PER', '600000');
  await r.call('CL.THROTTLE', 'b', '1', '1', '60');
  assert.equal((await persistenceInfo(r)).rdb_changes_since_last_save, '2', 'write commands count, RL.PEEK does not');
  assert.equal(await r.call('SAVE'), 'OK');
  const info1 = await persistenceInfo(r);
  assert.equal(info1.rdb_changes_since_last_save, '0');
  assert.equal(info1.rdb_saves, '1');
  assert.ok(Math.abs(Number(info1.rdb_last_save_time) - Date.now() / 1000) < 5);
  assert.equal(await r.call('LASTSAVE'), Number(info1.rdb_last_save_time));
  assert.ok(statSync(path.join(dir, FILE)).size > 64);
  assert.equal(await r.call('BGSAVE'), 'Background saving started');
  const during = await r.call('BGSAVE').catch((e: Error) => e.message);
  assert.ok(during === 'Background saving started' || /already in progress/.test(String(during)), String(during));
  await waitFor(async () => (await persistenceInfo(r)).rdb_bgsave_in_progress === '0');
  await assert.rejects(r.call('BGSAVE', 'NOW'), /syntax error/);
  // CONFIG save is a view of save-interval.
  assert.deepEqual(await r.config('GET', 'save'), ['save', '']);
  assert.equal(await r.config('SET', 'save', '3600 1 300 100 60 10000'), 'OK');
  assert.deepEqual(await r.config('GET', 'save-interval'), ['save-interval', '60']);
  assert.deepEqual(await r.config('GET', 'save'), ['save', '60 1']);
  assert.equal(await r.config('SET', 'save', ''), 'OK');
  assert.deepEqual(await r.config('GET', 'save-interval'), ['save-interval', '0']);
  await assert.rejects(r.config('SET', 'save', '60'), /Invalid save parameters/);
  await assert.rejects(r.config('SET', 'save', 'often 1'), /Invalid save parameters/);
  // The timer starts when save-interval is set at run time.
  assert.equal(await r.config('SET', 'save-interval', '1'), 'OK');
  await r.call('RL.HIT', 'c', 'LIMIT', '1', 'PER', '600000');
  await waitFor(async () => (await persistenceInfo(r)).rdb_changes_since_last_save === '0', 3000);
  r.disconnect();
  await d.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function waitFor(done: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((res) => setTimeout(res, 50));
  }
}

test('kill -9 right after a change loses at most save-interval of changes', async () => {
  const dir = freshDir();
  let d = await startDaemon(['--dir', dir, '--save-interval', '1']);
  let r = await connect(d);
  await r.call('RL.HIT', 'early', 'LIMIT', '1', 'PER', '600000');
  const changedAt = Date.now();
  // The timer saves it within one interval (plus the save itself).
  await waitFor(async () => (await persistenceInfo(r)).rdb_changes_since_last_save === '0', 3000);
  assert.ok(Date.now() - changedAt < 2500, `saved ${Date.now() - changedAt} ms after the change`);
  await r.call('RL.HIT', 'late', 'LIMIT', '1', 'PER', '600000');
  r.disconnect();
  await kill9(d);
  d = await startDaemon(['--dir', dir]);
  r = await connect(d);
  assert.equal((await r.call('RL.HIT', 'early', 'LIMIT', '1', 'PER', '600000') as number[])[0], 0, 'the saved change survived the crash');
  // `late` came less than save-interval before the kill: it may or may not be in the file.
  r.disconnect();
  await d.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('kill -9 during saves always leaves a whole snapshot, old or new', async (t) => {
  const dir = freshDir();
  const keys = 200_000;
  let d = await startDaemon(['--dir', dir, '--save-interval', '0']);
  await fill(d.port, keys);
  let r = await connect(d);
  assert.equal(await r.call('SAVE'), 'OK');
  r.disconnect();
  await kill9(d);
  let midWrite = 0;
  for (let round = 0; round < 6; round++) {
    d = await startDaemon(['--dir', dir, '--save-interval', '0']);
    // Each round adds a key; a save the kill interrupted leaves the previous round's file.
    const loaded = Number(/loaded (\d+) keys/.exec(d.output())?.[1]);
    assert.ok(loaded >= keys && loaded <= keys + round, `round ${round}: loaded ${loaded}`);
    r = await connect(d);
    await r.call('RL.HIT', `round:${round}`, 'LIMIT', '1', 'PER', '600000');
    assert.equal(await r.call('BGSAVE'), 'Background saving started');
    // Somewhere inside the save: it takes tens of ms at this size.
    await new Promise((res) => setTimeout(res, Math.floor(Math.random() * 60)));
    await kill9(d);
    r.disconnect();
    // A temporary file left behind: this kill came while the file was being written.
    if (readdirSync(dir).some((n) => n.includes('.tmp-'))) midWrite++;
  }
  t.diagnostic(`${midWrite} of 6 kills came while the snapshot was being written`);
  d = await startDaemon(['--dir', dir]);
  const loaded = Number(/loaded (\d+) keys/.exec(d.output())?.[1]);
  assert.ok(loaded >= keys && loaded <= keys + 6, `loaded ${loaded}`);
  // The temporary files of the killed saves were cleared away at start-up.
  assert.deepEqual(readdirSync(dir).filter((n) => n.includes('.tmp-')), []);
  await d.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('a dir that does not exist stops the start', async () => {
  const start = await runCli(['--dir', path.join(tmpdir(), 'sluice-no-such-dir-' + process.pid)]);
  assert.equal(start.code, 1);
  assert.match(start.out, /dir .*sluice-no-such-dir-\d+ is not a directory: create it/);
});

test('a truncated, corrupted or future-version file stops the start, naming the file and the fault', async () => {
  const dir = freshDir();
  const file = path.join(dir, FILE);
  const d = await startDaemon(['--dir', dir]);
  const r = await connect(d);
  for (let i = 0; i < 50; i++) await r.call('RL.HIT', `k${i}`, 'LIMIT', '1', 'PER', '600000');
  r.disconnect();
  await d.stop();
  const good = readFileSync(file);

  const cases: [string, Buffer, RegExp][] = [
    ['truncated', good.subarray(0, good.length - 100), /truncated: \d+ bytes, the header says \d+/],
    ['corrupted', Buffer.from(good.map((b, i) => (i === 200 ? b ^ 1 : b))), /checksum mismatch: the contents are corrupted/],
    ['future', Buffer.from(good.map((b, i) => (i === 8 ? 9 : b))), /format version 9 was written by a newer Sluice/],
    ['not a snapshot', Buffer.from('REDIS0011' + 'x'.repeat(100)), /not a Sluice snapshot/],
  ];
  for (const [what, bytes, fault] of cases) {
    writeFileSync(file, bytes);
    const start = await runCli(['--dir', dir]);
    assert.equal(start.code, 1, what);
    assert.ok(start.out.includes(`cannot load snapshot ${file}`), `${what}: ${start.out}`);
    assert.match(start.out, fault, what);
    assert.match(start.out, /--ignore-bad-snapshot/);
    assert.deepEqual(readFileSync(file), bytes, `${what}: the file is left as it was`);
  }
  // On purpose: start empty, and keep the bad file aside.
  const started = await startDaemon(['--dir', dir, '--ignore-bad-snapshot', 'yes']);
  assert.match(started.output(), /unusable .*starting EMPTY/);
  const r2 = await connect(started);
  assert.equal(await r2.dbsize(), 0);
  r2.disconnect();
  const aside = readdirSync(dir).filter((n) => n.startsWith(`${FILE}.bad-`));
  assert.equal(aside.length, 1);
  assert.match(readFileSync(path.join(dir, aside[0])).toString(), /^REDIS0011/);
  await started.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('an unwritable directory: saves fail loudly, INFO says err, commands are still served and accepted', async () => {
  const dir = freshDir();
  const d = await startDaemon(['--dir', dir, '--save-interval', '1']);
  const r = await connect(d);
  rmSync(dir, { recursive: true, force: true });
  await r.call('RL.HIT', 'a', 'LIMIT', '1', 'PER', '600000');
  await assert.rejects(r.call('SAVE'), /ERR cannot create .*dump\.sluice\.tmp-\d+: No such file or directory/);
  const info = await persistenceInfo(r);
  assert.equal(info.rdb_last_bgsave_status, 'err');
  assert.match(info.sluice_snapshot_last_error, /No such file or directory/);
  assert.match(d.output(), /snapshot save FAILED \(SAVE\)/);
  // Write commands are not refused.
  assert.equal((await r.call('RL.HIT', 'a', 'LIMIT', '1', 'PER', '600000') as number[])[0], 0);
  assert.equal((await r.call('RL.HIT', 'b', 'LIMIT', '1', 'PER', '600000') as number[])[0], 1);
  assert.equal(await r.call('RL.POLICY', 'SET', 'p', 'LIMIT', '1', 'PER', '1000'), 'OK');
  r.disconnect();
  // The final save fails too: the exit status says so.
  assert.equal(await d.stop(), 1);
  assert.match(d.output(), /final snapshot could not be written/);
});

test('a full disk: the save fails with the system error, the old snapshot stays whole', async () => {
  const dir = freshDir();
  // 64 blocks of 512 bytes: a small snapshot fits, a large one does not.
  const d = await startDaemon(['--dir', dir, '--save-interval', '0'], {}, { maxFileBlocks: 64 });
  const r = await connect(d);
  await r.call('RL.HIT', 'small', 'LIMIT', '1', 'PER', '600000');
  assert.equal(await r.call('SAVE'), 'OK');
  const small = readFileSync(path.join(dir, FILE));
  await fill(d.port, 5000);
  await assert.rejects(r.call('SAVE'), /ERR cannot write .*File too large/);
  assert.equal((await persistenceInfo(r)).rdb_last_bgsave_status, 'err');
  assert.deepEqual(readFileSync(path.join(dir, FILE)), small, 'the last good snapshot is untouched');
  assert.deepEqual(readdirSync(dir).filter((n) => n.includes('.tmp-')), [], 'the partial temporary file is removed');
  assert.equal((await r.call('RL.HIT', 'another', 'LIMIT', '1', 'PER', '600000') as number[])[0], 1);
  await r.call('SHUTDOWN', 'NOSAVE').catch(() => {});
  r.disconnect();
  assert.equal(await d.exited, 0);
  rmSync(dir, { recursive: true, force: true });
});
