/**
 * Every process the benchmark starts goes through here, so that all of them are ended when the
 * run finishes, fails, or is interrupted (SIGINT/SIGTERM/SIGHUP, uncaught errors).
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export const ROOT = path.resolve(__dirname, '..', '..');
export const BENCH = path.join(ROOT, 'bench');

const live = new Set<ChildProcess>();

export function track(child: ChildProcess): ChildProcess {
  live.add(child);
  child.once('exit', () => live.delete(child));
  return child;
}

/** Ends every tracked process: SIGTERM, then SIGKILL for those still alive after `graceMs`. */
export async function killAll(graceMs = 3000): Promise<void> {
  const procs = [...live];
  for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGTERM');
  const deadline = Date.now() + graceMs;
  while (live.size > 0 && Date.now() < deadline) await sleep(50);
  for (const p of live) p.kill('SIGKILL');
}

function killAllSync(): void {
  for (const p of live) {
    try {
      p.kill('SIGKILL');
    } catch {
      /* already gone */
    }
  }
}

let installed = false;
/** On a signal or a crash: end the children, then exit. `onAbort` may print what happened. */
export function installCleanup(onAbort: (why: string) => void): void {
  if (installed) return;
  installed = true;
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(sig, () => {
      onAbort(`interrupted by ${sig}`);
      void killAll(1500).finally(() => process.exit(sig === 'SIGINT' ? 130 : 143));
    });
  }
  process.on('uncaughtException', (err) => {
    onAbort(`uncaught error: ${err.stack ?? err}`);
    void killAll(1500).finally(() => process.exit(1));
  });
  process.on('unhandledRejection', (err) => {
    onAbort(`unhandled rejection: ${(err as Error)?.stack ?? err}`);
    void killAll(1500).finally(() => process.exit(1));
  });
  process.on('exit', killAllSync);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

/** Runs a program to completion (tracked, bounded by `timeoutMs`). */
export function run(cmd: string, args: string[], opts: { timeoutMs: number; cwd?: string; env?: NodeJS.ProcessEnv }): Promise<RunResult> {
  return new Promise((resolve) => {
    let child: ChildProcess;
    try {
      child = track(spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] }));
    } catch (err) {
      resolve({ code: -1, stdout: '', stderr: String(err), timedOut: false });
      return;
    }
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, opts.timeoutMs);
    child.on('error', (err) => {
      stderr += String(err);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, timedOut });
    });
  });
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

export interface Server {
  name: string;
  port: number;
  pid: number;
  process: ChildProcess;
  /** How someone reproduces this server by hand. */
  startCommand: string;
  output(): string;
  stop(): Promise<void>;
}

function spawnServer(
  name: string,
  cmd: string,
  args: string[],
  ready: RegExp,
  portOf: (m: RegExpExecArray) => number,
  startCommand: string,
  opts: SpawnOptions = {},
): Promise<Server> {
  const child = track(spawn(cmd, args, { ...opts, stdio: ['ignore', 'pipe', 'pipe'] }));
  let out = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${name} did not start within 20 s; output:\n${out}`));
    }, 20_000);
    const onData = (d: Buffer) => {
      out += d.toString();
      const m = ready.exec(out);
      if (m) {
        clearTimeout(timer);
        child.stdout!.off('data', onData);
        child.stdout!.on('data', (x: Buffer) => (out = (out + x.toString()).slice(-20000)));
        resolve({
          name,
          port: portOf(m),
          pid: child.pid!,
          process: child,
          startCommand,
          output: () => out,
          stop: async () => {
            if (child.exitCode !== null || child.signalCode !== null) return;
            const gone = new Promise<void>((r) => child.once('exit', () => r()));
            child.kill('SIGTERM');
            const t = setTimeout(() => child.kill('SIGKILL'), 5000);
            await gone;
            clearTimeout(t);
          },
        });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`${name}: ${err.message}`));
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited with code ${code} before it was ready; output:\n${out}`));
    });
  });
}

/** `node daemon/dist/cli.js --port 0 ...`; parses "listening on HOST:PORT". */
export function startSluice(extraArgs: string[] = []): Promise<Server> {
  const cli = path.join(ROOT, 'daemon', 'dist', 'cli.js');
  if (!fs.existsSync(cli)) throw new Error(`${cli} is missing: run npm install (it builds everything) first`);
  // Like redis-server's `--save ''` below: no timed snapshots during the measurements, and a
  // directory of its own so no run loads another's state (the durability scenario passes its own).
  const dir = extraArgs.includes('--dir') ? null : fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-bench-'));
  const snapshots = dir === null ? [] : ['--dir', dir, '--save-interval', '0'];
  const started = spawnServer(
    'sluice',
    process.execPath,
    [cli, '--port', '0', ...snapshots, ...extraArgs],
    /listening on [^\s]+:(\d+)/,
    (m) => Number(m[1]),
    ['npm start --', ...extraArgs].join(' ') + '   # listens on 127.0.0.1:6380',
  );
  if (dir === null) return started;
  return started.then((server) => ({
    ...server,
    stop: () => server.stop().finally(() => fs.rmSync(dir, { recursive: true, force: true })),
  }));
}

/** `redis-server --port <free> --save '' --appendonly no` on loopback. */
export async function startRedis(extraArgs: string[] = []): Promise<Server> {
  for (let attempt = 0; ; attempt++) {
    const port = await freePort();
    try {
      return await spawnServer(
        'redis',
        'redis-server',
        ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', ...extraArgs],
        /Ready to accept connections/,
        () => port,
        "redis-server --port 6379 --bind 127.0.0.1 --save '' --appendonly no",
      );
    } catch (err) {
      if (attempt >= 2 || !/Address already in use/.test(String(err))) throw err;
    }
  }
}

/** Resident set size of a process in bytes (Linux /proc). */
export function rssBytes(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /VmRSS:\s+(\d+) kB/.exec(status);
  if (!m) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]) * 1024;
}
