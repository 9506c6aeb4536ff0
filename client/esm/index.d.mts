export * from '../dist/index.js';
import * as sluice from '../dist/index.js';
export default sluice;
