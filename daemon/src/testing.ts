/**
 * Test support: start a real Sluice daemon as a child process on a free port, talk to it over
 * real TCP (raw sockets, redis-cli), and stop it. Used by every *.test.ts in the workspace.
 */
import { spawn, execFile, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

const CLI = path.join(__dirname, 'cli.js');

export interface Daemon {
  port: number;
  host: string;
  process: ChildProcess;
  /** Everything the daemon printed so far. */
  output(): string;
  /** SIGTERM and wait; resolves with the exit code. */
  stop(): Promise<number | null>;
  /** Resolves with the exit code once the process exits by itself. */
  exited: Promise<number | null>;
}

/**
 * Starts `sluice --port 0 ...args` and resolves once it says where it listens. Unless `args`
 * name a `--dir`, its snapshot goes to a fresh temporary directory removed when it exits, so
 * no daemon loads another's state.
 */
export function startDaemon(args: string[] = [], env: NodeJS.ProcessEnv = {}, options: { maxFileBlocks?: number; portFromSettings?: boolean } = {}): Promise<Daemon> {
  const ownDir = args.includes('--dir') || env.SLUICE_DIR !== undefined ? null : mkdtempSync(path.join(os.tmpdir(), 'sluice-test-'));
  // `portFromSettings`: listen where the environment or config file says, not on a free port.
  const argv = [CLI, ...(options.portFromSettings ? [] : ['--port', '0']), ...(ownDir !== null ? ['--dir', ownDir] : []), ...args];
  // `maxFileBlocks`: the largest file the daemon may write, in 512-byte blocks (a full disk,
  // as far as the daemon can tell: writes fail with EFBIG; Node ignores SIGXFSZ).
  const child =
    options.maxFileBlocks === undefined
      ? spawn(process.execPath, argv, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
      : spawn('sh', ['-c', `ulimit -f ${options.maxFileBlocks} && exec "$0" "$@"`, process.execPath, ...argv], {
          env: { ...process.env, ...env },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
  let out = '';
  // 'close', not 'exit': it comes after the child's output has all been read.
  const exited = new Promise<number | null>((resolve) =>
    child.on('close', (code) => {
      if (ownDir !== null) rmSync(ownDir, { recursive: true, force: true });
      resolve(code);
    }),
  );
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`daemon did not start within 15 s; output:\n${out}`));
    }, 15_000);
    const onData = (chunk: Buffer) => {
      out += chunk.toString();
      const m = /listening on ([^\s]+):(\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({
          host: m[1],
          port: Number(m[2]),
          process: child,
          output: () => out,
          exited,
          stop: async () => {
            if (child.exitCode === null) child.kill('SIGTERM');
            return exited;
          },
        });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
    exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`daemon exited with code ${code} before listening; output:\n${out}`));
    });
  });
}

/** A raw TCP client that collects every byte the server sends. */
export class RawClient {
  readonly socket: net.Socket;
  received = Buffer.alloc(0);
  closed = false;
  private waiters: (() => void)[] = [];

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on('data', (d) => {
      this.received = Buffer.concat([this.received, d]);
      this.wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    socket.on('error', () => {});
  }

  static connect(port: number, host = '127.0.0.1'): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ port, host }, () => resolve(new RawClient(s)));
      s.once('error', reject);
    });
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  write(data: string | Buffer): void {
    this.socket.write(data);
  }

  /** Waits until the received text satisfies `done` (or the connection closes, or 5 s pass). */
  async until(done: (text: string) => boolean, timeoutMs = 5000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (!done(this.received.toString('latin1'))) {
      if (this.closed) break;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting; received so far: ${JSON.stringify(this.received.toString('latin1').slice(0, 500))}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    return this.received.toString('latin1');
  }

  /** Sends `data` and waits for `expected` to appear in what was received since. */
  async send(data: string | Buffer, expected: string): Promise<string> {
    const before = this.received.length;
    this.write(data);
    const text = await this.until((t) => t.slice(before).includes(expected));
    return text.slice(before);
  }

  waitClosed(timeoutMs = 5000): Promise<string> {
    return this.until(() => this.closed, timeoutMs);
  }

  close(): void {
    this.socket.destroy();
  }
}

/** Encodes a command as a RESP multibulk request. */
export function resp(...args: (string | Buffer)[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const a of args) {
    const b = typeof a === 'string' ? Buffer.from(a) : a;
    parts.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
}

/** Runs redis-cli against the daemon; resolves with stdout (rejects with stderr on failure). */
export function redisCli(port: number, args: string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile('redis-cli', ['-p', String(port), ...args], { timeout: 15_000 }, (err, stdout, stderr) => {
      if (err && (err as NodeJS.ErrnoException).code === 'ENOENT') {
        reject(new Error('redis-cli is not installed: apt-get install -y redis-tools (.ci/run does this)'));
      } else if (err) reject(new Error(`redis-cli ${args.join(' ')} failed: ${err.message}\n${stderr}`));
      else resolve(stdout);
    });
    if (input !== undefined) child.stdin!.end(input);
    else child.stdin!.end();
  });
}

/** A TCP port free right now on 127.0.0.1 (for options that take a fixed port; the daemon binds it a moment later). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** Nodes of a local cluster started by startCluster, in topology order (a, b, c, ...). */
export interface LocalCluster {
  nodes: Daemon[];
  /** The topology in force, as pushed (version, nodes with id/host/port/slots). */
  topology: { version: number; nodes: { id: string; host: string; port: number; slots: string[] }[] };
  /** Sends SLUICE.CLUSTER SETTOPOLOGY to every node (in `order`, default topology order); resolves with each reply. */
  push(topology: LocalCluster['topology'], order?: number[]): Promise<string[]>;
  stop(): Promise<void>;
}

/** Splits 0-16383 into `n` even ranges, as redis-cli --cluster create does. */
export function evenSlots(n: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(`${Math.floor((i * 16384) / n)}-${Math.floor(((i + 1) * 16384) / n) - 1}`);
  return out;
}

/**
 * Starts `count` daemons with cluster-enabled (ids a, b, c, ...) on free ports, then pushes
 * a topology of version 1 that splits the slots evenly between them.
 */
export async function startCluster(count = 3, args: string[] = []): Promise<LocalCluster> {
  const ids = Array.from({ length: count }, (_, i) => String.fromCharCode(97 + i));
  const nodes = await Promise.all(ids.map((id) => startDaemon(['--cluster-enabled', 'yes', '--cluster-node-id', id, ...args])));
  const push = async (topology: LocalCluster['topology'], order = nodes.map((_, i) => i)): Promise<string[]> => {
    const replies: string[] = [];
    for (const i of order) {
      const c = await RawClient.connect(nodes[i].port);
      const reply = await c.send(resp('SLUICE.CLUSTER', 'SETTOPOLOGY', JSON.stringify(topology)), '\r\n');
      replies.push(reply.trim());
      c.close();
    }
    return replies;
  };
  const cluster: LocalCluster = {
    nodes,
    topology: { version: 1, nodes: ids.map((id, i) => ({ id, host: '127.0.0.1', port: nodes[i].port, slots: [evenSlots(count)[i]] })) },
    push,
    stop: async () => {
      await Promise.all(nodes.map((n) => n.stop()));
    },
  };
  const replies = await push(cluster.topology);
  if (replies.some((r) => r !== '+OK')) throw new Error(`pushing the topology failed: ${replies.join(', ')}`);
  return cluster;
}

/** Runs `openssl` (tests that make certificates); says how to install it when it is missing. */
export function openssl(...args: string[]): void {
  try {
    execFileSync('openssl', args, { stdio: 'pipe' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new Error('openssl is not installed: apt-get install -y openssl (.ci/run does this)');
    throw err;
  }
}
