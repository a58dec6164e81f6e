import { InvalidInputError } from '../../common/errors';

/**
 * Model quality from counts and sums that SQL can push down:
 *
 * - classification: the confusion matrix (`GROUP BY label, predicted`) and the number of
 *   predictions in the window (for label coverage);
 * - ROC AUC: per score bin, the number of positive and negative rows (`countIf`), or exact from
 *   (score, label) pairs;
 * - log loss: Σ −ln p(true class) with the same clipping as `logLossTerm`, and the row count;
 * - calibration error: per probability bin, count, Σ probability and Σ outcome;
 * - regression: the sums of `RegressionSums`.
 *
 * Definitions follow scikit-learn (which is not used: the golden tests compare against numpy and
 * scipy formulas). Undefined ratios follow sklearn's `zero_division=0`; empty inputs give
 * status "insufficient_data" with nulls, never NaN.
 */

export type QualityStatus = 'ok' | 'insufficient_data';

export interface ClassQuality {
  class_index: number;
  precision: number;
  recall: number;
  f1: number;
  /** Labeled rows of this class. */
  support: number;
  /** Rows predicted as this class (among labeled rows). */
  predicted: number;
}

export interface ClassificationQuality {
  status: QualityStatus;
  labeled_rows: number;
  /** All predictions in the window, labeled or not (for coverage). */
  total_rows: number;
  /** labeled_rows / total_rows, shown beside every figure. */
  label_coverage: number | null;
  accuracy: number | null;
  macro_precision: number | null;
  macro_recall: number | null;
  macro_f1: number | null;
  per_class: ClassQuality[];
  /** Rows: true class, columns: predicted class. */
  confusion_matrix: number[][];
}

function checkSquare(confusion: readonly (readonly number[])[]): number {
  const k = confusion.length;
  for (const row of confusion) {
    if (row.length !== k) throw new InvalidInputError('the confusion matrix must be square');
    for (const c of row) {
      if (!(c >= 0) || !Number.isFinite(c)) {
        throw new InvalidInputError('confusion counts must be finite and non-negative');
      }
    }
  }
  return k;
}

/** Confusion matrix (rows = true class, columns = predicted class) from label / prediction pairs. */
export function confusionMatrix(
  labels: ArrayLike<number>,
  predictions: ArrayLike<number>,
  classCount: number,
): number[][] {
  if (labels.length !== predictions.length) {
    throw new InvalidInputError('labels and predictions must have the same length');
  }
  const matrix = Array.from({ length: classCount }, () => new Array<number>(classCount).fill(0));
  for (let i = 0; i < labels.length; i++) {
    const t = labels[i];
    const p = predictions[i];
    if (
      !Number.isInteger(t) ||
      !Number.isInteger(p) ||
      t < 0 ||
      p < 0 ||
      t >= classCount ||
      p >= classCount
    ) {
      throw new InvalidInputError(`class indexes must be integers in [0, ${classCount})`);
    }
    matrix[t][p]++;
  }
  return matrix;
}

/**
 * Accuracy, per-class precision / recall / F1 and their macro averages from a confusion matrix.
 * Macro averages run over the classes that occur as a label or a prediction (sklearn's default
 * `labels`), and macro F1 is the mean of per-class F1 (not the F1 of macro P and R), as in sklearn.
 */
export function classificationQuality(
  confusion: readonly (readonly number[])[],
  options: { totalRows?: number; minRows?: number } = {},
): ClassificationQuality {
  const k = checkSquare(confusion);
  let labeled = 0;
  let correct = 0;
  const support = new Array<number>(k).fill(0);
  const predicted = new Array<number>(k).fill(0);
  for (let t = 0; t < k; t++) {
    for (let p = 0; p < k; p++) {
      const c = confusion[t][p];
      labeled += c;
      support[t] += c;
      predicted[p] += c;
      if (t === p) correct += c;
    }
  }
  const totalRows = options.totalRows ?? labeled;
  if (totalRows < labeled) {
    throw new InvalidInputError('total_rows cannot be smaller than the labeled rows');
  }
  const minRows = Math.max(1, options.minRows ?? 1);
  const perClass: ClassQuality[] = [];
  for (let c = 0; c < k; c++) {
    const tp = confusion[c][c];
    const precision = predicted[c] > 0 ? tp / predicted[c] : 0;
    const recall = support[c] > 0 ? tp / support[c] : 0;
    const f1 = precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
    perClass.push({
      class_index: c,
      precision,
      recall,
      f1,
      support: support[c],
      predicted: predicted[c],
    });
  }
  const present = perClass.filter((c) => c.support > 0 || c.predicted > 0);
  const enough = labeled >= minRows && present.length > 0;
  const macro = (pick: (c: ClassQuality) => number): number | null =>
    enough ? present.reduce((s, c) => s + pick(c), 0) / present.length : null;
  return {
    status: enough ? 'ok' : 'insufficient_data',
    labeled_rows: labeled,
    total_rows: totalRows,
    label_coverage: totalRows > 0 ? labeled / totalRows : null,
    accuracy: enough ? correct / labeled : null,
    macro_precision: macro((c) => c.precision),
    macro_recall: macro((c) => c.recall),
    macro_f1: macro((c) => c.f1),
    per_class: perClass,
    confusion_matrix: confusion.map((row) => row.slice()),
  };
}

/**
 * ROC AUC from positive / negative counts per ordered score bin (ascending scores). Rows sharing a
 * bin count as ties (½), which is the exact AUC of the scores rounded to their bins; with 100
 * equal-width bins the difference to the exact AUC is a few thousandths at most (tested). null when
 * either class is absent.
 */
export function rocAucFromHistograms(
  positiveCounts: ArrayLike<number>,
  negativeCounts: ArrayLike<number>,
): number | null {
  if (positiveCounts.length !== negativeCounts.length) {
    throw new InvalidInputError('positive and negative histograms need the same bins');
  }
  let positives = 0;
  let negatives = 0;
  let numerator = 0;
  for (let i = 0; i < positiveCounts.length; i++) {
    const pos = positiveCounts[i];
    const neg = negativeCounts[i];
    if (!(pos >= 0) || !(neg >= 0)) throw new InvalidInputError('counts must be non-negative');
    // Each positive in this bin beats every negative below it and ties with those in it.
    numerator += pos * (negatives + neg / 2);
    positives += pos;
    negatives += neg;
  }
  if (positives === 0 || negatives === 0) return null;
  return numerator / positives / negatives;
}

/**
 * Exact binary ROC AUC from scores and 0/1 labels (ties count ½): the Mann–Whitney U statistic
 * divided by n₊·n₋, equal to sklearn's `roc_auc_score`. null when either class is absent.
 */
export function rocAuc(scores: ArrayLike<number>, labels: ArrayLike<number>): number | null {
  if (scores.length !== labels.length) {
    throw new InvalidInputError('scores and labels must have the same length');
  }
  const order = Array.from({ length: scores.length }, (_, i) => i).sort(
    (a, b) => scores[a] - scores[b],
  );
  const positives: number[] = [];
  const negatives: number[] = [];
  for (let i = 0; i < order.length;) {
    let j = i;
    let pos = 0;
    let neg = 0;
    while (j < order.length && scores[order[j]] === scores[order[i]]) {
      if (labels[order[j]] === 1) pos++;
      else if (labels[order[j]] === 0) neg++;
      else throw new InvalidInputError('binary labels must be 0 or 1');
      j++;
    }
    positives.push(pos);
    negatives.push(neg);
    i = j;
  }
  return rocAucFromHistograms(positives, negatives);
}

export interface MulticlassAuc {
  /** Mean of the per-class one-vs-rest AUCs over the classes that have both positives and negatives. */
  macro: number | null;
  per_class: (number | null)[];
}

/** One-vs-rest macro ROC AUC from per-class histograms (class k: label = k vs label ≠ k). */
export function oneVsRestAucFromHistograms(
  perClass: readonly { positive: ArrayLike<number>; negative: ArrayLike<number> }[],
): MulticlassAuc {
  const aucs = perClass.map((c) => rocAucFromHistograms(c.positive, c.negative));
  const defined = aucs.filter((a): a is number => a !== null);
  return {
    macro: defined.length > 0 ? defined.reduce((s, a) => s + a, 0) / defined.length : null,
    per_class: aucs,
  };
}

/** Exact one-vs-rest macro ROC AUC from probability rows and class labels. */
export function oneVsRestAuc(
  probabilities: readonly ArrayLike<number>[],
  labels: ArrayLike<number>,
  classCount: number,
): MulticlassAuc {
  const aucs: (number | null)[] = [];
  for (let k = 0; k < classCount; k++) {
    const scores = probabilities.map((row) => row[k]);
    const binary = Array.from(labels, (y) => (y === k ? 1 : 0));
    aucs.push(rocAuc(scores, binary));
  }
  const defined = aucs.filter((a): a is number => a !== null);
  return {
    macro: defined.length > 0 ? defined.reduce((s, a) => s + a, 0) / defined.length : null,
    per_class: aucs,
  };
}

/** Probabilities are clipped to [ε, 1 − ε] before the logarithm (sklearn's historical ε). */
export const LOG_LOSS_EPSILON = 1e-15;

/** −ln p of one row's true-class probability, clipped; SQL: -log(greatest(least(p, 1 - 1e-15), 1e-15)). */
export function logLossTerm(probabilityOfTrueClass: number): number {
  const p = Math.min(1 - LOG_LOSS_EPSILON, Math.max(LOG_LOSS_EPSILON, probabilityOfTrueClass));
  return -Math.log(p);
}

/** Mean log loss from the pushed-down sum of `logLossTerm` and the labeled row count. */
export function logLossFromSums(sumOfTerms: number, rows: number): number | null {
  return rows > 0 && Number.isFinite(sumOfTerms) ? sumOfTerms / rows : null;
}

/** Log loss from probability rows (one column per class) and class labels. */
export function logLoss(
  probabilities: readonly ArrayLike<number>[],
  labels: ArrayLike<number>,
): number | null {
  if (probabilities.length !== labels.length) {
    throw new InvalidInputError('probabilities and labels must have the same length');
  }
  let sum = 0;
  for (let i = 0; i < labels.length; i++) sum += logLossTerm(probabilities[i][labels[i]]);
  return logLossFromSums(sum, labels.length);
}

/** One probability bin: rows, Σ predicted probability, Σ outcome (1 = event happened / correct). */
export interface CalibrationBin {
  count: number;
  sum_probability: number;
  sum_outcome: number;
}

export const DEFAULT_CALIBRATION_BINS = 10;

/** Equal-width bin of a probability; SQL: least(toUInt32(p * bins), bins - 1). */
export function calibrationBinIndex(
  probability: number,
  bins: number = DEFAULT_CALIBRATION_BINS,
): number {
  return Math.min(bins - 1, Math.max(0, Math.floor(probability * bins)));
}

export function calibrationBins(
  probabilities: ArrayLike<number>,
  outcomes: ArrayLike<number>,
  bins: number = DEFAULT_CALIBRATION_BINS,
): CalibrationBin[] {
  if (probabilities.length !== outcomes.length) {
    throw new InvalidInputError('probabilities and outcomes must have the same length');
  }
  const out = Array.from({ length: bins }, () => ({
    count: 0,
    sum_probability: 0,
    sum_outcome: 0,
  }));
  for (let i = 0; i < probabilities.length; i++) {
    const b = out[calibrationBinIndex(probabilities[i], bins)];
    b.count++;
    b.sum_probability += probabilities[i];
    b.sum_outcome += outcomes[i];
  }
  return out;
}

/**
 * Expected calibration error Σ_b (n_b / N)·|mean outcome_b − mean probability_b| over equal-width
 * bins. For a binary model pass P(y = 1) and the label; for top-label (multiclass) calibration pass
 * the highest probability and whether the prediction was correct.
 */
export function expectedCalibrationError(bins: readonly CalibrationBin[]): number | null {
  let total = 0;
  for (const b of bins) total += b.count;
  if (total === 0) return null;
  let ece = 0;
  for (const b of bins) {
    if (b.count === 0) continue;
    ece += Math.abs(b.sum_outcome - b.sum_probability) / total;
  }
  return ece;
}

/**
 * Sufficient statistics of a regression window, all plain SQL sums:
 * count(), sum(abs(y - ŷ)), sum((y - ŷ)^2), sum(abs(y - ŷ) / greatest(abs(y), ε)), sum(y), sum(y^2).
 * `sum_squared_target_deviation` (varPop(y) * count()) is optional and avoids the cancellation of
 * Σy² − (Σy)²/n when the target has a large offset.
 */
export interface RegressionSums {
  count: number;
  sum_absolute_error: number;
  sum_squared_error: number;
  sum_absolute_percentage_error: number;
  sum_target: number;
  sum_squared_target: number;
  sum_squared_target_deviation?: number;
}

/** sklearn's MAPE guard: |y| below machine epsilon is replaced by epsilon. */
export const MAPE_EPSILON = 2.220446049250313e-16;

export function regressionSums(
  targets: ArrayLike<number>,
  predictions: ArrayLike<number>,
): RegressionSums {
  if (targets.length !== predictions.length) {
    throw new InvalidInputError('targets and predictions must have the same length');
  }
  const s: RegressionSums = {
    count: 0,
    sum_absolute_error: 0,
    sum_squared_error: 0,
    sum_absolute_percentage_error: 0,
    sum_target: 0,
    sum_squared_target: 0,
  };
  for (let i = 0; i < targets.length; i++) {
    const y = targets[i];
    const e = y - predictions[i];
    s.count++;
    s.sum_absolute_error += Math.abs(e);
    s.sum_squared_error += e * e;
    s.sum_absolute_percentage_error += Math.abs(e) / Math.max(Math.abs(y), MAPE_EPSILON);
    s.sum_target += y;
    s.sum_squared_target += y * y;
  }
  return s;
}

export interface RegressionQuality {
  status: QualityStatus;
  rows: number;
  mae: number | null;
  rmse: number | null;
  mape: number | null;
  /** sklearn's force_finite: a constant target gives 1 for a perfect fit and 0 otherwise. */
  r2: number | null;
}

export function regressionQuality(sums: RegressionSums, minRows = 1): RegressionQuality {
  const n = sums.count;
  if (!(n >= Math.max(1, minRows))) {
    return { status: 'insufficient_data', rows: n, mae: null, rmse: null, mape: null, r2: null };
  }
  const ssTotal =
    sums.sum_squared_target_deviation ??
    Math.max(0, sums.sum_squared_target - (sums.sum_target * sums.sum_target) / n);
  // From raw sums a constant target leaves only rounding noise: treat that as zero variance.
  const constantTarget =
    sums.sum_squared_target_deviation !== undefined
      ? ssTotal === 0
      : ssTotal <= 1e-12 * Math.max(sums.sum_squared_target, Number.MIN_VALUE);
  let r2: number;
  if (constantTarget) r2 = sums.sum_squared_error === 0 ? 1 : 0;
  else r2 = 1 - sums.sum_squared_error / ssTotal;
  return {
    status: 'ok',
    rows: n,
    mae: sums.sum_absolute_error / n,
    rmse: Math.sqrt(sums.sum_squared_error / n),
    mape: sums.sum_absolute_percentage_error / n,
    r2,
  };
}
