/**
 * Golden tests: every expected number here was produced by numpy / scipy
 * (scripts/fixtures/gen_stats_fixtures.py → test/fixtures/stats/*.json).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { compareCsvFiles } from '../../../src/monitoring';
import {
  calibrate,
  calibrationBins,
  chiSquareContingency,
  classificationQuality,
  confusionMatrix,
  expectedCalibrationError,
  fitIsotonicCalibrator,
  fitPca,
  logLoss,
  oneVsRestAuc,
  reconstructionError,
  regressionQuality,
  regressionSums,
  rocAuc,
  chiSquareGoodnessOfFitToReference,
  chiSquareSf,
  hellingerDistance,
  jensenShannonDistance,
  klDivergence,
  kolmogorovSf,
  kolmogorovSmirnovSf,
  ksTwoSample,
  logGamma,
  normedWassersteinDistance,
  populationStabilityIndex,
  populationStd,
  quantileOfSorted,
  regularizedGammaP,
  regularizedGammaQ,
  smirnovSf,
  wassersteinDistance,
} from '../../../src/monitoring/stats';

const FIXTURES = join(__dirname, '..', '..', 'fixtures', 'stats');

function fixture<T>(name: string): T {
  return JSON.parse(readFileSync(join(FIXTURES, name), 'utf8')) as T;
}

/**
 * The fixture script's portable generator: an LCG mod 2^32 and exact IEEE arithmetic only, so
 * Python and JavaScript produce bit-identical samples (checked through each case's checksum).
 */
class PortableRandom {
  private state: number;
  constructor(seed: number) {
    this.state = seed % 4294967296;
  }
  uniform(): number {
    this.state = (1664525 * this.state + 1013904223) % 4294967296;
    return this.state / 4294967296;
  }
  normal(): number {
    let s = 0;
    for (let i = 0; i < 12; i++) s += this.uniform();
    return s - 6;
  }
}

interface SampleSpec {
  kind: 'normal' | 'uniform' | 'skewed' | 'ties' | 'integers' | 'constant';
  loc?: number;
  scale?: number;
  levels?: number;
  missing_every?: number;
}

function draw(spec: SampleSpec, n: number, rng: PortableRandom): number[] {
  const loc = spec.loc ?? 0;
  const scale = spec.scale ?? 1;
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    let v: number;
    switch (spec.kind) {
      case 'normal':
        v = loc + scale * rng.normal();
        break;
      case 'uniform':
        v = loc + scale * rng.uniform();
        break;
      case 'skewed': {
        const a = rng.uniform();
        const b = rng.uniform();
        v = loc + scale * (a * b);
        break;
      }
      case 'ties':
        v = loc + scale * (Math.floor(rng.normal() * 2) / 2);
        break;
      case 'integers':
        v = loc + scale * Math.floor(rng.uniform() * (spec.levels ?? 4));
        break;
      case 'constant':
        v = loc;
        break;
    }
    if (spec.missing_every && i % spec.missing_every === 0) v = Number.NaN;
    out.push(v);
  }
  return out;
}

function checksum(values: number[]): number {
  let s = 0;
  for (const v of values) if (!Number.isNaN(v)) s += v;
  return s;
}

function expectRelative(actual: number, expected: number, tolerance: number): void {
  expect(Math.abs(actual - expected)).toBeLessThanOrEqual(
    tolerance * Math.max(1, Math.abs(expected)),
  );
}

interface GeneratedCase {
  name: string;
  seed: number;
  reference: SampleSpec & { n: number };
  current: SampleSpec & { n: number };
  checksum_reference: number;
  checksum_current: number;
  ks_statistic: number;
  ks_p_value: number;
  ks_mode: 'exact' | 'asymptotic';
  wasserstein: number;
  wasserstein_normed: number;
  reference_std: number;
}

interface LiteralCase {
  name: string;
  reference: (number | null)[];
  current: (number | null)[];
  ks_statistic: number;
  ks_p_value: number;
  wasserstein: number;
  wasserstein_normed: number;
}

const samples = fixture<{ generated: GeneratedCase[]; literal: LiteralCase[] }>('samples.json');

describe('KS and Wasserstein on raw samples match scipy', () => {
  it.each(samples.generated.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const rng = new PortableRandom(c.seed);
    const reference = draw(c.reference, c.reference.n, rng);
    const current = draw(c.current, c.current.n, rng);
    expect(checksum(reference)).toBe(c.checksum_reference);
    expect(checksum(current)).toBe(c.checksum_current);

    const ks = ksTwoSample(reference, current);
    expect(ks.statistic).toBe(c.ks_statistic);
    expect(ks.mode).toBe(c.ks_mode);
    expect(Math.abs(ks.pValue - c.ks_p_value)).toBeLessThanOrEqual(1e-6);
    // Beyond the contract: relative agreement where the p-value is tiny.
    expect(Math.abs(ks.pValue - c.ks_p_value)).toBeLessThanOrEqual(1e-9 * c.ks_p_value + 1e-12);

    expectRelative(wassersteinDistance(reference, current), c.wasserstein, 1e-9);
    expectRelative(normedWassersteinDistance(reference, current), c.wasserstein_normed, 1e-9);
    expectRelative(
      populationStd(reference.filter((v) => !Number.isNaN(v))),
      c.reference_std,
      1e-12,
    );
  });

  it.each(samples.literal.map((c) => [c.name, c] as const))('%s (literal)', (_name, c) => {
    const reference = c.reference.map((v) => v ?? Number.NaN);
    const current = c.current.map((v) => v ?? Number.NaN);
    const ks = ksTwoSample(reference, current);
    expect(ks.statistic).toBe(c.ks_statistic);
    expect(Math.abs(ks.pValue - c.ks_p_value)).toBeLessThanOrEqual(1e-12);
    expectRelative(wassersteinDistance(reference, current), c.wasserstein, 1e-12);
    expectRelative(normedWassersteinDistance(reference, current), c.wasserstein_normed, 1e-12);
  });
});

interface SpecialFixture {
  gamma_q: { a: number; x: number; q: number; p: number }[];
  log_gamma: { x: number; value: number }[];
  chi2_sf: { df: number; x: number; sf: number }[];
  kolmogorov_sf: { x: number; sf: number }[];
  smirnov_sf: { n: number; x: number; sf: number }[];
  kstwo_sf: { n: number; x: number; sf: number }[];
}

const special = fixture<SpecialFixture>('special.json');

describe('special functions match scipy', () => {
  it('log-gamma', () => {
    for (const c of special.log_gamma) expectRelative(logGamma(c.x), c.value, 1e-13);
  });

  it('regularized incomplete gamma P and Q', () => {
    for (const c of special.gamma_q) {
      expect(Math.abs(regularizedGammaQ(c.a, c.x) - c.q)).toBeLessThanOrEqual(1e-12);
      expect(Math.abs(regularizedGammaP(c.a, c.x) - c.p)).toBeLessThanOrEqual(1e-12);
      if (c.q > 1e-300) expectRelative(regularizedGammaQ(c.a, c.x) / c.q, 1, 1e-9);
    }
  });

  it('chi-square survival function', () => {
    for (const c of special.chi2_sf) {
      expect(Math.abs(chiSquareSf(c.x, c.df) - c.sf)).toBeLessThanOrEqual(1e-12);
    }
  });

  it('limiting Kolmogorov distribution (scipy.special.kolmogorov)', () => {
    for (const c of special.kolmogorov_sf) {
      expect(Math.abs(kolmogorovSf(c.x) - c.sf)).toBeLessThanOrEqual(1e-14);
    }
  });

  it('one-sided Smirnov distribution (scipy.special.smirnov)', () => {
    for (const c of special.smirnov_sf) {
      expect([c.n, c.x, Math.abs(smirnovSf(c.n, c.x) - c.sf) <= 1e-10]).toEqual([c.n, c.x, true]);
    }
  });

  it('finite-n two-sided KS distribution (scipy.stats.kstwo.sf), every algorithm branch', () => {
    for (const c of special.kstwo_sf) {
      const actual = kolmogorovSmirnovSf(c.n, c.x);
      expect([c.n, c.x, Math.abs(actual - c.sf) <= 1e-10]).toEqual([c.n, c.x, true]);
    }
  });
});

interface HistogramCase {
  name: string;
  reference: number[];
  current: number[];
  psi: number;
  kl: number;
  jensen_shannon: number;
  jensen_shannon_base2: number;
  hellinger: number;
  chi2_contingency?: { statistic: number; p_value: number; dof: number };
  chi2_goodness_of_fit?: { statistic: number; p_value: number };
}

const histograms = fixture<{ cases: HistogramCase[] }>('histograms.json');

describe('histogram distances and chi-square tests match scipy / Evidently', () => {
  it.each(histograms.cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    expectRelative(populationStabilityIndex(c.reference, c.current), c.psi, 1e-12);
    expectRelative(klDivergence(c.reference, c.current), c.kl, 1e-12);
    expectRelative(jensenShannonDistance(c.reference, c.current), c.jensen_shannon, 1e-12);
    expectRelative(jensenShannonDistance(c.reference, c.current, 2), c.jensen_shannon_base2, 1e-12);
    expectRelative(hellingerDistance(c.reference, c.current), c.hellinger, 1e-12);
    if (c.chi2_contingency) {
      const r = chiSquareContingency(c.reference, c.current);
      expectRelative(r.statistic, c.chi2_contingency.statistic, 1e-12);
      expect(Math.abs(r.pValue - c.chi2_contingency.p_value)).toBeLessThanOrEqual(1e-12);
      expect(r.degreesOfFreedom).toBe(c.chi2_contingency.dof);
    }
    if (c.chi2_goodness_of_fit) {
      const r = chiSquareGoodnessOfFitToReference(c.reference, c.current);
      expectRelative(r.statistic, c.chi2_goodness_of_fit.statistic, 1e-12);
      expect(Math.abs(r.pValue - c.chi2_goodness_of_fit.p_value)).toBeLessThanOrEqual(1e-12);
    }
  });
});

interface QuantileCase {
  name: string;
  seed: number;
  n: number;
  spec: SampleSpec;
  bins: number;
  checksum: number;
  quantiles: number[];
}

describe('quantiles match numpy (linear method) bit for bit', () => {
  const cases = fixture<{ cases: QuantileCase[] }>('quantiles.json').cases;
  it.each(cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const values = draw(c.spec, c.n, new PortableRandom(c.seed));
    expect(checksum(values)).toBe(c.checksum);
    const sorted = Float64Array.from(values).sort();
    const actual = c.quantiles.map((_q, j) => quantileOfSorted(sorted, (j + 1) / c.bins));
    expect(actual).toEqual(c.quantiles);
  });
});

function binaryRows(seed: number, n: number): { labels: number[]; scores: number[] } {
  const rng = new PortableRandom(seed);
  const labels: number[] = [];
  const scores: number[] = [];
  for (let i = 0; i < n; i++) {
    const y = rng.uniform() < 0.4 ? 1 : 0;
    const score = Math.min(1, Math.max(0, 0.5 * rng.uniform() + (y === 1 ? 0.35 : 0.1)));
    labels.push(y);
    scores.push(score);
  }
  return { labels, scores };
}

function multiclassRows(
  seed: number,
  n: number,
  k: number,
): { labels: number[]; probs: number[][] } {
  const rng = new PortableRandom(seed);
  const labels: number[] = [];
  const probs: number[][] = [];
  for (let i = 0; i < n; i++) {
    const y = Math.floor(rng.uniform() * k);
    const raw = Array.from({ length: k }, () => rng.uniform());
    raw[y] += 0.6;
    let total = 0;
    for (const r of raw) total += r;
    probs.push(raw.map((r) => r / total));
    labels.push(y);
  }
  return { labels, probs };
}

interface ClassMetricsFixture {
  accuracy: number;
  precision: number[];
  recall: number[];
  f1: number[];
  macro_precision: number;
  macro_recall: number;
  macro_f1: number;
}

function expectClassMetrics(confusion: number[][], expected: ClassMetricsFixture): void {
  const q = classificationQuality(confusion);
  expect(q.status).toBe('ok');
  expectRelative(q.accuracy ?? Number.NaN, expected.accuracy, 1e-12);
  expectRelative(q.macro_precision ?? Number.NaN, expected.macro_precision, 1e-12);
  expectRelative(q.macro_recall ?? Number.NaN, expected.macro_recall, 1e-12);
  expectRelative(q.macro_f1 ?? Number.NaN, expected.macro_f1, 1e-12);
  q.per_class.forEach((c, i) => {
    expectRelative(c.precision, expected.precision[i], 1e-12);
    expectRelative(c.recall, expected.recall[i], 1e-12);
    expectRelative(c.f1, expected.f1[i], 1e-12);
  });
}

interface QualityFixture {
  binary: {
    seed: number;
    n: number;
    checksum: number;
    auc: number;
    ece: number;
    log_loss: number;
    confusion: number[][];
    metrics: ClassMetricsFixture;
  };
  multiclass: {
    seed: number;
    n: number;
    classes: number;
    checksum: number;
    confusion: number[][];
    metrics: ClassMetricsFixture;
    auc_per_class: number[];
    auc_macro: number;
    log_loss: number;
    top_label_ece: number;
  };
  sparse: { confusion: number[][]; metrics: ClassMetricsFixture };
  regression: {
    seed: number;
    n: number;
    checksum: number;
    mae: number;
    rmse: number;
    mape: number;
    r2: number;
  };
}

describe('quality metrics match numpy / scipy formulas', () => {
  const q = fixture<QualityFixture>('quality.json');

  it('binary: confusion metrics, ROC AUC (Mann–Whitney), log loss, ECE', () => {
    const { labels, scores } = binaryRows(q.binary.seed, q.binary.n);
    expect(checksum(scores)).toBe(q.binary.checksum);
    const predicted = scores.map((s) => (s >= 0.5 ? 1 : 0));
    const confusion = confusionMatrix(labels, predicted, 2);
    expect(confusion).toEqual(q.binary.confusion);
    expectClassMetrics(confusion, q.binary.metrics);
    expectRelative(rocAuc(scores, labels) ?? Number.NaN, q.binary.auc, 1e-12);
    const probs = scores.map((s) => [1 - s, s]);
    expectRelative(logLoss(probs, labels) ?? Number.NaN, q.binary.log_loss, 1e-12);
    expectRelative(
      expectedCalibrationError(calibrationBins(scores, labels)) ?? Number.NaN,
      q.binary.ece,
      1e-12,
    );
  });

  it('multiclass: one-vs-rest macro AUC, macro P/R/F1, log loss, top-label ECE', () => {
    const m = q.multiclass;
    const { labels, probs } = multiclassRows(m.seed, m.n, m.classes);
    expect(checksum(probs.flat())).toBe(m.checksum);
    const predicted = probs.map((p) => p.indexOf(Math.max(...p)));
    const confusion = confusionMatrix(labels, predicted, m.classes);
    expect(confusion).toEqual(m.confusion);
    expectClassMetrics(confusion, m.metrics);
    const auc = oneVsRestAuc(probs, labels, m.classes);
    auc.per_class.forEach((a, k) => expectRelative(a ?? Number.NaN, m.auc_per_class[k], 1e-12));
    expectRelative(auc.macro ?? Number.NaN, m.auc_macro, 1e-12);
    expectRelative(logLoss(probs, labels) ?? Number.NaN, m.log_loss, 1e-12);
    const top = probs.map((p) => Math.max(...p));
    const correct = labels.map((y, i) => (y === predicted[i] ? 1 : 0));
    expectRelative(
      expectedCalibrationError(calibrationBins(top, correct)) ?? Number.NaN,
      m.top_label_ece,
      1e-12,
    );
  });

  it('macro averages skip classes that never occur (sklearn labels rule)', () => {
    expectClassMetrics(q.sparse.confusion, q.sparse.metrics);
  });

  it('regression: MAE, RMSE, MAPE, R² from sufficient statistics', () => {
    const r = q.regression;
    const rng = new PortableRandom(r.seed);
    const targets: number[] = [];
    const predictions: number[] = [];
    for (let i = 0; i < r.n; i++) {
      const t = 50 + 10 * rng.normal();
      targets.push(t);
      predictions.push(t + 2 * rng.normal() + 0.5);
    }
    expect(checksum(targets) + checksum(predictions)).toBe(r.checksum);
    const quality = regressionQuality(regressionSums(targets, predictions));
    expectRelative(quality.mae ?? Number.NaN, r.mae, 1e-12);
    expectRelative(quality.rmse ?? Number.NaN, r.rmse, 1e-12);
    expectRelative(quality.mape ?? Number.NaN, r.mape, 1e-12);
    // R² from Σy and Σy² loses a few digits to cancellation (documented); still far below 1e-9.
    expectRelative(quality.r2 ?? Number.NaN, r.r2, 1e-9);
  });
});

describe('isotonic calibration matches scipy.optimize.isotonic_regression', () => {
  const iso = fixture<{
    seed: number;
    n: number;
    checksum: number;
    unique_scores: number[];
    fitted: number[];
    probe: number[];
    probe_predicted: number[];
    ece_raw: number;
  }>('isotonic.json');

  it('fits the same step values and interpolates like interp1d', () => {
    const { labels, scores: raw } = binaryRows(iso.seed, iso.n);
    const scores = raw.map((s) => Math.floor(s * 50) / 50);
    expect(checksum(scores)).toBe(iso.checksum);
    const calibrator = fitIsotonicCalibrator(scores, labels, Number.MAX_SAFE_INTEGER);
    iso.unique_scores.forEach((x, i) =>
      expectRelative(calibrate(calibrator, x), iso.fitted[i], 1e-12),
    );
    iso.probe.forEach((x, i) =>
      expectRelative(calibrate(calibrator, x), iso.probe_predicted[i], 1e-12),
    );
    expectRelative(
      expectedCalibrationError(calibrationBins(scores, labels)) ?? Number.NaN,
      iso.ece_raw,
      1e-12,
    );
  });
});

interface PcaCase {
  seed: number;
  n: number;
  d: number;
  latent: number;
  checksum: number;
  components: number;
  explained_variance_ratio: number[];
  explained_variance: number[];
  first_errors: number[];
  mean_error: number;
}

function pcaRows(seed: number, n: number, d: number, latent: number): number[][] {
  const rng = new PortableRandom(seed);
  const loadings = Array.from({ length: latent }, () =>
    Array.from({ length: d }, () => rng.uniform() - 0.5),
  );
  const rows: number[][] = [];
  for (let i = 0; i < n; i++) {
    const z = Array.from({ length: latent }, () => rng.normal());
    const row: number[] = [];
    for (let j = 0; j < d; j++) {
      let s = 0;
      for (let l = 0; l < latent; l++) s += z[l] * loadings[l][j];
      row.push(s + 0.3 * rng.normal());
    }
    rows.push(row);
  }
  return rows;
}

describe('PCA matches numpy eigh (sklearn component rule)', () => {
  const cases = fixture<{ cases: PcaCase[] }>('pca.json').cases;
  it.each(cases.map((c) => [`${c.d} columns`, c] as const))('%s', (_name, c) => {
    const rows = pcaRows(c.seed, c.n, c.d, c.latent);
    expect(checksum(rows.flat())).toBe(c.checksum);
    const model = fitPca(rows);
    expect(model.components.length).toBe(c.components);
    model.explained_variance_ratio.forEach((r, i) =>
      expectRelative(r, c.explained_variance_ratio[i], 1e-8),
    );
    model.explained_variance.forEach((v, i) => expectRelative(v, c.explained_variance[i], 1e-8));
    c.first_errors.forEach((e, i) => expectRelative(reconstructionError(model, rows[i]), e, 1e-6));
    const errors = rows.map((row) => reconstructionError(model, row));
    expectRelative(errors.reduce((a, b) => a + b, 0) / errors.length, c.mean_error, 1e-6);
  });
});

describe('offline drift of the committed CSV pair matches scipy', () => {
  const expected = fixture<{ features: Record<string, Record<string, number | string>> }>(
    'offline-drift.json',
  ).features;

  it('every statistic of every column', async () => {
    const report = await compareCsvFiles(
      join(FIXTURES, 'offline-reference.csv'),
      join(FIXTURES, 'offline-current.csv'),
    );
    expect(report.features.map((f) => f.name)).toEqual(
      Object.keys(expected).sort(
        (a, b) =>
          ['age', 'income', 'city', 'flag', 'constant', 'sparse'].indexOf(a) -
          ['age', 'income', 'city', 'flag', 'constant', 'sparse'].indexOf(b),
      ),
    );
    for (const feature of report.features) {
      const want = expected[feature.name];
      expect([feature.name, feature.type]).toEqual([feature.name, want.type]);
      const stats = feature.stats as unknown as Record<string, number | null>;
      for (const [key, value] of Object.entries(want)) {
        if (key === 'type') continue;
        const actual = stats[key];
        expect([feature.name, key, typeof actual]).toEqual([feature.name, key, 'number']);
        const tolerance = key === 'ks_p_value' ? 1e-6 : 1e-9;
        expect([
          feature.name,
          key,
          Math.abs((actual as number) - (value as number)) <=
            tolerance * Math.max(1, Math.abs(value as number)),
        ]).toEqual([feature.name, key, true]);
      }
    }
    const byName = Object.fromEntries(report.features.map((f) => [f.name, f]));
    // ≤ 1000 reference rows: KS for the numerical columns, chi-square for the categorical ones.
    expect(byName.age.method).toBe('ks');
    expect(byName.income.method).toBe('ks');
    expect(byName.city.method).toBe('chi_square');
    expect(byName.age.score).toBe(byName.age.stats.ks_p_value);
    expect(byName.age.drift).toBe(true);
    expect(byName.constant.drift).toBe(false);
    // No values left in the current file: insufficient data, and every statistic explicitly null.
    expect(byName.sparse.status).toBe('insufficient_data');
    expect(byName.sparse.score).toBeNull();
    expect(byName.sparse.stats.ks_p_value).toBeNull();
    expect(report.drift_share).toBeCloseTo(4 / 5, 12);
    expect(report.dataset_drift).toBe(true);
  });
});
