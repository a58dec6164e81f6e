import { InvalidInputError } from '../../common/errors';
import {
  DEFAULT_CALIBRATION_BINS,
  calibrationBins,
  expectedCalibrationError,
  rocAuc,
} from './quality';

/**
 * Probability calibration for CBPE: isotonic regression (pool-adjacent-violators) used as a
 * monotone piecewise-linear map, the way scikit-learn's `IsotonicRegression(out_of_bounds='clip')`
 * predicts (linear interpolation between fitted points, constant beyond the ends), which NannyML
 * uses for CBPE.
 *
 * Piecewise-linear is also what makes CBPE push down to SQL exactly: on each segment
 * p̂ = a + b·s, so Σ p̂ over any group = a·count + b·Σ s. A store returns count and Σ s per
 * (predicted class, class, segment), segment = Σ_j (s ≥ knot_j), and `PiecewiseLinearCalibrator`
 * turns those into Σ p̂ without a single row crossing into Node.
 */
export interface PiecewiseLinearCalibrator {
  /** Ascending, distinct score knots. */
  knots: number[];
  /** Calibrated probability at each knot (non-decreasing). */
  values: number[];
}

/** The identity on [0, 1] (scores are already probabilities; clipped to [0, 1]). */
export const IDENTITY_CALIBRATOR: PiecewiseLinearCalibrator = { knots: [0, 1], values: [0, 1] };

/** Segment index of a score: Σ_j [s ≥ knot_j], in 0..knots.length (SQL-friendly comparisons). */
export function calibratorSegment(calibrator: PiecewiseLinearCalibrator, score: number): number {
  const { knots } = calibrator;
  let lo = 0;
  let hi = knots.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (knots[mid] <= score) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** p̂ = intercept + slope·s on a segment (slope 0 on the clipped ends). */
export function calibratorSegmentLine(
  calibrator: PiecewiseLinearCalibrator,
  segment: number,
): { intercept: number; slope: number } {
  const { knots, values } = calibrator;
  const n = knots.length;
  if (n === 0) throw new InvalidInputError('a calibrator needs at least one knot');
  if (segment <= 0) return { intercept: values[0], slope: 0 };
  if (segment >= n) return { intercept: values[n - 1], slope: 0 };
  const x0 = knots[segment - 1];
  const x1 = knots[segment];
  const slope = (values[segment] - values[segment - 1]) / (x1 - x0);
  return { intercept: values[segment - 1] - slope * x0, slope };
}

export function calibrate(calibrator: PiecewiseLinearCalibrator, score: number): number {
  const { knots, values } = calibrator;
  const segment = calibratorSegment(calibrator, score);
  if (segment <= 0) return values[0];
  if (segment >= knots.length) return values[values.length - 1];
  // Interpolate from the nearer knot's side exactly as interp1d does.
  const x0 = knots[segment - 1];
  const x1 = knots[segment];
  const t = (score - x0) / (x1 - x0);
  return values[segment - 1] + t * (values[segment] - values[segment - 1]);
}

/** Σ p̂ over a group of rows in one segment, from the group's row count and Σ score. */
export function calibratedSumOverSegment(
  calibrator: PiecewiseLinearCalibrator,
  segment: number,
  count: number,
  sumScore: number,
): number {
  const { intercept, slope } = calibratorSegmentLine(calibrator, segment);
  return intercept * count + slope * sumScore;
}

/**
 * Weighted pool-adjacent-violators: the non-decreasing sequence closest to `y` in weighted least
 * squares (scipy `optimize.isotonic_regression`).
 */
export function isotonicRegression(
  y: ArrayLike<number>,
  weights?: ArrayLike<number>,
): Float64Array {
  const n = y.length;
  const blockValue = new Float64Array(n);
  const blockWeight = new Float64Array(n);
  const blockSize = new Int32Array(n);
  let blocks = 0;
  for (let i = 0; i < n; i++) {
    let value = y[i];
    let weight = weights ? weights[i] : 1;
    let size = 1;
    // Merge backwards while the previous block violates monotonicity.
    while (blocks > 0 && blockValue[blocks - 1] >= value) {
      const w = blockWeight[blocks - 1] + weight;
      value = (blockValue[blocks - 1] * blockWeight[blocks - 1] + value * weight) / w;
      weight = w;
      size += blockSize[blocks - 1];
      blocks--;
    }
    blockValue[blocks] = value;
    blockWeight[blocks] = weight;
    blockSize[blocks] = size;
    blocks++;
  }
  const out = new Float64Array(n);
  let k = 0;
  for (let b = 0; b < blocks; b++) for (let j = 0; j < blockSize[b]; j++) out[k++] = blockValue[b];
  return out;
}

export const DEFAULT_MAX_CALIBRATOR_KNOTS = 64;

/**
 * Fits an isotonic calibrator of binary outcomes (0/1) on scores, as sklearn's IsotonicRegression
 * does: sort by score, average the outcomes of equal scores (weights = multiplicity), PAV, then keep
 * only the knots where the fitted value changes (the ends of each flat run). More than `maxKnots`
 * knots are thinned to evenly spaced ones (by rank) — still monotone, and it bounds the SQL
 * comparisons per row.
 */
export function fitIsotonicCalibrator(
  scores: ArrayLike<number>,
  outcomes: ArrayLike<number>,
  maxKnots: number = DEFAULT_MAX_CALIBRATOR_KNOTS,
): PiecewiseLinearCalibrator {
  if (scores.length !== outcomes.length) {
    throw new InvalidInputError('scores and outcomes must have the same length');
  }
  if (scores.length === 0) throw new InvalidInputError('cannot calibrate on an empty reference');
  const order = Array.from({ length: scores.length }, (_, i) => i).sort(
    (a, b) => scores[a] - scores[b] || outcomes[a] - outcomes[b],
  );
  const x: number[] = [];
  const y: number[] = [];
  const w: number[] = [];
  for (const i of order) {
    const s = scores[i];
    if (!Number.isFinite(s)) throw new InvalidInputError('scores must be finite');
    const last = x.length - 1;
    if (last >= 0 && x[last] === s) {
      y[last] = (y[last] * w[last] + outcomes[i]) / (w[last] + 1);
      w[last] += 1;
    } else {
      x.push(s);
      y.push(outcomes[i]);
      w.push(1);
    }
  }
  const fitted = isotonicRegression(y, w);
  const knots: number[] = [];
  const values: number[] = [];
  for (let i = 0; i < x.length; i++) {
    const interior = i > 0 && i < x.length - 1;
    if (interior && fitted[i] === fitted[i - 1] && fitted[i] === fitted[i + 1]) continue;
    knots.push(x[i]);
    values.push(fitted[i]);
  }
  if (knots.length <= maxKnots) return { knots, values };
  const thinnedKnots: number[] = [];
  const thinnedValues: number[] = [];
  for (let j = 0; j < maxKnots; j++) {
    const i = Math.round((j * (knots.length - 1)) / (maxKnots - 1));
    thinnedKnots.push(knots[i]);
    thinnedValues.push(values[i]);
  }
  return { knots: thinnedKnots, values: thinnedValues };
}

export interface CalibrationChoice {
  calibrator: PiecewiseLinearCalibrator;
  applied: boolean;
  reason:
    | 'lower_ece_in_cross_validation'
    | 'no_ece_improvement'
    | 'single_class'
    | 'auroc_above_0.999'
    | 'too_few_rows'
    | 'complement_of_positive_class';
  ece_uncalibrated: number | null;
  ece_calibrated_cross_validated: number | null;
}

/**
 * NannyML's rule for CBPE: calibrate only if isotonic calibration lowers the expected calibration
 * error out of sample. Deterministic stratified k-fold (each class's rows dealt round-robin to the
 * folds): every row's calibrated probability comes from a calibrator fitted on the other folds, and
 * the ECE of those out-of-fold probabilities is compared with the ECE of the raw scores on the
 * same rows. Skipped for a single class or AUROC > 0.999 (nothing to calibrate reliably).
 */
export function chooseCalibration(
  scores: ArrayLike<number>,
  outcomes: ArrayLike<number>,
  options: { folds?: number; bins?: number; maxKnots?: number } = {},
): CalibrationChoice {
  const folds = options.folds ?? 5;
  const bins = options.bins ?? DEFAULT_CALIBRATION_BINS;
  const n = scores.length;
  const skip = (reason: CalibrationChoice['reason'], eceRaw: number | null): CalibrationChoice => ({
    calibrator: IDENTITY_CALIBRATOR,
    applied: false,
    reason,
    ece_uncalibrated: eceRaw,
    ece_calibrated_cross_validated: null,
  });
  let positives = 0;
  for (let i = 0; i < n; i++) {
    if (outcomes[i] !== 0 && outcomes[i] !== 1)
      throw new InvalidInputError('outcomes must be 0 or 1');
    positives += outcomes[i];
  }
  const clipped = Array.from(scores, (s) => Math.min(1, Math.max(0, s)));
  const eceRaw = n > 0 ? expectedCalibrationError(calibrationBins(clipped, outcomes, bins)) : null;
  if (positives === 0 || positives === n) return skip('single_class', eceRaw);
  const auc = rocAuc(scores, outcomes);
  if (auc !== null && auc > 0.999) return skip('auroc_above_0.999', eceRaw);
  if (n < 2 * folds) return skip('too_few_rows', eceRaw);

  const fold = new Int32Array(n);
  const dealt = [0, 0];
  for (let i = 0; i < n; i++) fold[i] = dealt[outcomes[i]]++ % folds;
  const outOfFold = new Float64Array(n);
  for (let f = 0; f < folds; f++) {
    const trainScores: number[] = [];
    const trainOutcomes: number[] = [];
    for (let i = 0; i < n; i++) {
      if (fold[i] !== f) {
        trainScores.push(scores[i]);
        trainOutcomes.push(outcomes[i]);
      }
    }
    const calibrator = fitIsotonicCalibrator(trainScores, trainOutcomes, options.maxKnots);
    for (let i = 0; i < n; i++) if (fold[i] === f) outOfFold[i] = calibrate(calibrator, scores[i]);
  }
  const eceCalibrated = expectedCalibrationError(calibrationBins(outOfFold, outcomes, bins));
  const better = eceCalibrated !== null && eceRaw !== null && eceCalibrated < eceRaw;
  return {
    calibrator: better
      ? fitIsotonicCalibrator(scores, outcomes, options.maxKnots)
      : IDENTITY_CALIBRATOR,
    applied: better,
    reason: better ? 'lower_ece_in_cross_validation' : 'no_ece_improvement',
    ece_uncalibrated: eceRaw,
    ece_calibrated_cross_validated: eceCalibrated,
  };
}
