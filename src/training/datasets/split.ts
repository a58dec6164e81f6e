import { InvalidInputError } from '../../common/errors';
import type { Dataset } from '../trainers/dataset';
import { datasetRows, selectRows } from '../trainers/dataset';
import { SeededRandom } from '../trainers/random';

/**
 * The deterministic train / validation / test split of a training job: the same rows, seed and
 * fractions always give the same parts. Classification data is split per class (stratified), so
 * a rare class is not left out of the held-out rows by chance and the class balance of every part
 * follows the whole.
 */
export interface SplitOptions {
  seed: number;
  /** Share of rows for early stopping, in [0, 0.5]. */
  validationFraction: number;
  /** Share of rows held out for the evaluation gate, in (0, 0.5]. */
  testFraction: number;
}

export interface DatasetSplit {
  train: Dataset;
  /** null when the data set is too small to spare validation rows. */
  validation: Dataset | null;
  test: Dataset;
  /** Row numbers of each part, ascending. */
  indices: { train: Uint32Array; validation: Uint32Array; test: Uint32Array };
}

export const DEFAULT_SPLIT: Readonly<SplitOptions> = Object.freeze({
  seed: 1,
  validationFraction: 0.15,
  testFraction: 0.15,
});

export function checkSplitOptions(options: SplitOptions): void {
  if (!Number.isSafeInteger(options.seed)) {
    throw new InvalidInputError(`split seed must be an integer, got ${options.seed}`);
  }
  if (!(options.validationFraction >= 0 && options.validationFraction <= 0.5)) {
    throw new InvalidInputError(
      `split validation fraction must be within [0, 0.5], got ${options.validationFraction}`,
    );
  }
  if (!(options.testFraction > 0 && options.testFraction <= 0.5)) {
    throw new InvalidInputError(
      `split test fraction must be within (0, 0.5], got ${options.testFraction}`,
    );
  }
}

/** How many of `n` rows go to test and validation; training keeps at least one row. */
function allocate(n: number, options: SplitOptions): { test: number; validation: number } {
  let test = Math.round(n * options.testFraction);
  let validation = Math.round(n * options.validationFraction);
  while (test + validation >= n && validation > 0) validation--;
  while (test + validation >= n && test > 0) test--;
  return { test, validation };
}

export function splitDataset(
  dataset: Dataset,
  options: SplitOptions = DEFAULT_SPLIT,
): DatasetSplit {
  checkSplitOptions(options);
  const rows = datasetRows(dataset);
  const random = new SeededRandom(options.seed);
  const groups: number[][] = [];
  if (dataset.task === 'classification') {
    for (let c = 0; c < dataset.classCount; c++) groups.push([]);
    for (let i = 0; i < rows; i++) groups[dataset.labels[i]].push(i);
  } else {
    groups.push(Array.from({ length: rows }, (_, i) => i));
  }
  const train: number[] = [];
  const validation: number[] = [];
  const test: number[] = [];
  for (const group of groups) {
    if (group.length === 0) continue;
    random.shuffle(group);
    const counts = allocate(group.length, options);
    test.push(...group.slice(0, counts.test));
    validation.push(...group.slice(counts.test, counts.test + counts.validation));
    train.push(...group.slice(counts.test + counts.validation));
  }
  if (test.length === 0) {
    throw new InvalidInputError(
      `${rows} rows are too few to hold out a test part of ${options.testFraction}; the evaluation gate needs held-out rows`,
    );
  }
  const sorted = (values: number[]) => Uint32Array.from(values).sort();
  const indices = { train: sorted(train), validation: sorted(validation), test: sorted(test) };
  return {
    train: selectRows(dataset, indices.train),
    validation: indices.validation.length > 0 ? selectRows(dataset, indices.validation) : null,
    test: selectRows(dataset, indices.test),
    indices,
  };
}
