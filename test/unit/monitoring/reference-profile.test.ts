import {
  NumericalFeatureProfile,
  REFERENCE_PROFILE_VERSION,
  ReferenceProfile,
  buildReferenceProfile,
  featureWindow,
  featureWindowDrift,
  inferFeatureType,
  mean,
  outputDrift,
  populationStd,
  profileDrift,
  profileNumericalFeature,
  quantileOfSorted,
  reconstructionDrift,
  reconstructionError,
  summaryFeatureValues,
} from '../../../src/monitoring';

function generator(seed: number): { uniform: () => number; normal: () => number } {
  let s = seed >>> 0 || 1;
  const uniform = (): number => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 4294967296;
  };
  const normal = (): number => {
    let t = 0;
    for (let i = 0; i < 12; i++) t += uniform();
    return t - 6;
  };
  return { uniform, normal };
}

function expectJsonSafe(value: unknown): void {
  const text = JSON.stringify(value);
  expect(text).not.toMatch(/NaN|Infinity/);
  expect(JSON.parse(text)).toEqual(value);
}

/** Tabular rows: x ~ N(0,1), y ~ N(10, 2) with 5% missing, flag ∈ {0,1}, code ∈ {0..3}. */
function tabular(n: number, seed: number, shift = 0): number[][] {
  const g = generator(seed);
  return Array.from({ length: n }, (_, i) => [
    g.normal() + shift,
    i % 20 === 3 ? Number.NaN : 10 + 2 * g.normal(),
    g.uniform() < 0.3 + shift / 4 ? 1 : 0,
    Math.floor(g.uniform() * 4),
  ]);
}

const NAMES = ['x', 'y', 'flag', 'code'];

describe('numerical feature profile', () => {
  const g = generator(1);
  const values = Array.from({ length: 1000 }, (_, i) => (i % 10 === 0 ? Number.NaN : g.normal()));
  const profile = profileNumericalFeature('x', 0, values);
  const finite = values.filter((v) => !Number.isNaN(v)).sort((a, b) => a - b);

  it('summarises the reference', () => {
    expect(profile.count).toBe(1000);
    expect(profile.missing_count).toBe(100);
    expect(profile.missing_share).toBe(0.1);
    expect(profile.min).toBe(finite[0]);
    expect(profile.max).toBe(finite[finite.length - 1]);
    expect(profile.mean).toBeCloseTo(mean(finite), 12);
    expect(profile.std).toBeCloseTo(populationStd(finite), 12);
    expect(profile.distinct_count).toBe(900);
  });

  it('fixes 10 quantile bins from the reference, with missing and out-of-range bins', () => {
    expect(profile.binning).toBe('quantile');
    expect(profile.edges).toHaveLength(11);
    const sorted = Float64Array.from(finite);
    for (let j = 1; j < 10; j++) expect(profile.edges[j]).toBe(quantileOfSorted(sorted, j / 10));
    expect(profile.counts).toHaveLength(13);
    expect(profile.counts[0]).toBe(100);
    expect(profile.counts.slice(1, 11).every((c) => c === 90)).toBe(true);
    expect(profile.counts[11]).toBe(0);
    expect(profile.counts[12]).toBe(0);
    expect(profile.sums.reduce((a, b) => a + b, 0)).toBeCloseTo(
      finite.reduce((a, b) => a + b, 0),
      9,
    );
  });

  it('bins are configurable from 2 to 20', () => {
    expect(profileNumericalFeature('x', 0, values, { bins: 2 }).edges).toHaveLength(3);
    expect(profileNumericalFeature('x', 0, values, { bins: 20 }).edges).toHaveLength(21);
    expect(() => profileNumericalFeature('x', 0, values, { bins: 1 })).toThrow(/2 to 20/);
    expect(() => profileNumericalFeature('x', 0, values, { bins: 21 })).toThrow(/2 to 20/);
  });

  it('low-cardinality and tied features get one bin per distinct value', () => {
    const codes = profileNumericalFeature('code', 0, [3, 1, 1, 2, 3, 3, 1]);
    expect(codes.binning).toBe('distinct');
    expect(codes.edges).toEqual([1, 2, 3, 3]);
    expect(codes.counts).toEqual([0, 3, 1, 3, 0, 0]);
    // Heavy ties: quantiles repeat, edges are deduplicated and no bin is empty by construction.
    const tied = profileNumericalFeature(
      't',
      0,
      Array.from({ length: 200 }, (_, i) => (i < 150 ? 0 : i)),
    );
    expect(tied.binning).toBe('quantile');
    for (let j = 1; j < tied.edges.length - 1; j++)
      expect(tied.edges[j]).toBeGreaterThan(tied.edges[j - 1]);
    expect(tied.counts.slice(1, tied.edges.length).every((c) => c > 0)).toBe(true);
  });
});

describe('feature type rule', () => {
  it('non-numeric strings → categorical; ≤ 5 distinct numbers → categorical; else numerical', () => {
    expect(inferFeatureType(['a', 1, 2])).toBe('categorical');
    expect(inferFeatureType([0, 1, 1, 0, Number.NaN])).toBe('categorical');
    expect(inferFeatureType([1, 2, 3, 4, 5, 5])).toBe('categorical');
    expect(inferFeatureType([1, 2, 3, 4, 5, 6])).toBe('numerical');
    expect(inferFeatureType([Number.NaN, null, ''])).toBe('numerical');
  });
});

describe('reference profile of a tabular sample', () => {
  const rows = tabular(2000, 2);
  const g = generator(3);
  const scores = rows.map(() => {
    const p = g.uniform();
    return [1 - p, p];
  });
  const labels = scores.map((s) => (g.uniform() < s[1] ? 1 : 0));
  const profile = buildReferenceProfile(
    {
      rows,
      featureNames: NAMES,
      featureTypes: { code: 'numerical' },
      outputs: { task: 'classification', classNames: ['no', 'yes'], scores, labels },
    },
    { bins: 10 },
  );

  it('is versioned, JSON-serialisable and free of NaN', () => {
    expect(profile.version).toBe(REFERENCE_PROFILE_VERSION);
    expect(profile.source).toBe('reference_sample');
    expect(profile.rows).toBe(2000);
    expect(profile.wide).toBe(false);
    expectJsonSafe(profile);
  });

  it('types the features by the rule unless declared', () => {
    expect(profile.features.map((f) => [f.name, f.type])).toEqual([
      ['x', 'numerical'],
      ['y', 'numerical'],
      ['flag', 'categorical'],
      ['code', 'numerical'],
    ]);
    const code = profile.features[3] as NumericalFeatureProfile;
    expect(code.binning).toBe('distinct');
    const y = profile.features[1];
    expect(y.missing_share).toBeCloseTo(0.05, 12);
  });

  it('records class priors, label priors and per-class score histograms', () => {
    const outputs = profile.outputs;
    expect(outputs?.task).toBe('classification');
    const predicted = scores.map((s) => (s[1] > s[0] ? 1 : 0));
    const share1 = predicted.filter((p) => p === 1).length / predicted.length;
    expect(outputs?.class_priors?.[1]).toBeCloseTo(share1, 12);
    expect(outputs?.class_priors?.[0]).toBeCloseTo(1 - share1, 12);
    const labelShare = labels.filter((l) => l === 1).length / labels.length;
    expect(outputs?.label_priors?.[1]).toBeCloseTo(labelShare, 12);
    expect(outputs?.scores.map((s) => s.name)).toEqual(['score[no]', 'score[yes]']);
    expect(outputs?.scores[1].edges).toHaveLength(11);
  });

  it('learns per-feature thresholds from 10 reference chunks', () => {
    const x = profile.features[0];
    expect(x.learned_thresholds?.chunks).toBe(10);
    expect(x.learned_thresholds?.chunk_size).toBe(200);
    expect(x.learned_thresholds?.methods.wasserstein?.upper).toBeGreaterThan(0);
  });

  it('a window from the same population does not drift; a shifted one does', () => {
    const windowOf = (r: number[][]): Record<string, ReturnType<typeof featureWindow>> =>
      Object.fromEntries(
        profile.features.map((f) => [
          f.name,
          featureWindow(
            f,
            r.map((row) => row[f.column]),
          ),
        ]),
      );
    const quiet = profileDrift(profile, windowOf(tabular(1000, 4)));
    expect(quiet.status).toBe('ok');
    expect(quiet.dataset_drift).toBe(false);
    expect(quiet.features.map((f) => f.drift)).toEqual([false, false, false, false]);
    const shifted = profileDrift(profile, windowOf(tabular(1000, 5, 0.8)));
    expect(shifted.features.find((f) => f.name === 'x')?.drift).toBe(true);
    expect(shifted.features.find((f) => f.name === 'flag')?.drift).toBe(true);
    expect(shifted.dataset_drift).toBe(true);
    expectJsonSafe(shifted);
    // With learned thresholds each feature is judged by its reference chunk band instead.
    const learned = profileDrift(profile, windowOf(tabular(200, 6)), {
      useLearnedThresholds: true,
    });
    expect(learned.features[0].threshold_source).toBe('learned');
  });

  it('refuses a window without a histogram for a monitored feature', () => {
    expect(() => profileDrift(profile, {})).toThrow(/missing for feature 'x'/);
  });

  it('prediction and label drift come from the output profiles', () => {
    const outputs = profile.outputs;
    if (!outputs?.prediction) throw new Error('no prediction profile');
    const skewed = Array.from({ length: 500 }, (_, i) => (i % 10 === 0 ? 0 : 1));
    const drift = outputDrift(profile, { prediction: featureWindow(outputs.prediction, skewed) });
    expect(drift).toHaveLength(1);
    expect(drift[0].name).toBe('prediction');
    expect(drift[0].drift).toBe(true);
  });

  it('regression outputs are profiled as numerical predictions and targets', () => {
    const regression = buildReferenceProfile({
      rows: rows.slice(0, 300),
      featureNames: NAMES,
      outputs: {
        task: 'regression',
        values: rows.slice(0, 300).map((r) => r[0] * 2),
        targets: rows.slice(0, 300).map((r) => r[0] * 2 + 0.1),
      },
    });
    expect(regression.outputs?.prediction?.type).toBe('numerical');
    expect(regression.outputs?.label?.type).toBe('numerical');
    expect(regression.outputs?.class_priors).toBeNull();
  });

  it('rejects inconsistent samples', () => {
    expect(() => buildReferenceProfile({ rows: [[1, 2], [3]] })).toThrow(/2 values/);
    expect(() => buildReferenceProfile({ rows: [[1, 2]], featureNames: ['a', 'a'] })).toThrow(
      /unique/,
    );
    expect(() =>
      buildReferenceProfile({
        rows: [[1, 2]],
        featureNames: ['a', 'b'],
        featureTypes: { c: 'numerical' },
      }),
    ).toThrow(/unknown feature/);
    expect(() =>
      buildReferenceProfile({
        rows: [[1, 2]],
        outputs: {
          task: 'classification',
          scores: [
            [0.5, 0.5],
            [0.2, 0.8],
          ],
        },
      }),
    ).toThrow(/2 rows/);
  });
});

describe('edge-case references', () => {
  it('empty reference: a valid profile whose windows report insufficient data', () => {
    const profile = buildReferenceProfile({ rows: [], featureNames: ['a'] });
    expect(profile.features[0].count).toBe(0);
    expect(profile.features[0].missing_share).toBeNull();
    const drift = featureWindowDrift(
      profile.features[0],
      featureWindow(profile.features[0], [1, 2, 3]),
    );
    expect(drift.status).toBe('insufficient_data');
    expectJsonSafe(profile);
    expectJsonSafe(drift);
  });

  it('one row, a constant column and an all-missing column', () => {
    const profile = buildReferenceProfile(
      { rows: [[1, 5, Number.NaN]], featureNames: ['one', 'constant', 'missing'] },
      { learnThresholds: true },
    );
    expect(profile.features.map((f) => f.type)).toEqual([
      'categorical',
      'categorical',
      'numerical',
    ]);
    const missing = profile.features[2] as NumericalFeatureProfile;
    expect(missing.missing_share).toBe(1);
    expect(missing.edges).toEqual([]);
    expect(missing.std).toBeNull();
    expect(missing.learned_thresholds).toBeNull();
    expectJsonSafe(profile);
  });
});

/** Wide rows: 100 "pixels" driven by 4 latent factors, a third of them always zero. */
function wideRows(n: number, seed: number, structure = 1): number[][] {
  const g = generator(seed);
  const gl = generator(1234);
  const loadings = Array.from({ length: 4 }, () =>
    Array.from({ length: 100 }, () => gl.uniform() - 0.5),
  );
  return Array.from({ length: n }, () => {
    const z = Array.from({ length: 4 }, () => g.normal());
    return Array.from({ length: 100 }, (_, j) => {
      if (j % 3 === 0) return 0;
      let s = 0;
      for (let l = 0; l < 4; l++) s += z[l] * loadings[l][j] * structure;
      return s + (structure === 1 ? 0.2 : 1) * g.normal();
    });
  });
}

describe('wide inputs (> 64 columns): summary features and PCA reconstruction error', () => {
  const rows = wideRows(1200, 7);
  let profile: ReferenceProfile;
  beforeAll(() => {
    profile = buildReferenceProfile({ rows });
  });

  it('replaces per-feature profiles with four summary features and a PCA basis', () => {
    expect(profile.wide).toBe(true);
    expect(profile.features).toEqual([]);
    expect(profile.summary_features.map((f) => f.name)).toEqual([
      '__row_mean',
      '__row_std',
      '__row_zero_fraction',
      '__row_max',
    ]);
    const pca = profile.multivariate?.pca;
    expect(pca?.variance_kept).toBeGreaterThan(0.65);
    expect(pca?.components.length).toBeLessThanOrEqual(4);
    // Orthonormal axes.
    const axes = pca?.components ?? [];
    for (let a = 0; a < axes.length; a++) {
      for (let b = 0; b < axes.length; b++) {
        const dot = axes[a].reduce((s, v, j) => s + v * axes[b][j], 0);
        expect(dot).toBeCloseTo(a === b ? 1 : 0, 9);
      }
    }
    expect(profile.multivariate?.chunk_mean?.chunks).toBe(10);
    expectJsonSafe(profile);
  });

  it('summary features of a row', () => {
    expect(summaryFeatureValues([0, 2, 0, 4])).toEqual([1.5, Math.sqrt(2.75), 0.5, 4]);
    expect(summaryFeatureValues([Number.NaN, 2])).toEqual([2, 0, 0, 2]);
    expect(summaryFeatureValues([]).every((v) => Number.isNaN(v))).toBe(true);
  });

  it('flags a window whose structure changed, not one from the same population', () => {
    const model = profile.multivariate?.pca;
    if (!model) throw new Error('no PCA');
    const errorsOf = (r: number[][]): { rows: number; sum_error: number } => ({
      rows: r.length,
      sum_error: r.reduce((s, row) => s + reconstructionError(model, row), 0),
    });
    const same = reconstructionDrift(profile, errorsOf(wideRows(400, 8)));
    expect(same.status).toBe('ok');
    expect(same.drift).toBe(false);
    const broken = reconstructionDrift(profile, errorsOf(wideRows(400, 9, 0.2)));
    expect(broken.drift).toBe(true);
    expect(broken.mean_error).toBeGreaterThan(broken.upper ?? Number.POSITIVE_INFINITY);
    const tiny = reconstructionDrift(profile, errorsOf(wideRows(3, 10)));
    expect(tiny.status).toBe('insufficient_data');
    expect(tiny.drift).toBe(false);
    expectJsonSafe([same, broken, tiny]);
  });

  it('summary-feature drift runs through the same engine', () => {
    const window = Object.fromEntries(
      profile.summary_features.map((f, s) => [
        f.name,
        featureWindow(
          f,
          wideRows(500, 11).map((row) => summaryFeatureValues(row)[s]),
        ),
      ]),
    );
    const report = profileDrift(profile, window);
    expect(report.features).toHaveLength(4);
    expect(report.status).toBe('ok');
    expect(report.dataset_drift).toBe(false);
  });
});
