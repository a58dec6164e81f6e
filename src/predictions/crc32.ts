/**
 * CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320), the checksum of every spool frame.
 * Written here rather than taken from `zlib.crc32` because that only exists from Node 20.15 / 22.2
 * and the spool format must not depend on the runtime's minor version.
 */
const CRC32_TABLE: Uint32Array = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32 of `bytes[start, end)` as an unsigned 32-bit integer. */
export function crc32(bytes: Uint8Array, start = 0, end = bytes.length): number {
  let crc = 0xffffffff;
  for (let i = start; i < end; i++) crc = CRC32_TABLE[(crc ^ bytes[i]) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/**
 * Incremental CRC-32: `crc32Final(crc32Update(crc32Update(CRC32_INITIAL, a), b))` equals
 * `crc32` of `a` followed by `b`, so a long buffer can be checksummed a slice at a time.
 */
export const CRC32_INITIAL = 0xffffffff;

export function crc32Update(crc: number, bytes: Uint8Array, start = 0, end = bytes.length): number {
  let c = crc;
  for (let i = start; i < end; i++) c = CRC32_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return c;
}

export function crc32Final(crc: number): number {
  return (crc ^ 0xffffffff) >>> 0;
}
