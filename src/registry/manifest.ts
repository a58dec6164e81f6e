import { InvalidInputError } from '../common/errors';
import { TensorSpec } from '../onnx/tensor';

/**
 * What Argus knows about one model version. Written once at registration next to `model.onnx`
 * (`ARGUS_HOME/models/<name>/<version>/manifest.json`), read by inference and monitoring.
 */
export type ModelTask = 'classification' | 'regression' | 'unknown';

export const ALIASES = ['champion', 'challenger', 'shadow', 'canary'] as const;
export type ModelAlias = (typeof ALIASES)[number];

export interface BatchingOverrides {
  max_batch_size?: number;
  max_queue_delay_us?: number;
  max_queue_rows?: number;
}

/** Filled by the training module; reserved (null) for models registered by hand. */
export interface ModelLineage {
  parent_version: number | null;
  training_job_id: string | null;
  dataset: Record<string, unknown> | null;
  metrics: Record<string, unknown> | null;
  gate: Record<string, unknown> | null;
}

export interface ModelManifest {
  name: string;
  version: number;
  created_at: string;
  sha256: string;
  size_bytes: number;
  task: ModelTask;
  inputs: TensorSpec[];
  outputs: TensorSpec[];
  feature_names: string[] | null;
  class_names: string[] | null;
  /** The output read as class probabilities (classifiers) or as the value (regressors). */
  primary_output: string;
  /** An int64 output holding the predicted class index, when the model has one. */
  label_output: string | null;
  batching: BatchingOverrides | null;
  description: string;
  metadata: Record<string, unknown>;
  training: Record<string, unknown> | null;
  lineage: ModelLineage;
}

/** What a user may send with a model at registration (`--metadata meta.json`). */
export interface RegistrationMetadata {
  task?: ModelTask;
  feature_names?: string[];
  class_names?: string[];
  primary_output?: string;
  label_output?: string;
  batching?: BatchingOverrides;
  description?: string;
  metadata?: Record<string, unknown>;
  training?: Record<string, unknown>;
  lineage?: Partial<ModelLineage>;
}

const REGISTRATION_KEYS = new Set([
  'task',
  'feature_names',
  'class_names',
  'primary_output',
  'label_output',
  'batching',
  'description',
  'metadata',
  'training',
  'lineage',
]);

const MODEL_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

export function assertModelName(name: unknown): asserts name is string {
  if (typeof name !== 'string' || !MODEL_NAME.test(name) || name.includes('..')) {
    throw new InvalidInputError(
      `invalid model name ${JSON.stringify(name)}: use 1-128 letters, digits, '_', '-' or '.', starting with a letter or digit`,
    );
  }
}

export function parseVersion(raw: unknown): number {
  const n =
    typeof raw === 'number'
      ? raw
      : typeof raw === 'string' && /^\d+$/.test(raw)
        ? Number(raw)
        : NaN;
  if (!Number.isSafeInteger(n) || n < 1) {
    throw new InvalidInputError(
      `invalid model version ${JSON.stringify(raw)}: versions are integers 1, 2, 3, ...`,
    );
  }
  return n;
}

export function assertAlias(alias: unknown): asserts alias is ModelAlias {
  if (!ALIASES.includes(alias as ModelAlias)) {
    throw new InvalidInputError(
      `invalid alias ${JSON.stringify(alias)}: one of ${ALIASES.join(', ')}`,
    );
  }
}

function stringList(value: unknown, field: string): string[] {
  if (
    !Array.isArray(value) ||
    value.length === 0 ||
    value.some((v) => typeof v !== 'string' || v === '')
  ) {
    throw new InvalidInputError(`metadata.${field} must be a non-empty array of non-empty strings`);
  }
  const list = value as string[];
  const seen = new Set<string>();
  for (const v of list) {
    if (seen.has(v)) throw new InvalidInputError(`metadata.${field} contains '${v}' twice`);
    seen.add(v);
  }
  return list;
}

function positiveInt(value: unknown, field: string, min: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    throw new InvalidInputError(`metadata.batching.${field} must be an integer >= ${min}`);
  }
  return value;
}

/** Parses untrusted registration metadata; unknown keys are refused so typos do not vanish. */
export function parseRegistrationMetadata(raw: unknown): RegistrationMetadata {
  if (raw === undefined || raw === null) return {};
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    throw new InvalidInputError('metadata must be a JSON object');
  }
  const obj = raw as Record<string, unknown>;
  for (const key of Object.keys(obj)) {
    if (!REGISTRATION_KEYS.has(key)) {
      throw new InvalidInputError(
        `metadata has unknown key '${key}'; allowed: ${[...REGISTRATION_KEYS].join(', ')} (put free-form data under 'metadata')`,
      );
    }
  }
  const out: RegistrationMetadata = {};
  if (obj.task !== undefined) {
    if (obj.task !== 'classification' && obj.task !== 'regression') {
      throw new InvalidInputError("metadata.task must be 'classification' or 'regression'");
    }
    out.task = obj.task;
  }
  if (obj.feature_names !== undefined)
    out.feature_names = stringList(obj.feature_names, 'feature_names');
  if (obj.class_names !== undefined) out.class_names = stringList(obj.class_names, 'class_names');
  for (const key of ['primary_output', 'label_output', 'description'] as const) {
    if (obj[key] !== undefined) {
      if (typeof obj[key] !== 'string')
        throw new InvalidInputError(`metadata.${key} must be a string`);
      out[key] = obj[key];
    }
  }
  if (obj.batching !== undefined) {
    if (typeof obj.batching !== 'object' || obj.batching === null || Array.isArray(obj.batching)) {
      throw new InvalidInputError('metadata.batching must be an object');
    }
    const b = obj.batching as Record<string, unknown>;
    out.batching = {};
    if (b.max_batch_size !== undefined)
      out.batching.max_batch_size = positiveInt(b.max_batch_size, 'max_batch_size', 1);
    if (b.max_queue_delay_us !== undefined) {
      out.batching.max_queue_delay_us = positiveInt(b.max_queue_delay_us, 'max_queue_delay_us', 0);
    }
    if (b.max_queue_rows !== undefined)
      out.batching.max_queue_rows = positiveInt(b.max_queue_rows, 'max_queue_rows', 1);
  }
  for (const key of ['metadata', 'training', 'lineage'] as const) {
    const v = obj[key];
    if (v !== undefined) {
      if (typeof v !== 'object' || v === null || Array.isArray(v)) {
        throw new InvalidInputError(`metadata.${key} must be an object`);
      }
      (out as Record<string, unknown>)[key] = v;
    }
  }
  return out;
}

/**
 * Checks registration metadata against the signature read from the model and derives the
 * manifest fields. Anything contradictory is refused with a message that says what disagrees.
 */
export function deriveModelDescription(
  inputs: TensorSpec[],
  outputs: TensorSpec[],
  meta: RegistrationMetadata,
): Pick<
  ModelManifest,
  'task' | 'feature_names' | 'class_names' | 'primary_output' | 'label_output'
> {
  if (inputs.length === 0) throw new InvalidInputError('the model declares no inputs');
  if (outputs.length === 0) throw new InvalidInputError('the model declares no outputs');

  if (meta.feature_names) {
    if (inputs.length !== 1 || inputs[0].shape.length !== 2) {
      throw new InvalidInputError(
        `metadata.feature_names needs a model with one 2-D input [batch, features]; this model has ${inputs.length} input(s), the first of shape [${inputs[0].shape.join(', ')}]`,
      );
    }
    const width = inputs[0].shape[1];
    if (width !== -1 && width !== meta.feature_names.length) {
      throw new InvalidInputError(
        `metadata.feature_names has ${meta.feature_names.length} names but input '${inputs[0].name}' has ${width} features`,
      );
    }
  }

  const byName = (n: string) => outputs.find((o) => o.name === n);
  const isFloat = (o: TensorSpec) => o.datatype === 'FP32' || o.datatype === 'FP64';
  let primary: TensorSpec | undefined;
  if (meta.primary_output) {
    primary = byName(meta.primary_output);
    if (!primary) {
      throw new InvalidInputError(
        `metadata.primary_output '${meta.primary_output}' is not an output of the model (outputs: ${outputs.map((o) => o.name).join(', ')})`,
      );
    }
  } else {
    primary =
      byName('probabilities') ?? byName('value') ?? outputs.find((o) => isFloat(o)) ?? outputs[0];
  }
  let labelOutput: TensorSpec | undefined;
  if (meta.label_output) {
    labelOutput = byName(meta.label_output);
    if (!labelOutput)
      throw new InvalidInputError(
        `metadata.label_output '${meta.label_output}' is not an output of the model`,
      );
  } else {
    labelOutput = byName('label');
  }
  if (labelOutput && !['INT64', 'INT32'].includes(labelOutput.datatype)) {
    throw new InvalidInputError(
      `label output '${labelOutput.name}' must be INT64 or INT32, the model says ${labelOutput.datatype}`,
    );
  }

  let task: ModelTask =
    meta.task ??
    (labelOutput || primary.name === 'probabilities'
      ? 'classification'
      : primary.name === 'value'
        ? 'regression'
        : 'unknown');
  if (task === 'unknown' && meta.class_names) task = 'classification';

  if (task === 'classification') {
    if (!isFloat(primary) || primary.shape.length !== 2) {
      throw new InvalidInputError(
        `a classifier needs a float output of shape [batch, classes] for probabilities; '${primary.name}' is ${primary.datatype} [${primary.shape.join(', ')}]`,
      );
    }
    const classes = primary.shape[1];
    if (meta.class_names && classes !== -1 && classes !== meta.class_names.length) {
      throw new InvalidInputError(
        `metadata.class_names has ${meta.class_names.length} names but output '${primary.name}' has ${classes} classes`,
      );
    }
  } else if (meta.class_names) {
    throw new InvalidInputError(`metadata.class_names given but the model is a ${task} model`);
  }
  if (task === 'regression' && !isFloat(primary)) {
    throw new InvalidInputError(
      `a regressor needs a float output; '${primary.name}' is ${primary.datatype}`,
    );
  }

  const classNames =
    meta.class_names ??
    (task === 'classification' && primary.shape[1] > 0
      ? Array.from({ length: primary.shape[1] }, (_, i) => String(i))
      : null);
  return {
    task,
    feature_names: meta.feature_names ?? null,
    class_names: classNames,
    primary_output: primary.name,
    label_output: labelOutput?.name ?? null,
  };
}
