/**
 * Test support: the scenario programs of daemon/test-clients/ for redis-py and go-redis, built
 * on first use into daemon/.cache (a virtual environment, a Go binary) and run against a daemon.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';

const ROOT = path.join(__dirname, '..');
const CLIENTS = path.join(ROOT, 'test-clients');
const CACHE = path.join(ROOT, '.cache');

function run(file: string, args: string[], cwd: string, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { cwd, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${file} ${args.join(' ')} failed: ${err.message}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

let python: Promise<string> | null = null;
let go: Promise<string> | null = null;

/** The venv's python with redis-py installed (created once: needs python3 with venv, and PyPI). */
function pythonWithRedis(): Promise<string> {
  python ??= (async () => {
    const venv = path.join(CACHE, 'python');
    const bin = path.join(venv, 'bin', 'python');
    if (!existsSync(path.join(venv, '.installed'))) {
      mkdirSync(CACHE, { recursive: true });
      await run('python3', ['-m', 'venv', venv], ROOT, 120_000);
      await run(bin, ['-m', 'pip', 'install', '-q', '-r', path.join(CLIENTS, 'python', 'requirements.txt')], ROOT, 300_000);
      await run('touch', [path.join(venv, '.installed')], ROOT, 10_000);
    }
    return bin;
  })();
  return python;
}

/** The go-redis scenario binary (built once: needs go, and the Go module proxy or its cache). */
function goScenario(): Promise<string> {
  go ??= (async () => {
    const bin = path.join(CACHE, 'go-scenario');
    mkdirSync(CACHE, { recursive: true });
    await run('go', ['build', '-o', bin, '.'], path.join(CLIENTS, 'go'), 600_000);
    return bin;
  })();
  return go;
}

/** Runs a scenario of daemon/test-clients with `client` against the daemon on `port`; its JSON output. */
export async function scenario(client: 'redis-py' | 'go-redis', port: number, name: string, ...args: string[]): Promise<Record<string, unknown>> {
  const out =
    client === 'redis-py'
      ? await run(await pythonWithRedis(), [path.join(CLIENTS, 'python', 'scenario.py'), String(port), name, ...args], ROOT, 60_000)
      : await run(await goScenario(), [String(port), name, ...args], ROOT, 60_000);
  return JSON.parse(out) as Record<string, unknown>;
}
