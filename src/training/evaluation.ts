import { InvalidInputError } from '../common/errors';
import type { Dataset } from './trainers/dataset';
import { datasetRows } from './trainers/dataset';
import type { DenseModel } from './trainers/dense-model';
import { abs, isFiniteNumber, log, max, sqrt } from './trainers/math';

/**
 * Held-out metrics and the evaluation gate. Pure functions: the gate compares numbers a caller
 * computed on the same held-out rows for the candidate and the champion.
 */

export interface ClassificationMetrics {
  task: 'classification';
  rows: number;
  /** Share of rows whose arg-max class is the true class, in [0, 1]. */
  accuracy: number;
  /** Unweighted mean of per-class F1 over the classes present in truth or predictions. */
  macroF1: number;
  /** Mean −ln p(true class), with p clipped below at 1e-15. */
  logLoss: number;
  /** Inference time per row, when the caller measured it. */
  latencyPerRowMs?: number;
}

export interface RegressionMetrics {
  task: 'regression';
  rows: number;
  rmse: number;
  mae: number;
  /** Coefficient of determination; 1 is perfect, 0 is no better than predicting the mean. */
  r2: number;
  latencyPerRowMs?: number;
}

export type EvaluationMetrics = ClassificationMetrics | RegressionMetrics;

const LOG_LOSS_FLOOR = 1e-15;

/**
 * Metrics of class probabilities (row-major rows × classCount) against true class indices. The
 * predicted class is the first arg-max, like the exported graph's ArgMax.
 */
export function classificationMetrics(
  probabilities: ArrayLike<number>,
  classCount: number,
  labels: ArrayLike<number>,
): ClassificationMetrics {
  const rows = labels.length;
  if (rows === 0) throw new InvalidInputError('cannot evaluate on zero rows');
  if (probabilities.length !== rows * classCount) {
    throw new InvalidInputError(
      `${probabilities.length} probabilities for ${rows} rows × ${classCount} classes`,
    );
  }
  const truePositives = new Float64Array(classCount);
  const predictedCount = new Float64Array(classCount);
  const actualCount = new Float64Array(classCount);
  let correct = 0;
  let logLossSum = 0;
  for (let i = 0; i < rows; i++) {
    const label = labels[i];
    if (!Number.isInteger(label) || label < 0 || label >= classCount) {
      throw new InvalidInputError(`row ${i} has label ${label}, outside 0..${classCount - 1}`);
    }
    const start = i * classCount;
    let predicted = 0;
    for (let j = 1; j < classCount; j++) {
      if (probabilities[start + j] > probabilities[start + predicted]) predicted = j;
    }
    predictedCount[predicted]++;
    actualCount[label]++;
    if (predicted === label) {
      correct++;
      truePositives[label]++;
    }
    logLossSum -= log(max(probabilities[start + label], LOG_LOSS_FLOOR));
  }
  let f1Sum = 0;
  let classesSeen = 0;
  for (let c = 0; c < classCount; c++) {
    if (actualCount[c] === 0 && predictedCount[c] === 0) continue;
    classesSeen++;
    // F1 = 2·TP / (2·TP + FP + FN) = 2·TP / (predicted + actual); 0 when the class was never hit.
    f1Sum += (2 * truePositives[c]) / (predictedCount[c] + actualCount[c]);
  }
  return {
    task: 'classification',
    rows,
    accuracy: correct / rows,
    macroF1: classesSeen > 0 ? f1Sum / classesSeen : 0,
    logLoss: logLossSum / rows,
  };
}

/** Metrics of predicted values against targets (both flat; all outputs pooled). */
export function regressionMetrics(
  predictions: ArrayLike<number>,
  targets: ArrayLike<number>,
): RegressionMetrics {
  const n = targets.length;
  if (n === 0) throw new InvalidInputError('cannot evaluate on zero rows');
  if (predictions.length !== n) {
    throw new InvalidInputError(`${predictions.length} predictions for ${n} targets`);
  }
  let squared = 0;
  let absolute = 0;
  let mean = 0;
  for (let i = 0; i < n; i++) mean += targets[i];
  mean /= n;
  let total = 0;
  for (let i = 0; i < n; i++) {
    const error = predictions[i] - targets[i];
    squared += error * error;
    absolute += abs(error);
    const spread = targets[i] - mean;
    total += spread * spread;
  }
  // Constant targets: R² is 1 for a perfect fit, else 0 (scikit-learn's finite convention).
  const r2 = total > 0 ? 1 - squared / total : squared === 0 ? 1 : 0;
  return { task: 'regression', rows: n, rmse: sqrt(squared / n), mae: absolute / n, r2 };
}

/** Runs a trained model over a held-out data set and scores it. */
export function evaluateModel(model: DenseModel, dataset: Dataset): EvaluationMetrics {
  const rows = datasetRows(dataset);
  if (dataset.featureCount !== model.featureCount) {
    throw new InvalidInputError(
      `the model takes ${model.featureCount} features, the data set has ${dataset.featureCount}`,
    );
  }
  const output = model.predict(dataset.features, rows);
  if (dataset.task === 'classification') {
    return classificationMetrics(output, dataset.classCount, dataset.labels);
  }
  return regressionMetrics(output, dataset.targets);
}

// ---------------------------------------------------------------------------------------------
// Evaluation gate

export type GateMetric = 'accuracy' | 'macroF1' | 'logLoss' | 'rmse' | 'mae' | 'r2';

const HIGHER_IS_BETTER: Record<GateMetric, boolean> = {
  accuracy: true,
  macroF1: true,
  r2: true,
  logLoss: false,
  rmse: false,
  mae: false,
};

export interface GateRule {
  /** The primary metric the verdict is about. */
  metric: GateMetric;
  /**
   * How much worse than the champion the candidate may be. `absolute`: in the metric's own
   * units (accuracy 0.005 = 0.5 percentage points). `relative`: as a fraction of the champion's
   * value (0.005 = 0.5 %), for metrics with units such as RMSE.
   */
  maxRegression: number;
  mode: 'absolute' | 'relative';
  /**
   * Optional latency guard: fail when the candidate's latencyPerRowMs exceeds the champion's by
   * more than this factor. Ignored when either side has no latency.
   */
  maxLatencyRatio?: number | null;
}

/** "Not worse than the champion by more than 0.5 points of accuracy." */
export const DEFAULT_CLASSIFICATION_GATE_RULE: Readonly<GateRule> = Object.freeze({
  metric: 'accuracy',
  maxRegression: 0.005,
  mode: 'absolute',
});

/** RMSE has units, so "0.5 points" becomes 0.5 % of the champion's RMSE. */
export const DEFAULT_REGRESSION_GATE_RULE: Readonly<GateRule> = Object.freeze({
  metric: 'rmse',
  maxRegression: 0.005,
  mode: 'relative',
});

export function defaultGateRule(task: EvaluationMetrics['task']): GateRule {
  return {
    ...(task === 'classification'
      ? DEFAULT_CLASSIFICATION_GATE_RULE
      : DEFAULT_REGRESSION_GATE_RULE),
  };
}

export interface GateVerdict {
  passed: boolean;
  metric: GateMetric;
  higherIsBetter: boolean;
  candidate: number;
  champion: number | null;
  /** How much worse the candidate is, in metric units (negative: it is better). */
  regression: number | null;
  /** The largest regression the rule allows, in metric units. */
  allowedRegression: number | null;
  reason: string;
}

function metricValue(metrics: EvaluationMetrics, metric: GateMetric): number {
  if (metrics.task === 'classification') {
    if (metric === 'accuracy') return metrics.accuracy;
    if (metric === 'macroF1') return metrics.macroF1;
    if (metric === 'logLoss') return metrics.logLoss;
  } else {
    if (metric === 'rmse') return metrics.rmse;
    if (metric === 'mae') return metrics.mae;
    if (metric === 'r2') return metrics.r2;
  }
  throw new InvalidInputError(`metric '${metric}' does not apply to a ${metrics.task} model`);
}

function format(value: number): string {
  return isFiniteNumber(value) ? String(Number(value.toPrecision(6))) : String(value);
}

/**
 * Decides whether a candidate may be registered as a promotable version. With no champion the
 * candidate passes (there is nothing to regress from); a candidate whose metric is not a finite
 * number fails. Both sides must have been measured on the same held-out rows — the gate cannot
 * check that, the caller must.
 */
export function gateVerdict(
  candidate: EvaluationMetrics,
  champion: EvaluationMetrics | null,
  rule: Partial<GateRule> = {},
): GateVerdict {
  const resolved: GateRule = { ...defaultGateRule(candidate.task), ...rule };
  const { metric, maxRegression, mode } = resolved;
  if (!(metric in HIGHER_IS_BETTER)) {
    throw new InvalidInputError(`unknown gate metric '${String(metric)}'`);
  }
  if (!(isFiniteNumber(maxRegression) && maxRegression >= 0)) {
    throw new InvalidInputError('gate maxRegression must be a finite number >= 0');
  }
  if (mode !== 'absolute' && mode !== 'relative') {
    throw new InvalidInputError(
      `gate mode must be 'absolute' or 'relative', got '${String(mode)}'`,
    );
  }
  if (champion && champion.task !== candidate.task) {
    throw new InvalidInputError(
      `cannot compare a ${candidate.task} candidate with a ${champion.task} champion`,
    );
  }
  const higherIsBetter = HIGHER_IS_BETTER[metric];
  const candidateValue = metricValue(candidate, metric);
  const base = { metric, higherIsBetter, candidate: candidateValue };
  if (!isFiniteNumber(candidateValue)) {
    return {
      ...base,
      passed: false,
      champion: champion ? metricValue(champion, metric) : null,
      regression: null,
      allowedRegression: null,
      reason: `candidate ${metric} is ${candidateValue}, not a finite number`,
    };
  }
  if (!champion) {
    return {
      ...base,
      passed: true,
      champion: null,
      regression: null,
      allowedRegression: null,
      reason: `no champion to compare with; candidate ${metric} ${format(candidateValue)}`,
    };
  }
  const championValue = metricValue(champion, metric);
  const regression = higherIsBetter
    ? championValue - candidateValue
    : candidateValue - championValue;
  const allowedRegression =
    mode === 'absolute' ? maxRegression : abs(championValue) * maxRegression;
  const tolerance = mode === 'absolute' ? `${maxRegression}` : `${maxRegression * 100}%`;
  // A tiny epsilon so that "exactly at the limit" passes despite floating-point subtraction.
  let passed = regression <= allowedRegression + 1e-12;
  let reason = passed
    ? `candidate ${metric} ${format(candidateValue)} vs champion ${format(championValue)}: within the allowed regression of ${tolerance}`
    : `candidate ${metric} ${format(candidateValue)} is worse than champion ${format(championValue)} by ${format(regression)}, more than the allowed ${tolerance}`;
  const ratio = resolved.maxLatencyRatio;
  if (
    passed &&
    ratio !== undefined &&
    ratio !== null &&
    candidate.latencyPerRowMs !== undefined &&
    champion.latencyPerRowMs !== undefined &&
    candidate.latencyPerRowMs > champion.latencyPerRowMs * ratio
  ) {
    passed = false;
    reason = `candidate latency ${format(candidate.latencyPerRowMs)} ms/row exceeds ${ratio}× the champion's ${format(champion.latencyPerRowMs)} ms/row`;
  }
  return {
    ...base,
    passed,
    champion: championValue,
    regression,
    allowedRegression,
    reason,
  };
}
