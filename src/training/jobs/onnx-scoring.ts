import { InvalidInputError } from '../../common/errors';
import { deriveModelDescription, ModelManifest } from '../../registry/manifest';
import type { ModelSession, OnnxRuntime } from '../../onnx/onnx-runtime';
import type { Tensor, TensorSpec } from '../../onnx/tensor';
import { classificationMetrics, EvaluationMetrics, regressionMetrics } from '../evaluation';
import type { Dataset } from '../trainers/dataset';
import { datasetRows } from '../trainers/dataset';

/**
 * Scores ONNX models on held-out rows through ONNX Runtime — the same engine that serves them —
 * so candidate and champion are measured alike (metrics and latency per row), whichever trainer
 * made them. A plan says how to feed a model and read its answer for a given data set.
 */
export interface ScoringPlan {
  inputName: string;
  inputDatatype: 'FP32' | 'FP64';
  /** The model's fixed batch size, or null for a dynamic batch dimension. */
  fixedBatch: number | null;
  primaryOutput: string;
  /** Classification: for each data-set class, its column in the model's probabilities. */
  classColumns: number[] | null;
}

/** What the data set the models are scored on looks like. */
export interface DataShape {
  task: Dataset['task'];
  featureCount: number;
  /** When known, compared with a version's feature names (same count, other names: not comparable). */
  featureNames?: string[];
  classNames: string[] | null;
  targetCount: number;
}

export type Comparability = { ok: true; plan: ScoringPlan } | { ok: false; reason: string };

/** Rows per ONNX Runtime call while scoring. */
const SCORING_CHUNK_ROWS = 256;

function shapeText(shape: number[]): string {
  return `[${shape.join(', ')}]`;
}

/**
 * Whether a registered version can be scored on data of this shape (same task, features and
 * classes), and how. Class order may differ: columns are matched by class name.
 */
export function planForManifest(manifest: ModelManifest, data: DataShape): Comparability {
  const label = `version ${manifest.version}`;
  if (manifest.task !== data.task) {
    return { ok: false, reason: `${label} is a ${manifest.task} model, the data is ${data.task}` };
  }
  if (manifest.inputs.length !== 1) {
    return { ok: false, reason: `${label} has ${manifest.inputs.length} inputs, not one` };
  }
  const input = manifest.inputs[0];
  if (input.shape.length !== 2 || (input.shape[1] !== -1 && input.shape[1] !== data.featureCount)) {
    return {
      ok: false,
      reason: `${label} takes input ${shapeText(input.shape)}, the data has ${data.featureCount} features`,
    };
  }
  if (manifest.feature_names && manifest.feature_names.length !== data.featureCount) {
    return {
      ok: false,
      reason: `${label} has ${manifest.feature_names.length} features, the data has ${data.featureCount}`,
    };
  }
  const differs = data.featureNames
    ? manifest.feature_names?.findIndex((name, i) => name !== data.featureNames?.[i])
    : -1;
  if (differs !== undefined && differs >= 0 && data.featureNames) {
    return {
      ok: false,
      reason: `${label}'s feature ${differs} is '${manifest.feature_names?.[differs]}', the data's is '${data.featureNames[differs]}'`,
    };
  }
  if (input.datatype !== 'FP32' && input.datatype !== 'FP64') {
    return { ok: false, reason: `${label} takes ${input.datatype} input, not floats` };
  }
  const primary = manifest.outputs.find((o) => o.name === manifest.primary_output);
  if (!primary) return { ok: false, reason: `${label} has no output '${manifest.primary_output}'` };
  const width = primary.shape.length >= 2 ? primary.shape[1] : 1;
  let classColumns: number[] | null = null;
  if (data.task === 'classification') {
    const own = manifest.class_names ?? [];
    const wanted = data.classNames ?? [];
    const sameSet = own.length === wanted.length && wanted.every((name) => own.includes(name));
    if (!sameSet) {
      return {
        ok: false,
        reason: `${label} has classes (${own.join(', ')}), the data has (${wanted.join(', ')})`,
      };
    }
    if (width !== -1 && width !== wanted.length) {
      return {
        ok: false,
        reason: `${label} outputs ${width} probabilities for ${wanted.length} classes`,
      };
    }
    classColumns = wanted.map((name) => own.indexOf(name));
  } else if (width !== -1 && width !== data.targetCount) {
    return {
      ok: false,
      reason: `${label} outputs ${width} values, the data has ${data.targetCount} targets`,
    };
  }
  return {
    ok: true,
    plan: {
      inputName: input.name,
      inputDatatype: input.datatype,
      fixedBatch: input.shape[0] > 0 ? input.shape[0] : null,
      primaryOutput: primary.name,
      classColumns,
    },
  };
}

/**
 * The plan for a freshly trained model that is not registered yet, from the signature ONNX
 * Runtime reads out of it, checked against the data's features and classes.
 */
export function planForSession(
  session: Pick<ModelSession, 'inputs' | 'outputs'>,
  data: DataShape,
  featureNames: string[],
): Comparability {
  let description;
  try {
    description = deriveModelDescription(session.inputs, session.outputs, {
      task: data.task,
      feature_names: featureNames,
      ...(data.classNames ? { class_names: data.classNames } : {}),
    });
  } catch (err) {
    return { ok: false, reason: (err as Error).message };
  }
  const pseudo = {
    name: 'candidate',
    version: 0,
    task: description.task,
    inputs: session.inputs,
    outputs: session.outputs,
    feature_names: featureNames,
    class_names: data.classNames,
    primary_output: description.primary_output,
    label_output: description.label_output,
  } as unknown as ModelManifest;
  const plan = planForManifest(pseudo, data);
  if (!plan.ok) return { ok: false, reason: plan.reason.replace('version 0', 'the model') };
  return plan;
}

function sameSpec(a: TensorSpec, b: TensorSpec): boolean {
  return (
    a.name === b.name &&
    a.datatype === b.datatype &&
    a.shape.length === b.shape.length &&
    a.shape.every((d, i) => d === b.shape[i])
  );
}

/**
 * Null when `candidate` can replace `champion` for every client: the same inputs (names,
 * datatypes, shapes) and every output the champion has, alike. Otherwise the first difference.
 */
export function signatureMismatch(
  candidate: { inputs: TensorSpec[]; outputs: TensorSpec[] },
  champion: { inputs: TensorSpec[]; outputs: TensorSpec[]; version?: number },
): string | null {
  const describe = (s: TensorSpec) => `'${s.name}' ${s.datatype} ${shapeText(s.shape)}`;
  const who = champion.version !== undefined ? `champion version ${champion.version}` : 'champion';
  if (candidate.inputs.length !== champion.inputs.length) {
    return `the model has ${candidate.inputs.length} inputs, the ${who} has ${champion.inputs.length}`;
  }
  for (const expected of champion.inputs) {
    const found = candidate.inputs.find((s) => s.name === expected.name);
    if (!found) return `the model has no input ${describe(expected)} like the ${who}`;
    if (!sameSpec(found, expected)) {
      return `input ${describe(found)} differs from the ${who}'s ${describe(expected)}`;
    }
  }
  for (const expected of champion.outputs) {
    const found = candidate.outputs.find((s) => s.name === expected.name);
    if (!found) return `the model has no output ${describe(expected)} like the ${who}`;
    if (!sameSpec(found, expected)) {
      return `output ${describe(found)} differs from the ${who}'s ${describe(expected)}`;
    }
  }
  return null;
}

async function runChunk(
  session: ModelSession,
  plan: ScoringPlan,
  features: Float32Array,
  rows: number,
  featureCount: number,
): Promise<Float32Array | Float64Array> {
  const batch = plan.fixedBatch ?? rows;
  const values =
    plan.inputDatatype === 'FP32'
      ? new Float32Array(batch * featureCount)
      : new Float64Array(batch * featureCount);
  values.set(features.subarray(0, rows * featureCount));
  const feed: Tensor = {
    name: plan.inputName,
    datatype: plan.inputDatatype,
    shape: [batch, featureCount],
    data: values,
  };
  const outputs = await session.run([feed], [plan.primaryOutput]);
  const out = outputs.get(plan.primaryOutput);
  if (!out || !(out.data instanceof Float32Array || out.data instanceof Float64Array)) {
    throw new InvalidInputError(`output '${plan.primaryOutput}' did not come back as floats`);
  }
  return out.data;
}

/** Runs the model over every row; returns the primary output per row (rows × width). */
async function predictAll(
  session: ModelSession,
  plan: ScoringPlan,
  dataset: Dataset,
): Promise<{ output: Float64Array; width: number; seconds: number }> {
  const rows = datasetRows(dataset);
  const { featureCount } = dataset;
  const chunk = plan.fixedBatch ?? SCORING_CHUNK_ROWS;
  // One warm-up call: the first run allocates and optimises, and would bill that to latency.
  await runChunk(session, plan, dataset.features, Math.min(chunk, rows), featureCount);
  let output: Float64Array | null = null;
  let width = 0;
  const started = performance.now();
  for (let start = 0; start < rows; start += chunk) {
    const count = Math.min(chunk, rows - start);
    const data = await runChunk(
      session,
      plan,
      dataset.features.subarray(start * featureCount, (start + count) * featureCount),
      count,
      featureCount,
    );
    if (!output) {
      width = data.length / (plan.fixedBatch ?? count);
      if (!Number.isInteger(width) || width < 1) {
        throw new InvalidInputError(`output '${plan.primaryOutput}' has an unexpected shape`);
      }
      output = new Float64Array(rows * width);
    }
    for (let i = 0; i < count * width; i++) output[start * width + i] = data[i];
  }
  const seconds = (performance.now() - started) / 1000;
  return { output: output ?? new Float64Array(0), width, seconds };
}

/** Held-out metrics of an ONNX model, with ONNX Runtime's latency per row. */
export async function scoreSession(
  session: ModelSession,
  plan: ScoringPlan,
  dataset: Dataset,
): Promise<EvaluationMetrics> {
  const rows = datasetRows(dataset);
  const { output, width, seconds } = await predictAll(session, plan, dataset);
  const latencyPerRowMs = (seconds * 1000) / rows;
  if (dataset.task === 'classification') {
    const columns = plan.classColumns ?? Array.from({ length: dataset.classCount }, (_, i) => i);
    if (columns.some((c) => c >= width)) {
      throw new InvalidInputError(
        `output '${plan.primaryOutput}' has ${width} columns for ${dataset.classCount} classes`,
      );
    }
    const probabilities = new Float64Array(rows * dataset.classCount);
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < dataset.classCount; c++) {
        probabilities[r * dataset.classCount + c] = output[r * width + columns[c]];
      }
    }
    return {
      ...classificationMetrics(probabilities, dataset.classCount, dataset.labels),
      latencyPerRowMs,
    };
  }
  if (width !== dataset.targetCount) {
    throw new InvalidInputError(
      `output '${plan.primaryOutput}' has ${width} values per row for ${dataset.targetCount} targets`,
    );
  }
  return { ...regressionMetrics(output, dataset.targets), latencyPerRowMs };
}

/** Loads, scores and releases. */
export async function scoreOnnxModel(
  runtime: OnnxRuntime,
  bytes: Uint8Array,
  plan: ScoringPlan,
  dataset: Dataset,
): Promise<EvaluationMetrics> {
  const session = await runtime.load(bytes);
  try {
    return await scoreSession(session, plan, dataset);
  } finally {
    await session.release();
  }
}
