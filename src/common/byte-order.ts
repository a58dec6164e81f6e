/**
 * Whether typed arrays on this host are little-endian, the byte order of every binary format
 * Argus reads or writes (ClickHouse RowBinary, DuckDB's inputs blob, KServe V2 binary tensor
 * data): when true, a typed array's bytes can be used as they are. True on every platform Node
 * ships for, but not assumed.
 */
export const HOST_IS_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
