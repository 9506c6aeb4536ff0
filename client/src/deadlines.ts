/**
 * Per-call timeouts without a timer per call. Every call of one client has the same timeout,
 * so deadlines come in the order the calls are made: they wait in a queue, and one timer is
 * set for the oldest call still unanswered. A call that is answered is marked, and marked
 * calls leave from the front (answers come in order on one connection, so the queue stays
 * short). A timer per call cost the guarded client a third of a call's time (bench `client`).
 */
interface Waiting {
  /** performance.now() after which the call is given up. */
  at: number;
  reject: (err: Error) => void;
  settled: boolean;
}

export class Deadlines {
  private queue: Waiting[] = [];
  private head = 0;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly ms: number,
    private readonly expired: () => Error,
  ) {}

  /** Settles as `call` does, or rejects with expired() once `ms` have passed without an answer. */
  race<T>(call: Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const waiting: Waiting = { at: performance.now() + this.ms, reject, settled: false };
      this.queue.push(waiting);
      if (this.timer === null) this.arm();
      call.then(
        (value) => {
          waiting.settled = true;
          this.dropSettled();
          resolve(value);
        },
        (err: unknown) => {
          waiting.settled = true;
          this.dropSettled();
          reject(err);
        },
      );
    });
  }

  /** Calls still waiting for an answer or their deadline. */
  get size(): number {
    let n = 0;
    for (let i = this.head; i < this.queue.length; i++) if (!this.queue[i].settled) n++;
    return n;
  }

  private dropSettled(): void {
    const queue = this.queue;
    while (this.head < queue.length && queue[this.head].settled) this.head++;
    if (this.head === queue.length) {
      queue.length = 0;
      this.head = 0;
    } else if (this.head >= 1024 && this.head * 2 >= queue.length) {
      this.queue = queue.slice(this.head);
      this.head = 0;
    }
  }

  private arm(): void {
    const first = this.queue[this.head];
    this.timer = setTimeout(this.fire, Math.max(0, first.at - performance.now()));
  }

  private readonly fire = (): void => {
    this.timer = null;
    const now = performance.now();
    while (this.head < this.queue.length) {
      const waiting = this.queue[this.head];
      if (!waiting.settled) {
        if (waiting.at > now) break;
        waiting.settled = true;
        waiting.reject(this.expired());
      }
      this.head++;
    }
    this.dropSettled();
    if (this.head < this.queue.length) this.arm();
  };
}
