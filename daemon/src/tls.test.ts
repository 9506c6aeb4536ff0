/**
 * The TLS listener against certificates made here with openssl: ioredis and `redis-cli --tls`
 * talk to it; with tls-ca-cert-file a client without a certificate signed by that CA is refused
 * at the handshake; bad settings stop the start with a message that says what to fix.
 */
import test, { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import Redis from 'ioredis';
import { freePort, openssl, redisCli, startDaemon } from './testing';

const dir = mkdtempSync(path.join(os.tmpdir(), 'sluice-tls-'));
const file = (name: string) => path.join(dir, name);

/** A key and a certificate for `cn` signed by the test CA (`ca.crt`), with `extension` lines. */
function issue(name: string, cn: string, extension: string): void {
  openssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', file(`${name}.key`), '-out', file(`${name}.csr`), '-subj', `/CN=${cn}`);
  writeFileSync(file(`${name}.ext`), extension);
  openssl('x509', '-req', '-in', file(`${name}.csr`), '-CA', file('ca.crt'), '-CAkey', file('ca.key'), '-CAcreateserial', '-out', file(`${name}.crt`), '-days', '2', '-extfile', file(`${name}.ext`));
}

before(() => {
  openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', file('ca.key'), '-out', file('ca.crt'), '-days', '2', '-subj', '/CN=Sluice test CA');
  issue('server', 'localhost', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  issue('client', 'sluice-test-client', 'extendedKeyUsage=clientAuth\n');
  // A client certificate from another CA: must be refused when client certificates are required.
  openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', file('stranger.key'), '-out', file('stranger.crt'), '-days', '2', '-subj', '/CN=stranger');
});

after(() => rmSync(dir, { recursive: true, force: true }));

const serverArgs = () => ['--tls-cert-file', file('server.crt'), '--tls-key-file', file('server.key')];

test('ioredis and redis-cli --tls over the TLS port; the plain port keeps working', async () => {
  const tlsPort = await freePort();
  const d = await startDaemon(['--tls-port', String(tlsPort), ...serverArgs()]);
  try {
    assert.match(d.output(), new RegExp(`TLS on 127\\.0\\.0\\.1:${tlsPort}\\n`));
    const c = new Redis({ port: tlsPort, host: '127.0.0.1', tls: { ca: readFileSync(file('ca.crt')), servername: 'localhost' }, lazyConnect: true, maxRetriesPerRequest: 0 });
    await c.connect();
    assert.equal(await c.ping(), 'PONG');
    const hit = (await c.call('RL.HIT', 'tls:k', 'LIMIT', 2, 'PER', 60000)) as number[];
    assert.deepEqual(hit.slice(0, 3), [1, 2, 1]);
    // A pipeline larger than a TLS record (16 KB) and than one read.
    const pipe = c.pipeline();
    for (let i = 0; i < 2000; i++) pipe.call('RL.HIT', `tls:p${i % 7}`, 'LIMIT', 1000, 'PER', 60000);
    pipe.echo('y'.repeat(100_000));
    const results = (await pipe.exec())!;
    assert.equal(results.length, 2001);
    assert.ok(results.every(([err]) => err === null));
    assert.equal(results[2000][1], 'y'.repeat(100_000));
    const list = String(await c.client('LIST'));
    assert.match(list, /laddr=127\.0\.0\.1:\d+/);
    c.disconnect();
    const out = await redisCli(tlsPort, ['--tls', '--cacert', file('ca.crt'), '--sni', 'localhost', 'RL.HIT', 'tls:k', 'LIMIT', '2', 'PER', '60000']);
    assert.deepEqual(out.trim().split('\n').slice(0, 3), ['1', '2', '0']);
    assert.equal((await redisCli(d.port, ['PING'])).trim(), 'PONG', 'the plain port still answers');
  } finally {
    await d.stop();
  }
});

test('tls-ca-cert-file requires a client certificate signed by that CA', async () => {
  const tlsPort = await freePort();
  const d = await startDaemon(['--tls-port', String(tlsPort), ...serverArgs(), '--tls-ca-cert-file', file('ca.crt')]);
  try {
    assert.match(d.output(), /\(client certificates required\)/);
    const ca = readFileSync(file('ca.crt'));
    const good = new Redis({ port: tlsPort, host: '127.0.0.1', tls: { ca, servername: 'localhost', cert: readFileSync(file('client.crt')), key: readFileSync(file('client.key')) }, lazyConnect: true });
    await good.connect();
    assert.equal(await good.ping(), 'PONG');
    good.disconnect();
    const out = await redisCli(tlsPort, ['--tls', '--cacert', file('ca.crt'), '--sni', 'localhost', '--cert', file('client.crt'), '--key', file('client.key'), 'PING']);
    assert.equal(out.trim(), 'PONG');
    // Without a certificate, and with one from another CA: the handshake fails, no command runs.
    for (const creds of [{}, { cert: readFileSync(file('stranger.crt')), key: readFileSync(file('stranger.key')) }]) {
      const refused = await new Promise<string>((resolve) => {
        const s = tls.connect({ port: tlsPort, host: '127.0.0.1', ca, servername: 'localhost', ...creds }, () => s.write('*1\r\n$4\r\nPING\r\n'));
        let got = '';
        s.on('data', (d) => (got += d.toString()));
        s.on('error', (err) => resolve(`error: ${err.message}`));
        s.on('close', () => resolve(got === '' ? 'closed without a reply' : got));
      });
      assert.doesNotMatch(refused, /PONG/);
    }
    await assert.rejects(redisCli(tlsPort, ['--tls', '--cacert', file('ca.crt'), '--sni', 'localhost', 'PING']));
  } finally {
    await d.stop();
  }
});

test('bad TLS settings stop the start with a message that says what to fix', async () => {
  const port = await freePort();
  await assert.rejects(startDaemon(['--tls-port', String(port)]), /tls-port is set but tls-cert-file or tls-key-file is not: give both \(PEM files\)/);
  await assert.rejects(startDaemon(['--tls-port', String(port), '--tls-cert-file', file('missing.crt'), '--tls-key-file', file('server.key')]), /cannot read tls-cert-file .*missing\.crt: ENOENT; give a readable PEM file/);
  await assert.rejects(startDaemon(['--tls-port', String(port), '--tls-cert-file', file('server.crt'), '--tls-key-file', file('client.key')]), /cannot start TLS on port \d+: .*key values mismatch/);
});
