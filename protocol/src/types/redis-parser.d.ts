/** The parts of npm redis-parser 3 that the tests use (it ships no types). */
declare module 'redis-parser' {
  interface Options {
    returnReply: (reply: unknown) => void;
    returnError: (err: Error) => void;
    returnFatalError?: (err: Error) => void;
    returnBuffers?: boolean;
    stringNumbers?: boolean;
  }
  class RedisParser {
    constructor(options: Options);
    execute(data: Buffer): void;
    reset(): void;
  }
  export = RedisParser;
}
