import { HOST_IS_LITTLE_ENDIAN } from '../../common/binary-encoding';
import { ArgusError, InvalidInputError } from '../../common/errors';
import { allocate, Datatype, elementCount, Tensor, TensorData } from '../../onnx/tensor';
import { assertFinite } from './tensor-decoding';

/**
 * The binary tensor data extension of KServe V2 (Triton's, which tritonclient uses by default):
 * the body is a JSON inference header of `Inference-Header-Content-Length` bytes followed by raw
 * tensor bytes. An input with `parameters.binary_data_size` has no `data` in the header; its bytes
 * come next in the binary section, in the order of the inputs. Fixed-size datatypes are their
 * little-endian element bytes (BOOL one byte each); BYTES elements are each a 4-byte little-endian
 * length and that many bytes. Outputs are returned the same way when the request asks for it
 * (`parameters.binary_data_output` or an output's `parameters.binary_data`).
 */

export const INFERENCE_HEADER_CONTENT_LENGTH = 'inference-header-content-length';

/** A binary-extension request body split into its inference header and the tensor bytes after it. */
export interface BinaryInferBody {
  header: unknown;
  binary: Buffer;
}

export function splitBinaryInferBody(
  body: unknown,
  headerLength: string | string[] | undefined,
): BinaryInferBody {
  if (!HOST_IS_LITTLE_ENDIAN) {
    throw new ArgusError('unsupported', 'binary tensor data needs a little-endian host');
  }
  if (!Buffer.isBuffer(body)) {
    throw new InvalidInputError(
      'a request with Inference-Header-Content-Length must be sent as application/octet-stream',
    );
  }
  const text = Array.isArray(headerLength) ? headerLength[0] : headerLength;
  if (text === undefined || !/^\d{1,10}$/.test(text.trim())) {
    throw new InvalidInputError(
      `Inference-Header-Content-Length must be a byte count, got '${String(text)}'`,
    );
  }
  const length = Number(text.trim());
  if (length > body.length) {
    throw new InvalidInputError(
      `Inference-Header-Content-Length is ${length} bytes, the body has only ${body.length}`,
    );
  }
  let header: unknown;
  try {
    header = JSON.parse(body.toString('utf8', 0, length));
  } catch (err) {
    throw new InvalidInputError(
      `the inference header (the first ${length} bytes) is not valid JSON: ${(err as Error).message}`,
    );
  }
  return { header, binary: body.subarray(length) };
}

/** The tensor of one input whose values arrived as `bytes` of the binary section. */
export function decodeBinaryTensorData(
  bytes: Buffer,
  datatype: Datatype,
  shape: number[],
  field: string,
): TensorData {
  const count = elementCount(shape);
  if (datatype === 'BYTES') return decodeBinaryStrings(bytes, count, shape, field);
  const out = allocate(datatype, count) as Exclude<TensorData, string[]>;
  const size = out.BYTES_PER_ELEMENT;
  if (bytes.length !== count * size) {
    throw new InvalidInputError(
      `${field}: binary_data_size is ${bytes.length} bytes; shape [${shape.join(', ')}] of ${datatype} needs ${count * size}`,
    );
  }
  // A copy into the typed array's own buffer: the section's offsets need not be aligned.
  new Uint8Array(out.buffer, out.byteOffset, out.byteLength).set(bytes);
  if (datatype === 'BOOL') {
    const flags = out as Uint8Array;
    for (let i = 0; i < count; i++) {
      if (flags[i] > 1) {
        throw new InvalidInputError(`${field}[${i}]: a BOOL byte must be 0 or 1, got ${flags[i]}`);
      }
    }
  }
  assertFinite(out, field);
  return out;
}

function decodeBinaryStrings(
  bytes: Buffer,
  count: number,
  shape: number[],
  field: string,
): string[] {
  const out = new Array<string>(count);
  let at = 0;
  for (let i = 0; i < count; i++) {
    if (at + 4 > bytes.length) {
      throw new InvalidInputError(
        `${field}: the binary data holds ${i} BYTES elements; shape [${shape.join(', ')}] needs ${count}`,
      );
    }
    const length = bytes.readUInt32LE(at);
    at += 4;
    if (at + length > bytes.length) {
      throw new InvalidInputError(
        `${field}[${i}]: element of ${length} bytes runs past the end of its binary data`,
      );
    }
    out[i] = bytes.toString('utf8', at, at + length);
    at += length;
  }
  if (at !== bytes.length) {
    throw new InvalidInputError(
      `${field}: ${bytes.length - at} bytes of binary data left after ${count} BYTES elements`,
    );
  }
  return out;
}

/** The bytes of an output tensor in the binary section. */
export function encodeBinaryTensorData(tensor: Tensor): Buffer {
  const data = tensor.data;
  if (Array.isArray(data)) {
    const parts: Buffer[] = [];
    for (const value of data) {
      const text = Buffer.from(value, 'utf8');
      const length = Buffer.allocUnsafe(4);
      length.writeUInt32LE(text.length, 0);
      parts.push(length, text);
    }
    return Buffer.concat(parts);
  }
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}
