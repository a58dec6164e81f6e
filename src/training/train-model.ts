import { InvalidInputError } from '../common/errors';
import { evaluateModel, EvaluationMetrics } from './evaluation';
import { EXPORT_OPSET, exportDenseModelToOnnx } from './export';
import { Dataset, datasetRows, validateDataset } from './trainers/dataset';
import { DenseModel, DenseModelParameters } from './trainers/dense-model';
import { DenseTrainingOptions, EpochProgress, FitHooks } from './trainers/dense-trainer';
import { MlpClassifier, MlpRegressor, SoftmaxRegression } from './trainers/dense-trainers';
import { SeededRandom } from './trainers/random';
import { fround, max, min } from './trainers/math';

/**
 * One training run from a plain, structured-cloneable spec to ONNX bytes, metrics and metadata.
 * This is what a training job runs (in a worker thread, see worker/), and what the MNIST demo
 * runs. No I/O.
 */

/**
 * Bumped whenever a change to the trainers can change the weights a given spec and seed produce,
 * so caches keyed on it (the MNIST demo) retrain instead of serving stale models.
 */
export const TRAINING_CODE_VERSION = 'dense-1';

export const TRAINER_KINDS = ['softmax-regression', 'mlp-classifier', 'mlp-regressor'] as const;
export type TrainerKind = (typeof TRAINER_KINDS)[number];

export const DEFAULT_REFERENCE_SAMPLE_SIZE = 500;

export interface TrainingSpec {
  kind: TrainerKind;
  /** Graph name in the exported ONNX file (usually the model's name). */
  modelName: string;
  train: Dataset;
  /** Early-stopping rows; when absent, `options.validationFraction` of `train` is split off. */
  validation?: Dataset | null;
  /** Held-out rows scored once at the end (the evaluation gate's numbers). */
  test?: Dataset | null;
  /** Defaults to feature_0, feature_1, … */
  featureNames?: string[] | null;
  /** Classifiers only; defaults to "0", "1", … */
  classNames?: string[] | null;
  options?: Partial<DenseTrainingOptions>;
  /** Rows of `train` kept for monitoring's reference profile (seeded sample; 0 = none). */
  referenceSampleSize?: number;
}

export interface TrainingMetadata {
  trainer: TrainerKind;
  trainingCodeVersion: string;
  onnxOpset: number;
  /** The options actually used, defaults filled in. */
  options: DenseTrainingOptions;
  seed: number;
  featureCount: number;
  outputCount: number;
  parameterCount: number;
  trainRows: number;
  validationRows: number;
  testRows: number;
  epochsRun: number;
  bestEpoch: number;
  stoppedEarly: boolean;
  /** Time spent in mini-batch updates. */
  trainingSeconds: number;
  /** Whole run: preparation, epochs, validation, export, evaluation. */
  totalSeconds: number;
  /** Training rows per second of update time, over all epochs. */
  samplesPerSecond: number;
  executedGflops: number;
  denseEquivalentGflops: number;
}

export interface TrainingResult {
  onnx: Uint8Array;
  /** The exported parameters, for tests and for continuing work without parsing ONNX. */
  model: DenseModelParameters;
  metrics: { validation: EvaluationMetrics | null; test: EvaluationMetrics | null };
  history: EpochProgress[];
  metadata: TrainingMetadata;
  featureNames: string[];
  classNames: string[] | null;
  /** Up to `referenceSampleSize` training rows, float32 values as shortest decimals. */
  referenceSample: number[][];
}

const TASK_OF_KIND: Record<TrainerKind, Dataset['task']> = {
  'softmax-regression': 'classification',
  'mlp-classifier': 'classification',
  'mlp-regressor': 'regression',
};

function checkNames(names: string[], expected: number, what: string): void {
  if (names.length !== expected) {
    throw new InvalidInputError(`${names.length} ${what} names given for ${expected} ${what}s`);
  }
  const seen = new Set<string>();
  for (const name of names) {
    if (typeof name !== 'string' || name === '') {
      throw new InvalidInputError(`${what} names must be non-empty strings`);
    }
    if (seen.has(name)) throw new InvalidInputError(`${what} name '${name}' appears twice`);
    seen.add(name);
  }
}

/** Checks a spec before any work starts, naming the problem (→ 400 at the HTTP layer). */
export function validateTrainingSpec(spec: TrainingSpec): void {
  if (!TRAINER_KINDS.includes(spec.kind)) {
    throw new InvalidInputError(
      `unknown trainer kind '${String(spec.kind)}'; one of ${TRAINER_KINDS.join(', ')}`,
    );
  }
  if (typeof spec.modelName !== 'string' || spec.modelName === '') {
    throw new InvalidInputError('modelName must be a non-empty string');
  }
  const task = TASK_OF_KIND[spec.kind];
  if (spec.train.task !== task) {
    throw new InvalidInputError(
      `trainer '${spec.kind}' needs ${task} data, got ${spec.train.task} data`,
    );
  }
  validateDataset(spec.train, 'training');
  for (const [role, dataset] of [
    ['validation', spec.validation],
    ['test', spec.test],
  ] as const) {
    if (!dataset) continue;
    validateDataset(dataset, role);
    if (dataset.task !== task || dataset.featureCount !== spec.train.featureCount) {
      throw new InvalidInputError(`${role} data must match the training data's task and features`);
    }
  }
  if (spec.featureNames) checkNames(spec.featureNames, spec.train.featureCount, 'feature');
  if (spec.classNames) {
    if (spec.train.task !== 'classification') {
      throw new InvalidInputError('class names only apply to classifiers');
    }
    checkNames(spec.classNames, spec.train.classCount, 'class');
  }
  const size = spec.referenceSampleSize;
  if (size !== undefined && !(Number.isInteger(size) && size >= 0)) {
    throw new InvalidInputError('referenceSampleSize must be an integer >= 0');
  }
}

function createTrainer(kind: TrainerKind, options: Partial<DenseTrainingOptions>) {
  switch (kind) {
    case 'softmax-regression': {
      const { hiddenLayers, ...rest } = options;
      if (hiddenLayers && hiddenLayers.length > 0) {
        throw new InvalidInputError('softmax-regression has no hidden layers; use mlp-classifier');
      }
      return new SoftmaxRegression(rest);
    }
    case 'mlp-classifier':
      return new MlpClassifier(options);
    case 'mlp-regressor':
      return new MlpRegressor(options);
  }
}

/** The shortest decimal that reads back as the same float32 (0.988, not 0.98799997568). */
export function shortestFloat32(value: number): number {
  for (let precision = 6; precision < 9; precision++) {
    const candidate = Number(value.toPrecision(precision));
    if (fround(candidate) === value) return candidate;
  }
  return value;
}

/**
 * The rows `referenceSample` picks, ascending: exported so a caller can keep the same rows'
 * labels next to the sample (training jobs store both, so the sample can be trained on again).
 */
export function referenceSampleIndices(rows: number, size: number, seed: number): Uint32Array {
  const count = min(size, rows);
  // Its own generator stream, so changing the sample size never changes the trained weights.
  return new SeededRandom(seed ^ 0x5eed).permutation(rows).subarray(0, count).sort();
}

/** A seeded sample of up to `size` rows, in original row order. */
export function referenceSample(dataset: Dataset, size: number, seed: number): number[][] {
  const chosen = referenceSampleIndices(datasetRows(dataset), size, seed);
  const out: number[][] = [];
  for (const row of chosen) {
    const start = row * dataset.featureCount;
    const values = new Array<number>(dataset.featureCount);
    for (let j = 0; j < dataset.featureCount; j++) {
      values[j] = shortestFloat32(dataset.features[start + j]);
    }
    out.push(values);
  }
  return out;
}

export function trainModel(spec: TrainingSpec, hooks: FitHooks = {}): TrainingResult {
  const started = performance.now();
  validateTrainingSpec(spec);
  const trainer = createTrainer(spec.kind, spec.options ?? {});
  const options = trainer.options;
  const report = trainer.fit(spec.train, spec.validation ?? null, hooks);
  const model: DenseModel = report.model;

  const featureNames =
    spec.featureNames ?? Array.from({ length: spec.train.featureCount }, (_, i) => `feature_${i}`);
  const classNames =
    spec.train.task === 'classification'
      ? (spec.classNames ?? Array.from({ length: spec.train.classCount }, (_, i) => String(i)))
      : null;

  const validationMetrics = report.validation ? evaluateModel(model, report.validation) : null;
  const testMetrics = spec.test ? evaluateModel(model, spec.test) : null;
  const parameterCount = model.parameters.layers.reduce(
    (sum, layer) => sum + layer.weights.length + layer.bias.length,
    0,
  );

  const onnx = exportDenseModelToOnnx(model, {
    name: spec.modelName,
    metadata: {
      'argus.trainer': spec.kind,
      'argus.training_code_version': TRAINING_CODE_VERSION,
      'argus.seed': String(options.seed),
      'argus.options': JSON.stringify(options),
      'argus.epochs_run': String(report.epochsRun),
      'argus.best_epoch': String(report.bestEpoch),
      'argus.feature_names': JSON.stringify(featureNames),
      ...(classNames ? { 'argus.class_names': JSON.stringify(classNames) } : {}),
    },
  });

  const sample =
    (spec.referenceSampleSize ?? DEFAULT_REFERENCE_SAMPLE_SIZE) > 0
      ? referenceSample(
          spec.train,
          spec.referenceSampleSize ?? DEFAULT_REFERENCE_SAMPLE_SIZE,
          options.seed,
        )
      : [];

  const metadata: TrainingMetadata = {
    trainer: spec.kind,
    trainingCodeVersion: TRAINING_CODE_VERSION,
    onnxOpset: EXPORT_OPSET,
    options,
    seed: options.seed,
    featureCount: model.featureCount,
    outputCount: model.outputCount,
    parameterCount,
    trainRows: report.trainRows,
    validationRows: report.validationRows,
    testRows: spec.test ? datasetRows(spec.test) : 0,
    epochsRun: report.epochsRun,
    bestEpoch: report.bestEpoch,
    stoppedEarly: report.stoppedEarly,
    trainingSeconds: report.trainingSeconds,
    totalSeconds: (performance.now() - started) / 1000,
    samplesPerSecond: (report.trainRows * report.epochsRun) / max(report.trainingSeconds, 1e-9),
    executedGflops: report.executedFlops / max(report.trainingSeconds, 1e-9) / 1e9,
    denseEquivalentGflops: report.denseEquivalentFlops / max(report.trainingSeconds, 1e-9) / 1e9,
  };
  return {
    onnx,
    model: model.parameters,
    metrics: { validation: validationMetrics, test: testMetrics },
    history: report.history,
    metadata,
    featureNames,
    classNames,
    referenceSample: sample,
  };
}
