/**
 * COMMAND INFO and COMMAND DOCS replies, written from the command table. Shapes follow Redis 7:
 * redis-cli builds its argument hints from COMMAND DOCS, cluster clients read key positions
 * from COMMAND INFO.
 */
import type { ArgSpec, CommandSpec, ReplySpec } from './command-table';
import type { ReplyWriter } from './reply-writer';

/** `[name, arity, flags, first, last, step, acl, tips, key_specs, subcommands]`. */
export function writeCommandInfo(w: ReplyWriter, spec: CommandSpec): void {
  w.array(10);
  w.bulk(spec.name);
  w.integer(spec.arity);
  w.set(spec.flags.length);
  for (const f of spec.flags) w.simple(f);
  w.integer(spec.keys.first);
  w.integer(spec.keys.last);
  w.integer(spec.keys.step);
  w.set(spec.acl.length);
  for (const c of spec.acl) w.simple('@' + c);
  w.set(0); // tips
  if (spec.keys.first > 0) {
    const { first, last, step } = spec.keys;
    w.array(1);
    w.map(3);
    w.bulk('flags');
    const write = spec.flags.includes('write');
    w.set(2);
    w.simple(write ? 'RW' : 'RO');
    w.simple(write ? 'UPDATE' : 'ACCESS');
    w.bulk('begin_search');
    w.map(2);
    w.bulk('type');
    w.bulk('index');
    w.bulk('spec');
    w.map(1);
    w.bulk('index');
    w.integer(first);
    w.bulk('find_keys');
    w.map(2);
    w.bulk('type');
    w.bulk('range');
    w.bulk('spec');
    w.map(3);
    w.bulk('lastkey');
    w.integer(last < 0 ? last : last - first);
    w.bulk('keystep');
    w.integer(step);
    w.bulk('limit');
    w.integer(0);
  } else {
    w.array(0);
  }
  const subs = spec.subcommands ?? [];
  w.array(subs.length);
  for (const s of subs) writeCommandInfo(w, s);
}

/** One command's COMMAND DOCS map (without its name). */
export function writeCommandDocs(w: ReplyWriter, spec: CommandSpec): void {
  const subs = spec.subcommands ?? [];
  const fields = 3 + (spec.complexity ? 1 : 0) + (spec.arguments.length ? 1 : 0) + (spec.reply ? 1 : 0) + (subs.length ? 1 : 0);
  w.map(fields);
  w.bulk('summary');
  w.bulk(spec.summary);
  w.bulk('since');
  w.bulk(spec.since || '0.1.0');
  w.bulk('group');
  w.bulk(spec.group || 'server');
  if (spec.complexity) {
    w.bulk('complexity');
    w.bulk(spec.complexity);
  }
  if (spec.arguments.length) {
    w.bulk('arguments');
    writeArguments(w, spec.arguments);
  }
  if (spec.reply) {
    w.bulk('reply_schema');
    writeJson(w, cachedSchema(spec.reply));
  }
  if (subs.length) {
    w.bulk('subcommands');
    w.map(subs.length);
    for (const s of subs) {
      w.bulk(s.name);
      writeCommandDocs(w, s);
    }
  }
}

function writeArguments(w: ReplyWriter, args: ArgSpec[]): void {
  w.array(args.length);
  for (const a of args) {
    const flags: string[] = [];
    if (a.optional) flags.push('optional');
    if (a.multiple) flags.push('multiple');
    const hasDisplay = a.type !== 'pure-token' && a.type !== 'oneof' && a.type !== 'block';
    const nested = a.arguments && a.arguments.length > 0;
    w.map(2 + (hasDisplay ? 1 : 0) + (a.token ? 1 : 0) + (flags.length ? 1 : 0) + (nested ? 1 : 0));
    w.bulk('name');
    w.bulk(a.name);
    w.bulk('type');
    w.bulk(a.type);
    if (hasDisplay) {
      w.bulk('display_text');
      w.bulk(a.display ?? a.name);
    }
    if (a.token) {
      w.bulk('token');
      w.bulk(a.token);
    }
    if (flags.length) {
      w.bulk('flags');
      w.set(flags.length);
      for (const f of flags) w.simple(f);
    }
    if (nested) {
      w.bulk('arguments');
      writeArguments(w, a.arguments!);
    }
  }
}

/** Schemas are built once per declaration: COMMAND DOCS may be asked often (redis-cli asks at start). */
const schemas = new WeakMap<ReplySpec, { [key: string]: Json }>();
function cachedSchema(r: ReplySpec): { [key: string]: Json } {
  let s = schemas.get(r);
  if (!s) schemas.set(r, (s = replySchema(r)));
  return s;
}

type Json = string | number | boolean | null | Json[] | { [key: string]: Json };

/**
 * A reply declaration as the JSON Schema Redis 7.2 and Valkey give as `reply_schema` (their
 * commands/*.json): tuples as `items` lists with min/maxItems, maps as objects, "none" as a
 * oneOf with -1 or null, 1/0 booleans as integers 0..1.
 */
export function replySchema(r: ReplySpec): { [key: string]: Json } {
  let schema: { [key: string]: Json };
  switch (r.type) {
    case 'integer':
      schema = { description: r.description, type: 'integer' };
      break;
    case 'boolean':
      schema = { description: r.description, type: 'integer', minimum: 0, maximum: 1 };
      break;
    case 'double':
      schema = { description: r.description, type: 'number' };
      break;
    case 'bulk':
    case 'simple':
      schema = r.value !== undefined ? { description: r.description, const: r.value } : { description: r.description, type: 'string' };
      break;
    case 'array':
      schema = { description: r.description, type: 'array', ...(r.items && { items: replySchema(r.items) }) };
      break;
    case 'tuple': {
      const n = r.fields!.length;
      schema = { description: r.description, type: 'array', minItems: n, items: r.fields!.map((f) => ({ ...replySchema(f), title: f.name })) };
      if (r.rest) schema.additionalItems = { ...replySchema(r.rest), title: r.rest.name };
      else schema.maxItems = n;
      break;
    }
    case 'map':
      schema = { description: r.description, type: 'object' };
      if (r.fields) {
        schema.additionalProperties = false;
        schema.properties = Object.fromEntries(r.fields.map((f) => [f.name, replySchema(f)]));
      } else if (r.items) schema.additionalProperties = replySchema(r.items);
      break;
    case 'oneof':
      schema = { description: r.description, oneOf: r.options!.map(replySchema) };
      break;
    case 'none':
      schema = { description: r.description };
      break;
  }
  if (r.none === -1) schema = { oneOf: [schema, { description: 'None.', const: -1 }] };
  if (r.none === 'nil') schema = { oneOf: [schema, { description: 'None.', type: 'null' }] };
  return schema;
}

/** JSON as RESP, as Redis writes reply_schema: objects as maps, arrays, strings as bulks. */
function writeJson(w: ReplyWriter, value: Json): void {
  if (value === null) w.null();
  else if (typeof value === 'string') w.bulk(value);
  else if (typeof value === 'number') w.integer(value);
  else if (typeof value === 'boolean') w.boolean(value);
  else if (Array.isArray(value)) {
    w.array(value.length);
    for (const v of value) writeJson(w, v);
  } else {
    const entries = Object.entries(value);
    w.map(entries.length);
    for (const [k, v] of entries) {
      w.bulk(k);
      writeJson(w, v);
    }
  }
}
