/**
 * Byte-level helpers shared by the binary formats Argus reads and writes (ClickHouse RowBinary,
 * DuckDB's inputs blob, the prediction queue's records, KServe V2 binary tensor data).
 */

/**
 * Whether typed arrays on this host are little-endian, the byte order of every one of those
 * formats: when true, a typed array's bytes can be used as they are. True on every platform Node
 * ships for, but not assumed.
 */
export const HOST_IS_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * Copies `value`'s char codes to `target` at `at` while they are ASCII; returns whether all were
 * (then the bytes are its UTF-8). Short names, ids and routes are almost always ASCII, and this
 * loop is cheaper than a native UTF-8 write per string. `target` needs `value.length` bytes there.
 */
export function copyAscii(target: Uint8Array, at: number, value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c > 0x7f) return false;
    target[at + i] = c;
  }
  return true;
}
