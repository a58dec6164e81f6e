import { InvalidInputError } from '../../common/errors';
import { DATATYPES, Datatype, Tensor, TensorSpec, toJsonArray } from '../../onnx/tensor';
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
  rows: number;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function decodeV2InferRequest(
  body: unknown,
  modelInputs: TensorSpec[],
  modelOutputs: TensorSpec[],
  maxRows: number,
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
    if (
      raw.parameters !== undefined &&
      isObject(raw.parameters) &&
      raw.parameters.binary_data_size !== undefined
    ) {
      throw new InvalidInputError(
        `${field}: binary tensor data needs the Inference-Header-Content-Length header`,
      );
    }
    const data = decodeTensorData(raw.data, spec.datatype, shape, `${field}.data`);
    byName.set(spec.name, { name: spec.name, datatype: spec.datatype, shape, data });
  });
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
      return o.name;
    });
  }
  return { id: body.id, inputs, outputs, rows };
}

export interface V2InferResponse {
  model_name: string;
  model_version: string;
  id: string;
  parameters: { prediction_ids: string[] };
  outputs: Array<{
    name: string;
    shape: number[];
    datatype: Datatype;
    data: Array<number | string | boolean>;
  }>;
}

export function encodeV2InferResponse(
  model: string,
  version: number,
  id: string,
  outputs: Map<string, Tensor>,
  requested: string[] | undefined,
  predictionIds: string[],
): V2InferResponse {
  const names = requested ?? [...outputs.keys()];
  return {
    model_name: model,
    model_version: String(version),
    id,
    parameters: { prediction_ids: predictionIds },
    outputs: names.map((name) => {
      const t = outputs.get(name)!;
      const data =
        t.datatype === 'BOOL'
          ? Array.from(t.data as Uint8Array, (v) => v !== 0)
          : toJsonArray(t.data);
      return { name, shape: t.shape, datatype: t.datatype, data };
    }),
  };
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
