/** The topology checks (cluster-topology.ts): every refusal says what to fix. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseTopology, topologyJson } from './cluster-topology';

const node = (id: string, slots: unknown, extra: Record<string, unknown> = {}) => ({ id, host: '10.0.0.1', port: 6380, slots, ...extra });

test('a topology covering every slot once is accepted, in any order of ranges and single slots', () => {
  const t = parseTopology({ version: 3, nodes: [node('a', ['100-16383', 0, '1-99']), node('b', [])] });
  assert.equal(t.owner[0], 0);
  assert.equal(t.owner[16383], 0);
  assert.deepEqual(t.nodes[0].ranges, [[0, 0], [1, 99], [100, 16383]]);
  assert.equal(topologyJson(t), '{"version":3,"nodes":[{"id":"a","host":"10.0.0.1","port":6380,"slots":["0","1-99","100-16383"]},{"id":"b","host":"10.0.0.1","port":6380,"slots":[]}]}');
});

test('a node may give a tls-port beside its port, or only a tls-port', () => {
  const t = parseTopology({ version: 1, nodes: [node('a', ['0-99'], { 'tls-port': 6390 }), { id: 'b', host: 'b.internal', 'tls-port': 6391, slots: ['100-16383'] }] });
  assert.deepEqual(t.nodes.map((n) => [n.port, n.tlsPort]), [[6380, 6390], [0, 6391]]);
  const json = topologyJson(t);
  assert.equal(json, '{"version":1,"nodes":[{"id":"a","host":"10.0.0.1","port":6380,"tls-port":6390,"slots":["0-99"]},{"id":"b","host":"b.internal","tls-port":6391,"slots":["100-16383"]}]}');
  assert.equal(topologyJson(parseTopology(JSON.parse(json))), json, 'read back as written');
});

test('every bad topology is refused with what is wrong', () => {
  const refused: [unknown, RegExp][] = [
    [null, /must be a mapping with version and nodes/],
    [{ version: 1, nodes: [node('a', ['0-16383'])], extra: 1 }, /unknown field 'extra' in the cluster topology/],
    [{ version: 0, nodes: [node('a', ['0-16383'])] }, /version must be a whole number of at least 1 \(got 0\)/],
    [{ version: '2', nodes: [node('a', ['0-16383'])] }, /version must be a whole number/],
    [{ version: 1, nodes: [] }, /needs a list of nodes/],
    [{ version: 1, nodes: ['a'] }, /node 1 of the cluster topology must be a mapping/],
    [{ version: 1, nodes: [node('a b', ['0-16383'])] }, /id must be a name of letters, digits/],
    [{ version: 1, nodes: [node('a', ['0-16383'], { port: 70000 })] }, /\('a'\): port must be 1-65535 \(got 70000\)/],
    [{ version: 1, nodes: [node('a', ['0-16383'], { 'tls-port': 0 })] }, /\('a'\): tls-port must be 1-65535 \(got 0\)/],
    [{ version: 1, nodes: [node('a', ['0-16383'], { 'tls-port': '6390' })] }, /\('a'\): tls-port must be 1-65535 \(got "6390"\)/],
    [{ version: 1, nodes: [node('a', ['0-16383'], { port: undefined })] }, /node 1 of the cluster topology \('a'\) needs a port, a tls-port or both/],
    [{ version: 1, nodes: [node('a', ['0-16383'], { host: '' })] }, /host must be an address or host name/],
    [{ version: 1, nodes: [node('a', ['0-16383'], { weight: 2 })] }, /unknown field 'weight' in node 1/],
    [{ version: 1, nodes: [node('a', ['0-8000']), node('a', ['8001-16383'])] }, /node id 'a' appears twice/],
    [{ version: 1, nodes: [node('a', ['x'])] }, /slots must be ranges such as "0-5460"/],
    [{ version: 1, nodes: [node('a', ['10-5'])] }, /slot range 10-5 is not within 0-16383 from low to high/],
    [{ version: 1, nodes: [node('a', ['0-16383']), node('b', ['7'])] }, /slots 7 are assigned to both 'a' and 'b'/],
    [{ version: 1, nodes: [node('a', ['1-16383'])] }, /slots 0 are not assigned to any node/],
    [{ version: 1, nodes: [node('a', ['0-100', '200-16383'])] }, /slots 101-199 are not assigned to any node/],
  ];
  for (const [doc, message] of refused) assert.throws(() => parseTopology(doc), message, JSON.stringify(doc));
});
