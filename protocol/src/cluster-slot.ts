/**
 * Redis Cluster's hash slots: CRC16 (XMODEM: polynomial 0x1021, initial 0) of the key, modulo
 * 16384. When the key holds `{...}` with at least one byte between the first `{` and the next
 * `}`, only those bytes are hashed (a hash tag), so `{user1}:a` and `{user1}:b` share a slot.
 * The one implementation: the daemon routes with it, the client and the benchmarks use it.
 */

/** Slots in a Redis Cluster. */
export const CLUSTER_SLOTS = 16384;

const TABLE = new Uint16Array(256);
for (let i = 0; i < 256; i++) {
  let crc = i << 8;
  for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  TABLE[i] = crc;
}

/** CRC16/XMODEM of `bytes[start, end)`. */
export function crc16(bytes: Uint8Array, start = 0, end = bytes.length): number {
  let crc = 0;
  for (let i = start; i < end; i++) crc = ((crc << 8) & 0xffff) ^ TABLE[((crc >> 8) ^ bytes[i]) & 0xff];
  return crc;
}

/** The slot of `key` (a Buffer, or a string taken as UTF-8), hash tags included. */
export function keySlot(key: Uint8Array | string): number {
  const bytes = typeof key === 'string' ? Buffer.from(key) : key;
  const len = bytes.length;
  let open = 0;
  while (open < len && bytes[open] !== 0x7b) open++;
  if (open < len) {
    let close = open + 1;
    while (close < len && bytes[close] !== 0x7d) close++;
    if (close < len && close > open + 1) return crc16(bytes, open + 1, close) & (CLUSTER_SLOTS - 1);
  }
  return crc16(bytes, 0, len) & (CLUSTER_SLOTS - 1);
}
