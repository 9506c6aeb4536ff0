/**
 * Access control: users from the config file, AUTH and HELLO AUTH as them, NOPERM for commands
 * and keys (also for the commands the native fast path answers), the ACL command with Redis's
 * rule syntax, ACL SAVE back into the file. Real daemons, ioredis, node-redis and redis-cli.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Redis from 'ioredis';
import { createClient } from 'redis';
import { RawClient, redisCli, resp, startDaemon, type Daemon } from '../testing';

const sha = (s: string) => createHash('sha256').update(s).digest('hex');

const CONFIG = `# operators' comment: kept by ACL SAVE
maxclients: 100
users:
  dashboard: "on #${sha('dash-pass')} +@read +@connection -@dangerous +info +acl|whoami ~*"
  tenant-a: "on #${sha('a-pass')} +@limits -rl.policy|set ~tenant-a:*"
  disabled: "off #${sha('off-pass')} +@all ~*"
`;

function writeConfig(text: string): string {
  const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'sluice-acl-')), 'sluice.yaml');
  writeFileSync(file, text);
  return file;
}

const ADMIN = 'admin-pass';

describe('users from the config file', () => {
  let daemon: Daemon;
  let configFile: string;
  let admin: Redis;

  before(async () => {
    configFile = writeConfig(CONFIG);
    daemon = await startDaemon(['--config', configFile, '--requirepass', ADMIN]);
    admin = new Redis({ port: daemon.port, password: ADMIN });
  });

  after(async () => {
    admin.disconnect();
    await daemon.stop();
  });

  const as = (username: string, password: string) => new Redis({ port: daemon.port, username, password, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, enableReadyCheck: false });

  test('a dashboard user can PEEK, LIST and INFO, but not HIT, RESET, ROUTE.SET or FLUSHALL', async () => {
    const dash = as('dashboard', 'dash-pass');
    await dash.connect();
    assert.equal(await dash.call('ACL', 'WHOAMI'), 'dashboard');
    assert.deepEqual(await dash.call('RL.PEEK', 'tenant-a:k', 'LIMIT', '5', 'PER', '1000'), [1, 5, 5, -1, 0]);
    assert.deepEqual(await dash.call('RL.POLICY', 'LIST'), []);
    assert.deepEqual(await dash.call('ROUTE.GROUPS'), []);
    assert.match((await dash.info('server')) as string, /# Server/);
    const refused: [string, string[]][] = [
      ['rl.hit', ['RL.HIT', 'k', 'LIMIT', '5', 'PER', '1000']],
      ['rl.reset', ['RL.RESET', 'k']],
      ['route.set', ['ROUTE.SET', 'g', '{}']],
      ['flushall', ['FLUSHALL']],
      ['config|set', ['CONFIG', 'SET', 'timeout', '0']],
    ];
    for (const [name, words] of refused) {
      await assert.rejects(dash.call(words[0], ...words.slice(1)), { message: `NOPERM User dashboard has no permissions to run the '${name}' command` });
    }
    dash.disconnect();
    // Nothing was spent by the refused RL.HIT.
    assert.deepEqual(await admin.call('RL.PEEK', 'k', 'LIMIT', '5', 'PER', '1000'), [1, 5, 5, -1, 0]);
  });

  test('key patterns keep a tenant to its keys, by the command table key positions', async () => {
    const a = as('tenant-a', 'a-pass');
    await a.connect();
    assert.deepEqual(await a.call('RL.HIT', 'tenant-a:rpm', 'LIMIT', '5', 'PER', '60000'), [1, 5, 4, -1, 12000]);
    await assert.rejects(a.call('RL.HIT', 'tenant-b:rpm', 'LIMIT', '5', 'PER', '60000'), { message: 'NOPERM No permissions to access a key' });
    await assert.rejects(a.call('RL.RESET', 'tenant-a:rpm', 'tenant-b:rpm'), { message: 'NOPERM No permissions to access a key' });
    // RL.ALL's keys are every third argument from the second.
    await admin.call('RL.POLICY', 'SET', 'p', 'LIMIT', '5', 'PER', '60000');
    await assert.rejects(a.call('RL.ALL', '2', 'tenant-a:x', 'p', '1', 'tenant-b:x', 'p', '1'), { message: 'NOPERM No permissions to access a key' });
    assert.equal(((await a.call('RL.ALL', '2', 'tenant-a:x', 'p', '1', 'tenant-a:y', 'p', '1')) as number[])[0], 1);
    // A subcommand taken out of a category it is in.
    await assert.rejects(a.call('RL.POLICY', 'SET', 'q', 'LIMIT', '1', 'PER', '1'), { message: "NOPERM User tenant-a has no permissions to run the 'rl.policy|set' command" });
    // Not in @limits at all.
    await assert.rejects(a.call('SEM.ACQUIRE', 'tenant-a:pool', '1'), { message: "NOPERM User tenant-a has no permissions to run the 'sem.acquire' command" });
    assert.equal(await admin.call('RL.PEEK', 'tenant-b:rpm', 'LIMIT', '5', 'PER', '60000').then((r) => (r as number[])[2]), 5, 'tenant-b untouched');
    a.disconnect();
  });

  test('the fast path never serves a user without permission: pipelined RL.HIT / CL.THROTTLE / RL.PEEK get NOPERM', async () => {
    const c = await RawClient.connect(daemon.port);
    await c.send(resp('AUTH', 'tenant-a', 'a-pass'), '+OK\r\n');
    const frames = Buffer.concat([
      resp('RL.HIT', 'tenant-b:fast', 'LIMIT', '1', 'PER', '60000'),
      resp('CL.THROTTLE', 'tenant-b:cell', '0', '1', '60'),
      resp('RL.PEEK', 'tenant-b:fast', 'LIMIT', '1', 'PER', '60000'),
      resp('RL.HIT', 'tenant-a:fast', 'LIMIT', '1', 'PER', '60000'),
      resp('PING'),
    ]);
    const all = await c.send(frames, "'ping' command\r\n");
    assert.equal(
      all,
      '-NOPERM No permissions to access a key\r\n'.repeat(3) +
        '*5\r\n:1\r\n:1\r\n:0\r\n:-1\r\n:60000\r\n' +
        "-NOPERM User tenant-a has no permissions to run the 'ping' command\r\n",
    );
    c.close();
    const dash = await RawClient.connect(daemon.port);
    await dash.send(resp('AUTH', 'dashboard', 'dash-pass'), '+OK\r\n');
    const text = await dash.send(Buffer.concat([resp('RL.HIT', 'k2', 'LIMIT', '1', 'PER', '1000'), resp('RL.HIT', 'k2', 'LIMIT', '1', 'PER', '1000')]), "'rl.hit' command\r\n-NOPERM");
    assert.equal(text, "-NOPERM User dashboard has no permissions to run the 'rl.hit' command\r\n".repeat(2));
    dash.close();
    assert.deepEqual(await admin.call('RL.PEEK', 'tenant-b:fast', 'LIMIT', '1', 'PER', '60000'), [1, 1, 1, -1, 0]);
    assert.deepEqual(await admin.call('RL.PEEK', 'k2', 'LIMIT', '1', 'PER', '1000'), [1, 1, 1, -1, 0]);
  });

  test('a command refused between MULTI and EXEC aborts the transaction (EXECABORT), as in Redis', async () => {
    const c = await RawClient.connect(daemon.port);
    await c.send(resp('AUTH', 'tenant-a', 'a-pass'), '+OK\r\n');
    assert.equal(await c.send(resp('MULTI'), '\r\n'), '-NOPERM User tenant-a has no permissions to run the \'multi\' command\r\n');
    c.close();
    assert.equal(await admin.call('ACL', 'SETUSER', 'tx', 'on', '>tx', '+@transaction', '+@limits', '~tx:*'), 'OK');
    const t = await RawClient.connect(daemon.port);
    await t.send(resp('AUTH', 'tx', 'tx'), '+OK\r\n');
    assert.equal(await t.send(resp('MULTI'), '\r\n'), '+OK\r\n');
    assert.equal(await t.send(resp('RL.HIT', 'tx:1', 'LIMIT', '1', 'PER', '1000'), '\r\n'), '+QUEUED\r\n');
    assert.equal(await t.send(resp('RL.HIT', 'other:1', 'LIMIT', '1', 'PER', '1000'), '\r\n'), '-NOPERM No permissions to access a key\r\n');
    assert.equal(await t.send(resp('EXEC'), '\r\n'), '-EXECABORT Transaction discarded because of previous errors.\r\n');
    t.close();
    assert.deepEqual(await admin.call('RL.PEEK', 'tx:1', 'LIMIT', '1', 'PER', '1000'), [1, 1, 1, -1, 0], 'nothing ran');
    assert.equal(await admin.call('ACL', 'DELUSER', 'tx'), 1);
  });

  test('WRONGPASS for a wrong password, an unknown user and a disabled user; AUTH <pass> is the default user', async () => {
    const c = await RawClient.connect(daemon.port);
    const wrongpass = '-WRONGPASS invalid username-password pair or user is disabled.\r\n';
    assert.equal(await c.send(resp('AUTH', 'dashboard', 'nope'), '\r\n'), wrongpass);
    assert.equal(await c.send(resp('AUTH', 'nobody', 'dash-pass'), '\r\n'), wrongpass);
    assert.equal(await c.send(resp('AUTH', 'disabled', 'off-pass'), '\r\n'), wrongpass);
    assert.equal(await c.send(resp('ACL', 'WHOAMI'), '\r\n'), '-NOAUTH Authentication required.\r\n');
    assert.equal(await c.send(resp('AUTH', ADMIN), '\r\n'), '+OK\r\n');
    assert.equal(await c.send(resp('ACL', 'WHOAMI'), '\r\n'), '$7\r\ndefault\r\n');
    c.close();
    const log = (await admin.call('ACL', 'LOG', '10')) as unknown[][];
    const auths = log.map((e) => Object.fromEntries(chunk(e))).filter((e) => e.reason === 'auth');
    assert.ok(auths.some((e) => e.username === 'disabled' && e.object === 'AUTH'), JSON.stringify(auths));
  });

  test('HELLO 3 AUTH user pass with node-redis; the connection acts as that user', async () => {
    const client = createClient({ socket: { port: daemon.port }, username: 'dashboard', password: 'dash-pass', RESP: 3 });
    client.on('error', () => {});
    await client.connect();
    assert.equal(await client.sendCommand(['ACL', 'WHOAMI']), 'dashboard');
    await assert.rejects(client.sendCommand(['RL.RESET', 'x']), /NOPERM User dashboard has no permissions to run the 'rl.reset' command/);
    assert.match((await client.sendCommand(['CLIENT', 'INFO'])) as string, /user=dashboard /);
    await client.quit();
    const raw = await RawClient.connect(daemon.port);
    assert.equal(await raw.send(resp('HELLO', '3', 'AUTH', 'dashboard', 'bad'), '\r\n'), '-WRONGPASS invalid username-password pair or user is disabled.\r\n');
    raw.close();
  });

  test('redis-cli --user/--pass and ACL LIST show the users as rules', async () => {
    const out = await redisCli(daemon.port, ['--user', 'dashboard', '--pass', 'dash-pass', '--no-auth-warning', 'ACL', 'WHOAMI']);
    assert.equal(out.trim(), 'dashboard');
    const list = await redisCli(daemon.port, ['-a', ADMIN, '--no-auth-warning', 'ACL', 'LIST']);
    assert.deepEqual(list.trim().split('\n'), [
      `user dashboard on #${sha('dash-pass')} ~* resetchannels -@all +@read +@connection -@dangerous +info +acl|whoami`,
      `user default on #${sha(ADMIN)} ~* &* +@all`,
      `user disabled off #${sha('off-pass')} ~* resetchannels +@all`,
      `user tenant-a on #${sha('a-pass')} ~tenant-a:* resetchannels -@all +@limits -rl.policy|set`,
    ]);
  });

  test('COMMAND INFO, COMMAND LIST FILTERBY ACLCAT and ACL CAT take the categories from the command table', async () => {
    const info = (await admin.call('COMMAND', 'INFO', 'rl.hit', 'route.set', 'sem.count', 'tok.count')) as unknown[][];
    assert.deepEqual(info.map((i) => i[6]), [['@write', '@fast', '@limits'], ['@write', '@slow', '@routing'], ['@read', '@fast', '@leases'], ['@read', '@slow', '@tokens']]);
    const cats = (await admin.call('ACL', 'CAT')) as string[];
    for (const c of ['read', 'write', 'admin', 'dangerous', 'connection', 'fast', 'slow', 'keyspace', 'limits', 'leases', 'tokens', 'routing']) assert.ok(cats.includes(c), c);
    const leases = (await admin.call('ACL', 'CAT', 'leases')) as string[];
    assert.deepEqual(leases.sort(), ['sem.acquire', 'sem.count', 'sem.extend', 'sem.release']);
    assert.deepEqual(((await admin.call('COMMAND', 'LIST', 'FILTERBY', 'ACLCAT', 'leases')) as string[]).sort(), leases);
    await assert.rejects(admin.call('ACL', 'CAT', 'nosuch'), { message: "ERR Unknown category 'nosuch'" });
    await assert.rejects(admin.call('ACL', 'CAT', '@leases'), { message: "ERR Unknown category '@leases'" }, 'named without @, as in Redis');
  });

  test('ACL DRYRUN says why, with the key or command named', async () => {
    assert.equal(await admin.call('ACL', 'DRYRUN', 'tenant-a', 'RL.HIT', 'tenant-a:x', 'LIMIT', '1', 'PER', '1'), 'OK');
    assert.equal(await admin.call('ACL', 'DRYRUN', 'tenant-a', 'RL.HIT', 'tenant-b:x', 'LIMIT', '1', 'PER', '1'), "User tenant-a has no permissions to access the 'tenant-b:x' key");
    assert.equal(await admin.call('ACL', 'DRYRUN', 'dashboard', 'FLUSHALL'), "User dashboard has no permissions to run the 'flushall' command");
    await assert.rejects(admin.call('ACL', 'DRYRUN', 'nobody', 'PING'), { message: "ERR User 'nobody' not found" });
    await assert.rejects(admin.call('ACL', 'DRYRUN', 'dashboard', 'NOSUCH'), { message: "ERR Command 'NOSUCH' not found" });
    await assert.rejects(admin.call('ACL', 'DRYRUN', 'dashboard', 'RL.HIT', 'k'), { message: "ERR wrong number of arguments for 'rl.hit' command" });
  });

  test('ACL SETUSER with Redis rules; all apply or none; GETUSER; DELUSER closes its connections', async () => {
    assert.equal(await admin.call('ACL', 'SETUSER', 'ops', 'on', '>ops-pass', '+@all', '-@dangerous', '%R~tenant-*', '~ops:*'), 'OK');
    const user = Object.fromEntries(chunk((await admin.call('ACL', 'GETUSER', 'ops')) as unknown[]));
    assert.deepEqual(user.flags, ['on']);
    assert.deepEqual(user.passwords, [sha('ops-pass')]);
    assert.equal(user.commands, '+@all -@dangerous');
    assert.equal(user.keys, '%R~tenant-* ~ops:*');
    const ops = as('ops', 'ops-pass');
    await ops.connect();
    assert.deepEqual(await ops.call('RL.PEEK', 'tenant-z:1', 'LIMIT', '1', 'PER', '1000'), [1, 1, 1, -1, 0], 'read access to tenant-*');
    await assert.rejects(ops.call('RL.HIT', 'tenant-z:1', 'LIMIT', '1', 'PER', '1000'), { message: 'NOPERM No permissions to access a key' }, 'no write access');
    await assert.rejects(ops.call('FLUSHALL'), { message: "NOPERM User ops has no permissions to run the 'flushall' command" });
    // Changes apply to connections already authenticated as the user.
    assert.equal(await admin.call('ACL', 'SETUSER', 'ops', '+flushall'), 'OK');
    assert.equal(await ops.call('FLUSHALL'), 'OK');
    await assert.rejects(ops.call('ACL', 'DRYRUN', 'ops', 'FLUSHALL'), { message: "NOPERM User ops has no permissions to run the 'acl|dryrun' command" });
    await assert.rejects(
      admin.call('ACL', 'SETUSER', 'ops', '-@all', '+nosuch'),
      { message: "ERR Error in ACL SETUSER modifier '+nosuch': Unknown command or category name in ACL" },
    );
    assert.equal(Object.fromEntries(chunk((await admin.call('ACL', 'GETUSER', 'ops')) as unknown[])).commands, '+@all -@dangerous +flushall', 'nothing applied');
    const refusals: [string[], string][] = [
      [['#abc'], "ERR Error in ACL SETUSER modifier '#abc': The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters"],
      [['<never-set'], "ERR Error in ACL SETUSER modifier '<never-set': The password you are trying to remove from the user does not exist"],
      [['allkeys', '~x'], "ERR Error in ACL SETUSER modifier '~x': Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any effect. Try 'resetkeys' to start with an empty list of patterns"],
      [['+@nosuch'], "ERR Error in ACL SETUSER modifier '+@nosuch': Unknown command or category name in ACL"],
      [['+client|nosuch'], "ERR Error in ACL SETUSER modifier '+client|nosuch': Unknown command or category name in ACL"],
      [['+ping|x'], "ERR Error in ACL SETUSER modifier '+ping|x': Allowing first-arg of a subcommand is not supported"],
      [['%X~k'], "ERR Error in ACL SETUSER modifier '%X~k': Syntax error"],
      [['bogus'], "ERR Error in ACL SETUSER modifier 'bogus': Syntax error"],
    ];
    for (const [rules, message] of refusals) await assert.rejects(admin.call('ACL', 'SETUSER', 'ops', ...rules), { message }, rules.join(' '));
    await assert.rejects(admin.call('ACL', 'SETUSER', 'has space', 'on'), { message: "ERR Usernames can't contain spaces or null characters" });
    await assert.rejects(admin.call('ACL', 'DELUSER', 'default'), { message: "ERR The 'default' user cannot be removed" });
    const closed = new Promise<void>((resolve) => ops.once('close', () => resolve()));
    assert.equal(await admin.call('ACL', 'DELUSER', 'ops', 'never-existed'), 1);
    await closed;
    assert.equal(await admin.call('ACL', 'GETUSER', 'ops'), null);
    ops.disconnect();
  });

  test('MONITOR never shows ACL SETUSER (its passwords), AUTH or HELLO', async () => {
    const monitor = await RawClient.connect(daemon.port);
    await monitor.send(resp('AUTH', ADMIN), '+OK\r\n');
    await monitor.send(resp('MONITOR'), '+OK\r\n');
    assert.equal(await admin.call('ACL', 'SETUSER', 'watched', 'on', '>very-secret'), 'OK');
    assert.equal(await admin.call('ACL', 'GETUSER', 'watched').then((u) => (u as unknown[])[0]), 'flags');
    assert.equal(await admin.call('ACL', 'DELUSER', 'watched'), 1);
    await admin.call('ECHO', 'after');
    const seen = await monitor.until((t) => t.includes('"after"'));
    assert.ok(!seen.includes('very-secret') && !seen.includes('watched'), seen);
    monitor.close();
  });

  test('requirepass stays the default user\'s password, also through CONFIG SET', async () => {
    assert.equal(await admin.call('CONFIG', 'SET', 'requirepass', 'newer'), 'OK');
    const c = await RawClient.connect(daemon.port);
    assert.equal(await c.send(resp('AUTH', ADMIN), '\r\n'), '-WRONGPASS invalid username-password pair or user is disabled.\r\n');
    assert.equal(await c.send(resp('AUTH', 'default', 'newer'), '\r\n'), '+OK\r\n');
    c.close();
    assert.equal(await admin.call('CONFIG', 'SET', 'requirepass', ADMIN), 'OK');
  });

  test('ACL SAVE writes the users: section back and keeps the rest of the file; a restart loads it', async () => {
    assert.equal(await admin.call('ACL', 'SETUSER', 'saved', 'on', '>saved-pass', '+@tokens', '~*'), 'OK');
    assert.equal(await admin.call('ACL', 'SAVE'), 'OK');
    const text = readFileSync(configFile, 'utf8');
    assert.match(text, /^# operators' comment: kept by ACL SAVE/);
    assert.match(text, /maxclients: 100/);
    assert.ok(text.includes(`saved: "on #${sha('saved-pass')} ~* resetchannels -@all +@tokens"`), text);
    assert.ok(!text.includes('saved-pass'), 'no password in clear');
    const again = await startDaemon(['--config', configFile, '--requirepass', ADMIN]);
    try {
      const out = await redisCli(again.port, ['--user', 'saved', '--pass', 'saved-pass', '--no-auth-warning', 'TOK.COUNT', 'gpt-4o', 'hello']);
      assert.equal(out.trim(), '1');
      const refused = await redisCli(again.port, ['--user', 'saved', '--pass', 'saved-pass', '--no-auth-warning', 'RL.RESET', 'x']);
      assert.equal(refused.trim(), "NOPERM User saved has no permissions to run the 'rl.reset' command");
      const dry = await redisCli(again.port, ['-a', ADMIN, '--no-auth-warning', 'ACL', 'DRYRUN', 'tenant-a', 'RL.HIT', 'tenant-b:x', 'LIMIT', '1', 'PER', '1']);
      assert.equal(dry.trim(), "User tenant-a has no permissions to access the 'tenant-b:x' key");
    } finally {
      await again.stop();
    }
  });
});

test('ACL SAVE and ACL LOAD without a config file say there is nothing to save to or load from', async () => {
  const daemon = await startDaemon();
  try {
    const c = new Redis({ port: daemon.port });
    await assert.rejects(c.call('ACL', 'SAVE'), /^ReplyError: ERR This instance was started without a config file/);
    await assert.rejects(c.call('ACL', 'LOAD'), /^ReplyError: ERR This instance was started without a config file/);
    c.disconnect();
  } finally {
    await daemon.stop();
  }
});

test('ACL LOAD reloads the users: section: all or nothing; connections of removed users are closed', async () => {
  const file = writeConfig(`requirepass: root\nusers:\n  keep: "on >k +@read ~*"\n  gone: "on >g +@all ~*"\n`);
  const daemon = await startDaemon(['--config', file]);
  try {
    const admin = new Redis({ port: daemon.port, password: 'root' });
    const keep = await RawClient.connect(daemon.port);
    const gone = await RawClient.connect(daemon.port);
    await keep.send(resp('AUTH', 'keep', 'k'), '+OK\r\n');
    await gone.send(resp('AUTH', 'gone', 'g'), '+OK\r\n');
    writeFileSync(file, `requirepass: root\nusers:\n  keep: "on >k +@read +rl.hit ~*"\n  new: "on >n +@tokens ~*"\n  bad: "on +@nosuch"\n`);
    await assert.rejects(admin.call('ACL', 'LOAD'), {
      message: `ERR config file ${file}: users.bad: rule '+@nosuch': Unknown command or category name in ACL; no user was changed`,
    });
    assert.deepEqual(await admin.call('ACL', 'USERS'), ['default', 'gone', 'keep']);
    writeFileSync(file, `requirepass: root\nusers:\n  keep: "on >k +@read +rl.hit ~*"\n  new: "on >n +@tokens ~*"\n`);
    assert.equal(await admin.call('ACL', 'LOAD'), 'OK');
    assert.deepEqual(await admin.call('ACL', 'USERS'), ['default', 'keep', 'new']);
    await gone.waitClosed();
    // The connection of a user that stays sees its new rules; requirepass is still the default's password.
    assert.match(await keep.send(resp('RL.HIT', 'x', 'LIMIT', '1', 'PER', '1000'), '\r\n'), /^\*5\r\n/);
    assert.equal(await admin.call('ACL', 'WHOAMI'), 'default');
    const fresh = await RawClient.connect(daemon.port);
    assert.equal(await fresh.send(resp('AUTH', 'root'), '\r\n'), '+OK\r\n');
    fresh.close();
    keep.close();
    admin.disconnect();
  } finally {
    await daemon.stop();
  }
});

test('a user nobody can log in as (an unquoted #hash is a YAML comment) is pointed out at start', async () => {
  const file = writeConfig(`users:\n  bob: on #${sha('x')} +@all ~*\n`);
  const daemon = await startDaemon(['--config', file]);
  await daemon.stop();
  assert.match(daemon.output(), /user 'bob' has no password and is not nopass: nobody can authenticate as it\. .*quote/);
});

test('a bad users: section stops the start with a message naming the user and the rule', async () => {
  const file = writeConfig('users:\n  bob: on +@nosuch\n');
  const daemon = startDaemon(['--config', file]);
  await assert.rejects(daemon, /users\.bob: rule '\+@nosuch': Unknown command or category name in ACL/);
});

/** [k1, v1, k2, v2] -> [[k1, v1], [k2, v2]] (ioredis gives RESP2 maps flat). */
function chunk(flat: unknown[]): [string, unknown][] {
  const out: [string, unknown][] = [];
  for (let i = 0; i < flat.length; i += 2) out.push([String(flat[i]), flat[i + 1]]);
  return out;
}
