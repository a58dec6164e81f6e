import { InvalidInputError } from '../../common/errors';
import { floor, isFiniteNumber } from './math';

/**
 * In-memory training data: features as one row-major Float32Array (rows × featureCount), which is
 * what the kernels consume and what crosses a worker boundary without per-row objects.
 */
export interface ClassificationDataset {
  task: 'classification';
  features: Float32Array;
  featureCount: number;
  /** Class index per row, 0 ≤ label < classCount. */
  labels: Int32Array;
  classCount: number;
}

export interface RegressionDataset {
  task: 'regression';
  features: Float32Array;
  featureCount: number;
  /** Row-major rows × targetCount. */
  targets: Float32Array;
  targetCount: number;
}

export type Dataset = ClassificationDataset | RegressionDataset;
export type Task = Dataset['task'];

export function datasetRows(dataset: Dataset): number {
  return dataset.task === 'classification'
    ? dataset.labels.length
    : dataset.targets.length / dataset.targetCount;
}

/**
 * Checks shapes and values, naming the first problem found: the trainers assume finite numbers
 * and consistent sizes, and a NaN that slips in silently poisons every weight.
 */
export function validateDataset(dataset: Dataset, role: string): void {
  const { featureCount } = dataset;
  if (!Number.isInteger(featureCount) || featureCount < 1) {
    throw new InvalidInputError(`${role} data: featureCount must be a positive integer`);
  }
  let rows: number;
  if (dataset.task === 'classification') {
    rows = dataset.labels.length;
    if (!Number.isInteger(dataset.classCount) || dataset.classCount < 2) {
      throw new InvalidInputError(`${role} data: a classifier needs classCount >= 2`);
    }
    for (let i = 0; i < rows; i++) {
      const label = dataset.labels[i];
      if (label < 0 || label >= dataset.classCount) {
        throw new InvalidInputError(
          `${role} data: row ${i} has label ${label}, outside 0..${dataset.classCount - 1}`,
        );
      }
    }
  } else {
    const { targetCount, targets } = dataset;
    if (!Number.isInteger(targetCount) || targetCount < 1) {
      throw new InvalidInputError(`${role} data: targetCount must be a positive integer`);
    }
    if (targets.length % targetCount !== 0) {
      throw new InvalidInputError(
        `${role} data: ${targets.length} target values do not divide into rows of ${targetCount}`,
      );
    }
    rows = targets.length / targetCount;
    for (let i = 0; i < targets.length; i++) {
      if (!isFiniteNumber(targets[i])) {
        throw new InvalidInputError(
          `${role} data: row ${floor(i / targetCount)} has a non-finite target`,
        );
      }
    }
  }
  if (rows === 0) throw new InvalidInputError(`${role} data is empty`);
  if (dataset.features.length !== rows * featureCount) {
    throw new InvalidInputError(
      `${role} data: ${dataset.features.length} feature values, expected ${rows} rows × ${featureCount} features`,
    );
  }
  const features = dataset.features;
  for (let i = 0; i < features.length; i++) {
    // x − x is 0 for every finite x and NaN for NaN and ±Infinity; cheaper than a call per value.
    const value = features[i];
    if (value - value !== 0) {
      throw new InvalidInputError(
        `${role} data: row ${floor(i / featureCount)}, feature ${i % featureCount} is not a finite number`,
      );
    }
  }
}

/** A new dataset holding the given rows, in the given order. */
export function selectRows(dataset: Dataset, indices: ArrayLike<number>): Dataset {
  const { featureCount } = dataset;
  const features = new Float32Array(indices.length * featureCount);
  for (let r = 0; r < indices.length; r++) {
    const from = indices[r] * featureCount;
    features.set(dataset.features.subarray(from, from + featureCount), r * featureCount);
  }
  if (dataset.task === 'classification') {
    const labels = new Int32Array(indices.length);
    for (let r = 0; r < indices.length; r++) labels[r] = dataset.labels[indices[r]];
    return {
      task: 'classification',
      features,
      featureCount,
      labels,
      classCount: dataset.classCount,
    };
  }
  const { targetCount } = dataset;
  const targets = new Float32Array(indices.length * targetCount);
  for (let r = 0; r < indices.length; r++) {
    const from = indices[r] * targetCount;
    targets.set(dataset.targets.subarray(from, from + targetCount), r * targetCount);
  }
  return { task: 'regression', features, featureCount, targets, targetCount };
}

/** Number of rows per class (classification only). */
export function classCounts(dataset: ClassificationDataset): number[] {
  const counts = new Array<number>(dataset.classCount).fill(0);
  for (let i = 0; i < dataset.labels.length; i++) counts[dataset.labels[i]]++;
  return counts;
}
