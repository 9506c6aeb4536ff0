/** Start-up, configuration precedence, maxclients and graceful shutdown of the real CLI. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Redis from 'ioredis';
import { RawClient, resp, startDaemon } from './testing';

const CLI = path.join(__dirname, 'cli.js');

function runCli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, timeout: 15_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: stdout + stderr }),
    );
  });
}

async function configGet(port: number, name: string): Promise<string> {
  const r = new Redis({ port, lazyConnect: true });
  await r.connect();
  const [, value] = (await r.config('GET', name)) as string[];
  r.disconnect();
  return value;
}

test('--help explains every option; --version prints the version', async () => {
  const help = await runCli(['--help']);
  assert.equal(help.code, 0);
  for (const word of ['--port', '--bind', '--config', '--requirepass', 'SLUICE_', 'maxclients']) assert.ok(help.out.includes(word), word);
  assert.match((await runCli(['--version'])).out, /^sluice \d+\.\d+\.\d+/);
});

test('bad flags and values fail at start with a message that says what to do', async () => {
  const unknown = await runCli(['--nope', '1']);
  assert.equal(unknown.code, 2);
  assert.match(unknown.out, /Unknown option '--nope'.*sluice --help/);
  const bad = await runCli(['--maxclients', 'many']);
  assert.equal(bad.code, 2);
  assert.match(bad.out, /invalid value 'many' for maxclients \(from flag --maxclients\): expected a whole number/);
  const missing = await runCli(['--config', '/nonexistent/sluice.yaml']);
  assert.equal(missing.code, 2);
  assert.match(missing.out, /cannot read config file \/nonexistent\/sluice.yaml/);
});

test('precedence: flags, then the config file, then SLUICE_* variables, then defaults', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'sluice-'));
  const file = path.join(dir, 'sluice.yaml');
  writeFileSync(file, 'maxclients: 300\ntimeout: 30\n');
  const d = await startDaemon(['--config', file, '--maxclients', '400'], {
    SLUICE_MAXCLIENTS: '100',
    SLUICE_TIMEOUT: '10',
    SLUICE_MAX_MULTIBULK_LENGTH: '5000',
  });
  try {
    assert.equal(await configGet(d.port, 'maxclients'), '400', 'flag beats file and environment');
    assert.equal(await configGet(d.port, 'timeout'), '30', 'file beats environment');
    assert.equal(await configGet(d.port, 'max-multibulk-length'), '5000', 'environment beats default');
    assert.equal(await configGet(d.port, 'proto-max-bulk-len'), String(512 * 1024 * 1024), 'default');
    assert.match(d.output(), /settings from config .*sluice\.yaml, SLUICE_\* variables, flags/);
  } finally {
    await d.stop();
  }
});

test('the start-up line says where settings came from: SLUICE_* variables are not "embedded defaults"', async () => {
  // startDaemon passes --port 0 (a flag); the environment adds a variable.
  const d = await startDaemon([], { SLUICE_TIMEOUT: '10' });
  try {
    assert.match(d.output(), /listening on .*settings from SLUICE_\* variables, flags/);
    assert.doesNotMatch(d.output(), /embedded defaults/);
  } finally {
    await d.stop();
  }
});

test('a port in use is reported with what to do', async () => {
  const d = await startDaemon();
  try {
    const second = await runCli(['--port', String(d.port)]);
    assert.equal(second.code, 1);
    assert.match(second.out, /port \d+ is in use: stop the other process or start Sluice with --port/);
  } finally {
    await d.stop();
  }
});

test('maxclients: one more connection gets Redis\'s error and is closed', async () => {
  const d = await startDaemon(['--maxclients', '2']);
  try {
    const a = await RawClient.connect(d.port);
    const b = await RawClient.connect(d.port);
    await a.send(resp('PING'), 'PONG');
    await b.send(resp('PING'), 'PONG');
    const c = await RawClient.connect(d.port);
    assert.equal(await c.waitClosed(), '-ERR max number of clients reached\r\n');
    a.close();
    b.close();
  } finally {
    await d.stop();
  }
});

test('SIGTERM: in-flight replies are answered, then exit 0', async () => {
  const d = await startDaemon();
  const c = await RawClient.connect(d.port);
  await c.send(resp('PING'), 'PONG');
  const idle = await RawClient.connect(d.port);
  const frames: Buffer[] = [];
  for (let i = 0; i < 2000; i++) frames.push(resp('ECHO', String(i)));
  c.write(Buffer.concat(frames));
  d.process.kill('SIGTERM');
  const code = await d.exited;
  assert.equal(code, 0);
  await c.waitClosed();
  await idle.waitClosed();
  assert.match(d.output(), /shutting down \(SIGTERM\)/);
  assert.match(d.output(), /Sluice stopped/);
});

test('SHUTDOWN: earlier replies are sent, the daemon exits 0', async () => {
  const d = await startDaemon();
  const c = await RawClient.connect(d.port);
  c.write(Buffer.concat([resp('ECHO', 'before'), resp('SHUTDOWN')]));
  const text = await c.waitClosed();
  assert.equal(text, '$6\r\nbefore\r\n');
  assert.equal(await d.exited, 0);
});

test('idle clients are closed after timeout seconds', async () => {
  const d = await startDaemon(['--timeout', '1']);
  try {
    const c = await RawClient.connect(d.port);
    await c.send(resp('PING'), 'PONG');
    await c.waitClosed(5000);
    assert.ok(c.closed);
  } finally {
    await d.stop();
  }
});
