/**
 * Transport-neutral tensors: what every protocol adapter decodes into and the runtime consumes.
 * KServe V2 datatype names are the vocabulary; `ORT_TYPE` maps them to ONNX Runtime's.
 */

export type Datatype =
  | 'BOOL'
  | 'UINT8'
  | 'UINT16'
  | 'UINT32'
  | 'UINT64'
  | 'INT8'
  | 'INT16'
  | 'INT32'
  | 'INT64'
  | 'FP16'
  | 'FP32'
  | 'FP64'
  | 'BYTES';

export const DATATYPES: readonly Datatype[] = [
  'BOOL',
  'UINT8',
  'UINT16',
  'UINT32',
  'UINT64',
  'INT8',
  'INT16',
  'INT32',
  'INT64',
  'FP16',
  'FP32',
  'FP64',
  'BYTES',
];

export type OrtType =
  | 'bool'
  | 'uint8'
  | 'uint16'
  | 'uint32'
  | 'uint64'
  | 'int8'
  | 'int16'
  | 'int32'
  | 'int64'
  | 'float16'
  | 'float32'
  | 'float64'
  | 'string';

export const ORT_TYPE: Record<Datatype, OrtType> = {
  BOOL: 'bool',
  UINT8: 'uint8',
  UINT16: 'uint16',
  UINT32: 'uint32',
  UINT64: 'uint64',
  INT8: 'int8',
  INT16: 'int16',
  INT32: 'int32',
  INT64: 'int64',
  FP16: 'float16',
  FP32: 'float32',
  FP64: 'float64',
  BYTES: 'string',
};

export function datatypeOfOrt(type: string): Datatype | undefined {
  for (const [dt, ort] of Object.entries(ORT_TYPE)) if (ort === type) return dt as Datatype;
  return undefined;
}

export type TensorData =
  | Float32Array
  | Float64Array
  | Int8Array
  | Uint8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | BigInt64Array
  | BigUint64Array
  | string[];

export interface Tensor {
  name: string;
  datatype: Datatype;
  shape: number[];
  data: TensorData;
}

/** A model input or output as the model declares it; -1 marks a dynamic dimension. */
export interface TensorSpec {
  name: string;
  datatype: Datatype;
  shape: number[];
}

export function elementCount(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Allocates the typed array ONNX Runtime expects for a datatype. */
export function allocate(datatype: Datatype, length: number): TensorData {
  switch (datatype) {
    case 'FP32':
      return new Float32Array(length);
    case 'FP64':
      return new Float64Array(length);
    case 'INT8':
      return new Int8Array(length);
    case 'UINT8':
    case 'BOOL':
      return new Uint8Array(length);
    case 'INT16':
      return new Int16Array(length);
    case 'UINT16':
    case 'FP16':
      return new Uint16Array(length);
    case 'INT32':
      return new Int32Array(length);
    case 'UINT32':
      return new Uint32Array(length);
    case 'INT64':
      return new BigInt64Array(length);
    case 'UINT64':
      return new BigUint64Array(length);
    case 'BYTES':
      return new Array<string>(length).fill('');
  }
}

/** Copies `src` into `dst` at `offset`, for merging rows of several requests into one batch. */
export function copyInto(dst: TensorData, src: TensorData, offset: number): void {
  if (Array.isArray(dst)) {
    for (let i = 0; i < src.length; i++) dst[offset + i] = (src as string[])[i];
  } else {
    (dst as Float32Array).set(src as Float32Array, offset);
  }
}

/** A view (no copy for typed arrays) of elements [start, end). */
export function sliceView(data: TensorData, start: number, end: number): TensorData {
  return Array.isArray(data) ? data.slice(start, end) : data.subarray(start, end);
}

/** JSON-friendly values: BigInt becomes number (safe for int64 labels and indices in practice). */
export function toJsonArray(data: TensorData): Array<number | string | boolean> {
  if (Array.isArray(data)) return data;
  if (data instanceof BigInt64Array || data instanceof BigUint64Array) {
    return Array.from(data, (v) => Number(v));
  }
  return Array.from(data as ArrayLike<number>);
}
