/**
 * Typed errors: what went wrong, as a class an application can catch by kind, with the
 * daemon's own message kept. Replies the daemon refuses with come through ioredis as
 * ReplyError; `fromReplyError` maps them by their code and text.
 */

/** Any error Sluice replied with (the daemon's text is the message). */
export class SluiceError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SluiceError';
  }
}

/** A limit named a policy the daemon does not know (`ERR unknown POLICY 'x'`). */
export class UnknownPolicyError extends SluiceError {
  readonly policy: string;
  constructor(message: string, policy: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'UnknownPolicyError';
    this.policy = policy;
  }
}

/** The daemon refused an argument (syntax, a value out of range, a wrong number of arguments). */
export class BadArgumentError extends SluiceError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'BadArgumentError';
  }
}

/** ROUTE.PICK found no deployment: `retryAfterMs` is when one may free up, null when never. */
export class NoDeploymentError extends SluiceError {
  readonly retryAfterMs: number | null;
  constructor(message: string, retryAfterMs: number | null, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'NoDeploymentError';
    this.retryAfterMs = retryAfterMs;
  }
}

/** The daemon did not answer within `timeoutMs` or the connection is down. */
export class SluiceUnavailableError extends SluiceError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SluiceUnavailableError';
  }
}

/** Maps an error reply (ioredis's ReplyError) to its typed class; anything else is returned unchanged. */
export function fromReplyError(err: unknown): unknown {
  if (!(err instanceof Error) || err.name !== 'ReplyError') return err;
  const text = err.message;
  if (text.startsWith('NODEPLOYMENT')) {
    const retry = /retry in (\d+) ms/.exec(text);
    return new NoDeploymentError(text, retry ? Number(retry[1]) : null, { cause: err });
  }
  const policy = /^ERR unknown POLICY '(.*)'$/.exec(text);
  if (policy) return new UnknownPolicyError(text, policy[1], { cause: err });
  if (text.startsWith('ERR ')) return new BadArgumentError(text, { cause: err });
  return new SluiceError(text, { cause: err });
}

/** withLease found every slot taken (and none freed within `waitMs`). */
export class LeaseBusyError extends SluiceError {
  readonly key: string;
  readonly inUse: number;
  constructor(key: string, inUse: number) {
    super(`every lease of '${key}' is taken (${inUse} in use)`);
    this.name = 'LeaseBusyError';
    this.key = key;
    this.inUse = inUse;
  }
}
