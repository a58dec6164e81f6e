import {
  BINNED_KS_MAX_EXACT_WORK,
  calibrationBinIndex,
  chiSquareContingency,
  chiSquareGoodnessOfFit,
  classificationQuality,
  confusionMatrix,
  expectedCalibrationError,
  fillEmptyProportions,
  hellingerDistance,
  jensenShannonDistance,
  klDivergence,
  ksFromBinnedCounts,
  ksTwoSample,
  ksTwoSamplePValue,
  logLossFromSums,
  logLossTerm,
  oneVsRestAucFromHistograms,
  populationStabilityIndex,
  regressionQuality,
  regressionSums,
  wassersteinDistance,
  wassersteinFromBinnedCounts,
} from '../../../src/monitoring';

describe('raw-sample tests refuse what scipy refuses, and handle what it cannot', () => {
  it('empty samples (after dropping NaN) are an error, not NaN', () => {
    expect(() => ksTwoSample([], [1])).toThrow(/non-empty/);
    expect(() => ksTwoSample([Number.NaN], [1])).toThrow(/non-empty/);
    expect(() => wassersteinDistance([1, 2], [])).toThrow(/non-empty/);
  });

  it('one value each', () => {
    expect(ksTwoSample([1], [2])).toEqual({ statistic: 1, pValue: 1, mode: 'exact' });
    expect(ksTwoSample([1], [1])).toEqual({ statistic: 0, pValue: 1, mode: 'exact' });
    expect(wassersteinDistance([1], [4])).toBe(3);
  });

  it('the exact-mode work budget switches binned KS to the asymptotic mode', () => {
    const exact = ksTwoSamplePValue(0.5, 10000, 9999);
    expect(exact.mode).toBe('exact');
    const capped = ksTwoSamplePValue(0.5, 10000, 9999, BINNED_KS_MAX_EXACT_WORK);
    expect(capped.mode).toBe('asymptotic');
    expect(capped.pValue).toBeLessThan(1e-100);
    // Cheap exact cases stay exact from bins too.
    expect(ksFromBinnedCounts([10, 20, 30], [30, 20, 10]).mode).toBe('exact');
  });

  it('binned inputs must line up', () => {
    expect(() => ksFromBinnedCounts([1, 2], [1])).toThrow(/same bins/);
    expect(() => ksFromBinnedCounts([0, 0], [1, 1])).toThrow(/non-empty/);
    expect(() => wassersteinFromBinnedCounts([{ lower: 0, upper: 1 }], [1, 2], [1, 2])).toThrow(
      /same length/,
    );
  });
});

describe('histogram distances', () => {
  it('identical histograms are at distance 0, whatever the scale of the counts', () => {
    const p = [1, 2, 3, 0];
    const q = [10, 20, 30, 0];
    expect(populationStabilityIndex(p, q)).toBeCloseTo(0, 14);
    expect(klDivergence(p, q)).toBeCloseTo(0, 14);
    expect(jensenShannonDistance(p, q)).toBeCloseTo(0, 7);
    expect(hellingerDistance(p, q)).toBeCloseTo(0, 7);
  });

  it('zero fill follows Evidently (1e-4, or min-nonzero/1e6 when min ≤ 1e-4)', () => {
    expect(Array.from(fillEmptyProportions([0.5, 0.5, 0]))).toEqual([0.5, 0.5, 0.0001]);
    expect(Array.from(fillEmptyProportions([0.99995, 0.00005, 0]))).toEqual([
      0.99995, 0.00005, 5e-11,
    ]);
  });

  it('refuses empty or negative histograms', () => {
    expect(() => populationStabilityIndex([0, 0], [1, 1])).toThrow(/positive total/);
    expect(() => hellingerDistance([1, -1], [1, 1])).toThrow(/non-negative/);
    expect(() => jensenShannonDistance([1, 2], [1])).toThrow(/same bins/);
  });
});

describe('chi-square corner cases', () => {
  it('one informative category: statistic 0, p-value 1 (scipy: zero degrees of freedom)', () => {
    expect(chiSquareContingency([5, 0], [7, 0])).toEqual({
      statistic: 0,
      pValue: 1,
      degreesOfFreedom: 0,
    });
    expect(chiSquareGoodnessOfFit([3], [3])).toEqual({
      statistic: 0,
      pValue: 1,
      degreesOfFreedom: 0,
    });
  });

  it('goodness of fit against an expected 0 is infinite with p = 0, as in scipy', () => {
    const r = chiSquareGoodnessOfFit([5, 5], [10, 0]);
    expect(r.statistic).toBe(Number.POSITIVE_INFINITY);
    expect(r.pValue).toBe(0);
  });
});

describe('quality corner cases', () => {
  it('no labeled rows: insufficient data, coverage 0, no NaN', () => {
    const q = classificationQuality(
      [
        [0, 0],
        [0, 0],
      ],
      { totalRows: 50 },
    );
    expect(q.status).toBe('insufficient_data');
    expect(q.accuracy).toBeNull();
    expect(q.macro_f1).toBeNull();
    expect(q.label_coverage).toBe(0);
    expect(JSON.stringify(q)).not.toMatch(/NaN/);
    const none = classificationQuality([[0]]);
    expect(none.label_coverage).toBeNull();
  });

  it('label coverage beside the figures; undefined ratios are 0 like sklearn zero_division=0', () => {
    const q = classificationQuality(
      [
        [8, 0],
        [2, 0],
      ],
      { totalRows: 40 },
    );
    expect(q.label_coverage).toBe(0.25);
    expect(q.accuracy).toBe(0.8);
    expect(q.per_class[1]).toMatchObject({
      precision: 0,
      recall: 0,
      f1: 0,
      support: 2,
      predicted: 0,
    });
    expect(() => classificationQuality([[1, 2]])).toThrow(/square/);
    expect(() => classificationQuality([[5]], { totalRows: 2 })).toThrow(/total_rows/);
    expect(() => confusionMatrix([0, 3], [0, 1], 2)).toThrow(/class indexes/);
  });

  it('one-vs-rest macro AUC skips classes without positives or negatives', () => {
    const auc = oneVsRestAucFromHistograms([
      { positive: [0, 5], negative: [5, 0] },
      { positive: [0, 0], negative: [5, 5] },
    ]);
    expect(auc.per_class).toEqual([1, null]);
    expect(auc.macro).toBe(1);
  });

  it('log loss clips probabilities; empty windows give null', () => {
    expect(logLossTerm(0)).toBeCloseTo(-Math.log(1e-15), 10);
    expect(logLossTerm(1)).toBeCloseTo(-Math.log(1 - 1e-15), 20);
    expect(logLossFromSums(0, 0)).toBeNull();
    expect(expectedCalibrationError([])).toBeNull();
    expect(calibrationBinIndex(1)).toBe(9);
    expect(calibrationBinIndex(0)).toBe(0);
    expect(calibrationBinIndex(0.1)).toBe(1);
  });

  it('regression: constant targets follow sklearn force_finite; empty windows are insufficient', () => {
    expect(regressionQuality(regressionSums([3, 3, 3], [3, 3, 3])).r2).toBe(1);
    expect(regressionQuality(regressionSums([3, 3, 3], [2, 3, 4])).r2).toBe(0);
    const empty = regressionQuality(regressionSums([], []));
    expect(empty).toEqual({
      status: 'insufficient_data',
      rows: 0,
      mae: null,
      rmse: null,
      mape: null,
      r2: null,
    });
    // A large offset cancels in Σy² − (Σy)²/n; the pushed-down variance avoids it.
    const sums = regressionSums([1e9 + 1, 1e9 + 2, 1e9 + 3], [1e9 + 1, 1e9 + 2, 1e9 + 4]);
    const exact = regressionQuality({ ...sums, sum_squared_target_deviation: 2 });
    expect(exact.r2).toBeCloseTo(0.5, 12);
    expect(regressionSums([0], [1]).sum_absolute_percentage_error).toBeCloseTo(
      1 / 2.220446049250313e-16,
      0,
    );
  });
});
