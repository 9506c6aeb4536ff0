export * from './request-parser';
export * from './reply-writer';
export * from './command-table';
export { commandTable, commandFamilies, aclCategories, familyCategories } from './commands';
export * from './command-replies';
export * from './glob';
export * from './cluster-slot';
