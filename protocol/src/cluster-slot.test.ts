import { test } from 'node:test';
import assert from 'node:assert/strict';
import { crc16, keySlot } from './cluster-slot';

test('CRC16 is XMODEM: the Redis Cluster spec check value "123456789" -> 0x31C3', () => {
  assert.equal(crc16(Buffer.from('123456789')), 0x31c3);
});

// Answers of a real redis-server 7.0.15 in cluster mode to CLUSTER KEYSLOT (run by hand:
// redis-server --cluster-enabled yes; the cluster test in daemon/ compares against Sluice live).
const REDIS_KEYSLOT: [string, number][] = [
  ['123456789', 12739],
  ['a', 15495],
  ['{user1000}.following', 3443],
  ['foo{}{bar}', 8363], // empty tag: the whole key
  ['foo{{bar}}zap', 4015], // tag is "{bar"
  ['foo{bar}{zap}', 5061], // first tag only: "bar"
  ['', 0],
];

test('keySlot matches redis-server for hash tags and edge cases', () => {
  for (const [key, slot] of REDIS_KEYSLOT) assert.equal(keySlot(key), slot, key);
  assert.equal(keySlot('{user1000}.followers'), keySlot('{user1000}.following'));
  assert.equal(keySlot(Buffer.from('a')), keySlot('a'));
});
