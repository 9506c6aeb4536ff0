/**
 * The command table's reply declarations against a real daemon's handlers. Every SluiceClient
 * method is called (each outcome whose shape differs: admitted and refused, nil and found), and
 * every other command is sent raw; each decoded reply must have exactly the fields the table
 * declares, of the declared types. A handler that writes another shape (a field more or less,
 * a string for an integer, an undeclared nil) fails here, through RESP2 and RESP3 alike.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startDaemon, type Daemon } from '@sluice/daemon/dist/testing';
import Redis6 from 'ioredis6';
import Redis from 'ioredis';
import { clientFieldName, commandTable, type ReplySpec } from '@sluice/protocol';
import { compileDecoder, decodeReply, replySpecOf, SluiceClient, type RedisLike } from './index';

let daemon: Daemon;
/** A one-node cluster (every slot its own): the cluster family's commands answer only there. */
let clustered: Daemon;

before(async () => {
  [daemon, clustered] = await Promise.all([startDaemon(), startDaemon(['--cluster-enabled', 'yes', '--cluster-node-id', 'a'])]);
});

after(async () => {
  await Promise.all([daemon.stop(), clustered.stop()]);
});

/** Asserts that a decoded value is what `spec` declares: exact field sets, declared types, null only where "none" is declared. */
function checkDecoded(spec: ReplySpec, value: unknown, where: string): void {
  if (value === null) {
    assert.ok(spec.none !== undefined, `${where}: null, but the table declares no "none" for it`);
    return;
  }
  const exactKeys = (names: string[]) => {
    assert.ok(value !== null && typeof value === 'object' && !Array.isArray(value), `${where}: an object`);
    assert.deepEqual(Object.keys(value as object).sort(), [...names].sort(), `${where}: fields`);
  };
  const record = value as Record<string, unknown>;
  switch (spec.type) {
    case 'integer':
      assert.ok(Number.isInteger(value), `${where}: integer, got ${String(value)}`);
      if (spec.none === -1) assert.notEqual(value, -1, `${where}: -1 should have become null`);
      return;
    case 'double':
      assert.equal(typeof value, 'number', where);
      return;
    case 'boolean':
      assert.equal(typeof value, 'boolean', `${where}: boolean, got ${String(value)}`);
      return;
    case 'bulk':
    case 'simple':
      assert.equal(typeof value, 'string', `${where}: string, got ${typeof value}`);
      if (spec.value !== undefined) assert.equal(value, spec.value, where);
      return;
    case 'array':
      assert.ok(Array.isArray(value), `${where}: array`);
      if (spec.items) (value as unknown[]).forEach((v, i) => checkDecoded(spec.items!, v, `${where}[${i}]`));
      return;
    case 'tuple':
    case 'map': {
      if (!spec.fields) {
        exactKeys(Object.keys(record));
        if (spec.items) for (const [k, v] of Object.entries(record)) checkDecoded(spec.items, v, `${where}.${k}`);
        return;
      }
      exactKeys([...spec.fields, ...(spec.rest ? [spec.rest] : [])].map(clientFieldName));
      for (const f of spec.fields) checkDecoded(f, record[clientFieldName(f)], `${where}.${f.name}`);
      if (spec.rest) {
        const tail = record[clientFieldName(spec.rest)];
        assert.ok(Array.isArray(tail), `${where}.${spec.rest.name}: a list`);
        tail.forEach((v, i) => checkDecoded(spec.rest!, v, `${where}.${spec.rest!.name}[${i}]`));
      }
      return;
    }
    case 'oneof': {
      const fits = spec.options!.filter((o) => {
        try {
          checkDecoded(o, value, where);
          return true;
        } catch {
          return false;
        }
      });
      assert.ok(fits.length > 0, `${where}: none of the declared replies (${JSON.stringify(value).slice(0, 80)})`);
      return;
    }
    case 'none':
      assert.equal(value, undefined, where);
  }
}

type Call = { words: string[]; raw: unknown };

/** A connection that records each command and its raw reply. */
function recording(redis: RedisLike, calls: Call[]): RedisLike {
  return {
    call: async (command, ...args) => {
      const raw = await redis.call(command, ...args);
      calls.push({ words: [command, ...args.map(String)], raw });
      return raw;
    },
    quit: () => redis.quit(),
  };
}

/** `RL.POLICY GET x` -> `rl.policy|get`; `RL.HIT k ...` -> `rl.hit`. */
function tableName(words: string[]): string {
  const top = words[0].toLowerCase();
  const spec = commandTable.get(top);
  return spec?.subcommands && words.length > 1 ? `${top}|${words[1].toLowerCase()}` : top;
}

/** Calls every method, with each outcome whose shape differs; returns the method names called. */
async function everyMethod(sluice: SluiceClient, tag: string): Promise<Set<string>> {
  const called = new Set<string>();
  const c = new Proxy(sluice, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver);
      if (typeof v === 'function' && typeof prop === 'string') called.add(prop);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
  const k = (s: string) => `r${tag}:${s}`;
  const limit = { limit: 2, perMs: 60_000 };
  await c.hit(k('u'), limit, 2);
  await c.hit(k('u'), limit, 1); // refused: retry_after_ms is a number
  await c.peek(k('u'), limit);
  await c.setPolicy(k('rpm'), { limit: 5, perMs: 1000, algo: 'sliding' });
  await c.getPolicy(k('rpm'));
  await c.getPolicy(k('nope'));
  await c.listPolicies();
  await c.loadPolicies();
  await c.pipeline().peek(k('pipe'), limit).leasesInUse(k('pipe')).exec(); // (no RL.HIT: the two above are counted)
  await c.all([{ key: k('a'), policy: k('rpm'), cost: 1 }, { key: k('b'), policy: k('rpm'), cost: 2 }]);
  await c.all([{ key: k('a'), policy: k('rpm'), cost: 1 }, { key: k('b'), policy: k('rpm'), cost: 9 }]);
  await c.adjust(k('a'), k('rpm'), 3);
  await c.reset(k('a'), k('none'));
  await c.deletePolicy(k('rpm'));
  await c.throttle(k('cell'), 0, 1, 60);
  await c.throttle(k('cell'), 0, 1, 60); // limited
  const lease = await c.acquire(k('pool'), 1, 10_000);
  await c.acquire(k('pool'), 1); // not acquired: no lease id
  await c.extend(k('pool'), lease.leaseId!, 10_000);
  await c.leasesInUse(k('pool'));
  await c.release(k('pool'), lease.leaseId!);
  await c.withLease(k('pool'), 1, { ttlMs: 1000 }, () => undefined);
  await c.routeSet(k('g'), { model_name: k('g'), litellm_params: { model: 'openai/gpt-4o', rpm: 5, api_base: 'https://x' }, model_info: { id: k('d') } });
  await c.routeGroups();
  const picked = await c.routePick(k('g'), { tokens: 3 });
  await c.routeList(k('g'));
  await c.routeDone(picked.lease, { status: 200, inputTokens: 2, outputTokens: 1 });
  await c.routeCall(k('g'), {}, () => 1);
  await c.routeCooldown(k('g'), k('d'), 0);
  await c.routeDel(k('g'));
  await c.countTokens('gpt-4o', 'Hello, world!');
  await c.countChatTokens('gpt-4o', [{ role: 'user', content: 'Hi' }]);
  await c.countTokensWithin('gpt-4o', 1, 'Hello, world!');
  await c.countTokensWithin('gpt-4o', 100, 'Hello, world!');
  const ids = await c.encode('gpt-4o', 'Hello');
  await c.decode('gpt-4o', ids);
  await c.modelInfo('gpt-4o');
  await c.modelInfo('cl100k_base'); // an encoding's name: no context window, no output limit (nil)
  return called;
}

/** Commands the client does not wrap, sent raw (the order matters: FLUSHALL last). */
const RAW: string[][] = [
  ['PING'], ['PING', 'hi'], ['ECHO', 'x'], ['SELECT', '0'], ['AUTH', 'default', 'any'],
  ['CLIENT', 'ID'], ['CLIENT', 'GETNAME'], ['CLIENT', 'SETNAME', 'rt'], ['CLIENT', 'GETNAME'],
  ['CLIENT', 'SETINFO', 'LIB-NAME', 'rt'], ['CLIENT', 'LIST'], ['CLIENT', 'INFO'], ['CLIENT', 'KILL', 'ID', '999999'], ['CLIENT', 'HELP'],
  ['COMMAND'], ['COMMAND', 'COUNT'], ['COMMAND', 'INFO', 'ping', 'nosuch'], ['COMMAND', 'DOCS', 'rl.hit', 'client'], ['COMMAND', 'LIST'],
  ['COMMAND', 'GETKEYS', 'RL.HIT', 'k', 'LIMIT', '1', 'PER', '1'], ['COMMAND', 'HELP'],
  ['CONFIG', 'GET', '*max*'], ['CONFIG', 'SET', 'timeout', '0'], ['CONFIG', 'RESETSTAT'], ['CONFIG', 'HELP'],
  ['RL.POLICY', 'HELP'],
  ['ROUTE.SET', 'rt', JSON.stringify({ model_name: 'rt', litellm_params: { model: 'openai/gpt-4o', rpm: 5, api_base: 'https://x' }, model_info: { id: 'rt-1' } })],
  ['ROUTE.GROUPS'], ['ROUTE.PICK', 'rt', 'TOKENS', '3'], ['ROUTE.LIST', 'rt'], ['ROUTE.DONE', '{rt}:999999'], ['ROUTE.COOLDOWN', 'rt', 'rt-1', '0'],
  ['ROUTE.SETTINGS', 'GET'], ['ROUTE.SETTINGS', 'SET', '{"routing_strategy":"least-busy"}'], ['ROUTE.SETTINGS', 'HELP'], ['ROUTE.DEL', 'rt'],
  ['INFO'], ['TIME'], ['DBSIZE'], ['SAVE'], ['BGSAVE'], ['LASTSAVE'],
  ['ACL', 'SETUSER', 'rt-user', 'on', '>p', '+@read', '~rt:*'], ['ACL', 'GETUSER', 'rt-user'], ['ACL', 'GETUSER', 'rt-none'], ['ACL', 'LIST'],
  ['ACL', 'USERS'], ['ACL', 'WHOAMI'], ['ACL', 'CAT'], ['ACL', 'CAT', 'limits'], ['ACL', 'GENPASS'], ['ACL', 'HELP'],
  ['ACL', 'DRYRUN', 'rt-user', 'RL.HIT', 'rt:x', 'LIMIT', '1', 'PER', '1'], ['ACL', 'DRYRUN', 'rt-user', 'RL.PEEK', 'rt:x', 'LIMIT', '1', 'PER', '1'],
  ['ACL', 'LOG'], ['ACL', 'LOG', 'RESET'], ['ACL', 'DELUSER', 'rt-user'],
  // The keyspace family, over a lease key and a missing one (nil where a key is missing).
  ['SEM.ACQUIRE', 'rt:ks', '2'], ['SCAN', '0', 'MATCH', 'rt:*', 'COUNT', '1000'], ['KEYS', 'rt:ks'], ['EXISTS', 'rt:ks', 'rt:none'],
  ['TYPE', 'rt:ks'], ['TYPE', 'rt:none'], ['PTTL', 'rt:ks'], ['TTL', 'rt:ks'], ['OBJECT', 'ENCODING', 'rt:ks'], ['OBJECT', 'ENCODING', 'rt:none'],
  ['OBJECT', 'REFCOUNT', 'rt:ks'], ['OBJECT', 'REFCOUNT', 'rt:none'], ['OBJECT', 'HELP'], ['MEMORY', 'USAGE', 'rt:ks'], ['MEMORY', 'USAGE', 'rt:none'],
  ['MEMORY', 'HELP'], ['PEXPIRE', 'rt:ks', '50000'], ['EXPIRE', 'rt:ks', '40'], ['PERSIST', 'rt:none'], ['UNLINK', 'rt:none'], ['DEL', 'rt:ks'],
  ['FLUSHDB'], ['FLUSHALL'],
  // Observability (docs/operations.md): every command above is in the histogram and (at 0 µs) the slow log.
  ['CONFIG', 'SET', 'slowlog-log-slower-than', '0'], ['ECHO', 'slow'], ['SLOWLOG', 'GET', '2'], ['SLOWLOG', 'LEN'], ['SLOWLOG', 'RESET'], ['SLOWLOG', 'HELP'],
  ['CONFIG', 'SET', 'slowlog-log-slower-than', '10000'],
  ['LATENCY', 'HISTOGRAM', 'echo', 'config'], ['LATENCY', 'LATEST'], ['LATENCY', 'RESET'], ['LATENCY', 'HELP'], ['SLUICE.DOCTOR'],
];
/** The cluster family's commands, sent to the one-node cluster (SETTOPOLOGY first). */
const CLUSTER_RAW = (port: number): string[][] => [
  ['SLUICE.CLUSTER', 'SETTOPOLOGY', JSON.stringify({ version: 1, nodes: [{ id: 'a', host: '127.0.0.1', port, slots: ['0-16383'] }] })],
  ['SLUICE.CLUSTER', 'TOPOLOGY'], ['SLUICE.CLUSTER', 'HELP'],
  ['CLUSTER', 'INFO'], ['CLUSTER', 'MYID'], ['CLUSTER', 'SLOTS'], ['CLUSTER', 'SHARDS'], ['CLUSTER', 'NODES'],
  ['CLUSTER', 'KEYSLOT', 'rt'], ['CLUSTER', 'COUNTKEYSINSLOT', '0'], ['CLUSTER', 'HELP'], ['READONLY'], ['READWRITE'], ['ASKING'],
];
/**
 * Sent in turn on a connection of their own (they change or end it); HELLO keeps the
 * connection's protocol. Replies between MULTI and EXEC (QUEUED) are not the commands' own.
 */
const ownConnection = (protocol: 2 | 3): string[][][] => [
  [['HELLO', String(protocol)]],
  [['QUIT']],
  [['MONITOR']],
  [['WATCH', 'rt:w'], ['UNWATCH'], ['MULTI'], ['DISCARD'], ['MULTI'], ['ECHO', 'queued'], ['DBSIZE'], ['EXEC']],
];
/**
 * Not sent: SHUTDOWN stops the daemon (its declaration, `none`, says so); ROUTE.RELOAD needs a
 * routing config file (its OK is checked in daemon/src/commands/routing.test.ts); ACL LOAD and
 * ACL SAVE need a config file (checked in daemon/src/commands/access.test.ts); SLUICE.CLUSTER
 * IMPORT takes state another node encoded (its integer is checked in daemon/src/commands/cluster.test.ts).
 */
const NOT_SENT = new Set(['shutdown', 'route.reload', 'acl|load', 'acl|save', 'sluice.cluster|import']);

function leafNames(): string[] {
  return [...commandTable.values()].flatMap((s) => (s.subcommands ? [...(s.reply ? [s.name] : []), ...s.subcommands.map((c) => c.name)] : [s.name]));
}

type Connection = RedisLike & { disconnect(): void };

/** Sends every command (through the client's methods, then raw) and checks each reply against its declaration. */
async function checkEveryReply(protocol: 2 | 3, connect: (port?: number) => Connection, redis: Connection): Promise<void> {
  const calls: Call[] = [];
  const sluice = new SluiceClient(recording(redis, calls));
  const called = await everyMethod(sluice, String(protocol));

  // Every public method was exercised, so every command the client wraps is checked.
  const methods = Object.getOwnPropertyNames(SluiceClient.prototype).filter(
    (m) => !['constructor', 'quit', 'send'].includes(m) && typeof Object.getOwnPropertyDescriptor(SluiceClient.prototype, m)!.value === 'function',
  );
  assert.deepEqual(methods.filter((m) => !called.has(m)), [], 'methods this test does not call');

  for (const words of RAW) calls.push({ words, raw: await redis.call(words[0], ...words.slice(1)) });
  const cluster = connect(clustered.port);
  try {
    for (const words of CLUSTER_RAW(clustered.port)) calls.push({ words, raw: await cluster.call(words[0], ...words.slice(1)) });
  } finally {
    cluster.disconnect();
  }
  for (const sequence of ownConnection(protocol)) {
    const own = connect();
    try {
      let queuing = false;
      for (const words of sequence) {
        const raw = await own.call(words[0], ...words.slice(1));
        if (words[0] === 'EXEC') assert.equal((raw as unknown[]).length, 2, 'EXEC replies with the queued replies');
        const ends = words[0] === 'EXEC' || words[0] === 'DISCARD';
        if (queuing && !ends) assert.equal(raw, 'QUEUED');
        else calls.push({ words, raw });
        queuing = (queuing || words[0] === 'MULTI') && !ends;
      }
    } finally {
      own.disconnect();
    }
  }

  const seen = new Set<string>();
  for (const { words, raw } of calls) {
    const name = tableName(words);
    seen.add(name);
    const spec = replySpecOf(name);
    const where = words.slice(0, 3).join(' ');
    const decoded = decodeReply(spec, raw, where);
    checkDecoded(spec, decoded, where);
    // The methods decode with the compiled form; it must give the same value for every reply.
    assert.deepEqual(compileDecoder(spec)(raw), decoded, `${where}: compiled decoder`);
  }
  assert.deepEqual(leafNames().filter((n) => !seen.has(n) && !NOT_SENT.has(n)), [], 'commands no call covered');
  // Both outcomes of the "none" fields were met (null and a value).
  const hits = calls.filter((c) => c.words[0] === 'RL.HIT').map((c) => decodeReply(replySpecOf('rl.hit'), c.raw) as { retryAfterMs: number | null });
  assert.deepEqual(hits.map((h) => h.retryAfterMs === null), [true, false]);
  const infos = calls.filter((c) => c.words[0] === 'TOK.INFO').map((c) => decodeReply(replySpecOf('tok.info'), c.raw) as { contextWindow: number | null });
  assert.deepEqual(infos.map((i) => i.contextWindow === null), [false, true]);
}

for (const protocol of [2, 3] as const) {
  test(`RESP${protocol}: every reply decodes to exactly the fields and types the command table declares`, async () => {
    const connect = (port = daemon.port) => (protocol === 2 ? new Redis({ port }) : new Redis6({ port, protocol: 3 }));
    const redis = connect();
    try {
      await checkEveryReply(protocol, connect, redis);
    } finally {
      redis.disconnect();
    }
  });
}

test('the typed methods return exactly what decodeReply makes of the raw reply', async () => {
  const calls: Call[] = [];
  const redis = new Redis({ port: daemon.port });
  const sluice = new SluiceClient(recording(redis, calls));
  try {
    assert.deepEqual(await sluice.acquire('rt:pool2', 1), decodeReply(replySpecOf('sem.acquire'), calls[0].raw));
    assert.deepEqual(await sluice.getPolicy('rt:none'), null);
    assert.throws(() => decodeReply(replySpecOf('rl.hit'), [1, 2, 3, 4]), /RL\.HIT|reply: got an array of 4 where 5 values belong/);
    assert.throws(() => decodeReply(replySpecOf('tok.info'), ['encoding', 'x', 'context_window', 1]), /'max_output_tokens' is missing/);
  } finally {
    redis.disconnect();
  }
});

test('a method given a reply of another shape says where, through the compiled decoder too', async () => {
  // No daemon answers like this (that is the point): a connection that replies with one value short.
  const replies: Record<string, unknown> = { 'RL.HIT': [1, 2, 3, 4], 'TOK.INFO': ['encoding', 'x', 'context_window', 1], 'RL.PEEK': [1, 5, 4, 'soon', 0] };
  const sluice = new SluiceClient({ call: async (command: string) => replies[command], quit: async () => 'OK' });
  await assert.rejects(sluice.hit('k', { limit: 5, perMs: 1000 }), /^ReplyShapeError: RL\.HIT: got an array of 4 where 5 values belong/);
  await assert.rejects(sluice.modelInfo('x'), /TOK\.INFO: the field 'max_output_tokens' is missing/);
  await assert.rejects(sluice.peek('k', { limit: 5, perMs: 1000 }), /RL\.PEEK\.retry_after_ms: got string soon where an integer belongs/);
});

test('COMMAND DOCS carries each declaration as reply_schema (JSON Schema, as Redis 7.2 and Valkey do)', async () => {
  const redis = new Redis6({ port: daemon.port, protocol: 3 });
  try {
    const docs = await redis.call('COMMAND', 'DOCS', 'rl.all', 'tok.info');
    // A map's value by key, whether the client gives maps as Map, object or flat [k, v, ...] array.
    const get = (m: unknown, k: string): unknown => {
      if (m instanceof Map) return m.get(k);
      if (!Array.isArray(m)) return (m as Record<string, unknown>)[k];
      for (let i = 0; i + 1 < m.length; i += 2) if (m[i] === k) return m[i + 1];
      return undefined;
    };
    const keys = (m: unknown): string[] =>
      m instanceof Map ? [...m.keys()] : Array.isArray(m) ? m.filter((_, i) => i % 2 === 0) : Object.keys(m as object);
    const all = get(get(docs, 'rl.all'), 'reply_schema');
    assert.equal(get(all, 'type'), 'array');
    assert.deepEqual((get(all, 'items') as unknown[]).map((i) => get(i, 'title')), ['allowed', 'refused_index', 'retry_after_ms']);
    assert.equal(get(get(all, 'additionalItems'), 'title'), 'remaining');
    const info = get(get(docs, 'tok.info'), 'reply_schema');
    assert.deepEqual(keys(get(info, 'properties')), ['encoding', 'context_window', 'max_output_tokens']);
  } finally {
    redis.disconnect();
  }
});
