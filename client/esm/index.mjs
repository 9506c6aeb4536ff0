// The ESM entry point: the CommonJS build re-exported, so `import` and `require` share one
// module instance (one SluiceClient class, one set of error classes for instanceof).
// esm.test.ts checks that every export of the CommonJS build is here.
import cjs from '../dist/index.js';

export const {
  SluiceClient,
  SluicePipeline,
  LocalLimiter,
  rateLimitHeaders,
  statusOfError,
  isRetryableStatus,
  toMs,
  decodeReply,
  compileDecoder,
  replySpecOf,
  keysOf,
  fromReplyError,
  SluiceError,
  UnknownPolicyError,
  BadArgumentError,
  NoDeploymentError,
  SluiceUnavailableError,
  LeaseBusyError,
  ReplyShapeError,
} = cjs;
export default cjs;
