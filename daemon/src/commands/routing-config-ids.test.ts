/**
 * A LiteLLM config.yaml read by Sluice gives the ids LiteLLM gives the same file: LiteLLM reads it
 * with PyYAML, so `weight: 1.0` is a Python float and hashes as `1.0`, not `1`. (The full
 * cross-check against the real LiteLLM is integrations/litellm/tests/test_config_file.py.)
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Redis from 'ioredis';
import { startDaemon } from '../testing';

test('integral floats in a LiteLLM config.yaml keep their decimal point in the derived id', async () => {
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'sluice-route-ids-')), 'litellm.yaml');
  writeFileSync(
    file,
    ['model_list:', '  - model_name: g', '    litellm_params: {model: openai/gpt-4o, rpm: 60, weight: 1.0, timeout: 600.0}', ''].join('\n'),
  );
  const d = await startDaemon(['--config', file]);
  const c = new Redis({ port: d.port, lazyConnect: true });
  try {
    await c.connect();
    const rows = (await c.call('ROUTE.LIST', 'g')) as unknown[][];
    const id = rows[0][rows[0].indexOf('id') + 1];
    // What litellm 1.110.2's Router assigns to this entry after yaml.safe_load of the same text.
    assert.equal(id, 'a095982c7b9074db97f79c9ed68ff22b2b1294a2a63f1af02978502c7bb48464');
    // The values are still numbers for routing.
    const weight = rows[0][rows[0].indexOf('weight') + 1];
    assert.equal(Number(weight), 1);
  } finally {
    c.disconnect();
    await d.stop();
  }
});
