import { InvalidInputError } from '../common/errors';
import type { ModelManifest, ModelTask } from '../registry/manifest';
import { ReferenceProfile, ReferenceSample, buildReferenceProfile } from './reference-profile';
import { CbpeModel, IDENTITY_CALIBRATOR, fitCbpe } from './stats';

/**
 * The reference profile of one model version as stored next to it (`reference-profile.json`):
 * the pure profile (`reference-profile.ts`), the CBPE model, and what the service needs to read
 * its own logs against them (class names as logged in `label`). Immutable once written: every
 * prediction's `feature_bins` were computed against it.
 */

export const REFERENCE_PROFILE_ARTIFACT = 'reference-profile.json';
export const VERSION_PROFILE_FORMAT = 1;

/** Where the reference came from. */
export type VersionProfileSource =
  /** Rows given at registration (`--reference data.csv`, `PUT …/reference`). */
  | 'registration'
  /** The training reference sample stored with the version (`reference-sample.json`). */
  | 'reference_sample'
  /** The version's first logged predictions: nothing else existed. */
  | 'logged_predictions';

export type CbpeCalibrationSource =
  /** Calibration chosen on the labeled reference (isotonic when it lowers the ECE). */
  | 'fitted_on_labeled_reference'
  /** The reference had no ground truth: CBPE uses the model's own probabilities, uncalibrated. */
  | 'uncalibrated_no_labels';

export interface VersionProfile {
  format: typeof VERSION_PROFILE_FORMAT;
  model: string;
  version: number;
  created_at: string;
  source: VersionProfileSource;
  task: ModelTask;
  feature_names: string[];
  /** Labels as the service logs them (`label` column), in class-index order; null for regressors. */
  class_names: string[] | null;
  profile: ReferenceProfile;
  cbpe: CbpeModel | null;
  cbpe_calibration: CbpeCalibrationSource | null;
  notes: string[];
}

/** Reference rows of a version: inputs, the model's outputs on them and, when known, ground truth. */
export interface ReferenceData {
  rows: number[][];
  /** The primary output per row (class probabilities, or [value] for a regressor). */
  outputs?: number[][];
  /** Ground truth: class names or indexes (classifiers), target values (regressors). */
  labels?: ReadonlyArray<string | number>;
  featureTypes?: Readonly<Record<string, 'numerical' | 'categorical'>>;
}

/** The class names the service writes into `label`: the manifest's names, or "0", "1", … */
export function loggedClassNames(manifest: ModelManifest, classCount: number): string[] {
  return Array.from({ length: classCount }, (_, k) => manifest.class_names?.[k] ?? String(k));
}

function argmax(row: ArrayLike<number>): number {
  let best = 0;
  for (let k = 1; k < row.length; k++) if (row[k] > row[best]) best = k;
  return best;
}

/** An uncalibrated CBPE model: the identity on every class probability. */
function identityCbpe(classCount: number, rows: number): CbpeModel {
  return {
    version: 1,
    class_count: classCount,
    calibrators: Array.from({ length: classCount }, () => IDENTITY_CALIBRATOR),
    calibration: Array.from({ length: classCount }, () => ({
      applied: false,
      reason: 'too_few_rows' as const,
      ece_uncalibrated: null,
      ece_calibrated_cross_validated: null,
    })),
    reference: { rows, chunk_size: 0, chunks: 0, metrics: {} },
  };
}

/**
 * Builds the stored profile of a version from reference rows. Classifier labels may be class
 * names or class indexes; a label that is neither makes the whole label column unusable (noted,
 * and CBPE falls back to uncalibrated probabilities) rather than silently dropping rows.
 */
export function buildVersionProfile(
  manifest: ModelManifest,
  data: ReferenceData,
  source: VersionProfileSource,
  now: Date = new Date(),
): VersionProfile {
  const { rows } = data;
  if (rows.length === 0) throw new InvalidInputError('the reference has no rows');
  const width = rows[0].length;
  const notes: string[] = [];
  const featureNames =
    manifest.feature_names && manifest.feature_names.length === width
      ? manifest.feature_names.slice()
      : Array.from({ length: width }, (_, j) => `feature_${j}`);
  const outputs = data.outputs;
  if (outputs && outputs.length !== rows.length) {
    throw new InvalidInputError(`${outputs.length} output rows for ${rows.length} input rows`);
  }
  if (data.labels && data.labels.length !== rows.length) {
    throw new InvalidInputError(`${data.labels.length} labels for ${rows.length} rows`);
  }
  const sample: ReferenceSample = {
    rows,
    featureNames,
    featureTypes: data.featureTypes,
  };
  let classNames: string[] | null = null;
  let cbpe: CbpeModel | null = null;
  let cbpeCalibration: CbpeCalibrationSource | null = null;
  if (manifest.task === 'classification' && outputs && outputs.length > 0) {
    const classCount = outputs[0].length;
    classNames = loggedClassNames(manifest, classCount);
    let labelIndexes: number[] | undefined;
    if (data.labels) {
      const byName = new Map(classNames.map((name, k) => [name, k]));
      const mapped = data.labels.map((label) => {
        const text = String(label);
        const byClassName = byName.get(text);
        if (byClassName !== undefined) return byClassName;
        const n = Number(text);
        return Number.isInteger(n) && n >= 0 && n < classCount ? n : -1;
      });
      if (mapped.every((k) => k >= 0)) labelIndexes = mapped;
      else notes.push('reference labels are not all class names or indexes of the model: ignored');
    }
    sample.outputs = {
      task: 'classification',
      classNames,
      scores: outputs,
      predictedClasses: outputs.map((row) => argmax(row)),
      labels: labelIndexes,
    };
    if (classCount >= 2) {
      if (labelIndexes) {
        cbpe = fitCbpe(outputs, labelIndexes);
        cbpeCalibration = 'fitted_on_labeled_reference';
      } else {
        cbpe = identityCbpe(classCount, outputs.length);
        cbpeCalibration = 'uncalibrated_no_labels';
        notes.push(
          'CBPE uses the model probabilities uncalibrated: the reference has no ground-truth labels',
        );
      }
    }
  } else if (manifest.task === 'regression' && outputs && outputs.length > 0) {
    const targets = data.labels?.map((y) => Number(y));
    const usableTargets = targets?.every((y) => Number.isFinite(y)) ? targets : undefined;
    if (targets && !usableTargets) notes.push('reference targets are not all numbers: ignored');
    sample.outputs = {
      task: 'regression',
      values: outputs.map((row) => row[0]),
      targets: usableTargets,
    };
  }
  const profile = buildReferenceProfile(sample, {
    source: source === 'logged_predictions' ? 'logged_predictions' : 'reference_sample',
  });
  return {
    format: VERSION_PROFILE_FORMAT,
    model: manifest.name,
    version: manifest.version,
    created_at: now.toISOString(),
    source,
    task: manifest.task,
    feature_names: featureNames,
    class_names: classNames,
    profile,
    cbpe,
    cbpe_calibration: cbpeCalibration,
    notes,
  };
}

/** Parses a stored profile; throws when the file is not one this version of Argus wrote. */
export function parseVersionProfile(text: string): VersionProfile {
  const parsed = JSON.parse(text) as Partial<VersionProfile> | null;
  if (
    parsed === null ||
    typeof parsed !== 'object' ||
    parsed.format !== VERSION_PROFILE_FORMAT ||
    typeof parsed.profile !== 'object'
  ) {
    throw new InvalidInputError(`${REFERENCE_PROFILE_ARTIFACT} is not a version profile`);
  }
  return parsed as VersionProfile;
}
