import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { InvalidInputError } from '../../../src/common/errors';
import {
  ClassificationMetrics,
  classificationMetrics,
  gateVerdict,
  RegressionMetrics,
  regressionMetrics,
} from '../../../src/training';

interface Fixture {
  classification: {
    classCount: number;
    probabilities: number[];
    labels: number[];
    expected: { accuracy: number; macroF1: number; logLoss: number };
  }[];
  regression: {
    predictions: number[];
    targets: number[];
    expected: { rmse: number; mae: number; r2: number };
  }[];
}

// Reference values from numpy: fixtures/make_metrics_fixture.py.
const fixture = JSON.parse(
  readFileSync(path.join(__dirname, 'fixtures/metrics-fixture.json'), 'utf8'),
) as Fixture;

describe('held-out metrics match independent reference values', () => {
  it.each(fixture.classification.map((c, i) => [i, c] as const))(
    'classification case %i (incl. a class never seen, zero probabilities)',
    (_, c) => {
      const metrics = classificationMetrics(
        Float32Array.from(c.probabilities),
        c.classCount,
        Int32Array.from(c.labels),
      );
      expect(metrics.rows).toBe(c.labels.length);
      expect(metrics.accuracy).toBeCloseTo(c.expected.accuracy, 12);
      expect(metrics.macroF1).toBeCloseTo(c.expected.macroF1, 12);
      expect(metrics.logLoss).toBeCloseTo(c.expected.logLoss, 9);
    },
  );

  it('regression', () => {
    const c = fixture.regression[0];
    const metrics = regressionMetrics(c.predictions, c.targets);
    expect(metrics.rmse).toBeCloseTo(c.expected.rmse, 10);
    expect(metrics.mae).toBeCloseTo(c.expected.mae, 10);
    expect(metrics.r2).toBeCloseTo(c.expected.r2, 10);
  });

  it('refuses mismatched sizes and empty input', () => {
    expect(() => classificationMetrics([0.5, 0.5], 2, [0, 1])).toThrow(InvalidInputError);
    expect(() => classificationMetrics([], 2, [])).toThrow(/zero rows/);
    expect(() => regressionMetrics([1], [1, 2])).toThrow(InvalidInputError);
  });
});

const classifier = (accuracy: number, extra: Partial<ClassificationMetrics> = {}) =>
  ({
    task: 'classification',
    rows: 2000,
    accuracy,
    macroF1: accuracy,
    logLoss: 0.2,
    ...extra,
  }) as const;
const regressor = (rmse: number): RegressionMetrics => ({
  task: 'regression',
  rows: 500,
  rmse,
  mae: rmse * 0.8,
  r2: 0.9,
});

describe('evaluation gate', () => {
  it('passes a first model: there is no champion to regress from', () => {
    const verdict = gateVerdict(classifier(0.8), null);
    expect(verdict.passed).toBe(true);
    expect(verdict.champion).toBeNull();
  });

  it('default rule: accuracy may drop by at most 0.5 points', () => {
    expect(gateVerdict(classifier(0.97), classifier(0.96)).passed).toBe(true); // better
    expect(gateVerdict(classifier(0.955), classifier(0.96)).passed).toBe(true); // exactly 0.5
    const worse = gateVerdict(classifier(0.954), classifier(0.96));
    expect(worse.passed).toBe(false);
    expect(worse.metric).toBe('accuracy');
    expect(worse.regression).toBeCloseTo(0.006, 10);
    expect(worse.allowedRegression).toBe(0.005);
    expect(worse.reason).toMatch(/worse than champion/);
  });

  it('lower-is-better metrics: log loss and RMSE (relative by default)', () => {
    const rule = { metric: 'logLoss', maxRegression: 0.01, mode: 'absolute' } as const;
    expect(gateVerdict(classifier(0.9, { logLoss: 0.205 }), classifier(0.9), rule).passed).toBe(
      true,
    );
    expect(gateVerdict(classifier(0.9, { logLoss: 0.215 }), classifier(0.9), rule).passed).toBe(
      false,
    );
    // RMSE 10 → 10.04 is 0.4 % worse: allowed; 10.06 is 0.6 %: refused.
    expect(gateVerdict(regressor(10.04), regressor(10)).passed).toBe(true);
    const refused = gateVerdict(regressor(10.06), regressor(10));
    expect(refused.passed).toBe(false);
    expect(refused.allowedRegression).toBeCloseTo(0.05, 12);
  });

  it('a configured rule: macro F1 with a wider tolerance', () => {
    const rule = { metric: 'macroF1', maxRegression: 0.02 } as const;
    expect(gateVerdict(classifier(0.9), classifier(0.915), rule).passed).toBe(true);
    expect(gateVerdict(classifier(0.9), classifier(0.93), rule).passed).toBe(false);
  });

  it('an optional latency guard', () => {
    const rule = { maxLatencyRatio: 1.5 };
    const champion = classifier(0.9, { latencyPerRowMs: 0.1 });
    expect(gateVerdict(classifier(0.92, { latencyPerRowMs: 0.14 }), champion, rule).passed).toBe(
      true,
    );
    const slow = gateVerdict(classifier(0.92, { latencyPerRowMs: 0.2 }), champion, rule);
    expect(slow.passed).toBe(false);
    expect(slow.reason).toMatch(/latency/);
  });

  it('fails a candidate whose metric is not a number', () => {
    expect(gateVerdict(classifier(Number.NaN), classifier(0.9)).passed).toBe(false);
  });

  it('refuses comparisons that make no sense', () => {
    expect(() => gateVerdict(classifier(0.9), regressor(1))).toThrow(InvalidInputError);
    expect(() => gateVerdict(regressor(1), regressor(1), { metric: 'accuracy' })).toThrow(
      /does not apply/,
    );
    expect(() => gateVerdict(classifier(0.9), classifier(0.9), { maxRegression: -1 })).toThrow(
      /maxRegression/,
    );
  });
});
