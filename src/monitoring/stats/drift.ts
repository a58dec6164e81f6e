import { InvalidInputError } from '../../common/errors';
import { ChiSquareMode, chiSquareGoodnessOfFit, chiSquareTest } from './chi-square';
import { populationStd } from './descriptive';
import {
  hellingerDistance,
  jensenShannonDistance,
  klDivergence,
  populationStabilityIndex,
} from './divergences';
import {
  CategoricalBins,
  NumericalBins,
  numericalHistogramView,
  numericalWassersteinBins,
  valueBinCount,
} from './feature-bins';
import { KsTestResult, ksFromBinnedCounts } from './ks';
import { wassersteinFromBinnedCounts, wassersteinNormalizer } from './wasserstein';

/**
 * Drift of one feature from histogram counts (reference vs window, or window vs window), plus the
 * dataset-level verdict. Pure: the counts come from SQL aggregates (or `countBins`), the layout from
 * the reference profile (`feature-bins.ts`).
 */

export type DriftMethod =
  'ks' | 'wasserstein' | 'psi' | 'kl' | 'jensen_shannon' | 'hellinger' | 'chi_square';

export const DRIFT_METHODS: readonly DriftMethod[] = [
  'ks',
  'wasserstein',
  'psi',
  'kl',
  'jensen_shannon',
  'hellinger',
  'chi_square',
];

/** Methods whose score is a p-value: drift when the p-value is at or below the threshold. */
export function isPValueMethod(method: DriftMethod): boolean {
  return method === 'ks' || method === 'chi_square';
}

/**
 * Evidently's default thresholds: p-value methods at 0.05, distances at 0.1 (drift when the
 * distance is ≥ 0.1).
 */
export const DEFAULT_DRIFT_THRESHOLDS: Readonly<Record<DriftMethod, number>> = {
  ks: 0.05,
  chi_square: 0.05,
  wasserstein: 0.1,
  psi: 0.1,
  kl: 0.1,
  jensen_shannon: 0.1,
  hellinger: 0.1,
};

/** Below this many non-missing rows on either side a feature is "insufficient_data". */
export const DEFAULT_MIN_ROWS = 30;
/** Evidently's switch from tests (small reference) to distances (large reference). */
export const SMALL_REFERENCE_MAX_ROWS = 1000;
/** Evidently's cardinality switch for numerical features. */
export const LOW_CARDINALITY_MAX_VALUES = 5;
export const DEFAULT_MISSING_SHARE_THRESHOLD = 0.1;
/**
 * Out-of-range / unseen share threshold. A window drawn from the reference distribution lands
 * outside the reference range with probability 2/(n_ref + 1) (6.5% at 30 reference rows), so the
 * default sits above that for every reference the minimum row rule admits.
 */
export const DEFAULT_NEW_VALUES_SHARE_THRESHOLD = 0.1;
export const DEFAULT_DRIFT_SHARE_THRESHOLD = 0.5;

/**
 * Evidently's default method: reference ≤ 1000 rows → KS for numerical features with more than
 * five distinct values, chi-square otherwise (Evidently's z-test for two categories is covered by
 * chi-square here); reference > 1000 rows → normed Wasserstein for numerical features with more
 * than five distinct values, Jensen–Shannon otherwise. Row counts and distinct values are the
 * reference's non-missing ones (fixed with the profile, unlike Evidently, which looks at both
 * samples), so the method does not change from window to window.
 */
export function defaultDriftMethod(
  type: 'numerical' | 'categorical',
  referenceRows: number,
  distinctValues: number,
): DriftMethod {
  const continuous = type === 'numerical' && distinctValues > LOW_CARDINALITY_MAX_VALUES;
  if (referenceRows <= SMALL_REFERENCE_MAX_ROWS) return continuous ? 'ks' : 'chi_square';
  return continuous ? 'wasserstein' : 'jensen_shannon';
}

/** NannyML-style threshold learned from reference chunks: mean ± 3σ of the chunk scores. */
export interface LearnedThreshold {
  method: DriftMethod;
  mean: number;
  std: number;
  lower: number;
  upper: number;
  chunks: number;
  chunk_size: number;
  /** Set when fewer than 6 chunks were available (NannyML's warning level). */
  warning: string | null;
}

export type NumericalDriftFeature = NumericalBins & { std: number | null; distinct_count: number };
export type CategoricalDriftFeature = CategoricalBins & { distinct_count: number };
/** What the drift engine needs about a feature; the reference profile's features satisfy it. */
export type DriftFeature = NumericalDriftFeature | CategoricalDriftFeature;

/** Every statistic computed for a feature, under the keys of the stable drift JSON contract. */
export interface DriftStatistics {
  ks_statistic?: number | null;
  ks_p_value?: number | null;
  wasserstein_normed?: number | null;
  psi: number | null;
  kl_divergence: number | null;
  jensen_shannon: number | null;
  hellinger: number | null;
  chi2_statistic: number | null;
  chi2_p_value: number | null;
  missing_share_reference: number | null;
  missing_share_current: number | null;
  /** Numerical: share of non-missing values outside the reference [min, max]. */
  out_of_range_share_reference?: number | null;
  out_of_range_share_current?: number | null;
  /** Categorical: share of non-missing values in no reference category. */
  unseen_share_reference?: number | null;
  unseen_share_current?: number | null;
}

/** A share-based signal (missing values, out-of-range values, unseen categories). */
export interface ShareSignal {
  signal: 'missing_share' | 'out_of_range_share' | 'unseen_share';
  reference: number | null;
  current: number | null;
  /** Drift when |current − reference| ≥ threshold. */
  threshold: number;
  drift: boolean;
  status: 'ok' | 'insufficient_data';
}

export interface FeatureDrift {
  name: string;
  type: 'numerical' | 'categorical';
  method: DriftMethod;
  status: 'ok' | 'insufficient_data';
  /** The method's statistic (a p-value for ks / chi_square, a distance otherwise). */
  score: number | null;
  threshold: number;
  threshold_source: 'default' | 'configured' | 'learned';
  drift: boolean;
  /** Non-missing rows compared on each side. */
  reference_rows: number;
  current_rows: number;
  /** True when KS / Wasserstein were computed from bins rather than raw samples. */
  binned_approximation: boolean;
  stats: DriftStatistics;
  signals: ShareSignal[];
}

export interface FeatureDriftOptions {
  /** Override the default method (Evidently's rule). */
  method?: DriftMethod;
  /** A fixed threshold, or one learned from reference chunks. */
  threshold?: number | LearnedThreshold;
  minRows?: number;
  chiSquare?: ChiSquareMode;
  missingShareThreshold?: number;
  newValuesShareThreshold?: number;
  /**
   * Σ of the values per bin on both sides (`sumNumericalBins`; SQL `sumIf(x, isFinite(x))` per bin):
   * makes the binned Wasserstein distance accurate (see `numericalWassersteinBins`).
   */
  binSums?: { reference: ArrayLike<number>; current: ArrayLike<number> };
  /** KS and normed Wasserstein computed on raw samples, replacing the binned approximations. */
  rawSampleStatistics?: { ks: KsTestResult; wassersteinNormed: number };
  /** Base of the Jensen–Shannon logarithm (default e). */
  jensenShannonBase?: number;
}

function sum(values: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < values.length; i++) s += values[i];
  return s;
}

function share(part: number, whole: number): number | null {
  return whole > 0 ? part / whole : null;
}

function finiteOrNull(x: number): number | null {
  return Number.isFinite(x) ? x : null;
}

function checkCounts(counts: ArrayLike<number>, expected: number, role: string): void {
  if (counts.length !== expected) {
    throw new InvalidInputError(
      `${role} histogram has ${counts.length} bins, expected ${expected}`,
    );
  }
  for (let i = 0; i < counts.length; i++) {
    if (!(counts[i] >= 0) || !Number.isFinite(counts[i])) {
      throw new InvalidInputError(`${role} histogram counts must be finite and non-negative`);
    }
  }
}

function methodAllowed(feature: DriftFeature, method: DriftMethod): void {
  if (feature.type === 'categorical' && (method === 'ks' || method === 'wasserstein')) {
    throw new InvalidInputError(
      `method '${method}' needs a numerical feature; '${feature.name}' is categorical`,
    );
  }
}

function scoreOf(stats: DriftStatistics, method: DriftMethod): number | null | undefined {
  switch (method) {
    case 'ks':
      return stats.ks_p_value;
    case 'wasserstein':
      return stats.wasserstein_normed;
    case 'psi':
      return stats.psi;
    case 'kl':
      return stats.kl_divergence;
    case 'jensen_shannon':
      return stats.jensen_shannon;
    case 'hellinger':
      return stats.hellinger;
    case 'chi_square':
      return stats.chi2_p_value;
  }
}

function shareSignal(
  signal: ShareSignal['signal'],
  reference: number | null,
  current: number | null,
  threshold: number,
  enough: boolean,
): ShareSignal {
  const ok = enough && reference !== null && current !== null;
  return {
    signal,
    reference,
    current,
    threshold,
    drift: ok ? Math.abs(current - reference) >= threshold : false,
    status: ok ? 'ok' : 'insufficient_data',
  };
}

/**
 * Drift of one feature from two histograms in the feature's bin layout (`feature-bins.ts`).
 *
 * Distribution statistics use non-missing values only. KS and Wasserstein from counts are
 * approximations (documented in `ks.ts` / `wasserstein.ts`) unless raw-sample values are passed.
 * Chi-square in goodness-of-fit mode skips bins the reference never filled (they would make the
 * statistic infinite); those values are what the out-of-range / unseen signal reports.
 * Fewer than `minRows` non-missing rows on either side → status "insufficient_data", every
 * distribution statistic null, drift false; share signals still report what can be computed.
 */
export function featureDriftFromCounts(
  feature: DriftFeature,
  referenceCounts: ArrayLike<number>,
  currentCounts: ArrayLike<number>,
  options: FeatureDriftOptions = {},
): FeatureDrift {
  const binTotal =
    feature.type === 'numerical' ? valueBinCount(feature.edges) + 3 : feature.categories.length + 2;
  checkCounts(referenceCounts, binTotal, `reference '${feature.name}'`);
  checkCounts(currentCounts, binTotal, `current '${feature.name}'`);
  const minRows = Math.max(1, options.minRows ?? DEFAULT_MIN_ROWS);

  const totalReference = sum(referenceCounts);
  const totalCurrent = sum(currentCounts);
  const referenceRows = totalReference - referenceCounts[0];
  const currentRows = totalCurrent - currentCounts[0];
  const method =
    options.method ?? defaultDriftMethod(feature.type, referenceRows, feature.distinct_count);
  methodAllowed(feature, method);

  let thresholdValue: number;
  let thresholdSource: FeatureDrift['threshold_source'];
  const learned = typeof options.threshold === 'object' ? options.threshold : undefined;
  if (learned) {
    if (learned.method !== method) {
      throw new InvalidInputError(
        `learned threshold for '${learned.method}' cannot judge method '${method}'`,
      );
    }
    thresholdValue = isPValueMethod(method) ? learned.lower : learned.upper;
    thresholdSource = 'learned';
  } else if (typeof options.threshold === 'number') {
    thresholdValue = options.threshold;
    thresholdSource = 'configured';
  } else {
    thresholdValue = DEFAULT_DRIFT_THRESHOLDS[method];
    thresholdSource = 'default';
  }
  if (!Number.isFinite(thresholdValue)) {
    throw new InvalidInputError(`threshold for '${feature.name}' must be a finite number`);
  }

  // A numerical reference without any value has no bins to compare against.
  const comparable = feature.type === 'categorical' || valueBinCount(feature.edges) > 0;
  const enough = comparable && referenceRows >= minRows && currentRows >= minRows;
  const stats: DriftStatistics = {
    psi: null,
    kl_divergence: null,
    jensen_shannon: null,
    hellinger: null,
    chi2_statistic: null,
    chi2_p_value: null,
    missing_share_reference: share(referenceCounts[0], totalReference),
    missing_share_current: share(currentCounts[0], totalCurrent),
  };

  let referenceDistribution: number[];
  let currentDistribution: number[];
  let newValuesReference: number | null;
  let newValuesCurrent: number | null;
  if (feature.type === 'numerical') {
    const ref = numericalHistogramView(feature, referenceCounts);
    const cur = numericalHistogramView(feature, currentCounts);
    referenceDistribution = ref.distribution;
    currentDistribution = cur.distribution;
    newValuesReference = share(ref.belowRange + ref.aboveRange, referenceRows);
    newValuesCurrent = share(cur.belowRange + cur.aboveRange, currentRows);
    stats.ks_statistic = null;
    stats.ks_p_value = null;
    stats.wasserstein_normed = null;
    stats.out_of_range_share_reference = newValuesReference;
    stats.out_of_range_share_current = newValuesCurrent;
    if (enough) {
      const raw = options.rawSampleStatistics;
      const ks = raw ? raw.ks : ksFromBinnedCounts(ref.ordered, cur.ordered);
      stats.ks_statistic = ks.statistic;
      stats.ks_p_value = ks.pValue;
      let wasserstein: number;
      if (raw) wasserstein = raw.wassersteinNormed;
      else {
        const w = numericalWassersteinBins(
          feature,
          referenceCounts,
          currentCounts,
          options.binSums,
        );
        wasserstein =
          wassersteinFromBinnedCounts(w.intervals, w.reference, w.current) /
          wassersteinNormalizer(feature.std ?? 0);
      }
      stats.wasserstein_normed = finiteOrNull(wasserstein);
    }
  } else {
    const m = feature.categories.length;
    referenceDistribution = Array.from(referenceCounts).slice(1, m + 2);
    currentDistribution = Array.from(currentCounts).slice(1, m + 2);
    newValuesReference = share(referenceCounts[m + 1], referenceRows);
    newValuesCurrent = share(currentCounts[m + 1], currentRows);
    stats.unseen_share_reference = newValuesReference;
    stats.unseen_share_current = newValuesCurrent;
  }

  if (enough) {
    // Bins empty on both sides carry no information (Evidently only has the observed categories);
    // dropping them keeps the zero fill from adding phantom terms.
    const kept = referenceDistribution
      .map((r, i) => [r, currentDistribution[i]] as const)
      .filter(([r, c]) => r > 0 || c > 0);
    referenceDistribution = kept.map(([r]) => r);
    currentDistribution = kept.map(([, c]) => c);
    stats.psi = finiteOrNull(populationStabilityIndex(referenceDistribution, currentDistribution));
    stats.kl_divergence = finiteOrNull(klDivergence(referenceDistribution, currentDistribution));
    stats.jensen_shannon = jensenShannonDistance(
      referenceDistribution,
      currentDistribution,
      options.jensenShannonBase,
    );
    stats.hellinger = hellingerDistance(referenceDistribution, currentDistribution);
    const chi =
      (options.chiSquare ?? 'contingency') === 'contingency'
        ? chiSquareTest(referenceDistribution, currentDistribution, 'contingency')
        : goodnessOfFitOnReferenceBins(referenceDistribution, currentDistribution);
    stats.chi2_statistic = finiteOrNull(chi.statistic);
    stats.chi2_p_value = chi.pValue;
  }

  const score = enough ? (scoreOf(stats, method) ?? null) : null;
  let drift = false;
  if (score !== null) {
    if (thresholdSource === 'learned') {
      drift = isPValueMethod(method) ? score < thresholdValue : score > thresholdValue;
    } else {
      drift = isPValueMethod(method) ? score <= thresholdValue : score >= thresholdValue;
    }
  }

  const signals: ShareSignal[] = [
    shareSignal(
      'missing_share',
      stats.missing_share_reference,
      stats.missing_share_current,
      options.missingShareThreshold ?? DEFAULT_MISSING_SHARE_THRESHOLD,
      totalReference >= minRows && totalCurrent >= minRows,
    ),
    shareSignal(
      feature.type === 'numerical' ? 'out_of_range_share' : 'unseen_share',
      newValuesReference,
      newValuesCurrent,
      options.newValuesShareThreshold ?? DEFAULT_NEW_VALUES_SHARE_THRESHOLD,
      enough,
    ),
  ];

  return {
    name: feature.name,
    type: feature.type,
    method,
    status: score === null ? 'insufficient_data' : 'ok',
    score,
    threshold: thresholdValue,
    threshold_source: thresholdSource,
    drift,
    reference_rows: referenceRows,
    current_rows: currentRows,
    binned_approximation: feature.type === 'numerical' && !options.rawSampleStatistics,
    stats,
    signals,
  };
}

/** Evidently's goodness of fit restricted to bins the reference filled (see above). */
function goodnessOfFitOnReferenceBins(
  reference: readonly number[],
  current: readonly number[],
): { statistic: number; pValue: number } {
  const ref: number[] = [];
  const cur: number[] = [];
  for (let i = 0; i < reference.length; i++) {
    if (reference[i] > 0) {
      ref.push(reference[i]);
      cur.push(current[i]);
    }
  }
  const nRef = sum(ref);
  const nCur = sum(cur);
  if (nRef <= 0 || nCur <= 0) return { statistic: 0, pValue: 1 };
  return chiSquareGoodnessOfFit(
    cur,
    ref.map((r) => (r * nCur) / nRef),
  );
}

export interface DatasetDrift {
  status: 'ok' | 'insufficient_data';
  features: FeatureDrift[];
  /** Share of evaluated features (status "ok") that drift; null when none could be evaluated. */
  drift_share: number | null;
  drift_share_threshold: number;
  /** drift_share ≥ threshold (0.5, Evidently's default). */
  dataset_drift: boolean;
  drifted_features: number;
  evaluated_features: number;
  /** Features whose missing / out-of-range / unseen share moved past its threshold. */
  signal_drift_features: string[];
}

export function datasetDrift(
  features: FeatureDrift[],
  shareThreshold: number = DEFAULT_DRIFT_SHARE_THRESHOLD,
): DatasetDrift {
  const evaluated = features.filter((f) => f.status === 'ok');
  const drifted = evaluated.filter((f) => f.drift).length;
  const driftShare = evaluated.length > 0 ? drifted / evaluated.length : null;
  return {
    status: evaluated.length > 0 ? 'ok' : 'insufficient_data',
    features,
    drift_share: driftShare,
    drift_share_threshold: shareThreshold,
    dataset_drift: driftShare !== null && driftShare >= shareThreshold,
    drifted_features: drifted,
    evaluated_features: evaluated.length,
    signal_drift_features: features
      .filter((f) => f.signals.some((s) => s.drift))
      .map((f) => f.name),
  };
}

/**
 * NannyML-style thresholds: the score of every reference chunk against the whole reference, then
 * mean ± 3σ (population σ). Distances drift above `upper`, p-values below `lower`. Valid for
 * windows of about the chunk size: the noise of every statistic depends on the window's rows.
 * Returns one threshold per applicable method; methods whose chunks were all insufficient are
 * left out.
 */
export function learnDriftThresholds(
  feature: DriftFeature,
  referenceCounts: ArrayLike<number>,
  chunkCounts: readonly ArrayLike<number>[],
  options: Omit<FeatureDriftOptions, 'method' | 'threshold' | 'rawSampleStatistics' | 'binSums'> & {
    sigmas?: number;
    /** Per-bin value sums of the reference and of each chunk (numerical features). */
    referenceSums?: ArrayLike<number>;
    chunkSums?: readonly ArrayLike<number>[];
  } = {},
): Partial<Record<DriftMethod, LearnedThreshold>> {
  const sigmas = options.sigmas ?? 3;
  const methods = DRIFT_METHODS.filter(
    (m) => feature.type === 'numerical' || (m !== 'ks' && m !== 'wasserstein'),
  );
  const scores = new Map<DriftMethod, number[]>(methods.map((m) => [m, []]));
  let rows = 0;
  const { referenceSums, chunkSums } = options;
  const featureOptions: FeatureDriftOptions = {
    minRows: options.minRows,
    chiSquare: options.chiSquare,
    missingShareThreshold: options.missingShareThreshold,
    newValuesShareThreshold: options.newValuesShareThreshold,
    jensenShannonBase: options.jensenShannonBase,
  };
  chunkCounts.forEach((chunk, c) => {
    rows += sum(chunk) - chunk[0];
    const sums =
      referenceSums && chunkSums ? { reference: referenceSums, current: chunkSums[c] } : undefined;
    // One evaluation computes every statistic; each method reads its own score from it.
    const result = featureDriftFromCounts(feature, referenceCounts, chunk, {
      ...featureOptions,
      binSums: sums,
    });
    if (result.status !== 'ok') return;
    for (const method of methods) {
      const score = scoreOf(result.stats, method);
      if (score !== null && score !== undefined) scores.get(method)?.push(score);
    }
  });
  const out: Partial<Record<DriftMethod, LearnedThreshold>> = {};
  for (const method of methods) {
    const values = scores.get(method) ?? [];
    if (values.length === 0) continue;
    const mean = values.reduce((a, b) => a + b, 0) / values.length;
    const std = populationStd(values);
    out[method] = {
      method,
      mean,
      std,
      lower: mean - sigmas * std,
      upper: mean + sigmas * std,
      chunks: values.length,
      chunk_size: Math.round(rows / Math.max(chunkCounts.length, 1)),
      warning:
        values.length < 6
          ? `only ${values.length} reference chunks; NannyML recommends at least 6`
          : null,
    };
  }
  return out;
}
