import { InvalidInputError } from '../../common/errors';
import { allocate, Tensor, TensorData } from '../../onnx/tensor';
import { ModelManifest } from '../../registry/manifest';

/**
 * The simple JSON API: `{"instances": [[...], ...]}` or `{"instances": [{"feature": value}]}`.
 * It needs a model with one 2-D numeric input [batch, features]; anything else uses KServe V2.
 */

export function decodeV1Instances(
  body: unknown,
  manifest: ModelManifest,
  maxRows: number,
): { input: Tensor; rows: number } {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new InvalidInputError('request body must be a JSON object with "instances"');
  }
  const instances = (body as Record<string, unknown>).instances;
  if (!Array.isArray(instances))
    throw new InvalidInputError('"instances" must be an array of rows');
  if (instances.length === 0) throw new InvalidInputError('"instances" is empty');
  if (instances.length > maxRows) {
    throw new InvalidInputError(
      `"instances" has ${instances.length} rows; the limit is ${maxRows}`,
    );
  }
  if (manifest.inputs.length !== 1 || manifest.inputs[0].shape.length !== 2) {
    throw new InvalidInputError(
      `model '${manifest.name}' has ${manifest.inputs.length} input(s) of shape [${manifest.inputs[0]?.shape.join(', ')}]; the v1 predict API needs one 2-D input — use /v2/models/${manifest.name}/infer`,
    );
  }
  const spec = manifest.inputs[0];
  if (!['FP32', 'FP64', 'INT32', 'INT64'].includes(spec.datatype)) {
    throw new InvalidInputError(
      `input '${spec.name}' is ${spec.datatype}; the v1 predict API handles numeric inputs only`,
    );
  }
  const featureNames = manifest.feature_names;
  const width = spec.shape[1] !== -1 ? spec.shape[1] : (featureNames?.length ?? -1);
  const rows = instances.length;
  const firstWidth = Array.isArray(instances[0]) ? instances[0].length : -1;
  const cols = width !== -1 ? width : firstWidth;
  if (cols <= 0)
    throw new InvalidInputError('cannot tell the number of features; send instances as arrays');
  const data = allocate(spec.datatype, rows * cols);
  const isInt = spec.datatype === 'INT32' || spec.datatype === 'INT64';
  const featureIndex = featureNames ? new Map(featureNames.map((n, i) => [n, i])) : undefined;

  const put = (value: unknown, offset: number, field: string) => {
    if (typeof value !== 'number') {
      throw new InvalidInputError(
        `${field} must be a number, got ${value === null ? 'null' : typeof value === 'string' ? `the string ${JSON.stringify(value.slice(0, 20))}` : typeof value}`,
      );
    }
    if (isInt) {
      if (!Number.isSafeInteger(value))
        throw new InvalidInputError(`${field} must be an integer, got ${value}`);
      if (spec.datatype === 'INT64') (data as BigInt64Array)[offset] = BigInt(value);
      else (data as Int32Array)[offset] = value;
    } else {
      (data as Float32Array)[offset] = value;
    }
  };

  for (let r = 0; r < rows; r++) {
    const row: unknown = instances[r];
    const base = r * cols;
    if (Array.isArray(row)) {
      if (row.length !== cols) {
        throw new InvalidInputError(
          `instances[${r}] has ${row.length} values; the model expects ${cols} features`,
        );
      }
      for (let c = 0; c < cols; c++) put(row[c], base + c, `instances[${r}][${c}]`);
    } else if (typeof row === 'object' && row !== null) {
      if (!featureIndex) {
        throw new InvalidInputError(
          `instances[${r}] is an object, but model '${manifest.name}' has no feature names; send arrays or register feature_names`,
        );
      }
      const keys = Object.keys(row);
      const unknown = keys.filter((k) => !featureIndex.has(k));
      if (unknown.length > 0) {
        throw new InvalidInputError(
          `instances[${r}] has unknown features: ${unknown.slice(0, 10).join(', ')}`,
        );
      }
      if (keys.length !== cols) {
        const missing = featureNames!.filter((n) => !(n in row));
        throw new InvalidInputError(
          `instances[${r}] is missing features: ${missing.slice(0, 10).join(', ')}`,
        );
      }
      for (const k of keys)
        put(
          (row as Record<string, unknown>)[k],
          base + featureIndex.get(k)!,
          `instances[${r}].${k}`,
        );
    } else {
      throw new InvalidInputError(
        `instances[${r}] must be an array of numbers or an object of named features`,
      );
    }
  }
  return { input: { name: spec.name, datatype: spec.datatype, shape: [rows, cols], data }, rows };
}

export type V1Prediction =
  { label: string; probabilities: number[] } | { value: number | number[] };

/** Turns model outputs into one prediction per row using the manifest's task and class names. */
export function predictionsFromOutputs(
  manifest: ModelManifest,
  outputs: Map<string, Tensor>,
  rows: number,
): V1Prediction[] {
  const primary = outputs.get(manifest.primary_output);
  if (!primary) throw new Error(`model output '${manifest.primary_output}' is missing`);
  const width = rows > 0 ? primary.data.length / rows : 0;
  const values = primary.data as Exclude<TensorData, string[] | BigInt64Array | BigUint64Array>;
  const out: V1Prediction[] = [];
  if (manifest.task === 'classification') {
    const labelTensor = manifest.label_output ? outputs.get(manifest.label_output) : undefined;
    for (let r = 0; r < rows; r++) {
      const probabilities = Array.from(values.subarray(r * width, (r + 1) * width));
      let index: number;
      if (labelTensor) {
        index = Number(labelTensor.data[r]);
      } else {
        index = 0;
        for (let k = 1; k < width; k++) if (probabilities[k] > probabilities[index]) index = k;
      }
      out.push({ label: manifest.class_names?.[index] ?? String(index), probabilities });
    }
  } else {
    for (let r = 0; r < rows; r++) {
      const row = Array.from(values.subarray(r * width, (r + 1) * width));
      out.push({ value: row.length === 1 ? row[0] : row });
    }
  }
  return out;
}
