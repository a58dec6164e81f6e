import { InvalidInputError } from '../../common/errors';
import { allocate, Tensor, TensorData } from '../../onnx/tensor';
import { ModelManifest } from '../../registry/manifest';

/**
 * The simple JSON API: `{"instances": [[...], ...]}` or `{"instances": [{"feature": value}]}`.
 * It needs a model with one 2-D numeric input [batch, features]; anything else uses KServe V2.
 */

function fieldName(r: number, key: number | string): string {
  return typeof key === 'number' ? `instances[${r}][${key}]` : `instances[${r}].${key}`;
}

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
  if (spec.shape[0] !== -1 && rows !== spec.shape[0]) {
    throw new InvalidInputError(
      `model '${manifest.name}' takes exactly ${spec.shape[0]} row${spec.shape[0] === 1 ? '' : 's'} per request, got ${rows}`,
    );
  }
  const firstWidth = Array.isArray(instances[0]) ? instances[0].length : -1;
  const cols = width !== -1 ? width : firstWidth;
  if (cols <= 0)
    throw new InvalidInputError('cannot tell the number of features; send instances as arrays');
  const data = allocate(spec.datatype, rows * cols);
  const isInt = spec.datatype === 'INT32' || spec.datatype === 'INT64';
  const featureIndex = featureNames ? new Map(featureNames.map((n, i) => [n, i])) : undefined;
  // NaN and ±Inf fail both comparisons, so the fast path below lets put() refuse them.
  const floats = isInt ? undefined : (data as Float32Array | Float64Array);
  const floatMax = spec.datatype === 'FP32' ? 3.4028234663852886e38 : Number.MAX_VALUE;

  // The field name is built only when a value is refused: a template string per element cost more
  // than JSON.parse of the whole body (bench/serving: ~20 µs → ~4 µs per 784-feature row).
  const put = (value: unknown, offset: number, r: number, key: number | string) => {
    if (typeof value !== 'number') {
      throw new InvalidInputError(
        `${fieldName(r, key)} must be a number, got ${value === null ? 'null' : typeof value === 'string' ? `the string ${JSON.stringify(value.slice(0, 20))}` : typeof value}`,
      );
    }
    // NaN and ±Inf cannot come from JSON but do come from CSV and JSONL files (CLI predict).
    if (!Number.isFinite(value))
      throw new InvalidInputError(`${fieldName(r, key)} is ${value}; values must be finite`);
    if (isInt) {
      if (!Number.isSafeInteger(value))
        throw new InvalidInputError(`${fieldName(r, key)} must be an integer, got ${value}`);
      if (spec.datatype === 'INT64') (data as BigInt64Array)[offset] = BigInt(value);
      else if (value < -2147483648 || value > 2147483647)
        throw new InvalidInputError(`${fieldName(r, key)} = ${value} is outside the INT32 range`);
      else (data as Int32Array)[offset] = value;
    } else {
      // A finite double can still overflow FP32 to Infinity.
      if (spec.datatype === 'FP32' && Math.abs(value) > 3.4028234663852886e38)
        throw new InvalidInputError(`${fieldName(r, key)} = ${value} is outside the FP32 range`);
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
      if (floats) {
        // Fast path for the common case; anything unusual goes through put() for its error.
        for (let c = 0; c < cols; c++) {
          const v: unknown = row[c];
          if (typeof v === 'number' && v <= floatMax && v >= -floatMax) floats[base + c] = v;
          else put(v, base + c, r, c);
        }
      } else {
        for (let c = 0; c < cols; c++) put(row[c], base + c, r, c);
      }
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
        put((row as Record<string, unknown>)[k], base + featureIndex.get(k)!, r, k);
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
