/** The native core, loaded once. Everything stateful and hot lives there. */
// eslint-disable-next-line @typescript-eslint/no-require-imports
import native = require('@sluice/native');

export default native;
