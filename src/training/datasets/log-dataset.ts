import {
  ArgusError,
  errorMessage,
  InvalidInputError,
  ModelNotFoundError,
} from '../../common/errors';
import type { ModelManifest } from '../../registry/manifest';
import type { ModelRegistry } from '../../registry/model-registry';
import type { AnalyticsStore } from '../../store/analytics-store';
import type { Dataset, Task } from '../trainers/dataset';
import { classLabelOf, naturalClassOrder } from './file-dataset';
import { GrowableFloat32, GrowableInt32 } from './growable';

/**
 * A training data set from the prediction log: the inputs of a model's predictions in a time
 * window, each labeled with the latest ground truth sent for it (`labeledPredictions`), optionally
 * mixed with the rows the version was trained on (its `reference-sample.json` artifact, usable only
 * when `reference-labels.json` holds their labels — versions trained by Argus's job service have
 * both; the MNIST demo and hand-registered models have no labels, so their samples are skipped).
 *
 * Predictions are skipped, and counted in `notes`, when their inputs were not logged
 * (`ARGUS_LOG_INPUTS=none` or sampled out), have another width than the model, hold a non-finite
 * number, or carry a label that is not one of the model's classes.
 */
export const REFERENCE_SAMPLE_ARTIFACT = 'reference-sample.json';
export const REFERENCE_LABELS_ARTIFACT = 'reference-labels.json';
export const DEFAULT_LOG_ROW_LIMIT = 100_000;

export interface LogDatasetOptions {
  store: Pick<AnalyticsStore, 'labeledPredictions'>;
  registry: Pick<ModelRegistry, 'getModel' | 'getManifest' | 'readArtifact'>;
  model: string;
  /** Only predictions of this version; null: every version (their signatures must agree). */
  version: number | null;
  /** ms since the epoch, `to` exclusive. */
  from: number;
  to: number;
  limit?: number;
  /** Mix in the source version's labeled reference sample. */
  includeReference?: boolean;
}

export interface LogDataset {
  dataset: Dataset;
  featureNames: string[];
  classNames: string[] | null;
  /** The version whose signature (features, classes) the rows follow. */
  sourceManifest: ModelManifest;
  labeledPredictions: number;
  usedPredictions: number;
  reference: { version: number; rows: number } | null;
  firstRowTs: number | null;
  lastRowTs: number | null;
  /** Human-readable remarks for the job log: what was skipped and why. */
  notes: string[];
}

/** The version the rows are interpreted with: the given one, else the champion, else the newest. */
async function sourceManifestOf(
  registry: LogDatasetOptions['registry'],
  model: string,
  version: number | null,
): Promise<ModelManifest> {
  try {
    if (version !== null) return await registry.getManifest(model, version);
    const summary = await registry.getModel(model);
    const champion = summary.aliases.champion;
    const chosen =
      summary.versions.find((v) => v.version === champion) ??
      summary.versions[summary.versions.length - 1];
    return chosen;
  } catch (err) {
    if (err instanceof ModelNotFoundError) {
      throw new InvalidInputError(
        `cannot train from the prediction log: ${err.message} (the log is read through a registered model's signature)`,
      );
    }
    throw err;
  }
}

function featureCountOf(manifest: ModelManifest): number | null {
  if (manifest.feature_names) return manifest.feature_names.length;
  const shape = manifest.inputs[0]?.shape;
  return manifest.inputs.length === 1 && shape?.length === 2 && shape[1] > 0 ? shape[1] : null;
}

function taskOf(manifest: ModelManifest): Task {
  if (manifest.task === 'classification' || manifest.task === 'regression') return manifest.task;
  throw new InvalidInputError(
    `model '${manifest.name}' version ${manifest.version} has task '${manifest.task}'; training needs a classifier or a regressor`,
  );
}

interface ReferenceRows {
  version: number;
  sample: unknown[];
  labels: unknown[];
}

async function readReference(
  registry: LogDatasetOptions['registry'],
  manifest: ModelManifest,
  notes: string[],
): Promise<ReferenceRows | null> {
  const where = `version ${manifest.version} of '${manifest.name}'`;
  const sampleBytes = await registry.readArtifact(
    manifest.name,
    manifest.version,
    REFERENCE_SAMPLE_ARTIFACT,
  );
  if (!sampleBytes) {
    notes.push(`${where} has no ${REFERENCE_SAMPLE_ARTIFACT}; no reference rows mixed in`);
    return null;
  }
  const labelBytes = await registry.readArtifact(
    manifest.name,
    manifest.version,
    REFERENCE_LABELS_ARTIFACT,
  );
  if (!labelBytes) {
    notes.push(
      `${where} has a reference sample without labels (${REFERENCE_LABELS_ARTIFACT}); its rows cannot be trained on and were not mixed in`,
    );
    return null;
  }
  try {
    const sample: unknown = JSON.parse(sampleBytes.toString('utf8'));
    const labels: unknown = JSON.parse(labelBytes.toString('utf8'));
    if (!Array.isArray(sample) || !Array.isArray(labels) || sample.length !== labels.length) {
      notes.push(`${where}: reference sample and labels do not line up; not mixed in`);
      return null;
    }
    return { version: manifest.version, sample, labels };
  } catch (err) {
    notes.push(`${where}: reference artifacts are not valid JSON (${errorMessage(err)})`);
    return null;
  }
}

export async function loadLogDataset(options: LogDatasetOptions): Promise<LogDataset> {
  const { store, registry, model, version, from, to } = options;
  const limit = options.limit ?? DEFAULT_LOG_ROW_LIMIT;
  if (!(Number.isFinite(from) && Number.isFinite(to) && from < to)) {
    throw new InvalidInputError('the time window is empty: `from` must be before `to`');
  }
  const manifest = await sourceManifestOf(registry, model, version);
  const task = taskOf(manifest);
  const notes: string[] = [];

  let predictions;
  try {
    predictions = await store.labeledPredictions({
      model,
      ...(version !== null ? { version } : {}),
      from,
      to,
      limit,
    });
  } catch (err) {
    throw new ArgusError(
      'unavailable',
      `cannot read labeled predictions of '${model}': ${errorMessage(err)}`,
    );
  }
  if (predictions.length === limit) {
    notes.push(`the window holds at least ${limit} labeled predictions; the oldest ${limit} used`);
  }

  let featureCount = featureCountOf(manifest);
  const declaredClasses = task === 'classification' ? manifest.class_names : null;
  const classIndex = new Map<string, number>((declaredClasses ?? []).map((n, i) => [n, i]));
  const features = new GrowableFloat32();
  const labels = new GrowableInt32();
  const targets = new GrowableFloat32();
  const skipped = { noInputs: 0, width: 0, nonFinite: 0, unknownClass: 0, noValue: 0 };
  let used = 0;
  let firstRowTs: number | null = null;
  let lastRowTs: number | null = null;

  /** Adds one row; returns a reason when it cannot be used. */
  const addRow = (inputs: readonly unknown[], truth: unknown): keyof typeof skipped | null => {
    if (inputs.length === 0) return 'noInputs';
    featureCount ??= inputs.length;
    if (inputs.length !== featureCount) return 'width';
    if (inputs.some((v) => typeof v !== 'number' || !Number.isFinite(v))) return 'nonFinite';
    if (task === 'classification') {
      const label = classLabelOf(truth);
      if (label === undefined) return 'unknownClass';
      let index = classIndex.get(label);
      if (index === undefined) {
        if (declaredClasses) return 'unknownClass';
        index = classIndex.size;
        classIndex.set(label, index);
      }
      labels.push(index);
    } else {
      if (typeof truth !== 'number' || !Number.isFinite(truth)) return 'noValue';
      targets.push(truth);
    }
    for (const v of inputs) features.push(v as number);
    return null;
  };

  for (const p of predictions) {
    const reason = addRow(p.inputs, task === 'classification' ? p.actual_label : p.actual_value);
    if (reason) {
      skipped[reason]++;
      continue;
    }
    used++;
    firstRowTs = firstRowTs === null ? p.ts : Math.min(firstRowTs, p.ts);
    lastRowTs = lastRowTs === null ? p.ts : Math.max(lastRowTs, p.ts);
  }
  const described: Record<keyof typeof skipped, string> = {
    noInputs: 'had no logged inputs (ARGUS_LOG_INPUTS none or sampled out)',
    width: `had another number of inputs than the model's ${featureCount ?? '?'}`,
    nonFinite: 'had a non-finite input',
    unknownClass: "had a label that is not one of the model's classes",
    noValue: 'had no numeric ground-truth value',
  };
  for (const key of Object.keys(skipped) as (keyof typeof skipped)[]) {
    if (skipped[key] > 0)
      notes.push(`${skipped[key]} labeled predictions skipped: ${described[key]}`);
  }

  let reference: LogDataset['reference'] = null;
  if (options.includeReference) {
    const rows = await readReference(registry, manifest, notes);
    if (rows) {
      let added = 0;
      let refused = 0;
      rows.sample.forEach((sample, i) => {
        const ok = Array.isArray(sample) && addRow(sample as unknown[], rows.labels[i]) === null;
        if (ok) added++;
        else refused++;
      });
      if (refused > 0)
        notes.push(`${refused} reference rows did not fit the model and were skipped`);
      reference = { version: rows.version, rows: added };
    }
  }

  const total = used + (reference?.rows ?? 0);
  if (total === 0 || featureCount === null) {
    throw new InvalidInputError(
      `the data set is empty: no usable labeled predictions of '${model}'` +
        `${version !== null ? ` version ${version}` : ''} between ${new Date(from).toISOString()} and ${new Date(to).toISOString()}` +
        ` (${predictions.length} labeled predictions found${notes.length > 0 ? `; ${notes.join('; ')}` : ''})`,
    );
  }
  const featureNames =
    manifest.feature_names ?? Array.from({ length: featureCount }, (_, i) => `feature_${i}`);
  let dataset: Dataset;
  let classNames: string[] | null = null;
  if (task === 'classification') {
    let labelArray = labels.toArray();
    if (declaredClasses) {
      classNames = [...declaredClasses];
    } else {
      const found = [...classIndex.keys()];
      classNames = naturalClassOrder(found);
      const remap = found.map((name) => (classNames as string[]).indexOf(name));
      labelArray = labelArray.map((label) => remap[label]);
    }
    dataset = {
      task,
      features: features.toArray(),
      featureCount,
      labels: labelArray,
      classCount: classNames.length,
    };
  } else {
    dataset = {
      task,
      features: features.toArray(),
      featureCount,
      targets: targets.toArray(),
      targetCount: 1,
    };
  }
  return {
    dataset,
    featureNames,
    classNames,
    sourceManifest: manifest,
    labeledPredictions: predictions.length,
    usedPredictions: used,
    reference,
    firstRowTs,
    lastRowTs,
    notes,
  };
}
