/**
 * A small pipelined RESP2 client for the benchmark's own traffic (loading keys, token-count
 * throughput, INFO): one connection, commands written in batches with one socket write each,
 * replies matched in order.
 */
import net from 'node:net';

export type Reply = string | number | null | ReplyError | Reply[];

export class ReplyError extends Error {}

type Pending = { resolve: (r: Reply) => void };

export class RespClient {
  private buf: Buffer = Buffer.alloc(0);
  private pos = 0;
  private queue: Pending[] = [];
  private qHead = 0;
  private closedErr: Error | null = null;

  private constructor(private readonly socket: net.Socket) {
    socket.setNoDelay(true);
    socket.on('data', (d) => this.onData(d));
    const fail = (err: Error) => {
      this.closedErr = err;
      for (let i = this.qHead; i < this.queue.length; i++) this.queue[i].resolve(new ReplyError(`connection lost: ${err.message}`));
      this.queue = [];
      this.qHead = 0;
    };
    socket.on('error', fail);
    socket.on('close', () => fail(new Error('closed')));
  }

  static connect(port: number, host = '127.0.0.1'): Promise<RespClient> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ port, host }, () => {
        s.off('error', reject);
        resolve(new RespClient(s));
      });
      s.once('error', reject);
    });
  }

  static encode(args: (string | Buffer | number)[]): Buffer {
    const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
    for (const a of args) {
      const b = Buffer.isBuffer(a) ? a : Buffer.from(String(a));
      parts.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n'));
    }
    return Buffer.concat(parts);
  }

  /** Sends all commands with one write; resolves with their replies in order. */
  pipeline(cmds: (string | Buffer | number)[][]): Promise<Reply[]> {
    if (this.closedErr) return Promise.reject(this.closedErr);
    const promises = cmds.map(
      () =>
        new Promise<Reply>((resolve) => {
          this.queue.push({ resolve });
        }),
    );
    this.socket.write(Buffer.concat(cmds.map((c) => RespClient.encode(c))));
    return Promise.all(promises);
  }

  async call(...args: (string | Buffer | number)[]): Promise<Reply> {
    const [r] = await this.pipeline([args]);
    return r;
  }

  /** Like call, but throws on an error reply. */
  async ok(...args: (string | Buffer | number)[]): Promise<Reply> {
    const r = await this.call(...args);
    if (r instanceof ReplyError) throw new Error(`${args.slice(0, 2).join(' ')}: ${r.message}`);
    return r;
  }

  close(): void {
    this.socket.destroy();
  }

  private onData(d: Buffer): void {
    this.buf = this.pos < this.buf.length ? Buffer.concat([this.buf.subarray(this.pos), d]) : d;
    this.pos = 0;
    for (;;) {
      const start = this.pos;
      const r = this.parse();
      if (r === undefined) {
        this.pos = start;
        break;
      }
      const p = this.queue[this.qHead++];
      if (this.qHead > 4096) {
        this.queue = this.queue.slice(this.qHead);
        this.qHead = 0;
      }
      p?.resolve(r.v);
    }
  }

  /** Parses one reply at this.pos; undefined when incomplete. */
  private parse(): { v: Reply } | undefined {
    const nl = this.buf.indexOf('\r\n', this.pos);
    if (nl < 0) return undefined;
    const type = this.buf[this.pos];
    const line = this.buf.toString('utf8', this.pos + 1, nl);
    this.pos = nl + 2;
    switch (type) {
      case 0x2b: // +
        return { v: line };
      case 0x2d: // -
        return { v: new ReplyError(line) };
      case 0x3a: // :
        return { v: Number(line) };
      case 0x24: {
        // $
        const n = Number(line);
        if (n < 0) return { v: null };
        if (this.buf.length < this.pos + n + 2) return undefined;
        const s = this.buf.toString('utf8', this.pos, this.pos + n);
        this.pos += n + 2;
        return { v: s };
      }
      case 0x2a: {
        // *
        const n = Number(line);
        if (n < 0) return { v: null };
        const arr: Reply[] = [];
        for (let i = 0; i < n; i++) {
          const e = this.parse();
          if (e === undefined) return undefined;
          arr.push(e.v);
        }
        return { v: arr };
      }
      default:
        throw new Error(`unexpected RESP type byte ${type}`);
    }
  }
}

/** Parses INFO text into a field map. */
export function parseInfo(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    const i = line.indexOf(':');
    if (i > 0 && !line.startsWith('#')) out[line.slice(0, i)] = line.slice(i + 1);
  }
  return out;
}
