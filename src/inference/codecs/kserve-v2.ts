import { InvalidInputError } from '../../common/errors';
import {
  DATATYPES,
  Datatype,
  Tensor,
  TensorData,
  TensorSpec,
  toJsonArray,
} from '../../onnx/tensor';
import { decodeBinaryTensorData, encodeBinaryTensorData } from './kserve-v2-binary';
import { decodeTensorData } from './tensor-decoding';

/**
 * KServe V2 / Open Inference Protocol REST codec (JSON tensors). Decoding validates the request
 * against the model's declared inputs so nothing malformed reaches ONNX Runtime.
 */

export interface DecodedInferRequest {
  id: string | undefined;
  inputs: Tensor[];
  /** Requested output names; undefined = all outputs. */
  outputs: string[] | undefined;
  /** Outputs to return in the binary section (kserve-v2-binary.ts); empty = a JSON response. */
  binaryOutputs: Set<string>;
  rows: number;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * `binary`: the binary section of a request sent with the binary tensor data extension (its
 * `body` is then the inference header); inputs with `parameters.binary_data_size` take their
 * bytes from it in order.
 */
export function decodeV2InferRequest(
  body: unknown,
  modelInputs: TensorSpec[],
  modelOutputs: TensorSpec[],
  maxRows: number,
  binary?: Buffer,
): DecodedInferRequest {
  if (!isObject(body))
    throw new InvalidInputError('request body must be a JSON object with "inputs"');
  if (body.id !== undefined && typeof body.id !== 'string')
    throw new InvalidInputError('"id" must be a string');
  if (body.parameters !== undefined && !isObject(body.parameters)) {
    throw new InvalidInputError('"parameters" must be an object');
  }
  if (!Array.isArray(body.inputs) || body.inputs.length === 0) {
    throw new InvalidInputError('"inputs" must be a non-empty array of tensors');
  }
  const byName = new Map<string, Tensor>();
  let binaryOffset = 0;
  body.inputs.forEach((raw: unknown, i: number) => {
    const field = `inputs[${i}]`;
    if (!isObject(raw))
      throw new InvalidInputError(`${field} must be an object with name, shape, datatype and data`);
    if (typeof raw.name !== 'string' || raw.name === '')
      throw new InvalidInputError(`${field}.name must be a non-empty string`);
    const spec = modelInputs.find((s) => s.name === raw.name);
    if (!spec) {
      throw new InvalidInputError(
        `${field}: the model has no input named '${raw.name}' (inputs: ${modelInputs.map((s) => s.name).join(', ')})`,
      );
    }
    if (byName.has(raw.name))
      throw new InvalidInputError(`${field}: input '${raw.name}' appears twice`);
    if (typeof raw.datatype !== 'string' || !DATATYPES.includes(raw.datatype as Datatype)) {
      throw new InvalidInputError(`${field}.datatype must be one of ${DATATYPES.join(', ')}`);
    }
    if (raw.datatype !== spec.datatype) {
      throw new InvalidInputError(
        `${field}: input '${spec.name}' has datatype ${spec.datatype}, the request says ${raw.datatype}`,
      );
    }
    if (
      !Array.isArray(raw.shape) ||
      raw.shape.some((d: unknown) => typeof d !== 'number' || !Number.isInteger(d) || d < 0)
    ) {
      throw new InvalidInputError(`${field}.shape must be an array of non-negative integers`);
    }
    const shape = raw.shape as number[];
    if (shape.length !== spec.shape.length) {
      throw new InvalidInputError(
        `${field}: input '${spec.name}' has shape [${spec.shape.join(', ')}], the request's shape [${shape.join(', ')}] has ${shape.length} dimensions`,
      );
    }
    spec.shape.forEach((d, k) => {
      if (d !== -1 && d !== shape[k]) {
        throw new InvalidInputError(
          `${field}: input '${spec.name}' needs shape [${spec.shape.join(', ')}], got [${shape.join(', ')}] (dimension ${k} must be ${d})`,
        );
      }
    });
    const binarySize = isObject(raw.parameters) ? raw.parameters.binary_data_size : undefined;
    let data: TensorData;
    if (binarySize === undefined) {
      data = decodeTensorData(raw.data, spec.datatype, shape, `${field}.data`);
    } else {
      if (binary === undefined) {
        throw new InvalidInputError(
          `${field}: binary tensor data needs the Inference-Header-Content-Length header`,
        );
      }
      if (typeof binarySize !== 'number' || !Number.isInteger(binarySize) || binarySize < 0) {
        throw new InvalidInputError(`${field}.parameters.binary_data_size must be a byte count`);
      }
      if (raw.data !== undefined) {
        throw new InvalidInputError(`${field} has both data and parameters.binary_data_size`);
      }
      if (binaryOffset + binarySize > binary.length) {
        throw new InvalidInputError(
          `${field}: binary_data_size is ${binarySize} bytes, only ${binary.length - binaryOffset} are left in the body`,
        );
      }
      data = decodeBinaryTensorData(
        binary.subarray(binaryOffset, binaryOffset + binarySize),
        spec.datatype,
        shape,
        field,
      );
      binaryOffset += binarySize;
    }
    byName.set(spec.name, { name: spec.name, datatype: spec.datatype, shape, data });
  });
  if (binary !== undefined && binaryOffset !== binary.length) {
    throw new InvalidInputError(
      `${binary.length - binaryOffset} bytes of binary data follow the inputs' binary_data_size`,
    );
  }
  for (const spec of modelInputs) {
    if (!byName.has(spec.name)) throw new InvalidInputError(`missing input '${spec.name}'`);
  }
  const inputs = modelInputs.map((s) => byName.get(s.name)!);
  const rows = inputs[0].shape[0] ?? 1;
  if (inputs[0].shape.length > 0) {
    for (const t of inputs) {
      if (t.shape[0] !== rows) {
        throw new InvalidInputError(
          `all inputs must have the same first (batch) dimension; '${t.name}' has ${t.shape[0]}, expected ${rows}`,
        );
      }
    }
  }
  if (rows === 0) throw new InvalidInputError('the request has no rows (first dimension is 0)');
  if (rows > maxRows)
    throw new InvalidInputError(`the request has ${rows} rows; the limit is ${maxRows}`);

  const binaryByDefault = binaryFlag(body.parameters, 'binary_data_output', 'parameters') ?? false;
  const binaryOutputs = new Set<string>();
  let outputs: string[] | undefined;
  if (body.outputs !== undefined) {
    if (!Array.isArray(body.outputs)) throw new InvalidInputError('"outputs" must be an array');
    outputs = body.outputs.map((o: unknown, i: number) => {
      if (!isObject(o) || typeof o.name !== 'string')
        throw new InvalidInputError(`outputs[${i}].name must be a string`);
      if (!modelOutputs.some((s) => s.name === o.name)) {
        throw new InvalidInputError(
          `outputs[${i}]: the model has no output named '${o.name}' (outputs: ${modelOutputs.map((s) => s.name).join(', ')})`,
        );
      }
      if (o.parameters !== undefined && !isObject(o.parameters)) {
        throw new InvalidInputError(`outputs[${i}].parameters must be an object`);
      }
      if (binaryFlag(o.parameters, 'binary_data', `outputs[${i}].parameters`) ?? binaryByDefault) {
        binaryOutputs.add(o.name);
      }
      return o.name;
    });
  } else if (binaryByDefault) {
    for (const spec of modelOutputs) binaryOutputs.add(spec.name);
  }
  return { id: body.id, inputs, outputs, binaryOutputs, rows };
}

/** A boolean flag of a `parameters` object; undefined when absent. */
function binaryFlag(parameters: unknown, key: string, field: string): boolean | undefined {
  if (!isObject(parameters) || parameters[key] === undefined) return undefined;
  if (typeof parameters[key] !== 'boolean') {
    throw new InvalidInputError(`${field}.${key} must be true or false`);
  }
  return parameters[key];
}

export interface V2InferOutput {
  name: string;
  shape: number[];
  datatype: Datatype;
  /** Absent when the output's values are in the binary section (kserve-v2-binary.ts). */
  data?: Array<number | string | boolean>;
  parameters?: { binary_data_size: number };
}

export interface V2InferResponse {
  model_name: string;
  model_version: string;
  id: string;
  parameters: { prediction_ids: string[] };
  outputs: V2InferOutput[];
}

/** An output tensor with its values as JSON. */
export function v2JsonOutput(name: string, t: Tensor): V2InferOutput {
  const data =
    t.datatype === 'BOOL' ? Array.from(t.data as Uint8Array, (v) => v !== 0) : toJsonArray(t.data);
  return { name, shape: t.shape, datatype: t.datatype, data };
}

/** What an infer response is built from: model, version, id, outputs, requested names, ids. */
export type V2InferResponseParts = [
  model: string,
  version: number,
  id: string,
  outputs: Map<string, Tensor>,
  requested: string[] | undefined,
  predictionIds: string[],
];

/** The response to an infer request, each output encoded by `encodeOutput`. */
function inferResponse(
  [model, version, id, outputs, requested, predictionIds]: V2InferResponseParts,
  encodeOutput: (name: string, t: Tensor) => V2InferOutput,
): V2InferResponse {
  const names = requested ?? [...outputs.keys()];
  return {
    model_name: model,
    model_version: String(version),
    id,
    parameters: { prediction_ids: predictionIds },
    outputs: names.map((name) => encodeOutput(name, outputs.get(name)!)),
  };
}

export function encodeV2InferResponse(...parts: V2InferResponseParts): V2InferResponse {
  return inferResponse(parts, v2JsonOutput);
}

/** A response in the binary extension's form: the JSON header, then the binary outputs' bytes. */
export interface BinaryInferResponse {
  body: Buffer;
  headerLength: number;
}

/**
 * `encodeV2InferResponse` with the outputs named in `binary` in the binary section (each with
 * `parameters.binary_data_size` instead of `data`), the others as JSON.
 */
export function encodeV2BinaryInferResponse(
  binary: ReadonlySet<string>,
  ...parts: V2InferResponseParts
): BinaryInferResponse {
  const sections: Buffer[] = [];
  const header = inferResponse(parts, (name, t) => {
    if (!binary.has(name)) return v2JsonOutput(name, t);
    const bytes = encodeBinaryTensorData(t);
    sections.push(bytes);
    return {
      name,
      shape: t.shape,
      datatype: t.datatype,
      parameters: { binary_data_size: bytes.length },
    };
  });
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  return { body: Buffer.concat([json, ...sections]), headerLength: json.length };
}

export function v2ModelMetadata(
  name: string,
  versions: number[],
  inputs: TensorSpec[],
  outputs: TensorSpec[],
) {
  return {
    name,
    versions: versions.map(String),
    platform: 'onnxruntime_onnx',
    inputs: inputs.map((s) => ({ name: s.name, datatype: s.datatype, shape: s.shape })),
    outputs: outputs.map((s) => ({ name: s.name, datatype: s.datatype, shape: s.shape })),
  };
}
