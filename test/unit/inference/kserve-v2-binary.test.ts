import {
  decodeBinaryTensorData,
  encodeBinaryTensorData,
  splitBinaryInferBody,
} from '../../../src/inference/codecs/kserve-v2-binary';
import { InvalidInputError } from '../../../src/common/errors';
import { assertFinite } from '../../../src/inference/codecs/tensor-decoding';

function lengthPrefixed(values: string[]): Buffer {
  return Buffer.concat(
    values.flatMap((v) => {
      const bytes = Buffer.from(v, 'utf8');
      const length = Buffer.alloc(4);
      length.writeUInt32LE(bytes.length);
      return [length, bytes];
    }),
  );
}

describe('binary tensor data (KServe V2 extension)', () => {
  it('splits the inference header from the binary section', () => {
    const header = Buffer.from('{"inputs":[]}');
    const { header: parsed, binary } = splitBinaryInferBody(
      Buffer.concat([header, Buffer.from([1, 2, 3])]),
      String(header.length),
    );
    expect(parsed).toEqual({ inputs: [] });
    expect([...binary]).toEqual([1, 2, 3]);
  });

  it('decodes fixed-size types from any byte offset, copying into aligned arrays', () => {
    const values = new Float64Array([0.1, -0, 1e308]);
    const padded = Buffer.concat([Buffer.from([9]), Buffer.from(values.buffer)]);
    const out = decodeBinaryTensorData(padded.subarray(1), 'FP64', [3], 'inputs[0]');
    expect(out).toBeInstanceOf(Float64Array);
    expect(Array.from(out as Float64Array)).toEqual([0.1, -0, 1e308]);
    const half = decodeBinaryTensorData(Buffer.from([0x00, 0x3c, 0x00, 0xc0]), 'FP16', [2], 'x');
    // FP16 stays as its raw 16-bit words, which is what ONNX Runtime takes.
    expect(Array.from(half as Uint16Array)).toEqual([0x3c00, 0xc000]);
  });

  it('decodes BYTES elements (4-byte length + UTF-8) and refuses truncated or extra bytes', () => {
    const strings = ['', 'naïve', 'quote " and \\ backslash', '数字'];
    expect(decodeBinaryTensorData(lengthPrefixed(strings), 'BYTES', [2, 2], 'x')).toEqual(strings);
    const bytes = lengthPrefixed(['abc', 'de']);
    expect(() => decodeBinaryTensorData(bytes.subarray(0, 12), 'BYTES', [2], 'x')).toThrow(
      /element of 2 bytes runs past the end/,
    );
    expect(() => decodeBinaryTensorData(bytes, 'BYTES', [1], 'x')).toThrow(
      /6 bytes of binary data left after 1 BYTES elements/,
    );
    expect(() => decodeBinaryTensorData(bytes, 'BYTES', [3], 'x')).toThrow(
      /holds 2 BYTES elements; shape \[3\] needs 3/,
    );
    expect(() => decodeBinaryTensorData(bytes, 'BYTES', [3], 'x')).toThrow(InvalidInputError);
  });

  it('encodes outputs: typed arrays as their bytes, strings length-prefixed', () => {
    const floats = new Float32Array([1.5, -2]);
    const encoded = encodeBinaryTensorData({
      name: 'y',
      datatype: 'FP32',
      shape: [2],
      data: floats.subarray(1),
    });
    expect(encoded.length).toBe(4);
    expect(encoded.readFloatLE(0)).toBe(-2);
    const strings = ['a', 'ü'];
    expect(
      encodeBinaryTensorData({ name: 's', datatype: 'BYTES', shape: [2], data: strings }),
    ).toEqual(lengthPrefixed(strings));
  });

  it('refuses NaN and ±Inf at their index, and lets every finite value through', () => {
    const finite = [0, -0, 1.5, -3.4028234663852886e38, 3.4028234663852886e38, 1e-45, -1e-45];
    expect(() => assertFinite(Float32Array.from(finite), 'x')).not.toThrow();
    expect(() =>
      assertFinite(Float64Array.from([...finite, 1.7976931348623157e308, 5e-324]), 'x'),
    ).not.toThrow();
    for (const bad of [NaN, Infinity, -Infinity]) {
      for (const array of [Float32Array, Float64Array]) {
        const values = array.from([1, 2, bad, 4]);
        expect(() => assertFinite(values, 'inputs[0]')).toThrow(
          new InvalidInputError(`inputs[0][2] is ${bad}; values must be finite`),
        );
        // A view at an offset reports the index within the view.
        expect(() => assertFinite(values.subarray(1), 'v')).toThrow(/v\[1\] is/);
      }
    }
    // Every NaN bit pattern, not only the canonical one.
    const odd = new Float32Array(new Uint32Array([0x3f800000, 0xffc00001, 0x7f800001]).buffer);
    expect(() => assertFinite(odd, 'x')).toThrow(/x\[1\] is NaN/);
  });
});
