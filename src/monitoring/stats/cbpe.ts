import { InvalidInputError } from '../../common/errors';
import {
  CalibrationChoice,
  IDENTITY_CALIBRATOR,
  PiecewiseLinearCalibrator,
  calibrate,
  calibratedSumOverSegment,
  chooseCalibration,
} from './calibration';
import { populationStd } from './descriptive';

/**
 * Confidence-based performance estimation (NannyML's CBPE): with calibrated probabilities p̂ and
 * predicted labels ŷ, the expected confusion matrix of a window without labels is
 *
 *   ŷ = k:  TP_k += p̂_k,  FP_k += 1 − p̂_k        ŷ ≠ k:  FN_k += p̂_k,  TN_k += 1 − p̂_k
 *
 * (one-vs-rest per class; binary uses class 1 as the positive class). Everything needed is
 *
 *   n_c     = rows predicted as class c
 *   S[c][k] = Σ p̂_k over the rows predicted as class c
 *
 * so a store returns S from SQL (with `PiecewiseLinearCalibrator` segments: count and Σ raw score
 * per (predicted class, class, segment), see `cbpeSumsFromSegments`) and the estimate is computed
 * here. Multiclass probabilities are calibrated one-vs-rest and not renormalised (renormalising
 * would break the per-segment linearity that makes the pushdown exact; each calibrated p̂_k is
 * already an estimate of P(y = k)). Assumes calibration holds and there is no concept drift.
 */

export type CbpeMetric = 'accuracy' | 'precision' | 'recall' | 'f1';
export const CBPE_METRICS: readonly CbpeMetric[] = ['accuracy', 'precision', 'recall', 'f1'];

/** Realized metric of labeled reference chunks: the sampling error and alert bounds come from it. */
export interface ReferenceMetricSpread {
  mean: number;
  std: number;
  /** mean ± 3σ: an estimate outside these bounds is an alert. */
  lower: number;
  upper: number;
}

export interface CbpeModel {
  version: 1;
  class_count: number;
  /**
   * One calibrator per class (one-vs-rest). For binary models only class 1's is used and
   * p̂_0 = 1 − p̂_1.
   */
  calibrators: PiecewiseLinearCalibrator[];
  calibration: Omit<CalibrationChoice, 'calibrator'>[];
  reference: {
    rows: number;
    chunk_size: number;
    chunks: number;
    metrics: Partial<Record<CbpeMetric, ReferenceMetricSpread>>;
  };
}

function argmax(row: ArrayLike<number>): number {
  let best = 0;
  for (let k = 1; k < row.length; k++) if (row[k] > row[best]) best = k;
  return best;
}

function checkScores(scores: readonly ArrayLike<number>[], classCount: number): void {
  if (classCount < 2) throw new InvalidInputError('CBPE needs at least two classes');
  for (const row of scores) {
    if (row.length !== classCount) {
      throw new InvalidInputError(`every score row needs ${classCount} class probabilities`);
    }
  }
}

/** Calibrated one-vs-rest probabilities of one row (binary: [1 − p̂₁, p̂₁]). */
export function calibratedProbabilities(model: CbpeModel, scores: ArrayLike<number>): number[] {
  if (model.class_count === 2) {
    const p1 = calibrate(model.calibrators[1], scores[1]);
    return [1 - p1, p1];
  }
  return model.calibrators.map((c, k) => calibrate(c, scores[k]));
}

/** Sufficient statistics of a CBPE window. */
export interface CbpeSums {
  class_count: number;
  /** n_c: rows predicted as class c. */
  rows_per_predicted_class: number[];
  /** S[c][k]: Σ calibrated p̂_k over rows predicted as class c. */
  calibrated_sums: number[][];
}

export function emptyCbpeSums(classCount: number): CbpeSums {
  return {
    class_count: classCount,
    rows_per_predicted_class: new Array<number>(classCount).fill(0),
    calibrated_sums: Array.from({ length: classCount }, () =>
      new Array<number>(classCount).fill(0),
    ),
  };
}

/** CBPE sums from rows (probability rows; ŷ = argmax unless predicted labels are given). */
export function cbpeSumsFromRows(
  model: CbpeModel,
  scores: readonly ArrayLike<number>[],
  predictedClasses?: ArrayLike<number>,
): CbpeSums {
  checkScores(scores, model.class_count);
  const sums = emptyCbpeSums(model.class_count);
  scores.forEach((row, i) => {
    const c = predictedClasses ? predictedClasses[i] : argmax(row);
    if (!Number.isInteger(c) || c < 0 || c >= model.class_count) {
      throw new InvalidInputError(`predicted class ${c} is outside 0..${model.class_count - 1}`);
    }
    const p = calibratedProbabilities(model, row);
    sums.rows_per_predicted_class[c]++;
    for (let k = 0; k < model.class_count; k++) sums.calibrated_sums[c][k] += p[k];
  });
  return sums;
}

/** One row of the pushed-down CBPE query: rows predicted as `predicted_class`, score of `class_index` in `segment`. */
export interface CbpeSegmentSums {
  predicted_class: number;
  class_index: number;
  /** `calibratorSegment(model.calibrators[class_index], score)`, computed in SQL with comparisons. */
  segment: number;
  count: number;
  sum_score: number;
}

/**
 * CBPE sums from the pushed-down segment aggregates. `rows_per_predicted_class` is the plain count
 * per predicted class. Binary models need only class_index = 1 rows (p̂₀ = 1 − p̂₁).
 */
export function cbpeSumsFromSegments(
  model: CbpeModel,
  rowsPerPredictedClass: readonly number[],
  segments: readonly CbpeSegmentSums[],
): CbpeSums {
  const k = model.class_count;
  if (rowsPerPredictedClass.length !== k) {
    throw new InvalidInputError(`rows_per_predicted_class needs ${k} entries`);
  }
  const sums = emptyCbpeSums(k);
  sums.rows_per_predicted_class = rowsPerPredictedClass.slice();
  for (const s of segments) {
    if (
      s.predicted_class < 0 ||
      s.predicted_class >= k ||
      s.class_index < 0 ||
      s.class_index >= k
    ) {
      throw new InvalidInputError('segment sums refer to a class outside the model');
    }
    if (k === 2 && s.class_index !== 1) continue;
    const calibrator = model.calibrators[s.class_index];
    sums.calibrated_sums[s.predicted_class][s.class_index] += calibratedSumOverSegment(
      calibrator,
      s.segment,
      s.count,
      s.sum_score,
    );
  }
  if (k === 2) {
    for (let c = 0; c < 2; c++) {
      sums.calibrated_sums[c][0] = sums.rows_per_predicted_class[c] - sums.calibrated_sums[c][1];
    }
  }
  return sums;
}

export interface ExpectedConfusion {
  tp: number;
  fp: number;
  fn: number;
  tn: number;
}

/** Expected one-vs-rest confusion counts of class k. */
export function expectedConfusion(sums: CbpeSums, k: number): ExpectedConfusion {
  let n = 0;
  let fn = 0;
  for (let c = 0; c < sums.class_count; c++) {
    n += sums.rows_per_predicted_class[c];
    if (c !== k) fn += sums.calibrated_sums[c][k];
  }
  const tp = sums.calibrated_sums[k][k];
  const fp = sums.rows_per_predicted_class[k] - tp;
  return { tp, fp, fn, tn: n - tp - fp - fn };
}

function ratio(numerator: number, denominator: number): number {
  return denominator > 0 ? numerator / denominator : 0;
}

/**
 * Metrics from (expected or realized) sums: binary → the positive class (class 1), multiclass →
 * one-vs-rest macro averages; accuracy is the expected share of correct predictions.
 */
export function metricsFromSums(sums: CbpeSums): Record<CbpeMetric, number> | null {
  let n = 0;
  let correct = 0;
  for (let c = 0; c < sums.class_count; c++) {
    n += sums.rows_per_predicted_class[c];
    correct += sums.calibrated_sums[c][c];
  }
  if (n <= 0) return null;
  const classes =
    sums.class_count === 2 ? [1] : Array.from({ length: sums.class_count }, (_, k) => k);
  let precision = 0;
  let recall = 0;
  let f1 = 0;
  for (const k of classes) {
    const { tp, fp, fn } = expectedConfusion(sums, k);
    precision += ratio(tp, tp + fp);
    recall += ratio(tp, tp + fn);
    f1 += ratio(tp, tp + 0.5 * (fp + fn));
  }
  return {
    accuracy: correct / n,
    precision: precision / classes.length,
    recall: recall / classes.length,
    f1: f1 / classes.length,
  };
}

/** Realized sums of labeled rows: p̂ replaced by the 0/1 truth, so the same formulas apply. */
function realizedSums(
  labels: ArrayLike<number>,
  predicted: ArrayLike<number>,
  classCount: number,
): CbpeSums {
  const sums = emptyCbpeSums(classCount);
  for (let i = 0; i < labels.length; i++) {
    sums.rows_per_predicted_class[predicted[i]]++;
    sums.calibrated_sums[predicted[i]][labels[i]] += 1;
  }
  return sums;
}

export interface CbpeFitOptions {
  /** Reference chunks for the sampling error and alert bounds (default 10). */
  chunks?: number;
  /** Smallest chunk accepted (default 30 rows). */
  minChunkRows?: number;
  folds?: number;
  calibrationBins?: number;
  maxKnots?: number;
  /** Predicted classes of the reference (default argmax of the scores). */
  predictedClasses?: ArrayLike<number>;
}

/**
 * Fits CBPE on a labeled reference (not the training set): a calibrator per class when it lowers
 * ECE in cross-validation, and the realized metrics of reference chunks (for the sampling error and
 * the mean ± 3σ alert bounds).
 */
export function fitCbpe(
  scores: readonly ArrayLike<number>[],
  labels: ArrayLike<number>,
  options: CbpeFitOptions = {},
): CbpeModel {
  const classCount = scores.length > 0 ? scores[0].length : 0;
  checkScores(scores, classCount);
  if (labels.length !== scores.length) {
    throw new InvalidInputError('scores and labels must have the same length');
  }
  if (scores.length === 0) throw new InvalidInputError('CBPE needs a labeled reference');
  for (let i = 0; i < labels.length; i++) {
    if (!Number.isInteger(labels[i]) || labels[i] < 0 || labels[i] >= classCount) {
      throw new InvalidInputError(`label ${labels[i]} is outside 0..${classCount - 1}`);
    }
  }
  const predicted = options.predictedClasses
    ? Array.from(options.predictedClasses)
    : scores.map((row) => argmax(row));

  const calibrators: PiecewiseLinearCalibrator[] = [];
  const calibration: Omit<CalibrationChoice, 'calibrator'>[] = [];
  for (let k = 0; k < classCount; k++) {
    if (classCount === 2 && k === 0) {
      // Binary: p̂₀ = 1 − p̂₁, only class 1 is calibrated.
      calibrators.push(IDENTITY_CALIBRATOR);
      calibration.push({
        applied: false,
        reason: 'complement_of_positive_class',
        ece_uncalibrated: null,
        ece_calibrated_cross_validated: null,
      });
      continue;
    }
    const choice = chooseCalibration(
      scores.map((row) => row[k]),
      Array.from(labels, (y) => (y === k ? 1 : 0)),
      { folds: options.folds, bins: options.calibrationBins, maxKnots: options.maxKnots },
    );
    const { calibrator, ...rest } = choice;
    calibrators.push(calibrator);
    calibration.push(rest);
  }

  const minChunkRows = options.minChunkRows ?? 30;
  const chunkCount = Math.min(options.chunks ?? 10, Math.floor(scores.length / minChunkRows));
  const metrics: Partial<Record<CbpeMetric, ReferenceMetricSpread>> = {};
  let chunkSize = 0;
  if (chunkCount >= 2) {
    chunkSize = Math.floor(scores.length / chunkCount);
    const perMetric = new Map<CbpeMetric, number[]>(CBPE_METRICS.map((m) => [m, []]));
    for (let c = 0; c < chunkCount; c++) {
      const from = c * chunkSize;
      const to = from + chunkSize;
      const realized = metricsFromSums(
        realizedSums(Array.from(labels).slice(from, to), predicted.slice(from, to), classCount),
      );
      if (!realized) continue;
      for (const m of CBPE_METRICS) perMetric.get(m)?.push(realized[m]);
    }
    for (const m of CBPE_METRICS) {
      const values = perMetric.get(m) ?? [];
      if (values.length < 2) continue;
      const mean = values.reduce((a, b) => a + b, 0) / values.length;
      const std = populationStd(values);
      metrics[m] = { mean, std, lower: mean - 3 * std, upper: mean + 3 * std };
    }
  }
  return {
    version: 1,
    class_count: classCount,
    calibrators,
    calibration,
    reference: { rows: scores.length, chunk_size: chunkSize, chunks: chunkCount, metrics },
  };
}

export interface CbpeMetricEstimate {
  value: number;
  /** σ of the metric for a window of this size: reference chunk σ · √(chunk size / window rows). */
  sampling_error: number | null;
  /** value ± 3 sampling errors, clipped to [0, 1]. */
  lower: number | null;
  upper: number | null;
  /** The reference's mean ± 3σ bounds and whether the estimate left them. */
  alert_lower: number | null;
  alert_upper: number | null;
  alert: boolean;
}

export interface CbpeEstimate {
  status: 'ok' | 'insufficient_data';
  rows: number;
  metrics: Partial<Record<CbpeMetric, CbpeMetricEstimate>>;
  /** Expected one-vs-rest confusion counts per class. */
  expected_confusion: ExpectedConfusion[];
}

/** The CBPE estimate of a window from its sums. */
export function estimateCbpe(model: CbpeModel, sums: CbpeSums, minRows = 30): CbpeEstimate {
  if (sums.class_count !== model.class_count) {
    throw new InvalidInputError('the sums and the CBPE model disagree on the class count');
  }
  const rows = sums.rows_per_predicted_class.reduce((a, b) => a + b, 0);
  const values = rows >= Math.max(1, minRows) ? metricsFromSums(sums) : null;
  if (!values) return { status: 'insufficient_data', rows, metrics: {}, expected_confusion: [] };
  const metrics: Partial<Record<CbpeMetric, CbpeMetricEstimate>> = {};
  for (const m of CBPE_METRICS) {
    const spread = model.reference.metrics[m];
    const value = values[m];
    const samplingError = spread ? spread.std * Math.sqrt(model.reference.chunk_size / rows) : null;
    metrics[m] = {
      value,
      sampling_error: samplingError,
      lower: samplingError === null ? null : Math.max(0, value - 3 * samplingError),
      upper: samplingError === null ? null : Math.min(1, value + 3 * samplingError),
      alert_lower: spread ? spread.lower : null,
      alert_upper: spread ? spread.upper : null,
      alert: spread ? value < spread.lower || value > spread.upper : false,
    };
  }
  return {
    status: 'ok',
    rows,
    metrics,
    expected_confusion: Array.from({ length: model.class_count }, (_, k) =>
      expectedConfusion(sums, k),
    ),
  };
}
