import { createHash, randomUUID } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import {
  MNIST_CLASS_NAMES,
  MNIST_FEATURE_COUNT,
  MNIST_FEATURE_NAMES,
  MNIST_SPLIT,
} from './datasets/mnist';
import type { EvaluationMetrics } from './evaluation';
import {
  MNIST_DEMO_MODEL_NAME,
  MNIST_DEMO_OPTIONS,
  MNIST_DEMO_REFERENCE_SAMPLE_SIZE,
  MNIST_DEMO_SHIFTS,
  trainMnistDemo,
} from './mnist-demo-training';
import type { DenseTrainingOptions, EpochProgress } from './trainers/dense-trainer';
import { TRAINING_CODE_VERSION, TrainingMetadata, TrainingResult } from './train-model';
import { runTrainingWorker } from './worker/train-in-worker';

/**
 * The MNIST demo model for a newcomer's first `npm start`: trained once (a few seconds, in a
 * worker thread), then reused from `cacheDir` on every later start.
 *
 * Cache files are keyed by a hash of everything that determines the weights — the recipe, the
 * split, the seed, and the code versions below — so changing any of them retrains instead of
 * serving a stale model. `mnist-demo-<key>.onnx` is written first and `mnist-demo-<key>.json`
 * (metrics, metadata, reference sample, the ONNX file's sha256) last, each through a temporary
 * file and a rename: a crash mid-write leaves no JSON, so the next start retrains.
 */

/** Bump when the demo recipe's code changes in a way the recipe constants do not show. */
export const MNIST_DEMO_CODE_VERSION = 'mnist-demo-1';

export interface MnistDemoModel {
  name: string;
  onnx: Uint8Array;
  metrics: { validation: EvaluationMetrics | null; test: EvaluationMetrics | null };
  featureNames: string[];
  classNames: string[];
  /** 500 of the training images (784 values in [0, 1] each), for monitoring's reference profile. */
  referenceSample: number[][];
  trainingMetadata: TrainingMetadata;
  history: EpochProgress[];
  cacheKey: string;
  fromCache: boolean;
  files: { onnx: string; metadata: string };
  /** Wall time of this call, load or train. */
  seconds: number;
}

export interface EnsureMnistDemoOptions {
  /** Cancels a training run (TrainingCancelledError); a cache hit is not affected. */
  signal?: AbortSignal;
  /** Train in a worker thread (default) or in the calling thread. */
  inWorker?: boolean;
  /**
   * Changes to the demo recipe, for tests and experiments (part of the cache key, so they never
   * mix with the real demo's cache). The service passes none.
   */
  recipeOverrides?: Partial<DenseTrainingOptions>;
}

interface CachedDemoMetadata {
  format: 1;
  cacheKey: string;
  onnxSha256: string;
  metrics: MnistDemoModel['metrics'];
  classNames: string[];
  referenceSample: number[][];
  trainingMetadata: TrainingMetadata;
  history: EpochProgress[];
}

export function mnistDemoCacheKey(overrides: Partial<DenseTrainingOptions> = {}): string {
  const recipe = {
    demo: MNIST_DEMO_CODE_VERSION,
    training: TRAINING_CODE_VERSION,
    split: MNIST_SPLIT,
    kind: 'mlp-classifier',
    options: MNIST_DEMO_OPTIONS,
    shifts: MNIST_DEMO_SHIFTS,
    referenceSampleSize: MNIST_DEMO_REFERENCE_SAMPLE_SIZE,
    ...(Object.keys(overrides).length > 0 ? { overrides } : {}),
  };
  return createHash('sha256').update(JSON.stringify(recipe)).digest('hex').slice(0, 16);
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function cacheFiles(cacheDir: string, key: string): MnistDemoModel['files'] {
  return {
    onnx: path.join(cacheDir, `mnist-demo-${key}.onnx`),
    metadata: path.join(cacheDir, `mnist-demo-${key}.json`),
  };
}

function isCachedMetadata(value: unknown, key: string): value is CachedDemoMetadata {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Partial<CachedDemoMetadata>;
  return (
    v.format === 1 &&
    v.cacheKey === key &&
    typeof v.onnxSha256 === 'string' &&
    typeof v.metrics === 'object' &&
    v.metrics !== null &&
    Array.isArray(v.classNames) &&
    Array.isArray(v.referenceSample) &&
    v.referenceSample.every((row) => Array.isArray(row) && row.length === MNIST_FEATURE_COUNT) &&
    typeof v.trainingMetadata === 'object' &&
    v.trainingMetadata !== null &&
    Array.isArray(v.history)
  );
}

/** The cached model; throws when there is none or it does not check out (then: retrain). */
async function readCache(
  files: MnistDemoModel['files'],
  key: string,
): Promise<CachedDemoMetadata & { onnx: Uint8Array }> {
  const metadata: unknown = JSON.parse(await fs.readFile(files.metadata, 'utf8'));
  if (!isCachedMetadata(metadata, key)) throw new Error('unrecognised cache metadata');
  const onnx = new Uint8Array(await fs.readFile(files.onnx));
  if (sha256(onnx) !== metadata.onnxSha256) throw new Error('cached ONNX file does not match');
  return { ...metadata, onnx };
}

async function writeAtomically(file: string, data: Uint8Array | string): Promise<void> {
  const temporary = `${file}.${process.pid}.${randomUUID()}.tmp`;
  try {
    await fs.writeFile(temporary, data);
    await fs.rename(temporary, file);
  } catch (err) {
    await fs.rm(temporary, { force: true });
    throw err;
  }
}

async function train(
  onProgress: ((progress: EpochProgress) => void) | undefined,
  options: EnsureMnistDemoOptions,
): Promise<TrainingResult> {
  const overrides = options.recipeOverrides ?? {};
  if (options.inWorker === false) {
    const shouldStop = () => options.signal?.aborted ?? false;
    return trainMnistDemo({ onEpoch: onProgress, shouldStop }, overrides);
  }
  return runTrainingWorker({ type: 'mnist-demo', options: overrides }, onProgress, options.signal);
}

/**
 * Returns the MNIST demo classifier, training it (784 → 128 → 10 MLP, ≥ 94 % held-out accuracy)
 * when `cacheDir` has no valid cached copy for the current recipe. `onProgress` hears about every
 * epoch of a training run; a cache hit calls it never.
 */
export async function ensureMnistDemoModel(
  cacheDir: string,
  onProgress?: (progress: EpochProgress) => void,
  options: EnsureMnistDemoOptions = {},
): Promise<MnistDemoModel> {
  const started = performance.now();
  const cacheKey = mnistDemoCacheKey(options.recipeOverrides);
  const files = cacheFiles(cacheDir, cacheKey);
  const common = {
    name: MNIST_DEMO_MODEL_NAME,
    featureNames: [...MNIST_FEATURE_NAMES],
    cacheKey,
    files,
  };
  try {
    const cached = await readCache(files, cacheKey);
    return {
      ...common,
      onnx: cached.onnx,
      metrics: cached.metrics,
      classNames: cached.classNames,
      referenceSample: cached.referenceSample,
      trainingMetadata: cached.trainingMetadata,
      history: cached.history,
      fromCache: true,
      seconds: (performance.now() - started) / 1000,
    };
  } catch {
    // No usable cache (missing, partial, corrupt, other recipe): train below.
  }

  const result = await train(onProgress, options);
  const metadata: CachedDemoMetadata = {
    format: 1,
    cacheKey,
    onnxSha256: sha256(result.onnx),
    metrics: result.metrics,
    classNames: result.classNames ?? [...MNIST_CLASS_NAMES],
    referenceSample: result.referenceSample,
    trainingMetadata: result.metadata,
    history: result.history,
  };
  await fs.mkdir(cacheDir, { recursive: true });
  await writeAtomically(files.onnx, result.onnx);
  await writeAtomically(files.metadata, JSON.stringify(metadata));
  return {
    ...common,
    onnx: result.onnx,
    metrics: metadata.metrics,
    classNames: metadata.classNames,
    referenceSample: metadata.referenceSample,
    trainingMetadata: metadata.trainingMetadata,
    history: metadata.history,
    fromCache: false,
    seconds: (performance.now() - started) / 1000,
  };
}
