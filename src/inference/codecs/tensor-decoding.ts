import { InvalidInputError } from '../../common/errors';
import { allocate, Datatype, elementCount, TensorData } from '../../onnx/tensor';

/**
 * Turns untrusted JSON tensor data (flat or nested, row-major) into a typed array, checking every
 * element against the datatype. Errors name the field (`inputs[0].data[17]`) and the problem.
 */

const INT_RANGE: Partial<Record<Datatype, [number, number]>> = {
  INT8: [-128, 127],
  UINT8: [0, 255],
  INT16: [-32768, 32767],
  UINT16: [0, 65535],
  INT32: [-2147483648, 2147483647],
  UINT32: [0, 4294967295],
  INT64: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
  UINT64: [0, Number.MAX_SAFE_INTEGER],
};

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'string')
    return `the string ${JSON.stringify(value.length > 20 ? value.slice(0, 20) + '…' : value)}`;
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `${typeof value} ${JSON.stringify(value)}`;
}

/** Checks nesting against the declared shape and returns the flat list of leaves. */
function flatten(data: unknown[], shape: number[], field: string): unknown[] {
  if (data.length === 0 || !Array.isArray(data[0])) return data; // already flat
  const out: unknown[] = [];
  const walk = (node: unknown, depth: number, path: string): void => {
    if (Array.isArray(node)) {
      if (depth >= shape.length)
        throw new InvalidInputError(`${path} is nested deeper than shape [${shape.join(', ')}]`);
      if (node.length !== shape[depth]) {
        throw new InvalidInputError(
          `${path} has ${node.length} elements but shape [${shape.join(', ')}] needs ${shape[depth]} at depth ${depth}`,
        );
      }
      for (let i = 0; i < node.length; i++) walk(node[i], depth + 1, `${path}[${i}]`);
    } else {
      if (depth !== shape.length) {
        throw new InvalidInputError(
          `${path} is ${describe(node)} where shape [${shape.join(', ')}] needs an array`,
        );
      }
      out.push(node);
    }
  };
  walk(data, 0, field);
  return out;
}

export function decodeTensorData(
  raw: unknown,
  datatype: Datatype,
  shape: number[],
  field: string,
): TensorData {
  if (!Array.isArray(raw))
    throw new InvalidInputError(`${field} must be an array, got ${describe(raw)}`);
  const values = flatten(raw, shape, field);
  const expected = elementCount(shape);
  if (values.length !== expected) {
    throw new InvalidInputError(
      `${field} has ${values.length} elements but shape [${shape.join(', ')}] needs ${expected}`,
    );
  }
  const out = allocate(datatype, expected);
  switch (datatype) {
    case 'FP32':
    case 'FP64': {
      const arr = out as Float32Array | Float64Array;
      for (let i = 0; i < expected; i++) {
        const v = values[i];
        if (typeof v !== 'number')
          throw new InvalidInputError(`${field}[${i}] must be a number, got ${describe(v)}`);
        // JSON cannot carry NaN or Infinity, but a finite double can overflow FP32 to Infinity.
        if (datatype === 'FP32' && (v > 3.4028234663852886e38 || v < -3.4028234663852886e38)) {
          throw new InvalidInputError(`${field}[${i}] = ${v} is outside the FP32 range`);
        }
        arr[i] = v;
      }
      return arr;
    }
    case 'BOOL': {
      const arr = out as Uint8Array;
      for (let i = 0; i < expected; i++) {
        const v = values[i];
        if (typeof v !== 'boolean')
          throw new InvalidInputError(`${field}[${i}] must be true or false, got ${describe(v)}`);
        arr[i] = v ? 1 : 0;
      }
      return arr;
    }
    case 'BYTES': {
      const arr = out as string[];
      for (let i = 0; i < expected; i++) {
        const v = values[i];
        if (typeof v !== 'string')
          throw new InvalidInputError(`${field}[${i}] must be a string, got ${describe(v)}`);
        arr[i] = v;
      }
      return arr;
    }
    case 'FP16':
      throw new InvalidInputError(`${field}: FP16 tensors are not supported in JSON; send FP32`);
    default: {
      const [min, max] = INT_RANGE[datatype]!;
      const big = datatype === 'INT64' || datatype === 'UINT64';
      for (let i = 0; i < expected; i++) {
        const v = values[i];
        if (typeof v !== 'number' || !Number.isInteger(v)) {
          throw new InvalidInputError(`${field}[${i}] must be an integer, got ${describe(v)}`);
        }
        if (v < min || v > max)
          throw new InvalidInputError(`${field}[${i}] = ${v} is outside the ${datatype} range`);
        if (big) (out as BigInt64Array | BigUint64Array)[i] = BigInt(v);
        else (out as Int32Array)[i] = v;
      }
      return out;
    }
  }
}

/** Rejects NaN and ±Inf in float tensors that arrived in binary form or were computed. */
export function assertFinite(data: TensorData, field: string): void {
  if (!(data instanceof Float32Array || data instanceof Float64Array)) return;
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i]))
      throw new InvalidInputError(`${field}[${i}] is ${data[i]}; values must be finite`);
  }
}
