import {
  DEFAULT_DRIFT_THRESHOLDS,
  NumericalFeatureProfile,
  binIndex,
  countBins,
  datasetDrift,
  defaultDriftMethod,
  featureDriftFromCounts,
  jensenShannonDistance,
  learnDriftThresholds,
  populationStd,
  profileCategoricalFeature,
  profileNumericalFeature,
  sumNumericalBins,
} from '../../../src/monitoring';

/** Deterministic normal-ish numbers (sum of uniforms) from a small xorshift generator. */
function generator(seed: number): () => number {
  let s = seed >>> 0 || 1;
  const uniform = (): number => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 4294967296;
  };
  return () => {
    let t = 0;
    for (let i = 0; i < 12; i++) t += uniform();
    return t - 6;
  };
}

function sample(n: number, seed: number, shift = 0, scale = 1): number[] {
  const normal = generator(seed);
  return Array.from({ length: n }, () => shift + scale * normal());
}

/** Every number finite, and a JSON round trip changes nothing (NaN / Infinity would become null). */
function expectJsonSafe(value: unknown): void {
  const walk = (v: unknown, path: string): void => {
    if (typeof v === 'number') expect([path, Number.isFinite(v)]).toEqual([path, true]);
    else if (Array.isArray(v)) v.forEach((x, i) => walk(x, `${path}[${i}]`));
    else if (v && typeof v === 'object')
      for (const [k, x] of Object.entries(v)) walk(x, `${path}.${k}`);
  };
  walk(value, '$');
  const text = JSON.stringify(value);
  expect(text).not.toMatch(/NaN|Infinity/);
  expect(JSON.parse(text)).toEqual(value);
}

describe('bin index layout', () => {
  const edges = [0, 1, 2, 5, 5]; // 4 value bins, the top value 5 has its own bin
  it('maps missing, value bins, and both out-of-range bins', () => {
    expect(binIndex(edges, Number.NaN)).toBe(0);
    expect(binIndex(edges, null)).toBe(0);
    expect(binIndex(edges, undefined)).toBe(0);
    expect(binIndex(edges, 0)).toBe(1);
    expect(binIndex(edges, 0.999)).toBe(1);
    expect(binIndex(edges, 1)).toBe(2);
    expect(binIndex(edges, 4.99)).toBe(3);
    expect(binIndex(edges, 5)).toBe(4);
    expect(binIndex(edges, -0.001)).toBe(5);
    expect(binIndex(edges, Number.NEGATIVE_INFINITY)).toBe(5);
    expect(binIndex(edges, 5.001)).toBe(6);
    expect(binIndex(edges, Number.POSITIVE_INFINITY)).toBe(6);
  });

  it('equals the SQL formula 1 + Σ (x ≥ e_j) inside the range, for every value', () => {
    const inner = edges.slice(1, -1);
    for (let x = 0; x <= 5; x += 0.01) {
      const sql = 1 + inner.filter((e) => x >= e).length;
      expect(binIndex(edges, x)).toBe(sql);
    }
  });

  it('a reference without values sends every value out of range', () => {
    expect(binIndex([], 3)).toBe(1);
    expect(binIndex([], Number.NaN)).toBe(0);
  });
});

describe('default method (Evidently rule) and thresholds', () => {
  it('small reference: KS for continuous numerical, chi-square otherwise', () => {
    expect(defaultDriftMethod('numerical', 1000, 6)).toBe('ks');
    expect(defaultDriftMethod('numerical', 1000, 5)).toBe('chi_square');
    expect(defaultDriftMethod('categorical', 10, 50)).toBe('chi_square');
  });
  it('large reference: normed Wasserstein for continuous numerical, Jensen–Shannon otherwise', () => {
    expect(defaultDriftMethod('numerical', 1001, 6)).toBe('wasserstein');
    expect(defaultDriftMethod('numerical', 1001, 5)).toBe('jensen_shannon');
    expect(defaultDriftMethod('categorical', 5000, 3)).toBe('jensen_shannon');
  });
  it('thresholds are distances at 0.1, p-values at 0.05', () => {
    expect(DEFAULT_DRIFT_THRESHOLDS.wasserstein).toBe(0.1);
    expect(DEFAULT_DRIFT_THRESHOLDS.jensen_shannon).toBe(0.1);
    expect(DEFAULT_DRIFT_THRESHOLDS.psi).toBe(0.1);
    expect(DEFAULT_DRIFT_THRESHOLDS.ks).toBe(0.05);
  });
});

describe('feature drift from counts', () => {
  const reference = sample(5000, 1);
  const feature = profileNumericalFeature('x', 0, reference);

  it('same distribution: Wasserstein (large reference) below threshold, no drift', () => {
    const current = sample(2000, 2);
    const result = featureDriftFromCounts(feature, feature.counts, countBins(feature, current));
    expect(result.method).toBe('wasserstein');
    expect(result.status).toBe('ok');
    expect(result.score).toBeLessThan(0.1);
    expect(result.drift).toBe(false);
    expect(result.binned_approximation).toBe(true);
    expect(result.stats.ks_p_value).toBeGreaterThan(0.05);
    expectJsonSafe(result);
  });

  it('shifted distribution drifts on every statistic', () => {
    const current = sample(2000, 3, 0.5);
    const result = featureDriftFromCounts(feature, feature.counts, countBins(feature, current));
    expect(result.drift).toBe(true);
    expect(result.score).toBeGreaterThan(0.3);
    expect(result.stats.psi).toBeGreaterThan(0.1);
    expect(result.stats.jensen_shannon).toBeGreaterThan(0.1);
    expect(result.stats.ks_p_value).toBeLessThan(1e-10);
    expectJsonSafe(result);
  });

  it('method and threshold can be overridden per feature', () => {
    const current = sample(2000, 3, 0.1);
    const counts = countBins(feature, current);
    const js = featureDriftFromCounts(feature, feature.counts, counts, {
      method: 'jensen_shannon',
    });
    expect(js.method).toBe('jensen_shannon');
    expect(js.score).toBe(js.stats.jensen_shannon);
    expect(js.threshold_source).toBe('default');
    const strict = featureDriftFromCounts(feature, feature.counts, counts, {
      method: 'psi',
      threshold: 0.001,
    });
    expect(strict.threshold).toBe(0.001);
    expect(strict.threshold_source).toBe('configured');
    expect(strict.drift).toBe(true);
  });

  it('KS and Wasserstein are refused for categorical features', () => {
    const cat = profileCategoricalFeature('c', 0, ['a', 'b', 'a']);
    expect(() => featureDriftFromCounts(cat, cat.counts, cat.counts, { method: 'ks' })).toThrow(
      /numerical/,
    );
  });

  it('histograms of the wrong size are refused', () => {
    expect(() => featureDriftFromCounts(feature, feature.counts, [1, 2, 3])).toThrow(/bins/);
  });
});

describe('insufficient data never produces NaN', () => {
  const feature = profileNumericalFeature('x', 0, sample(500, 4));

  it.each([
    ['an empty window', 0],
    ['one row', 1],
    ['29 rows (below the default 30)', 29],
  ])('%s → insufficient_data with explicit nulls', (_name, rows) => {
    const current = sample(rows, 5);
    const result = featureDriftFromCounts(feature, feature.counts, countBins(feature, current));
    expect(result.status).toBe('insufficient_data');
    expect(result.score).toBeNull();
    expect(result.drift).toBe(false);
    for (const key of [
      'ks_statistic',
      'ks_p_value',
      'wasserstein_normed',
      'psi',
      'jensen_shannon',
      'hellinger',
      'chi2_statistic',
      'chi2_p_value',
    ] as const) {
      expect([key, result.stats[key]]).toEqual([key, null]);
    }
    expect(result.stats.missing_share_current).toBe(rows === 0 ? null : 0);
    expectJsonSafe(result);
    const report = datasetDrift([result]);
    expect(report.status).toBe('insufficient_data');
    expect(report.drift_share).toBeNull();
    expect(report.dataset_drift).toBe(false);
    expectJsonSafe(report);
  });

  it('min rows is configurable', () => {
    const current = sample(5, 6);
    const result = featureDriftFromCounts(feature, feature.counts, countBins(feature, current), {
      minRows: 5,
    });
    expect(result.status).toBe('ok');
    expect(typeof result.score).toBe('number');
  });
});

describe('edge cases of the reference', () => {
  it('constant feature: a changed value drifts (new value, not folded away), same value does not', () => {
    const feature = profileNumericalFeature('c', 0, new Array<number>(2000).fill(5));
    expect(feature.edges).toEqual([5, 5]);
    expect(feature.std).toBe(0);
    const same = featureDriftFromCounts(
      feature,
      feature.counts,
      countBins(feature, new Array(100).fill(5)),
    );
    expect(same.method).toBe('jensen_shannon');
    expect(same.score).toBe(0);
    expect(same.drift).toBe(false);
    const changed = featureDriftFromCounts(
      feature,
      feature.counts,
      countBins(feature, new Array(100).fill(7)),
      {
        binSums: {
          reference: feature.sums,
          current: sumNumericalBins(feature.edges, new Array(100).fill(7)),
        },
      },
    );
    expect(changed.drift).toBe(true);
    expect(changed.score).toBeCloseTo(Math.sqrt(Math.log(2)), 12);
    expect(changed.stats.out_of_range_share_current).toBe(1);
    expect(changed.signals.find((s) => s.signal === 'out_of_range_share')?.drift).toBe(true);
    // Bin sums make the binned Wasserstein exact here: |7 − 5| / max(std = 0, 0.001).
    expect(changed.stats.wasserstein_normed).toBeCloseTo(2000, 9);
    expectJsonSafe(changed);
  });

  it('all-missing reference: insufficient data, missing share reported', () => {
    const feature = profileNumericalFeature('m', 0, new Array<number>(100).fill(Number.NaN));
    expect(feature.edges).toEqual([]);
    expect(feature.min).toBeNull();
    expect(feature.counts).toEqual([100, 0, 0]);
    const result = featureDriftFromCounts(
      feature,
      feature.counts,
      countBins(feature, sample(100, 7)),
    );
    expect(result.status).toBe('insufficient_data');
    expect(result.stats.missing_share_reference).toBe(1);
    expect(result.stats.missing_share_current).toBe(0);
    const missing = result.signals.find((s) => s.signal === 'missing_share');
    expect(missing).toMatchObject({ status: 'ok', drift: true, reference: 1, current: 0 });
    expectJsonSafe(result);
  });

  it('all-missing window: distribution insufficient, missing-share signal drifts', () => {
    const feature = profileNumericalFeature('x', 0, sample(300, 8));
    const window = new Array<number>(200).fill(Number.NaN);
    const result = featureDriftFromCounts(feature, feature.counts, countBins(feature, window));
    expect(result.status).toBe('insufficient_data');
    expect(result.signals[0]).toMatchObject({ signal: 'missing_share', current: 1, drift: true });
    expectJsonSafe(result);
  });

  it('a jump in missing values is a signal of its own', () => {
    const ref = sample(1000, 9).map((v, i) => (i % 50 === 0 ? Number.NaN : v));
    const feature = profileNumericalFeature('x', 0, ref);
    const cur = sample(1000, 10).map((v, i) => (i % 4 === 0 ? Number.NaN : v));
    const result = featureDriftFromCounts(feature, feature.counts, countBins(feature, cur));
    expect(result.stats.missing_share_reference).toBeCloseTo(0.02, 12);
    expect(result.stats.missing_share_current).toBeCloseTo(0.25, 12);
    expect(result.signals[0]).toMatchObject({
      signal: 'missing_share',
      drift: true,
      threshold: 0.1,
    });
    // The distribution of the values that are present did not change.
    expect(result.drift).toBe(false);
  });

  it('unseen categories: their share is a signal and chi-square stays finite', () => {
    const ref = Array.from({ length: 600 }, (_, i) => ['a', 'b', 'c'][i % 3]);
    const feature = profileCategoricalFeature('c', 0, ref);
    const cur = Array.from({ length: 300 }, (_, i) =>
      i % 5 === 0 ? 'zzz' : ['a', 'b', 'c'][i % 3],
    );
    const result = featureDriftFromCounts(feature, feature.counts, countBins(feature, cur));
    expect(result.method).toBe('chi_square');
    expect(result.stats.unseen_share_current).toBeCloseTo(0.2, 12);
    expect(result.signals[1]).toMatchObject({ signal: 'unseen_share', drift: true });
    expect(result.stats.chi2_p_value).toBeLessThan(1e-10);
    expect(Number.isFinite(result.stats.chi2_statistic)).toBe(true);
    expect(result.drift).toBe(true);
    // Evidently's goodness-of-fit form would be infinite; here it skips the unseen bin.
    const gof = featureDriftFromCounts(feature, feature.counts, countBins(feature, cur), {
      chiSquare: 'goodness_of_fit',
    });
    expect(Number.isFinite(gof.stats.chi2_statistic)).toBe(true);
    expectJsonSafe(gof);
  });

  it('NaN and empty values in categorical data are missing, not categories', () => {
    const feature = profileCategoricalFeature('c', 0, ['a', null, '', 'b', 'a']);
    expect(feature.categories).toEqual(['a', 'b']);
    expect(feature.counts).toEqual([2, 2, 1, 0]);
    expect(feature.missing_share).toBeCloseTo(0.4, 12);
  });
});

describe('learned thresholds (NannyML: mean ± 3σ over reference chunks)', () => {
  const reference = sample(3000, 11);
  const feature = profileNumericalFeature('x', 0, reference);
  const chunks = Array.from({ length: 10 }, (_, c) =>
    countBins(feature, reference.slice(c * 300, (c + 1) * 300)),
  );
  const learned = learnDriftThresholds(feature, feature.counts, chunks);

  it('learns a band for every applicable method', () => {
    const wasserstein = learned.wasserstein;
    expect(wasserstein).toBeDefined();
    if (!wasserstein) return;
    expect(wasserstein.chunks).toBe(10);
    expect(wasserstein.chunk_size).toBe(300);
    expect(wasserstein.upper).toBeCloseTo(wasserstein.mean + 3 * wasserstein.std, 12);
    expect(wasserstein.warning).toBeNull();
    expect(Object.keys(learned).sort()).toEqual(
      ['chi_square', 'hellinger', 'jensen_shannon', 'kl', 'ks', 'psi', 'wasserstein'].sort(),
    );
  });

  it('judges a window of chunk size with the learned band', () => {
    const threshold = learned.wasserstein;
    if (!threshold) throw new Error('no learned threshold');
    const quiet = featureDriftFromCounts(
      feature,
      feature.counts,
      countBins(feature, sample(300, 12)),
      {
        threshold,
      },
    );
    expect(quiet.threshold_source).toBe('learned');
    expect(quiet.threshold).toBe(threshold.upper);
    expect(quiet.drift).toBe(false);
    const shifted = featureDriftFromCounts(
      feature,
      feature.counts,
      countBins(feature, sample(300, 13, 0.4)),
      { threshold },
    );
    expect(shifted.drift).toBe(true);
  });

  it('warns below six chunks and refuses a band learned for another method', () => {
    const few = learnDriftThresholds(feature, feature.counts, chunks.slice(0, 4));
    expect(few.psi?.warning).toMatch(/6/);
    const psi = few.psi;
    if (!psi) throw new Error('no learned threshold');
    expect(() =>
      featureDriftFromCounts(feature, feature.counts, chunks[0], { method: 'ks', threshold: psi }),
    ).toThrow(/learned threshold/);
  });
});

describe('dataset drift', () => {
  const features = (count: number): NumericalFeatureProfile[] =>
    Array.from({ length: count }, (_, i) =>
      profileNumericalFeature(`f${i}`, i, sample(400, 20 + i)),
    );

  it('drifts when at least half of the evaluated features drift', () => {
    const results = features(4).map((f, i) =>
      featureDriftFromCounts(f, f.counts, countBins(f, sample(400, 40 + i, i < 2 ? 1 : 0))),
    );
    const report = datasetDrift(results);
    expect(report.drifted_features).toBe(2);
    expect(report.evaluated_features).toBe(4);
    expect(report.drift_share).toBe(0.5);
    expect(report.dataset_drift).toBe(true);
    const fewer = datasetDrift(results.slice(1));
    expect(fewer.drift_share).toBeCloseTo(1 / 3, 12);
    expect(fewer.dataset_drift).toBe(false);
    expectJsonSafe(report);
  });

  it('insufficient features do not count in the share', () => {
    const [a, b] = features(2);
    const drifted = featureDriftFromCounts(a, a.counts, countBins(a, sample(400, 60, 1)));
    const empty = featureDriftFromCounts(b, b.counts, countBins(b, []));
    const report = datasetDrift([drifted, empty]);
    expect(report.evaluated_features).toBe(1);
    expect(report.drift_share).toBe(1);
    expect(report.dataset_drift).toBe(true);
  });
});

describe('Jensen–Shannon base', () => {
  it('natural log by default; base 2 divides the divergence by ln 2', () => {
    const p = [1, 0];
    const q = [0, 1];
    expect(jensenShannonDistance(p, q)).toBeCloseTo(Math.sqrt(Math.log(2)), 14);
    expect(jensenShannonDistance(p, q, 2)).toBeCloseTo(1, 14);
  });

  it('population std helper is the numpy definition', () => {
    expect(populationStd([1, 2, 3, 4])).toBeCloseTo(Math.sqrt(1.25), 14);
  });
});

describe('window against window', () => {
  it('compares two windows in the reference layout, even when the reference had no values', () => {
    const empty = profileNumericalFeature('e', 0, [Number.NaN, Number.NaN]);
    const a = countBins(empty, sample(100, 70));
    const b = countBins(empty, sample(100, 71, 2));
    const result = featureDriftFromCounts(empty, a, b);
    expect(result.status).toBe('insufficient_data');
    expect(result.signals[1]).toMatchObject({
      signal: 'out_of_range_share',
      reference: 1,
      current: 1,
    });
    const feature = profileNumericalFeature('x', 0, sample(2000, 72));
    const earlier = countBins(feature, sample(500, 73));
    const later = countBins(feature, sample(500, 74, 1));
    const drift = featureDriftFromCounts(feature, earlier, later);
    expect(drift.reference_rows).toBe(500);
    expect(drift.method).toBe('ks');
    expect(drift.drift).toBe(true);
  });
});
