/** Version strings (a leaf: anything may import it). */

export const VERSION: string = require('../package.json').version;

/** The Redis version whose protocol and commands Sluice follows (INFO redis_version, HELLO). */
export const REDIS_COMPAT_VERSION = '7.2.0';
