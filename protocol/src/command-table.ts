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

/**
 * What a reply (or one value in it) is on the wire:
 * - `integer`, `double`, `bulk` (bulk string), `simple` (simple string; `value` when fixed, e.g. OK);
 * - `boolean`: the integer 1 or 0 (in RESP3 too, as redis-cell and Redis's own commands do);
 * - `array`: every element is `items`;
 * - `tuple`: an array whose positions are `fields`, then any number of `rest`;
 * - `map`: named `fields` (a map in RESP3, a flat [name, value, ...] array in RESP2), or, without
 *   fields, any keys each holding an `items` value;
 * - `oneof`: one of `options`, depending on the call; `none`: no reply at all (SHUTDOWN).
 */
export type ReplyType = 'integer' | 'double' | 'bulk' | 'simple' | 'boolean' | 'array' | 'tuple' | 'map' | 'oneof' | 'none';

/** A reply's shape, as data: the docs, COMMAND DOCS and the client's decoders read it. */
export interface ReplySpec {
  type: ReplyType;
  /** One line: what the value means. */
  description: string;
  /** How "none" is encoded, when it can be: the integer -1 or a nil. */
  none?: -1 | 'nil';
  /** simple: the fixed text (OK, PONG). */
  value?: string;
  /** tuple: the positions, in order; map: the fields, by name. */
  fields?: ReplyField[];
  /** tuple: each value after `fields` (a repeated tail, collected as a list). */
  rest?: ReplyField;
  /** array: each element; map without fields: each value. */
  items?: ReplySpec;
  /** oneof: the possible replies. */
  options?: ReplySpec[];
}

/** A named position of a tuple or a field of a map. */
export interface ReplyField extends ReplySpec {
  /** The map key on the wire (map), or the position's name (tuple); snake_case. */
  name: string;
  /** The typed client's key, when it is not camelCase(name) (e.g. map key `per` -> `perMs`). */
  client?: string;
}

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
  /** The reply; a command with subcommands replies with its subcommands' (when it has none of its own). */
  reply?: ReplySpec;
  subcommands?: CommandSpec[];
}

/** Shorthands for the common replies. */
export const reply = {
  ok: (description = 'On success.'): ReplySpec => ({ type: 'simple', value: 'OK', description }),
  integer: (description: string, none?: -1): ReplySpec => ({ type: 'integer', description, ...(none !== undefined && { none }) }),
  boolean: (description: string): ReplySpec => ({ type: 'boolean', description }),
  bulk: (description: string, none?: 'nil'): ReplySpec => ({ type: 'bulk', description, ...(none && { none }) }),
  array: (description: string, items: ReplySpec): ReplySpec => ({ type: 'array', description, items }),
  tuple: (description: string, fields: ReplyField[], rest?: ReplyField): ReplySpec => ({ type: 'tuple', description, fields, ...(rest && { rest }) }),
  map: (description: string, fields: ReplyField[], none?: 'nil'): ReplySpec => ({ type: 'map', description, fields, ...(none && { none }) }),
  field: (name: string, type: ReplyType, description: string, extra: Partial<ReplyField> = {}): ReplyField => ({ name, type, description, ...extra }),
};

/** The key a reply field gets in the client: `retry_after_ms` (or `age-seconds`) -> `retryAfterMs`, unless `client` says. */
export function clientFieldName(field: ReplyField): string {
  return field.client ?? field.name.replace(/[_-]([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/** Finds `top|sub` (or `top`) in a table. */
export function findSpec(table: ReadonlyMap<string, CommandSpec>, name: string): CommandSpec | undefined {
  const [top, sub] = name.toLowerCase().split('|');
  const spec = table.get(top);
  if (!spec || sub === undefined) return spec;
  return spec.subcommands?.find((s) => s.name === `${top}|${sub}`);
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
