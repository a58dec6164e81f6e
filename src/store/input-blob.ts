import { HOST_IS_LITTLE_ENDIAN } from '../common/binary-encoding';

/**
 * How the DuckDB store keeps a row's `inputs` in its BLOB column.
 *
 * Storing the blob is most of what DuckDB logging costs: each byte is copied into a data chunk, the
 * appender, the transaction and the WAL, and page-faulted in along the way (a 5000-row MNIST
 * insert: ~100 ms of CPU without inputs, ~520 ms with their 3 KB each). Many wide inputs are
 * mostly zeros — images, one-hot and bag-of-words features; 81 % of an MNIST digit's pixels — so
 * such rows are stored *sparse*: which values are non-zero, and those values. A dense row, where
 * that would not be smaller, is stored as before: its little-endian float32 bytes.
 *
 * The two layouts tell themselves apart by length, so rows written before this layout existed read
 * back unchanged and no migration is needed:
 *   - dense:  4·n bytes (length ≡ 0 mod 4), the n values;
 *   - sparse: u32 n | bitmap of ⌈n/8⌉ bytes, bit i set when value i is not +0.0 | the k set values,
 *             float32 each, in order | 0–3 padding bytes so that the length ≡ 1 mod 4.
 * All little-endian. Only +0.0 is left out, by its bit pattern: -0.0, NaN payloads and
 * subnormals come back bit for bit.
 */

const EMPTY = new Uint8Array(0);
const HEADER_BYTES = 4;

export class InputBlobError extends Error {
  constructor(message: string) {
    super(`stored inputs blob is malformed: ${message}`);
    this.name = 'InputBlobError';
  }
}

function sparseLength(n: number, k: number): number {
  const unpadded = HEADER_BYTES + Math.ceil(n / 8) + 4 * k;
  return unpadded + ((((1 - unpadded) % 4) + 4) % 4);
}

/**
 * The blob for one row's inputs. A Float32Array's own bytes are returned (no copy) when the row
 * is dense; the caller must not keep the result past the next change of `values`.
 */
export function encodeInputBlob(values: ArrayLike<number>): Uint8Array {
  if (values.length === 0) return EMPTY;
  const floats = values instanceof Float32Array ? values : Float32Array.from(values);
  const n = floats.length;
  const bits = new Uint32Array(floats.buffer, floats.byteOffset, n);
  let k = 0;
  for (let i = 0; i < n; i++) if (bits[i] !== 0) k++;
  const dense = new Uint8Array(floats.buffer, floats.byteOffset, floats.byteLength);
  const length = sparseLength(n, k);
  if (length >= dense.byteLength || !HOST_IS_LITTLE_ENDIAN) return dense;
  const out = new Uint8Array(length);
  const view = new DataView(out.buffer);
  view.setUint32(0, n, true);
  let at = HEADER_BYTES + Math.ceil(n / 8);
  for (let i = 0; i < n; i++) {
    const word = bits[i];
    if (word === 0) continue;
    out[HEADER_BYTES + (i >> 3)] |= 1 << (i & 7);
    view.setUint32(at, word, true);
    at += 4;
  }
  return out;
}

/** The values of a blob written by `encodeInputBlob` (or by any earlier version: dense bytes). */
export function decodeInputBlob(blob: Uint8Array): Float32Array {
  const length = blob.byteLength;
  if (length === 0) return new Float32Array(0);
  if (length % 4 === 0) {
    // Copied into an aligned buffer: the blob's bytes may start at any offset.
    const aligned = new Uint8Array(length);
    aligned.set(blob);
    return new Float32Array(aligned.buffer);
  }
  if (length % 4 !== 1 || length < HEADER_BYTES + 1) {
    throw new InputBlobError(`${length} bytes is neither dense (4·n) nor sparse (4·m + 1)`);
  }
  const view = new DataView(blob.buffer, blob.byteOffset, length);
  const n = view.getUint32(0, true);
  const bitmapBytes = Math.ceil(n / 8);
  if (HEADER_BYTES + bitmapBytes > length) {
    throw new InputBlobError(`header says ${n} values, the bitmap alone needs more bytes`);
  }
  let k = 0;
  for (let b = 0; b < bitmapBytes; b++) {
    let byte = blob[HEADER_BYTES + b];
    while (byte) {
      byte &= byte - 1;
      k++;
    }
  }
  if (sparseLength(n, k) !== length) {
    throw new InputBlobError(
      `${n} values with ${k} set need ${sparseLength(n, k)} bytes, not ${length}`,
    );
  }
  const values = new Float32Array(n);
  const words = new Uint32Array(values.buffer);
  let at = HEADER_BYTES + bitmapBytes;
  for (let i = 0; i < n; i++) {
    if ((blob[HEADER_BYTES + (i >> 3)] & (1 << (i & 7))) === 0) continue;
    words[i] = view.getUint32(at, true);
    at += 4;
  }
  return values;
}
