/**
 * Packaging: the ESM entry point re-exports every export of the CommonJS build (one module
 * instance for both), and `npm pack` output installs into a scratch project where require(),
 * import and TypeScript's type check all work and a client talks to a real daemon.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { startDaemon, type Daemon } from '@sluice/daemon/dist/testing';
import * as cjs from './index';

const run = promisify(execFile);
const ROOT = path.join(__dirname, '../..');
let daemon: Daemon;
let scratch: string;

before(async () => {
  daemon = await startDaemon();
  scratch = await mkdtemp(path.join(os.tmpdir(), 'sluice-pack-'));
});

after(async () => {
  await daemon.stop();
  await rm(scratch, { recursive: true, force: true });
});

test('the ESM entry exports everything the CommonJS one does, as the same objects', async () => {
  // Through a variable, so TypeScript does not resolve (and type) the built package as input.
  const specifier = '@sluice/client';
  const esm = (await import(specifier)) as Record<string, unknown>;
  const names = Object.keys(cjs).filter((n) => n !== '__esModule');
  assert.deepEqual(names.filter((n) => !(n in esm)), [], 'missing from esm/index.mjs');
  for (const n of names) assert.equal(esm[n], (cjs as Record<string, unknown>)[n], n);
});

test('npm pack output installs and imports (require, import, types) in a scratch project', { timeout: 240_000 }, async () => {
  const packed: string[] = [];
  for (const dir of ['protocol', 'client']) {
    const { stdout } = await run('npm', ['pack', '--pack-destination', scratch, '--ignore-scripts'], { cwd: path.join(ROOT, dir) });
    packed.push(path.join(scratch, stdout.trim().split('\n').pop()!));
  }
  await writeFile(path.join(scratch, 'package.json'), JSON.stringify({ name: 'scratch', private: true }));
  await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts', ...packed], { cwd: scratch, timeout: 200_000 });

  const port = String(daemon.port);
  const cjsOut = await run(process.execPath, ['-e', `
    const { SluiceClient, rateLimitHeaders } = require('@sluice/client');
    const s = new SluiceClient({ port: ${port} });
    s.limits.hit('pack:cjs', { limit: 2, perMs: '1m' }).then((r) => { console.log(JSON.stringify(rateLimitHeaders(r))); return s.quit(); });
  `], { cwd: scratch });
  assert.equal(JSON.parse(cjsOut.stdout)['X-RateLimit-Remaining'], '1');

  const esmOut = await run(process.execPath, ['--input-type=module', '-e', `
    import { SluiceClient, NoDeploymentError } from '@sluice/client';
    import sluice from '@sluice/client';
    const s = new SluiceClient({ port: ${port} });
    const r = await s.hit('pack:esm', { limit: 2, perMs: 60000 });
    console.log(r.remaining, typeof NoDeploymentError, sluice.SluiceClient === SluiceClient);
    await s.quit();
  `], { cwd: scratch });
  assert.equal(esmOut.stdout.trim(), '1 function true');

  // Types: both entry points type-check a use of the API (and catch a misuse).
  const tsc = path.join(ROOT, 'node_modules/typescript/bin/tsc');
  const typeRoots = path.join(ROOT, 'node_modules/@types');
  const good = `const s = new SluiceClient({ port: 1, onUnavailable: 'local', timeoutMs: '1s' });\nconst r: Promise<{ allowed: boolean }> = s.limits.hit('k', { limit: 1, perMs: '1m' });\nvoid r;\n`;
  await writeFile(path.join(scratch, 'use.mts'), `import { SluiceClient } from '@sluice/client';\n${good}`);
  await writeFile(path.join(scratch, 'use.cts'), `import { SluiceClient } from '@sluice/client';\n${good}`);
  await writeFile(path.join(scratch, 'bad.mts'), `import { SluiceClient } from '@sluice/client';\nnew SluiceClient({ onUnavailable: 'sometimes' });\n`);
  const check = (file: string) => run(process.execPath, [tsc, '--noEmit', '--strict', '--module', 'node16', '--moduleResolution', 'node16', '--target', 'es2022', '--skipLibCheck', '--typeRoots', typeRoots, '--types', 'node', file], { cwd: scratch });
  await check('use.mts');
  await check('use.cts');
  await assert.rejects(check('bad.mts'), (e: { stdout?: string }) => /sometimes/.test(e.stdout ?? ''));
});
