import {
  CbpeModel,
  CbpeSegmentSums,
  IDENTITY_CALIBRATOR,
  calibrate,
  calibratedProbabilities,
  calibratorSegment,
  cbpeSumsFromRows,
  cbpeSumsFromSegments,
  chooseCalibration,
  emptyCbpeSums,
  estimateCbpe,
  fitCbpe,
  fitIsotonicCalibrator,
  isotonicRegression,
} from '../../../src/monitoring';

function generator(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 4294967296;
  };
}

/**
 * Binary rows whose true P(y = 1) is p, but whose model reports the over-confident score
 * p² / (p² + (1 − p)²). `hardness` pulls p towards 0.5 (a covariate shift, no concept drift).
 */
function binaryWindow(
  n: number,
  seed: number,
  hardness = 0,
): { scores: number[][]; labels: number[] } {
  const u = generator(seed);
  const scores: number[][] = [];
  const labels: number[] = [];
  for (let i = 0; i < n; i++) {
    const p = 0.5 + (u() - 0.5) * (1 - hardness);
    const s = (p * p) / (p * p + (1 - p) * (1 - p));
    scores.push([1 - s, s]);
    labels.push(u() < p ? 1 : 0);
  }
  return { scores, labels };
}

function realizedAccuracy(scores: number[][], labels: number[]): number {
  let correct = 0;
  scores.forEach((row, i) => {
    if ((row[1] > row[0] ? 1 : 0) === labels[i]) correct++;
  });
  return correct / labels.length;
}

function expectJsonSafe(value: unknown): void {
  const text = JSON.stringify(value);
  expect(text).not.toMatch(/NaN|Infinity/);
  expect(JSON.parse(text)).toEqual(value);
}

const UNCALIBRATED_BINARY: CbpeModel = {
  version: 1,
  class_count: 2,
  calibrators: [IDENTITY_CALIBRATOR, IDENTITY_CALIBRATOR],
  calibration: [],
  reference: { rows: 0, chunk_size: 0, chunks: 0, metrics: {} },
};

describe('CBPE expected confusion matrix', () => {
  it('binary: TP += p̂ and FP += 1 − p̂ when ŷ = 1, FN += p̂ and TN += 1 − p̂ when ŷ = 0', () => {
    const p = [0.9, 0.8, 0.3, 0.1, 0.6];
    const sums = cbpeSumsFromRows(
      UNCALIBRATED_BINARY,
      p.map((x) => [1 - x, x]),
    );
    const estimate = estimateCbpe(UNCALIBRATED_BINARY, sums, 1);
    const { tp, fp, fn, tn } = estimate.expected_confusion[1];
    expect(tp).toBeCloseTo(2.3, 12);
    expect(fp).toBeCloseTo(0.7, 12);
    expect(fn).toBeCloseTo(0.4, 12);
    expect(tn).toBeCloseTo(1.6, 12);
    expect(estimate.metrics.accuracy?.value).toBeCloseTo(3.9 / 5, 12);
    expect(estimate.metrics.precision?.value).toBeCloseTo(2.3 / 3, 12);
    expect(estimate.metrics.recall?.value).toBeCloseTo(2.3 / 2.7, 12);
    expect(estimate.metrics.f1?.value).toBeCloseTo(2.3 / (2.3 + 0.55), 12);
    // Without reference chunks there is no band and no alert, but no NaN either.
    expect(estimate.metrics.accuracy?.sampling_error).toBeNull();
    expect(estimate.metrics.accuracy?.alert).toBe(false);
    expectJsonSafe(estimate);
  });

  it('an empty or tiny window is insufficient data', () => {
    const empty = estimateCbpe(UNCALIBRATED_BINARY, emptyCbpeSums(2));
    expect(empty).toEqual({
      status: 'insufficient_data',
      rows: 0,
      metrics: {},
      expected_confusion: [],
    });
    const tiny = estimateCbpe(
      UNCALIBRATED_BINARY,
      cbpeSumsFromRows(UNCALIBRATED_BINARY, [[0.2, 0.8]]),
    );
    expect(tiny.status).toBe('insufficient_data');
    expectJsonSafe(tiny);
  });
});

describe('isotonic calibration (PAV)', () => {
  it('pools adjacent violators into their weighted mean', () => {
    expect(Array.from(isotonicRegression([1, 3, 2, 4]))).toEqual([1, 2.5, 2.5, 4]);
    expect(Array.from(isotonicRegression([3, 2, 1], [1, 1, 2]))).toEqual([1.75, 1.75, 1.75]);
  });

  it('is a monotone piecewise-linear map, clipped at both ends', () => {
    const c = fitIsotonicCalibrator([0.1, 0.2, 0.3, 0.4], [0, 1, 0, 1]);
    expect(c.knots).toEqual([0.1, 0.2, 0.3, 0.4]);
    expect(c.values).toEqual([0, 0.5, 0.5, 1]);
    expect(calibrate(c, 0)).toBe(0);
    expect(calibrate(c, 0.15)).toBeCloseTo(0.25, 14);
    expect(calibrate(c, 0.9)).toBe(1);
    expect(calibratorSegment(c, 0.05)).toBe(0);
    expect(calibratorSegment(c, 0.2)).toBe(2);
    expect(calibratorSegment(c, 0.95)).toBe(4);
  });

  it('thins to at most maxKnots, still monotone', () => {
    const u = generator(5);
    const scores = Array.from({ length: 3000 }, () => u());
    const outcomes = scores.map((s) => (u() < s ? 1 : 0));
    const c = fitIsotonicCalibrator(scores, outcomes, 16);
    expect(c.knots.length).toBeLessThanOrEqual(16);
    for (let i = 1; i < c.values.length; i++)
      expect(c.values[i]).toBeGreaterThanOrEqual(c.values[i - 1]);
  });
});

describe('when to calibrate (NannyML rule)', () => {
  it('calibrates over-confident scores because it lowers ECE out of fold', () => {
    const { scores, labels } = binaryWindow(3000, 1);
    const choice = chooseCalibration(
      scores.map((s) => s[1]),
      labels,
    );
    expect(choice.applied).toBe(true);
    expect(choice.reason).toBe('lower_ece_in_cross_validation');
    expect(choice.ece_calibrated_cross_validated ?? 1).toBeLessThan(choice.ece_uncalibrated ?? 0);
  });

  it('skips a single class and an AUROC above 0.999', () => {
    expect(chooseCalibration([0.2, 0.7, 0.9], [1, 1, 1]).reason).toBe('single_class');
    const separable = Array.from({ length: 200 }, (_, i) => i / 200);
    const perfect = chooseCalibration(
      separable,
      separable.map((s) => (s > 0.5 ? 1 : 0)),
    );
    expect(perfect.reason).toBe('auroc_above_0.999');
    expect(perfect.applied).toBe(false);
    expect(perfect.calibrator).toEqual(IDENTITY_CALIBRATOR);
  });
});

describe('CBPE on a labeled reference, estimated on unlabeled windows', () => {
  const reference = binaryWindow(5000, 2);
  const model = fitCbpe(reference.scores, reference.labels);

  it('fits a calibrator and the reference chunk spread', () => {
    expect(model.calibration[1].applied).toBe(true);
    expect(model.reference.chunks).toBe(10);
    expect(model.reference.chunk_size).toBe(500);
    expect(model.reference.metrics.accuracy?.std).toBeGreaterThan(0);
    expectJsonSafe(model);
  });

  it('estimates the realized accuracy within its band; the raw scores would not', () => {
    const window = binaryWindow(2000, 3);
    const estimate = estimateCbpe(model, cbpeSumsFromRows(model, window.scores));
    const realized = realizedAccuracy(window.scores, window.labels);
    const accuracy = estimate.metrics.accuracy;
    if (!accuracy) throw new Error('no accuracy estimate');
    expect(Math.abs(accuracy.value - realized)).toBeLessThan(3 * (accuracy.sampling_error ?? 0));
    expect(accuracy.lower ?? 1).toBeLessThanOrEqual(accuracy.value);
    expect(accuracy.upper ?? 0).toBeGreaterThanOrEqual(accuracy.value);
    expect(accuracy.alert).toBe(false);
    const naive = estimateCbpe(
      UNCALIBRATED_BINARY,
      cbpeSumsFromRows(UNCALIBRATED_BINARY, window.scores),
    );
    expect(Math.abs((naive.metrics.accuracy?.value ?? 0) - realized)).toBeGreaterThan(
      Math.abs(accuracy.value - realized),
    );
    expectJsonSafe(estimate);
  });

  it('sees a performance drop before labels arrive (covariate shift) and alerts', () => {
    const harder = binaryWindow(2000, 4, 0.6);
    const estimate = estimateCbpe(model, cbpeSumsFromRows(model, harder.scores));
    const realized = realizedAccuracy(harder.scores, harder.labels);
    const accuracy = estimate.metrics.accuracy;
    if (!accuracy) throw new Error('no accuracy estimate');
    expect(realized).toBeLessThan((model.reference.metrics.accuracy?.mean ?? 1) - 0.1);
    expect(Math.abs(accuracy.value - realized)).toBeLessThan(0.03);
    expect(accuracy.alert).toBe(true);
  });

  it('pushed-down segment sums give exactly the row-level estimate', () => {
    const window = binaryWindow(1500, 5);
    const fromRows = cbpeSumsFromRows(model, window.scores);
    const groups = new Map<string, CbpeSegmentSums>();
    window.scores.forEach((row) => {
      const predicted = row[1] > row[0] ? 1 : 0;
      const segment = calibratorSegment(model.calibrators[1], row[1]);
      const key = `${predicted}:${segment}`;
      const g = groups.get(key) ?? {
        predicted_class: predicted,
        class_index: 1,
        segment,
        count: 0,
        sum_score: 0,
      };
      g.count++;
      g.sum_score += row[1];
      groups.set(key, g);
    });
    const rowsPerClass = [0, 1].map(
      (c) => window.scores.filter((r) => (r[1] > r[0] ? 1 : 0) === c).length,
    );
    const fromSegments = cbpeSumsFromSegments(model, rowsPerClass, [...groups.values()]);
    for (let c = 0; c < 2; c++) {
      for (let k = 0; k < 2; k++) {
        expect(fromSegments.calibrated_sums[c][k]).toBeCloseTo(fromRows.calibrated_sums[c][k], 9);
      }
    }
    expect(estimateCbpe(model, fromSegments).metrics.f1?.value).toBeCloseTo(
      estimateCbpe(model, fromRows).metrics.f1?.value ?? Number.NaN,
      12,
    );
  });
});

describe('multiclass CBPE (one-vs-rest, macro)', () => {
  function multiclassWindow(n: number, seed: number): { scores: number[][]; labels: number[] } {
    const u = generator(seed);
    const scores: number[][] = [];
    const labels: number[] = [];
    for (let i = 0; i < n; i++) {
      const raw = [u() + 0.05, u() + 0.05, u() + 0.05];
      const total = raw[0] + raw[1] + raw[2];
      const p = raw.map((r) => r / total);
      const r = u();
      labels.push(r < p[0] ? 0 : r < p[0] + p[1] ? 1 : 2);
      // Over-confident model output: squared and renormalised.
      const sq = p.map((x) => x * x);
      const s = sq[0] + sq[1] + sq[2];
      scores.push(sq.map((x) => x / s));
    }
    return { scores, labels };
  }

  it('calibrates each class and estimates accuracy and macro F1 of a new window', () => {
    const reference = multiclassWindow(6000, 6);
    const model = fitCbpe(reference.scores, reference.labels);
    expect(model.class_count).toBe(3);
    expect(model.calibration.every((c) => c.applied)).toBe(true);
    const window = multiclassWindow(3000, 7);
    const estimate = estimateCbpe(model, cbpeSumsFromRows(model, window.scores));
    const predicted = window.scores.map((row) => row.indexOf(Math.max(...row)));
    const realized =
      predicted.filter((p, i) => p === window.labels[i]).length / window.labels.length;
    expect(Math.abs((estimate.metrics.accuracy?.value ?? 0) - realized)).toBeLessThan(0.03);
    expect(estimate.expected_confusion).toHaveLength(3);
    const p = calibratedProbabilities(model, window.scores[0]);
    expect(p).toHaveLength(3);
    expectJsonSafe(estimate);
  });

  it('rejects labels outside the classes', () => {
    expect(() => fitCbpe([[0.5, 0.5]], [2])).toThrow(/outside/);
  });
});
