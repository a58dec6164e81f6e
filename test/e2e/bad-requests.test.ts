import { existsSync } from 'node:fs';
import { join } from 'node:path';
import {
  CLASSIFIER_META,
  fixedBatchClassifier,
  irisLikeClassifier,
  linearRegressor,
  twoInputModel,
  typedModel,
} from '../fixtures/models';
import { OnnxGraphBuilder } from '../../src/onnx';
import { HttpResult, registerOk, startTestServer, TestServer, waitChampionReady } from './helpers';

/**
 * A table of bad requests, each with its expected status and the words its error must contain.
 * Runs against a server with small limits (64 KiB bodies, 8 rows per request).
 */

type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

interface BadRequest {
  name: string;
  method: Method;
  path: string;
  headers?: Record<string, string>;
  /** Sent as JSON. */
  json?: unknown;
  /** Sent as is. */
  raw?: string | Uint8Array;
  status: number;
  error: RegExp;
}

const JSON_CT = { 'content-type': 'application/json' };
const OCTET = { 'content-type': 'application/octet-stream' };
const ROW = [5.1, 3.5, 1.4, 0.2];
const INFER = '/v2/models/classifier/infer';
const PREDICT = '/v1/models/classifier/predict';

function fp32(data: unknown, shape: unknown = [1, 4], extra: Record<string, unknown> = {}) {
  return { inputs: [{ name: 'input', shape, datatype: 'FP32', data, ...extra }] };
}

/** A valid request for the typed model with one input replaced. */
function typed(name: 'f64' | 'i32' | 'i64' | 'flag', data: unknown[]) {
  const inputs = [
    { name: 'f64', shape: [1, 2], datatype: 'FP64', data: [0.5, 1] },
    { name: 'i32', shape: [1, 2], datatype: 'INT32', data: [1, 2] },
    { name: 'i64', shape: [1, 2], datatype: 'INT64', data: [3, 4] },
    { name: 'flag', shape: [1, 2], datatype: 'BOOL', data: [true, false] },
  ];
  return { inputs: inputs.map((t) => (t.name === name ? { ...t, data } : t)) };
}

/** INT32 [batch, 2] in, the same out: a model the v1 API feeds with integers. */
function int32Model(): Uint8Array {
  return new OnnxGraphBuilder('int32_echo')
    .input('codes', 'int32', ['batch', 2])
    .node('Identity', ['codes'], ['out'])
    .output('out', 'int32', ['batch', 2])
    .toBytes();
}

function abc(name: string, shape: number[], data: number[]) {
  return { name, shape, datatype: 'FP32', data };
}

function register(name: string, metadata: unknown): Pick<BadRequest, 'method' | 'path' | 'json'> {
  return {
    method: 'POST',
    path: `/v1/models/${name}/versions`,
    json: { onnx_base64: Buffer.from(irisLikeClassifier()).toString('base64'), metadata },
  };
}

const NAMED = {
  sepal_length: 5.1,
  sepal_width: 3.5,
  petal_length: 1.4,
  petal_width: 0.2,
};

/** A binary tensor data extension request: `header` as JSON, then `sections`. */
function binaryRequest(
  name: string,
  header: Record<string, unknown>,
  sections: Uint8Array[],
  error: RegExp,
  path = INFER,
): BadRequest {
  const json = Buffer.from(JSON.stringify(header));
  return {
    name: `binary: ${name}`,
    method: 'POST',
    path,
    headers: { ...OCTET, 'inference-header-content-length': String(json.length) },
    raw: Buffer.concat([json, ...sections]),
    status: 400,
    error,
  };
}

function binaryCases(): BadRequest[] {
  const floats = (values: number[]) => new Uint8Array(new Float32Array(values).buffer);
  const input = (size: unknown, extra: Record<string, unknown> = {}) => ({
    inputs: [
      {
        name: 'input',
        shape: [1, 4],
        datatype: 'FP32',
        parameters: { binary_data_size: size },
        ...extra,
      },
    ],
  });
  const row = floats(ROW);
  return [
    binaryRequest(
      'size not matching the shape',
      input(12),
      [row.subarray(0, 12)],
      /binary_data_size is 12 bytes; shape \[1, 4\] of FP32 needs 16/,
    ),
    binaryRequest(
      'size past the end of the body',
      input(16),
      [row.subarray(0, 8)],
      /binary_data_size is 16 bytes, only 8 are left in the body/,
    ),
    binaryRequest(
      'bytes left over',
      input(16),
      [row, new Uint8Array(4)],
      /4 bytes of binary data follow/,
    ),
    binaryRequest(
      'size not a byte count',
      input(-4),
      [row],
      /binary_data_size must be a byte count/,
    ),
    binaryRequest(
      'data and binary_data_size',
      input(16, { data: ROW }),
      [row],
      /has both data and parameters.binary_data_size/,
    ),
    binaryRequest(
      'NaN in FP32',
      input(16),
      [floats([1, NaN, 2, 3])],
      /inputs\[0\]\[1\] is NaN; values must be finite/,
    ),
    binaryRequest(
      'binary_data_output not a boolean',
      { ...input(16), parameters: { binary_data_output: 'yes' } },
      [row],
      /parameters.binary_data_output must be true or false/,
    ),
    binaryRequest(
      "an output's binary_data not a boolean",
      { ...input(16), outputs: [{ name: 'label', parameters: { binary_data: 1 } }] },
      [row],
      /outputs\[0\].parameters.binary_data must be true or false/,
    ),
    binaryRequest(
      'BOOL byte other than 0 or 1',
      {
        inputs: [
          { name: 'f64', shape: [1, 2], datatype: 'FP64', data: [0.5, 1] },
          { name: 'i32', shape: [1, 2], datatype: 'INT32', data: [1, 2] },
          { name: 'i64', shape: [1, 2], datatype: 'INT64', data: [3, 4] },
          { name: 'flag', shape: [1, 2], datatype: 'BOOL', parameters: { binary_data_size: 2 } },
        ],
      },
      [new Uint8Array([1, 2])],
      /inputs\[3\]\[1\]: a BOOL byte must be 0 or 1, got 2/,
      '/v2/models/typed/infer',
    ),
  ];
}

const CASES: BadRequest[] = [
  // --- the body itself ---------------------------------------------------------------------
  {
    name: 'malformed JSON',
    method: 'POST',
    path: INFER,
    headers: JSON_CT,
    raw: '{"inputs": [',
    status: 400,
    error: /not valid JSON/i,
  },
  {
    name: 'NaN literal (not JSON)',
    method: 'POST',
    path: PREDICT,
    headers: JSON_CT,
    raw: '{"instances": [[NaN, 1, 2, 3]]}',
    status: 400,
    error: /not valid JSON/i,
  },
  {
    name: 'Infinity literal (not JSON)',
    method: 'POST',
    path: INFER,
    headers: JSON_CT,
    raw: '{"inputs":[{"name":"input","shape":[1,4],"datatype":"FP32","data":[Infinity,1,2,3]}]}',
    status: 400,
    error: /not valid JSON/i,
  },
  {
    name: 'empty JSON body',
    method: 'POST',
    path: INFER,
    headers: JSON_CT,
    raw: '',
    status: 400,
    error: /empty/i,
  },
  {
    name: 'no body at all',
    method: 'POST',
    path: INFER,
    status: 400,
    error: /JSON object with "inputs"/,
  },
  {
    name: 'wrong content-type',
    method: 'POST',
    path: INFER,
    headers: { 'content-type': 'application/xml' },
    raw: '<inputs/>',
    status: 415,
    error: /Content-Type|media type/i,
  },
  {
    name: 'text/plain body',
    method: 'POST',
    path: INFER,
    headers: { 'content-type': 'text/plain' },
    raw: 'input=5.1,3.5,1.4,0.2',
    status: 400,
    error: /JSON object with "inputs"/,
  },
  {
    name: 'array body',
    method: 'POST',
    path: INFER,
    json: [ROW],
    status: 400,
    error: /JSON object with "inputs"/,
  },
  {
    name: 'string body',
    method: 'POST',
    path: INFER,
    json: 'inputs',
    status: 400,
    error: /JSON object with "inputs"/,
  },
  {
    name: 'null body',
    method: 'POST',
    path: PREDICT,
    headers: JSON_CT,
    raw: 'null',
    status: 400,
    error: /JSON object with "instances"/,
  },
  {
    name: '__proto__ key',
    method: 'POST',
    path: INFER,
    headers: JSON_CT,
    raw: '{"__proto__": {"admin": true}, "inputs": []}',
    status: 400,
    error: /JSON/i,
  },
  {
    name: '__proto__ key inside a tensor',
    method: 'POST',
    path: INFER,
    headers: JSON_CT,
    raw: '{"inputs": [{"name": "x", "__proto__": {"admin": true}, "data": [1]}]}',
    status: 400,
    error: /JSON/i,
  },
  {
    name: 'flat list of numbers as instances',
    method: 'POST',
    path: PREDICT,
    json: { instances: [1, 2, 3] },
    status: 400,
    error: /instances\[0\] must be an array of numbers or an object/,
  },
  {
    name: 'a string among the numbers of a row',
    method: 'POST',
    path: PREDICT,
    headers: JSON_CT,
    raw: '{"instances": [[1, 2, "3", 4]]}',
    status: 400,
    error: /instances\[0\]/,
  },
  {
    name: 'body over the size limit',
    method: 'POST',
    path: INFER,
    json: fp32(
      Array.from({ length: 20_000 }, () => 1.2345),
      [5000, 4],
    ),
    status: 413,
    error: /larger than the limit|too large/i,
  },
  // --- KServe V2 tensors ---------------------------------------------------------------------
  {
    name: 'missing inputs',
    method: 'POST',
    path: INFER,
    json: { id: 'x' },
    status: 400,
    error: /"inputs" must be a non-empty array/,
  },
  {
    name: 'empty inputs',
    method: 'POST',
    path: INFER,
    json: { inputs: [] },
    status: 400,
    error: /"inputs" must be a non-empty array/,
  },
  {
    name: 'inputs not an array',
    method: 'POST',
    path: INFER,
    json: { inputs: { input: ROW } },
    status: 400,
    error: /"inputs" must be a non-empty array/,
  },
  {
    name: 'input not an object',
    method: 'POST',
    path: INFER,
    json: { inputs: [ROW] },
    status: 400,
    error: /inputs\[0\] must be an object/,
  },
  {
    name: 'input without a name',
    method: 'POST',
    path: INFER,
    json: { inputs: [{ shape: [1, 4], datatype: 'FP32', data: ROW }] },
    status: 400,
    error: /inputs\[0\]\.name must be a non-empty string/,
  },
  {
    name: 'unknown input name',
    method: 'POST',
    path: INFER,
    json: { inputs: [{ name: 'pixels', shape: [1, 4], datatype: 'FP32', data: ROW }] },
    status: 400,
    error: /no input named 'pixels' \(inputs: input\)/,
  },
  {
    name: 'duplicate input',
    method: 'POST',
    path: '/v2/models/two_inputs/infer',
    json: {
      inputs: [
        abc('a', [1, 3], [1, 2, 3]),
        abc('a', [1, 3], [1, 2, 3]),
        abc('b', [1, 3], [1, 2, 3]),
      ],
    },
    status: 400,
    error: /inputs\[1\]: input 'a' appears twice/,
  },
  {
    name: 'missing input',
    method: 'POST',
    path: '/v2/models/two_inputs/infer',
    json: { inputs: [abc('a', [1, 3], [1, 2, 3])] },
    status: 400,
    error: /missing input 'b'/,
  },
  {
    name: 'inputs with different batch sizes',
    method: 'POST',
    path: '/v2/models/two_inputs/infer',
    json: { inputs: [abc('a', [1, 3], [1, 2, 3]), abc('b', [2, 3], [1, 2, 3, 4, 5, 6])] },
    status: 400,
    error: /same first \(batch\) dimension; 'b' has 2, expected 1/,
  },
  {
    name: 'wrong datatype',
    method: 'POST',
    path: INFER,
    json: { inputs: [{ name: 'input', shape: [1, 4], datatype: 'FP64', data: ROW }] },
    status: 400,
    error: /input 'input' has datatype FP32, the request says FP64/,
  },
  {
    name: 'unknown datatype',
    method: 'POST',
    path: INFER,
    json: { inputs: [{ name: 'input', shape: [1, 4], datatype: 'FLOAT32', data: ROW }] },
    status: 400,
    error: /inputs\[0\]\.datatype must be one of BOOL, .*FP32/,
  },
  {
    name: 'shape not an array',
    method: 'POST',
    path: INFER,
    json: fp32(ROW, '1,4'),
    status: 400,
    error: /inputs\[0\]\.shape must be an array of non-negative integers/,
  },
  {
    name: 'negative shape',
    method: 'POST',
    path: INFER,
    json: fp32(ROW, [-1, 4]),
    status: 400,
    error: /shape must be an array of non-negative integers/,
  },
  {
    name: 'non-integer shape',
    method: 'POST',
    path: INFER,
    json: fp32(ROW, [1.5, 4]),
    status: 400,
    error: /shape must be an array of non-negative integers/,
  },
  {
    name: 'wrong rank',
    method: 'POST',
    path: INFER,
    json: fp32(ROW, [4]),
    status: 400,
    error: /shape \[-1, 4\], the request's shape \[4\] has 1 dimensions/,
  },
  {
    name: 'fixed dimension mismatch',
    method: 'POST',
    path: INFER,
    json: fp32([...ROW, 1], [1, 5]),
    status: 400,
    error: /dimension 1 must be 4/,
  },
  {
    name: 'fixed batch dimension mismatch',
    method: 'POST',
    path: '/v2/models/fixed/infer',
    json: fp32([...ROW, ...ROW], [2, 4]),
    status: 400,
    error: /needs shape \[1, 4\], got \[2, 4\] \(dimension 0 must be 1\)/,
  },
  {
    name: 'data shorter than the shape',
    method: 'POST',
    path: INFER,
    json: fp32(ROW.slice(0, 3)),
    status: 400,
    error: /inputs\[0\]\.data has 3 elements but shape \[1, 4\] needs 4/,
  },
  {
    name: 'data longer than the shape',
    method: 'POST',
    path: INFER,
    json: fp32([...ROW, 9]),
    status: 400,
    error: /inputs\[0\]\.data has 5 elements but shape \[1, 4\] needs 4/,
  },
  {
    name: 'nested data not matching the shape',
    method: 'POST',
    path: INFER,
    json: fp32([ROW, ROW.slice(0, 3)], [2, 4]),
    status: 400,
    error: /inputs\[0\]\.data\[1\] has 3 elements but shape \[2, 4\] needs 4 at depth 1/,
  },
  {
    name: 'data nested deeper than the shape',
    method: 'POST',
    path: INFER,
    json: fp32([ROW.map((v) => [v])]),
    status: 400,
    error: /nested deeper than shape \[1, 4\]/,
  },
  {
    name: 'data not an array',
    method: 'POST',
    path: INFER,
    json: fp32('5.1 3.5 1.4 0.2'),
    status: 400,
    error: /inputs\[0\]\.data must be an array, got the string/,
  },
  {
    name: 'string where a number belongs',
    method: 'POST',
    path: INFER,
    json: fp32([5.1, 'abc', 1.4, 0.2]),
    status: 400,
    error: /inputs\[0\]\.data\[1\] must be a number, got the string "abc"/,
  },
  {
    name: 'null in FP32 data',
    method: 'POST',
    path: INFER,
    json: fp32([5.1, 3.5, null, 0.2]),
    status: 400,
    error: /inputs\[0\]\.data\[2\] must be a number, got null/,
  },
  {
    name: 'boolean in FP32 data',
    method: 'POST',
    path: INFER,
    json: fp32([true, 3.5, 1.4, 0.2]),
    status: 400,
    error: /inputs\[0\]\.data\[0\] must be a number, got boolean true/,
  },
  {
    name: 'FP32 above the FP32 maximum',
    method: 'POST',
    path: INFER,
    json: fp32([1e39, 3.5, 1.4, 0.2]),
    status: 400,
    error: /inputs\[0\]\.data\[0\] = 1e\+39 is outside the FP32 range/,
  },
  {
    name: 'FP32 below the FP32 minimum',
    method: 'POST',
    path: INFER,
    json: fp32([5.1, -3.5e38, 1.4, 0.2]),
    status: 400,
    error: /data\[1\] = -3\.5e\+38 is outside the FP32 range/,
  },
  {
    name: 'string in FP64 data',
    method: 'POST',
    path: '/v2/models/typed/infer',
    json: typed('f64', ['0.5', 1]),
    status: 400,
    error: /inputs\[0\]\.data\[0\] must be a number, got the string "0\.5"/,
  },
  {
    name: 'non-integer in INT32 data',
    method: 'POST',
    path: '/v2/models/typed/infer',
    json: typed('i32', [1.5, 2]),
    status: 400,
    error: /inputs\[1\]\.data\[0\] must be an integer, got number 1\.5/,
  },
  {
    name: 'out-of-range INT32',
    method: 'POST',
    path: '/v2/models/typed/infer',
    json: typed('i32', [1, 2147483648]),
    status: 400,
    error: /inputs\[1\]\.data\[1\] = 2147483648 is outside the INT32 range/,
  },
  {
    name: 'non-integer in INT64 data',
    method: 'POST',
    path: '/v2/models/typed/infer',
    json: typed('i64', [3, 0.25]),
    status: 400,
    error: /inputs\[2\]\.data\[1\] must be an integer, got number 0\.25/,
  },
  {
    name: 'INT64 beyond 2^53 (not exact in JSON)',
    method: 'POST',
    path: '/v2/models/typed/infer',
    headers: JSON_CT,
    raw: JSON.stringify(typed('i64', [0, 0])).replace(
      '"data":[0,0]',
      '"data":[9007199254740993,0]',
    ),
    status: 400,
    error: /inputs\[2\]\.data\[0\] = 9007199254740992 is outside the INT64 range/,
  },
  {
    name: 'string in INT64 data',
    method: 'POST',
    path: '/v2/models/typed/infer',
    json: typed('i64', ['12', 4]),
    status: 400,
    error: /inputs\[2\]\.data\[0\] must be an integer, got the string "12"/,
  },
  {
    name: 'number in BOOL data',
    method: 'POST',
    path: '/v2/models/typed/infer',
    json: typed('flag', [1, 0]),
    status: 400,
    error: /inputs\[3\]\.data\[0\] must be true or false, got number 1/,
  },
  {
    name: 'unknown output requested',
    method: 'POST',
    path: INFER,
    json: { ...fp32(ROW), outputs: [{ name: 'logits' }] },
    status: 400,
    error: /outputs\[0\]: the model has no output named 'logits' \(outputs: probabilities, label\)/,
  },
  {
    name: 'outputs not an array',
    method: 'POST',
    path: INFER,
    json: { ...fp32(ROW), outputs: 'label' },
    status: 400,
    error: /"outputs" must be an array/,
  },
  {
    name: 'too many rows',
    method: 'POST',
    path: INFER,
    json: fp32(Array.from({ length: 9 }, () => ROW).flat(), [9, 4]),
    status: 400,
    error: /the request has 9 rows; the limit is 8/,
  },
  {
    name: 'zero rows',
    method: 'POST',
    path: INFER,
    json: fp32([], [0, 4]),
    status: 400,
    error: /no rows/,
  },
  {
    name: 'id not a string',
    method: 'POST',
    path: INFER,
    json: { id: 7, ...fp32(ROW) },
    status: 400,
    error: /"id" must be a string/,
  },
  {
    name: 'parameters not an object',
    method: 'POST',
    path: INFER,
    json: { parameters: [], ...fp32(ROW) },
    status: 400,
    error: /"parameters" must be an object/,
  },
  {
    name: 'binary tensor data sent as JSON',
    method: 'POST',
    path: INFER,
    headers: { 'inference-header-content-length': '120' },
    json: fp32([], [1, 4], { parameters: { binary_data_size: 16 } }),
    status: 400,
    error: /must be sent as application\/octet-stream/,
  },
  {
    name: 'binary: header length not a number',
    method: 'POST',
    path: INFER,
    headers: { ...OCTET, 'inference-header-content-length': 'abc' },
    raw: '{}',
    status: 400,
    error: /Inference-Header-Content-Length must be a byte count/,
  },
  {
    name: 'binary: header length past the body',
    method: 'POST',
    path: INFER,
    headers: { ...OCTET, 'inference-header-content-length': '99' },
    raw: '{}',
    status: 400,
    error: /is 99 bytes, the body has only 2/,
  },
  {
    name: 'binary: header not JSON',
    method: 'POST',
    path: INFER,
    headers: { ...OCTET, 'inference-header-content-length': '5' },
    raw: '{"in\u0000\u0000\u0000',
    status: 400,
    error: /inference header \(the first 5 bytes\) is not valid JSON/,
  },
  ...binaryCases(),
  {
    name: 'binary_data_size without the header',
    method: 'POST',
    path: INFER,
    json: fp32([], [1, 4], { parameters: { binary_data_size: 16 } }),
    status: 400,
    error: /binary tensor data needs the Inference-Header-Content-Length header/,
  },
  // --- v1 predict ----------------------------------------------------------------------------
  {
    name: 'v1: empty instances',
    method: 'POST',
    path: PREDICT,
    json: { instances: [] },
    status: 400,
    error: /"instances" is empty/,
  },
  {
    name: 'v1: instances not an array',
    method: 'POST',
    path: PREDICT,
    json: { instances: NAMED },
    status: 400,
    error: /"instances" must be an array of rows/,
  },
  {
    name: 'v1: no instances',
    method: 'POST',
    path: PREDICT,
    json: { rows: [ROW] },
    status: 400,
    error: /"instances" must be an array of rows/,
  },
  {
    name: 'v1: wrong feature count',
    method: 'POST',
    path: PREDICT,
    json: { instances: [ROW, ROW.slice(0, 3)] },
    status: 400,
    error: /instances\[1\] has 3 values; the model expects 4 features/,
  },
  {
    name: 'v1: unknown named feature',
    method: 'POST',
    path: PREDICT,
    json: { instances: [{ ...NAMED, colour: 1 }] },
    status: 400,
    error: /instances\[0\] has unknown features: colour/,
  },
  {
    name: 'v1: missing named feature',
    method: 'POST',
    path: PREDICT,
    json: { instances: [{ sepal_length: 5.1, sepal_width: 3.5, petal_length: 1.4 }] },
    status: 400,
    error: /instances\[0\] is missing features: petal_width/,
  },
  {
    name: 'v1: objects on a model without feature names',
    method: 'POST',
    path: '/v1/models/plain/predict',
    json: { instances: [{ a: 1, b: 2, c: 3 }] },
    status: 400,
    error: /instances\[0\] is an object, but model 'plain' has no feature names/,
  },
  {
    name: 'v1: string where a number belongs',
    method: 'POST',
    path: PREDICT,
    json: { instances: [[5.1, 'x', 1.4, 0.2]] },
    status: 400,
    error: /instances\[0\]\[1\] must be a number, got the string "x"/,
  },
  {
    name: 'v1: null feature',
    method: 'POST',
    path: PREDICT,
    json: { instances: [{ ...NAMED, petal_length: null }] },
    status: 400,
    error: /instances\[0\]\.petal_length must be a number, got null/,
  },
  {
    name: 'v1: boolean feature',
    method: 'POST',
    path: PREDICT,
    json: { instances: [[5.1, 3.5, false, 0.2]] },
    status: 400,
    error: /instances\[0\]\[2\] must be a number, got boolean/,
  },
  {
    name: 'v1: row that is neither array nor object',
    method: 'POST',
    path: PREDICT,
    json: { instances: [ROW, 5] },
    status: 400,
    error: /instances\[1\] must be an array of numbers or an object of named features/,
  },
  {
    name: 'v1: too many rows',
    method: 'POST',
    path: PREDICT,
    json: { instances: Array.from({ length: 9 }, () => ROW) },
    status: 400,
    error: /"instances" has 9 rows; the limit is 8/,
  },
  {
    name: 'v1: value beyond the FP32 range',
    method: 'POST',
    path: PREDICT,
    json: { instances: [[5.1, 3.5, 1e39, 0.2]] },
    status: 400,
    error: /instances\[0\]\[2\] = 1e\+39 is outside the FP32 range/,
  },
  {
    name: 'v1: more rows than a fixed batch dimension',
    method: 'POST',
    path: '/v1/models/fixed/predict',
    json: { instances: [ROW, ROW] },
    status: 400,
    error: /model 'fixed' takes exactly 1 row per request, got 2/,
  },
  {
    name: 'v1: out-of-range INT32',
    method: 'POST',
    path: '/v1/models/codes/predict',
    json: {
      instances: [
        [1, 2],
        [3, 2147483648],
      ],
    },
    status: 400,
    error: /instances\[1\]\[1\] = 2147483648 is outside the INT32 range/,
  },
  {
    name: 'v1: non-integer for an INT32 input',
    method: 'POST',
    path: '/v1/models/codes/predict',
    json: { instances: [[1, 2.5]] },
    status: 400,
    error: /instances\[0\]\[1\] must be an integer, got 2\.5/,
  },
  {
    name: 'v1: model with two inputs',
    method: 'POST',
    path: '/v1/models/two_inputs/predict',
    json: { instances: [[1, 2, 3]] },
    status: 400,
    error: /the v1 predict API needs one 2-D input — use \/v2\/models\/two_inputs\/infer/,
  },
  // --- models, versions and names --------------------------------------------------------------
  {
    name: 'unknown model (v2 infer)',
    method: 'POST',
    path: '/v2/models/nope/infer',
    json: fp32(ROW),
    status: 404,
    error: /model 'nope' not found/,
  },
  {
    name: 'unknown model (v1 predict)',
    method: 'POST',
    path: '/v1/models/nope/predict',
    json: { instances: [ROW] },
    status: 404,
    error: /model 'nope' not found/,
  },
  {
    name: 'unknown model (v2 metadata)',
    method: 'GET',
    path: '/v2/models/nope',
    status: 404,
    error: /model 'nope' not found/,
  },
  {
    name: 'unknown model (registry)',
    method: 'GET',
    path: '/v1/models/nope',
    status: 404,
    error: /model 'nope' not found/,
  },
  {
    name: 'unknown version (v2 infer)',
    method: 'POST',
    path: '/v2/models/classifier/versions/99/infer',
    json: fp32(ROW),
    status: 404,
    error: /model 'classifier' version 99 not found/,
  },
  {
    name: 'unknown version (v1 predict)',
    method: 'POST',
    path: '/v1/models/classifier/versions/99/predict',
    json: { instances: [ROW] },
    status: 404,
    error: /model 'classifier' version 99 not found/,
  },
  {
    name: 'unknown version (v2 metadata)',
    method: 'GET',
    path: '/v2/models/classifier/versions/99',
    status: 404,
    error: /model 'classifier' version 99 not found/,
  },
  {
    name: 'version not an integer',
    method: 'POST',
    path: '/v2/models/classifier/versions/abc/infer',
    json: fp32(ROW),
    status: 400,
    error: /invalid model version "abc": versions are integers/,
  },
  {
    name: 'version zero',
    method: 'POST',
    path: '/v1/models/classifier/versions/0/predict',
    json: { instances: [ROW] },
    status: 400,
    error: /invalid model version "0"/,
  },
  {
    name: 'fractional version',
    method: 'GET',
    path: '/v2/models/classifier/versions/1.5',
    status: 400,
    error: /invalid model version "1\.5"/,
  },
  {
    name: 'hostile name ../etc (infer)',
    method: 'POST',
    path: '/v2/models/..%2Fetc/infer',
    json: fp32(ROW),
    status: 400,
    error: /invalid model name "\.\.\/etc"/,
  },
  {
    name: 'hostile name ../../etc/passwd (registry)',
    method: 'GET',
    path: '/v1/models/..%2F..%2Fetc%2Fpasswd',
    status: 400,
    error: /invalid model name/,
  },
  {
    name: 'hostile name (register)',
    method: 'POST',
    path: '/v1/models/..%2Fescape/versions',
    headers: OCTET,
    raw: irisLikeClassifier(),
    status: 400,
    error: /invalid model name "\.\.\/escape"/,
  },
  {
    name: 'very long model name',
    method: 'GET',
    path: `/v2/models/${'a'.repeat(200)}`,
    status: 400,
    error: /invalid model name "a{200}": use 1-128/,
  },
  {
    name: 'NUL byte in the model name',
    method: 'POST',
    path: '/v1/models/iris%00/predict',
    json: { instances: [ROW] },
    status: 400,
    error: /invalid model name "iris\\u0000"/,
  },
  {
    name: 'quotes in the model name',
    method: 'GET',
    path: `/v2/models/${encodeURIComponent(`a'b"c`)}/ready`,
    status: 400,
    error: /invalid model name "a'b\\"c"/,
  },
  {
    name: 'route not found',
    method: 'GET',
    path: '/v3/models',
    status: 404,
    error: /no such route/,
  },
  {
    name: 'wrong method for infer',
    method: 'GET',
    path: INFER,
    status: 404,
    error: /no such route/,
  },
  // --- registration and the admin API --------------------------------------------------------
  {
    name: 'register a file that is not ONNX (octet-stream)',
    method: 'POST',
    path: '/v1/models/junk/versions',
    headers: OCTET,
    raw: 'this is a CSV file, not an ONNX model\n1,2,3\n',
    status: 400,
    error: /not a loadable ONNX model/,
  },
  {
    name: 'register a file that is not ONNX (base64)',
    method: 'POST',
    path: '/v1/models/junk_b64/versions',
    json: { onnx_base64: Buffer.from('PK\u0003\u0004 a zip file').toString('base64') },
    status: 400,
    error: /not a loadable ONNX model/,
  },
  {
    name: 'register an empty file',
    method: 'POST',
    path: '/v1/models/empty_file/versions',
    headers: OCTET,
    raw: '',
    status: 400,
    error: /empty/,
  },
  {
    name: 'register without onnx_base64',
    method: 'POST',
    path: '/v1/models/no_bytes/versions',
    json: { metadata: CLASSIFIER_META },
    status: 400,
    error: /onnx_base64/,
  },
  {
    name: 'register with invalid base64',
    method: 'POST',
    path: '/v1/models/bad_b64/versions',
    json: { onnx_base64: '***not base64***' },
    status: 400,
    error: /onnx_base64 is not valid base64/,
  },
  {
    name: 'register with a metadata header that is not JSON',
    method: 'POST',
    path: '/v1/models/bad_header/versions',
    headers: { ...OCTET, 'x-argus-metadata': '{task: classification' },
    raw: irisLikeClassifier(),
    status: 400,
    error: /X-Argus-Metadata header is not valid JSON/,
  },
  {
    name: 'metadata: feature_names count contradicts the input',
    ...register('contra_features', { feature_names: ['a', 'b'] }),
    status: 400,
    error: /metadata\.feature_names has 2 names but input 'input' has 4 features/,
  },
  {
    name: 'metadata: class_names count contradicts the output',
    ...register('contra_classes', { class_names: ['cat', 'dog'] }),
    status: 400,
    error: /metadata\.class_names has 2 names but output 'probabilities' has 3 classes/,
  },
  {
    name: 'metadata: class names for a regressor',
    method: 'POST',
    path: '/v1/models/contra_task/versions',
    json: {
      onnx_base64: Buffer.from(linearRegressor()).toString('base64'),
      metadata: { class_names: ['low', 'high'] },
    },
    status: 400,
    error: /metadata\.class_names given but the model is a regression model/,
  },
  {
    name: 'metadata: unknown key',
    ...register('unknown_key', { colour: 'red' }),
    status: 400,
    error: /metadata has unknown key 'colour'/,
  },
  {
    name: 'metadata: not an object',
    ...register('meta_array', ['task', 'classification']),
    status: 400,
    error: /metadata must be a JSON object/,
  },
  {
    name: 'metadata: zero max_batch_size',
    ...register('zero_batch', { batching: { max_batch_size: 0 } }),
    status: 400,
    error: /metadata\.batching\.max_batch_size must be an integer >= 1/,
  },
  {
    name: 'metadata: unknown task',
    ...register('bad_task', { task: 'clustering' }),
    status: 400,
    error: /metadata\.task must be 'classification' or 'regression'/,
  },
  {
    name: 'register with a bad alias',
    method: 'POST',
    path: '/v1/models/bad_alias/versions?alias=king',
    headers: OCTET,
    raw: irisLikeClassifier(),
    status: 400,
    error: /invalid alias "king": one of champion, challenger, shadow, canary/,
  },
  {
    name: 'set a bad alias',
    method: 'PUT',
    path: '/v1/models/classifier/aliases/king',
    json: { version: 1 },
    status: 400,
    error: /invalid alias "king"/,
  },
  {
    name: 'alias to a missing version',
    method: 'PUT',
    path: '/v1/models/classifier/aliases/champion',
    json: { version: 42 },
    status: 404,
    error: /model 'classifier' version 42 not found/,
  },
  {
    name: 'alias without a version',
    method: 'PUT',
    path: '/v1/models/classifier/aliases/challenger',
    json: {},
    status: 400,
    error: /invalid model version undefined/,
  },
  {
    name: 'alias with a version that is not an integer',
    method: 'PUT',
    path: '/v1/models/classifier/aliases/challenger',
    json: { version: 'latest' },
    status: 400,
    error: /invalid model version "latest"/,
  },
  {
    name: 'alias on an unknown model',
    method: 'PUT',
    path: '/v1/models/nope/aliases/champion',
    json: { version: 1 },
    status: 404,
    error: /model 'nope' version 1 not found/,
  },
  {
    name: 'delete the champion',
    method: 'DELETE',
    path: '/v1/models/classifier/versions/1',
    status: 409,
    error: /version 1 is the champion of 'classifier'; promote another version before deleting it/,
  },
  {
    name: 'delete an unknown version',
    method: 'DELETE',
    path: '/v1/models/classifier/versions/7',
    status: 404,
    error: /model 'classifier' version 7 not found/,
  },
  {
    name: 'delete a version that is not an integer',
    method: 'DELETE',
    path: '/v1/models/classifier/versions/first',
    status: 400,
    error: /invalid model version "first"/,
  },
];

/** Models the table must never have created. */
const NEVER_WRITTEN = [
  'junk',
  'junk_b64',
  'empty_file',
  'no_bytes',
  'bad_b64',
  'bad_header',
  'contra_features',
  'contra_classes',
  'contra_task',
  'unknown_key',
  'meta_array',
  'zero_batch',
  'bad_task',
  'bad_alias',
  'escape',
];

describe('bad requests', () => {
  let server: TestServer;
  const answers: Array<{ name: string; result: HttpResult }> = [];

  beforeAll(async () => {
    server = await startTestServer({
      ARGUS_BODY_LIMIT_BYTES: String(64 * 1024),
      ARGUS_MAX_ROWS_PER_REQUEST: '8',
    });
    await registerOk(server, 'classifier', irisLikeClassifier(), {
      metadata: CLASSIFIER_META,
      alias: 'champion',
    });
    await registerOk(server, 'plain', linearRegressor(), { alias: 'champion' });
    await registerOk(server, 'fixed', fixedBatchClassifier(), { alias: 'champion' });
    await registerOk(server, 'two_inputs', twoInputModel(), { alias: 'champion' });
    await registerOk(server, 'typed', typedModel(), { alias: 'champion' });
    await registerOk(server, 'codes', int32Model(), { alias: 'champion' });
    for (const name of ['classifier', 'plain', 'fixed', 'two_inputs', 'typed', 'codes']) {
      await waitChampionReady(server, name);
    }
  });

  afterAll(async () => {
    await server?.close();
  });

  it('has at least 40 cases with distinct names', () => {
    expect(CASES.length).toBeGreaterThanOrEqual(40);
    expect(new Set(CASES.map((c) => c.name)).size).toBe(CASES.length);
  });

  it.each(CASES)('$name → $status', async (c) => {
    const result = await server.request(c.method, c.path, {
      headers: c.headers,
      json: c.json,
      body: c.raw,
    });
    answers.push({ name: c.name, result });
    expect({ status: result.status, body: result.text }).toEqual({
      status: c.status,
      body: expect.any(String) as string,
    });
    expect(result.headers.get('content-type')).toMatch(/^application\/json/);
    expect(result.body).toEqual({ error: expect.stringMatching(c.error) as string });
  });

  it('stays up and answers a good request after the table', async () => {
    expect((await server.request('GET', '/v2/health/live')).status).toBe(200);
    expect((await server.request('GET', '/v2/health/ready')).status).toBe(200);
    const res = await server.request('POST', INFER, { json: fp32(ROW) });
    expect(res.status).toBe(200);
    const codes = await server.request('POST', '/v1/models/codes/predict', {
      json: { instances: [[2147483647, -2147483648]] },
    });
    expect(codes.status).toBe(200);
    expect((codes.body as { predictions: unknown }).predictions).toEqual([
      { value: [2147483647, -2147483648] },
    ]);
    const v1 = await server.request('POST', PREDICT, { json: { instances: [NAMED] } });
    expect(v1.status).toBe(200);
    expect((v1.body as { predictions: Array<{ label: string }> }).predictions[0].label).toMatch(
      /^(setosa|versicolor|virginica)$/,
    );
  });

  it('answered every bad request with JSON { error: string } and never with a 500', () => {
    expect(answers).toHaveLength(CASES.length);
    for (const { name, result } of answers) {
      expect({
        name,
        server_error: result.status >= 500 && result.status !== 501 && result.status !== 503,
      }).toEqual({ name, server_error: false });
      expect({ name, keys: Object.keys(result.body as object) }).toEqual({ name, keys: ['error'] });
      expect(typeof (result.body as { error: unknown }).error).toBe('string');
    }
  });

  it('wrote nothing to the registry for refused registrations', async () => {
    for (const name of NEVER_WRITTEN) {
      expect({ name, exists: existsSync(join(server.home, 'models', name)) }).toEqual({
        name,
        exists: false,
      });
    }
    const list = (await server.request('GET', '/v1/models')).body as {
      models: Array<{ name: string; versions: Array<{ version: number }>; aliases: object }>;
    };
    expect(list.models.map((m) => m.name)).toEqual([
      'classifier',
      'codes',
      'fixed',
      'plain',
      'two_inputs',
      'typed',
    ]);
    const classifier = list.models.find((m) => m.name === 'classifier')!;
    expect(classifier.versions.map((v) => v.version)).toEqual([1]);
    expect(classifier.aliases).toEqual({ champion: 1 });
  });
});
