import { createHash } from 'node:crypto';
import type { Dataset } from '../trainers/dataset';
import { classCounts, datasetRows } from '../trainers/dataset';

/**
 * What a trained version remembers about the data it was trained on (its manifest's
 * `lineage.dataset`): where the rows came from, how many, over which time, how the classes were
 * balanced, and a hash of the exact content, so two versions can be told apart by their data.
 */
export interface DatasetManifest {
  /** Where the rows came from: a file, the prediction log (+ reference rows), the MNIST package. */
  source: DatasetSource;
  task: Dataset['task'];
  /** All rows, before the train / validation / test split. */
  rows: number;
  /** Prediction-log datasets: the window asked for and the span the rows actually cover. */
  time_range: DatasetTimeRange | null;
  /** Rows per class name (classifiers); null for regressors. */
  class_balance: Record<string, number> | null;
  /** sha256 of the rows as trained on (see datasetContentSha256). */
  content_sha256: string;
  features: string[];
  /** The column that held the target (file datasets); 'label' / 'value' otherwise. */
  target: string;
  /** How the rows were divided; rows per part. */
  split: DatasetSplitSummary | null;
}

export type DatasetSource =
  | { type: 'file'; path: string; format: 'csv' | 'jsonl'; file_sha256: string }
  | {
      type: 'log';
      model: string;
      /** null: every version of the model in the window. */
      version: number | null;
      limit: number;
      /** Labeled predictions read from the store, and how many of them became rows. */
      labeled_predictions: number;
      used_predictions: number;
      /** Rows of a version's reference sample mixed in, when asked for and available. */
      reference: { version: number; rows: number } | null;
    }
  | {
      type: 'mnist';
      split: Record<string, number>;
      /** Shifted copies of each training image trained on besides the image (the demo's recipe). */
      shifted_copies: number;
    };

export interface DatasetTimeRange {
  /** The requested window, ISO 8601, `to` exclusive. */
  from: string;
  to: string;
  /** Oldest and newest prediction among the rows; null when none came from the log. */
  first_row: string | null;
  last_row: string | null;
}

export interface DatasetSplitSummary {
  seed: number | null;
  train: number;
  validation: number;
  test: number;
  /** sha256 of the held-out (test) rows: candidate and champion were compared on these. */
  test_sha256: string;
}

function update(hash: ReturnType<typeof createHash>, view: ArrayBufferView): void {
  hash.update(new Uint8Array(view.buffer, view.byteOffset, view.byteLength));
}

/**
 * sha256 over the task, shape, names and the raw little-endian float32 / int32 arrays. Identical
 * rows in the same order with the same names give the same hash on every machine Node runs on
 * (all of them are little-endian).
 */
export function datasetContentSha256(
  dataset: Dataset,
  featureNames: readonly string[],
  classNames: readonly string[] | null,
): string {
  const hash = createHash('sha256');
  hash.update(
    JSON.stringify({
      task: dataset.task,
      rows: datasetRows(dataset),
      featureCount: dataset.featureCount,
      featureNames,
      classNames,
      targetCount: dataset.task === 'regression' ? dataset.targetCount : null,
    }),
  );
  update(hash, dataset.features);
  update(hash, dataset.task === 'classification' ? dataset.labels : dataset.targets);
  return hash.digest('hex');
}

/** Rows per class name; null for regression data. */
export function classBalance(
  dataset: Dataset,
  classNames: readonly string[] | null,
): Record<string, number> | null {
  if (dataset.task !== 'classification') return null;
  const counts = classCounts(dataset);
  const out: Record<string, number> = {};
  counts.forEach((count, index) => {
    out[classNames?.[index] ?? String(index)] = count;
  });
  return out;
}
