/**
 * The command table as data: the one place a command is declared. The daemon dispatches from
 * it (arity, flags, auth), COMMAND and COMMAND DOCS are generated from it, the client reads key
 * positions from it, and docs/commands.md is written from it.
 */

/** Argument types as COMMAND DOCS names them. */
export type ArgType =
  | 'string'
  | 'integer'
  | 'double'
  | 'key'
  | 'pattern'
  | 'unix-time'
  | 'pure-token'
  | 'oneof'
  | 'block';

export interface ArgSpec {
  name: string;
  type: ArgType;
  /** The literal word that introduces the argument (`LIMIT`), or the word itself for pure-token. */
  token?: string;
  optional?: boolean;
  /** May repeat. */
  multiple?: boolean;
  /** For oneof and block: the members. */
  arguments?: ArgSpec[];
  /** How to show it in hints, when not the name. */
  display?: string;
}

/** Command flags as COMMAND INFO reports them (Redis's names). */
export type CommandFlag =
  | 'write'
  | 'readonly'
  | 'denyoom'
  | 'admin'
  | 'pubsub'
  | 'noscript'
  | 'blocking'
  | 'loading'
  | 'stale'
  | 'skip_monitor'
  | 'fast'
  | 'no_auth'
  | 'no_multi'
  | 'allow_busy';

export interface CommandSpec {
  /** Lowercase. A subcommand's name is `parent|sub`, as in Redis. */
  name: string;
  /** Redis arity: N means exactly N words including the name; -N means at least N. */
  arity: number;
  flags: CommandFlag[];
  /** Key positions (1-based, 0 = no keys; last -1 = up to the last argument). */
  keys: { first: number; last: number; step: number };
  /** ACL categories, without `@`. */
  acl: string[];
  group: string;
  since: string;
  summary: string;
  complexity?: string;
  arguments: ArgSpec[];
  subcommands?: CommandSpec[];
}

export const NO_KEYS = { first: 0, last: 0, step: 0 } as const;

/** Declares a command; fills the fields most commands leave empty. */
export function command(spec: Omit<CommandSpec, 'keys' | 'arguments' | 'acl'> & Partial<CommandSpec>): CommandSpec {
  return { keys: { ...NO_KEYS }, arguments: [], acl: [], ...spec };
}

/** Declares a subcommand of `parent` (name given without the parent). */
export function subcommand(
  parent: string,
  spec: Omit<CommandSpec, 'keys' | 'arguments' | 'acl' | 'group' | 'since'> & Partial<CommandSpec>,
): CommandSpec {
  return command({ group: '', since: '', ...spec, name: `${parent}|${spec.name}` });
}

/** Is `count` words (name included) allowed by `arity`? */
export function arityAllows(arity: number, count: number): boolean {
  return arity >= 0 ? count === arity : count >= -arity;
}

/** The key arguments of a call, by the table's positions (`args[0]` is the name). */
export function keyPositions(spec: CommandSpec, argCount: number): number[] {
  const { first, last, step } = spec.keys;
  if (first === 0 || step === 0) return [];
  const end = last < 0 ? argCount + last : last;
  const out: number[] = [];
  for (let i = first; i <= end && i < argCount; i += step) out.push(i);
  return out;
}

/** Arguments rendered as a usage line: `key [LIMIT n PER ms]`. */
export function usage(args: ArgSpec[]): string {
  return args.map(renderArg).join(' ');
}

function renderArg(a: ArgSpec): string {
  let body: string;
  if (a.type === 'pure-token') body = a.token ?? a.name.toUpperCase();
  else if (a.type === 'oneof') body = (a.arguments ?? []).map(renderArg).join('|');
  else if (a.type === 'block') body = usage(a.arguments ?? []);
  else body = a.display ?? a.name;
  if (a.token && a.type !== 'pure-token') body = `${a.token} ${body}`;
  if (a.multiple) body = `${body} [${body} ...]`;
  if (a.optional) return `[${body}]`;
  return a.type === 'oneof' ? `<${body}>` : body;
}
