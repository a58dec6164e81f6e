import { InvalidInputError } from '../common/errors';
import {
  CategoricalBins,
  CategoryValue,
  DEFAULT_MIN_ROWS,
  DEFAULT_QUANTILE_BINS,
  DEFAULT_VARIANCE_TO_KEEP,
  DatasetDrift,
  DriftMethod,
  FeatureDrift,
  FeatureDriftOptions,
  LearnedThreshold,
  NumericalBins,
  PcaModel,
  categoryKey,
  countBins,
  datasetDrift,
  defaultDriftMethod,
  distinctCountOfSorted,
  featureDriftFromCounts,
  fitPca,
  learnDriftThresholds,
  mean,
  populationStd,
  reconstructionError,
  referenceEdges,
  sortedFinite,
  sumNumericalBins,
} from './stats';

/**
 * Reference profiles: everything drift monitoring needs to know about a model version's reference
 * data, computed once (when the version is trained or registered, or from its first logged
 * predictions) and stored as JSON with the version. Pure: no I/O, deterministic for a given input.
 *
 * Per feature the profile fixes the bin layout (`stats/feature-bins.ts`) and the reference's
 * counts in it, so every later window is one SQL aggregate away from a full drift report.
 */

export const REFERENCE_PROFILE_VERSION = 1;

export type ProfileSource = 'reference_sample' | 'logged_predictions';

/** Thresholds learned from reference chunks (NannyML style), per drift method. */
export interface ProfileLearnedThresholds {
  chunks: number;
  chunk_size: number;
  methods: Partial<Record<DriftMethod, LearnedThreshold>>;
}

interface FeatureProfileCommon {
  /** Position of the feature in the input row (−1 for derived features). */
  column: number;
  /** Rows profiled, missing included. */
  count: number;
  missing_count: number;
  missing_share: number | null;
  distinct_count: number;
  /** Reference histogram in the feature's bin layout (index 0 = missing). */
  counts: number[];
  learned_thresholds: ProfileLearnedThresholds | null;
}

export interface NumericalFeatureProfile extends NumericalBins, FeatureProfileCommon {
  /** Σ of the reference values per bin (same layout as `counts`), for the binned Wasserstein. */
  sums: number[];
  min: number | null;
  max: number | null;
  mean: number | null;
  /** Population std of the non-missing values (the normaliser of the Wasserstein distance). */
  std: number | null;
}

export interface CategoricalFeatureProfile extends CategoricalBins, FeatureProfileCommon {
  /** Share of non-missing rows per category (same order as `categories`), then "other". */
  frequencies: number[];
}

export type FeatureProfile = NumericalFeatureProfile | CategoricalFeatureProfile;

export interface OutputProfile {
  task: 'classification' | 'regression';
  class_names: string[] | null;
  /** Predicted class (classification, categorical over class indexes) or predicted value. */
  prediction: FeatureProfile | null;
  /** Share of reference predictions per class. */
  class_priors: number[] | null;
  /** Labels / targets of the reference, when it had them. */
  label: FeatureProfile | null;
  label_priors: number[] | null;
  /** One score histogram per class (quantile bins of the class probability). */
  scores: NumericalFeatureProfile[];
}

export interface ReconstructionErrorBand {
  chunks: number;
  chunk_size: number;
  /** Mean and σ of the per-chunk mean reconstruction error. */
  mean: number;
  std: number;
  lower: number;
  upper: number;
}

export interface MultivariateProfile {
  method: 'pca_reconstruction_error';
  pca: PcaModel;
  /** Per-row reconstruction error of the held-out reference rows (a numerical profile). */
  reconstruction_error: NumericalFeatureProfile;
  /** NannyML-style alert band for a window's mean error; null with too few reference rows. */
  chunk_mean: ReconstructionErrorBand | null;
}

export interface ReferenceProfile {
  version: typeof REFERENCE_PROFILE_VERSION;
  source: ProfileSource;
  rows: number;
  columns: number;
  bins: number;
  /** More columns than `wide_threshold`: per-feature profiles are replaced by summary features + PCA. */
  wide: boolean;
  wide_threshold: number;
  features: FeatureProfile[];
  summary_features: NumericalFeatureProfile[];
  multivariate: MultivariateProfile | null;
  outputs: OutputProfile | null;
}

export interface ReferenceSample {
  /** Rows of input values; NaN marks a missing value. */
  rows: readonly ArrayLike<number>[];
  featureNames?: readonly string[];
  /** Declared feature types; undeclared ones are inferred (`inferFeatureType`). */
  featureTypes?: Readonly<Record<string, 'numerical' | 'categorical'>>;
  outputs?: {
    task: 'classification' | 'regression';
    classNames?: readonly string[];
    /** Class probabilities per row. */
    scores?: readonly ArrayLike<number>[];
    /** Predicted class per row (default: argmax of the scores). */
    predictedClasses?: ArrayLike<number>;
    labels?: ArrayLike<number>;
    /** Regression: predicted values and targets. */
    values?: ArrayLike<number>;
    targets?: ArrayLike<number>;
  };
}

export interface ReferenceProfileOptions {
  /** Quantile bins per numerical feature, 2–20 (default 10). */
  bins?: number;
  source?: ProfileSource;
  /** Inputs with more columns than this are profiled as a whole (default 64). */
  wideThreshold?: number;
  varianceToKeep?: number;
  maxComponents?: number;
  /** Rows used to fit the PCA basis (evenly strided sample; default 5000). */
  pcaMaxRows?: number;
  /** Categories kept per categorical feature (most frequent first; default 50). */
  maxCategories?: number;
  /** Reference chunks for learned thresholds (default 10; none below 2 chunks of minRows). */
  thresholdChunks?: number;
  minRows?: number;
  learnThresholds?: boolean;
}

export const DEFAULT_WIDE_THRESHOLD = 64;
export const DEFAULT_MAX_CATEGORIES = 50;
export const DEFAULT_PCA_MAX_ROWS = 5000;
/** Column scales for the PCA are floored at this fraction of the column's reference range. */
export const PCA_SCALE_RANGE_FRACTION = 0.1;
/** Distinct numeric values at or below which an undeclared numeric feature counts as categorical. */
export const CATEGORICAL_MAX_DISTINCT_NUMBERS = 5;
export const SUMMARY_FEATURE_NAMES = [
  '__row_mean',
  '__row_std',
  '__row_zero_fraction',
  '__row_max',
] as const;

/**
 * Feature type rule (used for undeclared features and for CSV columns): any non-empty value that
 * is not a number → categorical; otherwise numbers with at most 5 distinct values → categorical
 * (flags, ratings, codes: Evidently tests those with chi-square / Jensen–Shannon too, and a new code
 * then shows up as an unseen category); otherwise numerical. A column without any value is
 * numerical (nothing to compare; it reports insufficient data and its missing share).
 */
export function inferFeatureType(
  values: readonly (CategoryValue | null | undefined)[] | ArrayLike<number>,
): 'numerical' | 'categorical' {
  const distinct = new Set<number>();
  for (let i = 0; i < values.length; i++) {
    const v = (values as ArrayLike<CategoryValue | null | undefined>)[i];
    if (v === null || v === undefined || v === '') continue;
    if (typeof v === 'string') return 'categorical';
    if (Number.isNaN(v)) continue;
    if (distinct.size <= CATEGORICAL_MAX_DISTINCT_NUMBERS) distinct.add(v);
  }
  return distinct.size >= 1 && distinct.size <= CATEGORICAL_MAX_DISTINCT_NUMBERS
    ? 'categorical'
    : 'numerical';
}

function shareOrNull(part: number, whole: number): number | null {
  return whole > 0 ? part / whole : null;
}

/** Profile of one numerical column (NaN / ±Infinity handled by the bin layout). */
export function profileNumericalFeature(
  name: string,
  column: number,
  values: ArrayLike<number>,
  options: Pick<ReferenceProfileOptions, 'bins'> = {},
): NumericalFeatureProfile {
  const sorted = sortedFinite(values);
  const { edges, binning } = referenceEdges(sorted, options.bins ?? DEFAULT_QUANTILE_BINS);
  const bins: NumericalBins = { name, type: 'numerical', binning, edges };
  const counts = countBins(bins, values);
  const n = sorted.length;
  return {
    ...bins,
    column,
    count: values.length,
    missing_count: counts[0],
    missing_share: shareOrNull(counts[0], values.length),
    distinct_count: distinctCountOfSorted(sorted),
    counts,
    learned_thresholds: null,
    sums: sumNumericalBins(edges, values),
    min: n > 0 ? sorted[0] : null,
    max: n > 0 ? sorted[n - 1] : null,
    mean: n > 0 ? mean(sorted) : null,
    std: n > 0 ? populationStd(sorted) : null,
  };
}

/** Profile of one categorical column: the most frequent categories, then an "other" bin. */
export function profileCategoricalFeature(
  name: string,
  column: number,
  values: readonly (CategoryValue | null | undefined)[],
  options: Pick<ReferenceProfileOptions, 'maxCategories'> = {},
): CategoricalFeatureProfile {
  const maxCategories = options.maxCategories ?? DEFAULT_MAX_CATEGORIES;
  const tally = new Map<string, { value: CategoryValue; count: number }>();
  for (const v of values) {
    if (v === null || v === undefined || v === '') continue;
    if (typeof v === 'number' && Number.isNaN(v)) continue;
    const key = categoryKey(v);
    const entry = tally.get(key);
    if (entry) entry.count++;
    else tally.set(key, { value: v, count: 1 });
  }
  // Most frequent first; ties by key so the layout is deterministic.
  const ranked = [...tally.entries()].sort(
    (a, b) => b[1].count - a[1].count || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0),
  );
  const categories = ranked.slice(0, maxCategories).map(([, e]) => e.value);
  const bins: CategoricalBins = { name, type: 'categorical', categories };
  const counts = countBins(bins, values);
  const nonMissing = values.length - counts[0];
  return {
    ...bins,
    column,
    count: values.length,
    missing_count: counts[0],
    missing_share: shareOrNull(counts[0], values.length),
    distinct_count: tally.size,
    counts,
    learned_thresholds: null,
    frequencies: counts.slice(1).map((c) => (nonMissing > 0 ? c / nonMissing : 0)),
  };
}

/** The bounded summary of a wide row: mean, population std, share of zeros, max (NaN skipped). */
export function summaryFeatureValues(row: ArrayLike<number>): number[] {
  let n = 0;
  let sum = 0;
  let zeros = 0;
  let max = Number.NEGATIVE_INFINITY;
  for (let j = 0; j < row.length; j++) {
    const x = row[j];
    if (Number.isNaN(x)) continue;
    n++;
    sum += x;
    if (x === 0) zeros++;
    if (x > max) max = x;
  }
  if (n === 0) return [Number.NaN, Number.NaN, Number.NaN, Number.NaN];
  const m = sum / n;
  let squares = 0;
  for (let j = 0; j < row.length; j++) {
    const x = row[j];
    if (!Number.isNaN(x)) squares += (x - m) * (x - m);
  }
  return [m, Math.sqrt(squares / n), zeros / n, max];
}

/**
 * The histogram of raw window values in a profiled feature's layout: what the store's aggregate
 * returns, computed in TypeScript (tests, offline use, small sampled windows).
 */
export function featureWindow(
  feature: FeatureProfile,
  values: readonly (CategoryValue | null | undefined)[] | ArrayLike<number>,
): FeatureWindow {
  const counts = countBins(feature, values);
  if (feature.type === 'categorical') return { counts };
  const numeric = Array.from(values as ArrayLike<number | null>, (v) =>
    typeof v === 'number' ? v : Number.NaN,
  );
  return { counts, sums: sumNumericalBins(feature.edges, numeric) };
}

function chunkPlan(
  rows: number,
  options: ReferenceProfileOptions,
): { chunks: number; size: number } {
  const minRows = options.minRows ?? DEFAULT_MIN_ROWS;
  const chunks = Math.min(options.thresholdChunks ?? 10, Math.floor(rows / Math.max(1, minRows)));
  return { chunks, size: chunks > 0 ? Math.floor(rows / chunks) : 0 };
}

/** Learned thresholds for one feature from consecutive reference chunks. */
function attachLearnedThresholds<T extends FeatureProfile>(
  feature: T,
  values: readonly (CategoryValue | null | undefined)[] | ArrayLike<number>,
  options: ReferenceProfileOptions,
): T {
  if (options.learnThresholds === false) return feature;
  const { chunks, size } = chunkPlan(values.length, options);
  if (chunks < 2) return feature;
  const chunkCounts: number[][] = [];
  const chunkSums: number[][] = [];
  for (let c = 0; c < chunks; c++) {
    const slice = Array.prototype.slice.call(values, c * size, (c + 1) * size) as (
      CategoryValue | null | undefined
    )[];
    chunkCounts.push(countBins(feature, slice));
    if (feature.type === 'numerical') {
      chunkSums.push(
        sumNumericalBins(
          feature.edges,
          slice.map((v) => (typeof v === 'number' ? v : Number.NaN)),
        ),
      );
    }
  }
  // Chunks are judged exactly as windows will be: with per-bin sums for numerical features.
  const methods = learnDriftThresholds(feature, feature.counts, chunkCounts, {
    minRows: options.minRows,
    referenceSums: feature.type === 'numerical' ? feature.sums : undefined,
    chunkSums: feature.type === 'numerical' ? chunkSums : undefined,
  });
  return { ...feature, learned_thresholds: { chunks, chunk_size: size, methods } };
}

function column(rows: readonly ArrayLike<number>[], j: number): Float64Array {
  return Float64Array.from(rows, (row) => row[j]);
}

function profileColumn(
  name: string,
  index: number,
  values: ArrayLike<number>,
  declared: 'numerical' | 'categorical' | undefined,
  options: ReferenceProfileOptions,
): FeatureProfile {
  const type = declared ?? inferFeatureType(values);
  const feature: FeatureProfile =
    type === 'numerical'
      ? profileNumericalFeature(name, index, values, options)
      : profileCategoricalFeature(
          name,
          index,
          Array.from(values, (v) => (Number.isNaN(v) ? null : v)),
          options,
        );
  return attachLearnedThresholds(feature, values, options);
}

function argmax(row: ArrayLike<number>): number {
  let best = 0;
  for (let k = 1; k < row.length; k++) if (row[k] > row[best]) best = k;
  return best;
}

function priors(feature: FeatureProfile, classCount: number): number[] {
  const indexer = new Map<string, number>();
  if (feature.type === 'categorical')
    feature.categories.forEach((c, i) => indexer.set(categoryKey(c), i));
  const nonMissing = feature.count - feature.missing_count;
  return Array.from({ length: classCount }, (_, k) => {
    if (feature.type !== 'categorical') return 0;
    const i = indexer.get(String(k));
    return i === undefined || nonMissing === 0 ? 0 : feature.counts[i + 1] / nonMissing;
  });
}

function profileOutputs(
  outputs: NonNullable<ReferenceSample['outputs']>,
  rows: number,
  options: ReferenceProfileOptions,
): OutputProfile {
  const checkLength = (what: string, length: number | undefined): void => {
    if (length !== undefined && length !== rows) {
      throw new InvalidInputError(`reference ${what} has ${length} rows, the inputs have ${rows}`);
    }
  };
  checkLength('scores', outputs.scores?.length);
  checkLength('predicted classes', outputs.predictedClasses?.length);
  checkLength('labels', outputs.labels?.length);
  checkLength('values', outputs.values?.length);
  checkLength('targets', outputs.targets?.length);
  const unlimited = { ...options, maxCategories: Number.MAX_SAFE_INTEGER };
  if (outputs.task === 'regression') {
    return {
      task: 'regression',
      class_names: null,
      prediction: outputs.values
        ? attachLearnedThresholds(
            profileNumericalFeature('prediction', -1, outputs.values, options),
            outputs.values,
            options,
          )
        : null,
      class_priors: null,
      label: outputs.targets
        ? attachLearnedThresholds(
            profileNumericalFeature('label', -1, outputs.targets, options),
            outputs.targets,
            options,
          )
        : null,
      label_priors: null,
      scores: [],
    };
  }
  const classCount =
    outputs.classNames?.length ??
    (outputs.scores && outputs.scores.length > 0 ? outputs.scores[0].length : 0);
  const predicted =
    outputs.predictedClasses !== undefined
      ? Array.from(outputs.predictedClasses)
      : outputs.scores
        ? outputs.scores.map((row) => argmax(row))
        : undefined;
  const prediction = predicted
    ? attachLearnedThresholds(
        profileCategoricalFeature('prediction', -1, predicted, unlimited),
        predicted,
        options,
      )
    : null;
  const labels = outputs.labels ? Array.from(outputs.labels) : undefined;
  const label = labels
    ? attachLearnedThresholds(
        profileCategoricalFeature('label', -1, labels, unlimited),
        labels,
        options,
      )
    : null;
  const scores: NumericalFeatureProfile[] = [];
  if (outputs.scores) {
    for (let k = 0; k < classCount; k++) {
      const values = column(outputs.scores, k);
      scores.push(
        attachLearnedThresholds(
          profileNumericalFeature(`score[${outputs.classNames?.[k] ?? k}]`, -1, values, options),
          values,
          options,
        ),
      );
    }
  }
  return {
    task: 'classification',
    class_names: outputs.classNames ? outputs.classNames.slice() : null,
    prediction,
    class_priors: prediction ? priors(prediction, classCount) : null,
    label,
    label_priors: label ? priors(label, classCount) : null,
    scores,
  };
}

/**
 * PCA basis and the reference distribution of reconstruction error.
 *
 * The basis is fitted on every other reference row (evenly strided down to `pcaMaxRows`) and the
 * reference errors are measured on the rows it was *not* fitted on. In-sample errors are biased
 * low (on MNIST by about one σ of a 500-row chunk mean), and since the alert band narrows with the
 * window size, that fixed bias alone would raise an alarm on every large window.
 *
 * Columns are standardized with their scale floored at a tenth of their range, so near-constant
 * columns (rare pixels) cannot dominate the error; on MNIST this keeps an unchanged population
 * within 1σ while shifted images land tens of σ away.
 */
function profileMultivariate(
  rows: readonly ArrayLike<number>[],
  options: ReferenceProfileOptions,
): MultivariateProfile {
  const maxRows = options.pcaMaxRows ?? DEFAULT_PCA_MAX_ROWS;
  const fitCandidates = rows.filter((_, i) => i % 2 === 0);
  const heldOut = rows.filter((_, i) => i % 2 === 1);
  const stride = Math.max(1, Math.ceil(fitCandidates.length / maxRows));
  const fitRows = stride === 1 ? fitCandidates : fitCandidates.filter((_, i) => i % stride === 0);
  const pca = fitPca(fitRows, {
    varianceToKeep: options.varianceToKeep ?? DEFAULT_VARIANCE_TO_KEEP,
    maxComponents: options.maxComponents,
    rangeFraction: PCA_SCALE_RANGE_FRACTION,
  });
  const errors = Float64Array.from(heldOut, (row) => reconstructionError(pca, row));
  const profile = profileNumericalFeature('reconstruction_error', -1, errors, options);
  const { chunks, size } = chunkPlan(errors.length, options);
  let chunkMean: ReconstructionErrorBand | null = null;
  if (chunks >= 2) {
    const means = Array.from({ length: chunks }, (_, c) =>
      mean(errors.subarray(c * size, (c + 1) * size)),
    );
    const m = mean(means);
    const s = populationStd(means);
    chunkMean = { chunks, chunk_size: size, mean: m, std: s, lower: m - 3 * s, upper: m + 3 * s };
  }
  return {
    method: 'pca_reconstruction_error',
    pca,
    reconstruction_error: attachLearnedThresholds(profile, errors, options),
    chunk_mean: chunkMean,
  };
}

/**
 * Builds the reference profile of a sample. Narrow inputs (≤ 64 columns) get one profile per
 * feature; wider inputs (images, embeddings) get four summary features per row and a PCA
 * reconstruction-error profile instead, so the number of monitored series stays bounded.
 */
export function buildReferenceProfile(
  sample: ReferenceSample,
  options: ReferenceProfileOptions = {},
): ReferenceProfile {
  const { rows } = sample;
  const bins = options.bins ?? DEFAULT_QUANTILE_BINS;
  const wideThreshold = options.wideThreshold ?? DEFAULT_WIDE_THRESHOLD;
  const columns = rows.length > 0 ? rows[0].length : (sample.featureNames?.length ?? 0);
  for (const row of rows) {
    if (row.length !== columns) {
      throw new InvalidInputError(`every reference row needs ${columns} values`);
    }
  }
  const names = sample.featureNames ?? Array.from({ length: columns }, (_, j) => `feature_${j}`);
  if (names.length !== columns) {
    throw new InvalidInputError(`${names.length} feature names for ${columns} columns`);
  }
  if (new Set(names).size !== names.length)
    throw new InvalidInputError('feature names must be unique');
  for (const [name, type] of Object.entries(sample.featureTypes ?? {})) {
    if (!names.includes(name))
      throw new InvalidInputError(`feature type given for unknown feature '${name}'`);
    if (type !== 'numerical' && type !== 'categorical') {
      throw new InvalidInputError(`feature '${name}' has unknown type '${String(type)}'`);
    }
  }
  const wide = columns > wideThreshold;
  const features: FeatureProfile[] = [];
  const summaryFeatures: NumericalFeatureProfile[] = [];
  let multivariate: MultivariateProfile | null = null;
  if (!wide) {
    names.forEach((name, j) => {
      features.push(
        profileColumn(name, j, column(rows, j), sample.featureTypes?.[name], { ...options, bins }),
      );
    });
  } else {
    const summaries = rows.map((row) => summaryFeatureValues(row));
    SUMMARY_FEATURE_NAMES.forEach((name, s) => {
      const values = Float64Array.from(summaries, (v) => v[s]);
      summaryFeatures.push(
        attachLearnedThresholds(
          profileNumericalFeature(name, -1, values, { bins }),
          values,
          options,
        ),
      );
    });
    if (rows.length >= 4) multivariate = profileMultivariate(rows, { ...options, bins });
  }
  return {
    version: REFERENCE_PROFILE_VERSION,
    source: options.source ?? 'reference_sample',
    rows: rows.length,
    columns,
    bins,
    wide,
    wide_threshold: wideThreshold,
    features,
    summary_features: summaryFeatures,
    multivariate,
    outputs: sample.outputs
      ? profileOutputs(sample.outputs, rows.length, { ...options, bins })
      : null,
  };
}

/** The features a window is compared on: per-feature profiles, or the summary features when wide. */
export function monitoredFeatures(profile: ReferenceProfile): FeatureProfile[] {
  return profile.wide ? profile.summary_features : profile.features;
}

export interface ProfileDriftOptions {
  /** Per-feature overrides (method, threshold, chi-square mode, observed range…). */
  features?: Readonly<Record<string, FeatureDriftOptions>>;
  /** Judge features with the thresholds learned from reference chunks, when the profile has them. */
  useLearnedThresholds?: boolean;
  minRows?: number;
  chiSquare?: FeatureDriftOptions['chiSquare'];
  driftShareThreshold?: number;
}

function optionsFor(feature: FeatureProfile, options: ProfileDriftOptions): FeatureDriftOptions {
  const own = options.features?.[feature.name] ?? {};
  const merged: FeatureDriftOptions = {
    minRows: options.minRows,
    chiSquare: options.chiSquare,
    ...own,
  };
  if (
    merged.threshold === undefined &&
    options.useLearnedThresholds &&
    feature.learned_thresholds
  ) {
    const method =
      merged.method ??
      defaultDriftMethod(
        feature.type,
        feature.count - feature.missing_count,
        feature.distinct_count,
      );
    const learned = feature.learned_thresholds.methods[method];
    if (learned) merged.threshold = learned;
  }
  return merged;
}

/**
 * One feature's histogram in a window, in the feature's bin layout (index 0 = missing):
 * SQL `count()` and, for numerical features, `sumIf(x, isFinite(x))` grouped by the bin index.
 */
export interface FeatureWindow {
  counts: readonly number[];
  /** Σ of the values per bin (numerical features; optional but makes Wasserstein accurate). */
  sums?: readonly number[];
}

/** Drift of one profiled feature in a window (reference = the profile's own histogram). */
export function featureWindowDrift(
  feature: FeatureProfile,
  window: FeatureWindow,
  options: ProfileDriftOptions = {},
): FeatureDrift {
  const featureOptions = optionsFor(feature, options);
  if (feature.type === 'numerical' && window.sums && featureOptions.binSums === undefined) {
    featureOptions.binSums = { reference: feature.sums, current: window.sums };
  }
  return featureDriftFromCounts(feature, feature.counts, window.counts, featureOptions);
}

/**
 * Dataset drift of a window against the profile, from the window's histogram per monitored
 * feature (`windows[name]`; the store computes all of them with one query). A monitored feature
 * without a histogram is an error, so a broken query cannot pass as "no drift".
 */
export function profileDrift(
  profile: ReferenceProfile,
  windows: Readonly<Record<string, FeatureWindow>>,
  options: ProfileDriftOptions = {},
): DatasetDrift {
  const results: FeatureDrift[] = monitoredFeatures(profile).map((feature) => {
    const window = windows[feature.name];
    if (!window)
      throw new InvalidInputError(`window histogram missing for feature '${feature.name}'`);
    return featureWindowDrift(feature, window, options);
  });
  return datasetDrift(results, options.driftShareThreshold);
}

/**
 * Prediction drift (class or value distribution), label drift and per-class score drift of a
 * window, keyed like the output profiles ('prediction', 'label', 'score[<class>]'). Outputs
 * without window counts are skipped (labels arrive late).
 */
export function outputDrift(
  profile: ReferenceProfile,
  windows: Readonly<Record<string, FeatureWindow>>,
  options: ProfileDriftOptions = {},
): FeatureDrift[] {
  const outputs = profile.outputs;
  if (!outputs) return [];
  const candidates = [outputs.prediction, outputs.label, ...outputs.scores].filter(
    (f): f is FeatureProfile => f !== null,
  );
  return candidates
    .filter((f) => windows[f.name] !== undefined)
    .map((f) => featureWindowDrift(f, windows[f.name], options));
}

export interface ReconstructionDrift {
  status: 'ok' | 'insufficient_data';
  rows: number;
  mean_error: number | null;
  /** Reference chunk band rescaled to the window size: mean ± 3σ·√(chunk size / rows). */
  lower: number | null;
  upper: number | null;
  drift: boolean;
}

/**
 * Multivariate drift of a window from its reconstruction errors, pushed down as count and Σ error
 * (the error per row is computed where the row is: at ingest, or in the scheduler for sampled rows).
 */
export function reconstructionDrift(
  profile: ReferenceProfile,
  window: { rows: number; sum_error: number },
  minRows: number = DEFAULT_MIN_ROWS,
): ReconstructionDrift {
  const band = profile.multivariate?.chunk_mean ?? null;
  if (!band || window.rows < Math.max(1, minRows) || !Number.isFinite(window.sum_error)) {
    return {
      status: 'insufficient_data',
      rows: window.rows,
      mean_error:
        window.rows > 0 && Number.isFinite(window.sum_error)
          ? window.sum_error / window.rows
          : null,
      lower: null,
      upper: null,
      drift: false,
    };
  }
  const meanError = window.sum_error / window.rows;
  const spread = 3 * band.std * Math.sqrt(band.chunk_size / window.rows);
  const lower = band.mean - spread;
  const upper = band.mean + spread;
  return {
    status: 'ok',
    rows: window.rows,
    mean_error: meanError,
    lower,
    upper,
    drift: meanError < lower || meanError > upper,
  };
}
