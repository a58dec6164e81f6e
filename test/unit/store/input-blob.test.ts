import { decodeInputBlob, encodeInputBlob, InputBlobError } from '../../../src/store/input-blob';
import { mnistRows } from '../../../bench/serving/payloads';
import { seededRandom } from '../../integration/monitoring/support';

/** Bit patterns, so -0, NaN payloads and subnormals are compared exactly. */
function bitsOf(values: Float32Array): number[] {
  return Array.from(new Uint32Array(values.buffer, values.byteOffset, values.length));
}

function fromBits(bits: number[]): Float32Array {
  return new Float32Array(Uint32Array.from(bits).buffer);
}

describe('inputs blob (DuckDB)', () => {
  it('stores a real MNIST digit sparse, in under a third of its dense bytes, and reads it back', () => {
    for (const row of mnistRows(20)) {
      const values = Float32Array.from(row);
      const blob = encodeInputBlob(values);
      expect(blob.byteLength % 4).toBe(1);
      expect(blob.byteLength).toBeLessThan(values.byteLength / 3);
      expect(bitsOf(decodeInputBlob(blob))).toEqual(bitsOf(values));
    }
  });

  it('keeps a dense row as its own float32 bytes, without a copy', () => {
    const values = Float32Array.from({ length: 16 }, (_, i) => i + 0.5);
    const blob = encodeInputBlob(values);
    expect(blob.buffer).toBe(values.buffer);
    expect(blob.byteLength).toBe(64);
    expect(bitsOf(decodeInputBlob(blob))).toEqual(bitsOf(values));
  });

  it('reads rows written before the sparse layout existed (dense bytes) unchanged', () => {
    const values = Float32Array.from(mnistRows(1)[0]);
    const legacy = new Uint8Array(values.buffer.slice(0));
    expect(bitsOf(decodeInputBlob(legacy))).toEqual(bitsOf(values));
  });

  it('round-trips -0, NaN payloads, infinities and subnormals bit for bit', () => {
    const special = [
      0x80000000, // -0
      0x7fc00001, // NaN with a payload
      0xffc00000, // negative NaN
      0x7f800000, // +Inf
      0xff800000, // -Inf
      0x00000001, // smallest subnormal
      0x3f800000, // 1
    ];
    const bits = new Array<number>(200).fill(0);
    special.forEach((b, i) => (bits[i * 23] = b));
    const values = fromBits(bits);
    const blob = encodeInputBlob(values);
    expect(blob.byteLength % 4).toBe(1);
    expect(bitsOf(decodeInputBlob(blob))).toEqual(bits);
  });

  it('round-trips random rows of every density and length, choosing the smaller layout', () => {
    const random = seededRandom(42);
    for (let trial = 0; trial < 400; trial++) {
      const n = 1 + Math.floor(random() * 1100);
      const density = random();
      const values = Float32Array.from({ length: n }, () =>
        random() < density ? (random() - 0.5) * 1000 : 0,
      );
      const blob = encodeInputBlob(values);
      expect(blob.byteLength).toBeLessThanOrEqual(values.byteLength);
      expect(blob.byteLength % 4).toBe(blob.byteLength === values.byteLength ? 0 : 1);
      expect(bitsOf(decodeInputBlob(blob))).toEqual(bitsOf(values));
    }
  });

  it('encodes plain number arrays and empty inputs', () => {
    expect(encodeInputBlob([]).byteLength).toBe(0);
    expect(decodeInputBlob(new Uint8Array(0))).toEqual(new Float32Array(0));
    const values = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2.5, 0, 0, 0, 0];
    expect(Array.from(decodeInputBlob(encodeInputBlob(values)))).toEqual(values);
  });

  it('decodes a blob at any byte offset (DuckDB hands out views into its own buffers)', () => {
    const values = Float32Array.from(mnistRows(3)[2]);
    const blob = encodeInputBlob(values);
    for (const offset of [1, 2, 3, 5]) {
      const host = new Uint8Array(blob.byteLength + offset);
      host.set(blob, offset);
      const view = host.subarray(offset);
      expect(bitsOf(decodeInputBlob(view))).toEqual(bitsOf(values));
    }
  });

  it('refuses blobs that are neither layout, naming the problem', () => {
    const sparse = encodeInputBlob(Float32Array.from(mnistRows(1)[0]));
    // Lengths of 4·m + 2 and 4·m + 3 belong to neither layout.
    expect(() => decodeInputBlob(sparse.subarray(0, sparse.byteLength - 3))).toThrow(
      /neither dense/,
    );
    // A value count that does not fit the bitmap and values that follow it.
    const wrongCount = sparse.slice();
    new DataView(wrongCount.buffer).setUint32(0, 5000, true);
    expect(() => decodeInputBlob(wrongCount)).toThrow(InputBlobError);
    // One more bit set in the bitmap claims a value the blob does not hold.
    const extraBit = sparse.slice();
    extraBit[4] ^= 0x01;
    expect(() => decodeInputBlob(extraBit)).toThrow(/need \d+ bytes/);
    expect(() => decodeInputBlob(Uint8Array.of(1))).toThrow(InputBlobError);
  });
});
