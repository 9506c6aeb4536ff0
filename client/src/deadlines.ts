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
  /** A watched command, answered when it is resolved (see watch). */
  command: WatchedCommand | null;
}

/** An ioredis Command as watch() sees it: ioredis marks it resolved; rejecting it ends its promise. */
export interface WatchedCommand {
  readonly isResolved: boolean;
  reject(err: Error): void;
}

const done = (w: Waiting) => w.settled || (w.command !== null && w.command.isResolved);

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
      const waiting: Waiting = { at: performance.now() + this.ms, reject, settled: false, command: null };
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

  /**
   * The same deadline for an ioredis Command, without a promise of its own: at the deadline an
   * unanswered command is rejected (as ioredis's own commandTimeout does; a reply that comes
   * later is ignored), so `command.promise` settles either way. Answered commands are noticed
   * by ioredis's `isResolved` and leave the front of the queue as later ones are watched.
   */
  watch(command: WatchedCommand): void {
    this.dropSettled();
    this.queue.push({ at: performance.now() + this.ms, reject: command.reject, settled: false, command });
    if (this.timer === null) this.arm();
  }

  /** Calls still waiting for an answer or their deadline. */
  get size(): number {
    let n = 0;
    for (let i = this.head; i < this.queue.length; i++) if (!done(this.queue[i])) n++;
    return n;
  }

  private dropSettled(): void {
    const queue = this.queue;
    while (this.head < queue.length && done(queue[this.head])) this.head++;
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
      if (!done(waiting)) {
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
