import { InvalidInputError } from '../../common/errors';
import type { ModelManifest } from '../../registry/manifest';
import type { ModelRegistry } from '../../registry/model-registry';
import type { AnalyticsStore } from '../../store/analytics-store';
import { ArgusError } from '../../common/errors';
import {
  classBalance,
  datasetContentSha256,
  DatasetManifest,
  DatasetSource,
  DatasetTimeRange,
} from '../datasets/dataset-manifest';
import { loadFileDataset } from '../datasets/file-dataset';
import { loadLogDataset } from '../datasets/log-dataset';
import { loadMnistSplit, MNIST_SPLIT, withShiftedCopies } from '../datasets/mnist';
import { MNIST_DEMO_SHIFTS } from '../mnist-demo-training';
import { DatasetSplit, splitDataset } from '../datasets/split';
import type { Dataset, Task } from '../trainers/dataset';
import { classCounts, datasetRows } from '../trainers/dataset';
import { checkGateForTask, parseDuration, taskOfKind, TrainingJobSpec } from './job-spec';

/**
 * Turns a job spec into the rows a job trains and is judged on: loads the data set (file,
 * prediction log or MNIST), checks it is usable (not empty, more than one class), splits it
 * deterministically and writes its manifest. Runs when a job is submitted, so a bad spec or an
 * empty data set is refused (400) before a job record exists.
 */
export interface PreparedTrainingData {
  task: Task;
  featureNames: string[];
  classNames: string[] | null;
  /** Column name of the target in files written for external trainers. */
  targetName: string;
  parts: Pick<DatasetSplit, 'train' | 'validation' | 'test'>;
  /** The rows the version's reference sample is drawn from (the original, unaugmented training rows). */
  referenceRows: Dataset;
  manifest: DatasetManifest;
  /** Remarks for the job log (rows skipped and why). */
  notes: string[];
}

export interface PrepareContext {
  model: string;
  /** The model's champion when the job is submitted; null for a model without one. */
  champion: ModelManifest | null;
  registry: Pick<ModelRegistry, 'getModel' | 'getManifest' | 'readArtifact'>;
  store: Pick<AnalyticsStore, 'labeledPredictions'> | null;
  now: number;
}

function taskFor(spec: TrainingJobSpec, context: PrepareContext): Task {
  if (spec.kind !== 'external') return taskOfKind(spec.kind);
  if (spec.task) return spec.task;
  if (spec.data.source === 'mnist') return 'classification';
  const championTask = context.champion?.task;
  if (championTask === 'classification' || championTask === 'regression') return championTask;
  throw new InvalidInputError(
    `an external trainer for model '${context.model}' needs 'task' (classification or regression): there is no champion to take it from`,
  );
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

export async function prepareTrainingData(
  spec: TrainingJobSpec,
  context: PrepareContext,
): Promise<PreparedTrainingData> {
  let task = taskFor(spec, context);
  const { champion } = context;
  const championClasses =
    task === 'classification' && champion?.task === 'classification' ? champion.class_names : null;
  let dataset: Dataset;
  let featureNames: string[];
  let classNames: string[] | null;
  let targetName: string;
  let source: DatasetSource;
  let timeRange: DatasetTimeRange | null = null;
  let fixedSplit: DatasetSplit | null = null;
  let referenceRows: Dataset | null = null;
  const notes: string[] = [];

  switch (spec.data.source) {
    case 'file': {
      const loaded = await loadFileDataset({
        path: spec.data.path,
        task,
        target: spec.data.target,
        features: spec.data.features ?? champion?.feature_names ?? null,
        classNames: spec.classes ?? championClasses,
      });
      ({ dataset, featureNames, classNames } = loaded);
      targetName = spec.data.target;
      source = {
        type: 'file',
        path: spec.data.path,
        format: loaded.format,
        file_sha256: loaded.fileSha256,
      };
      break;
    }
    case 'log': {
      if (!context.store) {
        throw new ArgusError(
          'unavailable',
          'training from the prediction log needs the analytical store, and none is available here',
        );
      }
      const to = spec.data.to ?? context.now;
      const from = spec.data.from ?? to - parseDuration(spec.data.since ?? '24h', 'data.since');
      const loaded = await loadLogDataset({
        store: context.store,
        registry: context.registry,
        model: context.model,
        version: spec.data.version,
        from,
        to,
        limit: spec.data.limit,
        includeReference: spec.data.include_reference,
      });
      const logTask = loaded.dataset.task;
      if (spec.kind !== 'external' && logTask !== task) {
        throw new InvalidInputError(
          `trainer '${spec.kind}' trains ${task} models; '${context.model}' is a ${logTask} model`,
        );
      }
      task = logTask;
      ({ dataset, featureNames } = loaded);
      classNames = spec.classes ?? loaded.classNames;
      if (
        spec.classes &&
        loaded.classNames &&
        spec.classes.join('\n') !== loaded.classNames.join('\n')
      ) {
        throw new InvalidInputError(
          `classes (${spec.classes.join(', ')}) differ from the model's (${loaded.classNames.join(', ')}); the log is labeled with the model's classes`,
        );
      }
      targetName = task === 'classification' ? 'label' : 'value';
      notes.push(...loaded.notes);
      source = {
        type: 'log',
        model: context.model,
        version: spec.data.version,
        limit: spec.data.limit,
        labeled_predictions: loaded.labeledPredictions,
        used_predictions: loaded.usedPredictions,
        reference: loaded.reference,
      };
      timeRange = {
        from: iso(from),
        to: iso(to),
        first_row: loaded.firstRowTs === null ? null : iso(loaded.firstRowTs),
        last_row: loaded.lastRowTs === null ? null : iso(loaded.lastRowTs),
      };
      break;
    }
    case 'mnist': {
      if (task !== 'classification') {
        throw new InvalidInputError('the mnist data set is a classification data set');
      }
      const split = await loadMnistSplit();
      // The demo's recipe: the training images plus one-pixel-shifted copies, so the demo's
      // stored spec retrains the demo model itself (same rows, options and seed: same weights).
      fixedSplit = {
        train: withShiftedCopies(split.train, MNIST_DEMO_SHIFTS),
        validation: split.validation,
        test: split.test,
        indices: split.indices,
      };
      dataset = concatenate([split.train, split.validation, split.test]);
      referenceRows = split.train;
      featureNames = split.featureNames;
      classNames = split.classNames;
      targetName = 'label';
      source = {
        type: 'mnist',
        split: { ...MNIST_SPLIT },
        shifted_copies: MNIST_DEMO_SHIFTS.length,
      };
      break;
    }
  }
  checkGateForTask(spec.gate, task);

  // The MNIST split is fixed by the package's order; every other data set is split by seed.
  const parts = fixedSplit ?? checkedSplit(dataset, classNames, spec);
  const whole = dataset;
  const test = parts.test;
  const manifest: DatasetManifest = {
    source,
    task,
    rows: datasetRows(whole),
    time_range: timeRange,
    class_balance: classBalance(whole, classNames),
    content_sha256: datasetContentSha256(whole, featureNames, classNames),
    features: featureNames,
    target: targetName,
    split: {
      seed: fixedSplit ? MNIST_SPLIT.seed : spec.split.seed,
      train: datasetRows(parts.train),
      validation: parts.validation ? datasetRows(parts.validation) : 0,
      test: datasetRows(test),
      test_sha256: datasetContentSha256(test, featureNames, classNames),
    },
  };
  return {
    task,
    featureNames,
    classNames,
    targetName,
    parts: { train: parts.train, validation: parts.validation, test },
    referenceRows: referenceRows ?? parts.train,
    manifest,
    notes,
  };
}

function checkedSplit(
  dataset: Dataset,
  classNames: string[] | null,
  spec: TrainingJobSpec,
): DatasetSplit {
  const rows = datasetRows(dataset);
  if (rows === 0) throw new InvalidInputError('the data set is empty');
  if (dataset.task === 'classification') {
    const present = classCounts(dataset)
      .map((count, index) => ({ count, name: classNames?.[index] ?? String(index) }))
      .filter((c) => c.count > 0);
    if (present.length < 2) {
      throw new InvalidInputError(
        `the data set holds a single class${present[0] ? ` ('${present[0].name}', ${present[0].count} rows)` : ''}; a classifier needs at least two`,
      );
    }
  }
  const split = splitDataset(dataset, spec.split);
  if (split.train.task === 'classification') {
    const inTraining = classCounts(split.train).filter((count) => count > 0).length;
    if (inTraining < 2) {
      throw new InvalidInputError(
        `after holding out validation and test rows the training part holds a single class; add rows or lower the split fractions`,
      );
    }
  }
  return split;
}

/** Parts of one data set back into one (for the whole-data manifest of a fixed split). */
function concatenate(parts: Array<Dataset | null>): Dataset {
  const present = parts.filter((p): p is Dataset => p !== null);
  const first = present[0];
  const features = new Float32Array(present.reduce((n, p) => n + p.features.length, 0));
  let offset = 0;
  for (const p of present) {
    features.set(p.features, offset);
    offset += p.features.length;
  }
  if (first.task === 'classification') {
    const labels = new Int32Array(present.reduce((n, p) => n + datasetRows(p), 0));
    let row = 0;
    for (const p of present) {
      if (p.task !== 'classification') continue;
      labels.set(p.labels, row);
      row += p.labels.length;
    }
    return { ...first, features, labels };
  }
  const targets = new Float32Array(
    present.reduce((n, p) => n + (p.task === 'regression' ? p.targets.length : 0), 0),
  );
  let at = 0;
  for (const p of present) {
    if (p.task !== 'regression') continue;
    targets.set(p.targets, at);
    at += p.targets.length;
  }
  return { ...first, features, targets };
}
