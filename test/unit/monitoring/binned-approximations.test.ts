/**
 * The statistics the scheduler computes from pushed-down aggregates (bin counts and sums, score
 * histograms) against the same statistics on raw samples, on 20k-row samples. The raw-sample
 * functions are themselves checked against scipy in scipy-golden.test.ts.
 */
import {
  countBins,
  featureDriftFromCounts,
  ksTwoSample,
  normedWassersteinDistance,
  profileNumericalFeature,
  rocAuc,
  rocAucFromHistograms,
  sumNumericalBins,
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

type Draw = (g: ReturnType<typeof generator>) => number;
const SHAPES: [string, Draw, Draw][] = [
  ['same distribution', (g) => g.normal(), (g) => g.normal()],
  ['shift 0.1σ', (g) => g.normal(), (g) => g.normal() + 0.1],
  ['shift 0.5σ', (g) => g.normal(), (g) => g.normal() + 0.5],
  ['scale ×1.5', (g) => g.normal(), (g) => 1.5 * g.normal()],
  ['skewed, stretched', (g) => g.uniform() * g.uniform(), (g) => 1.2 * g.uniform() * g.uniform()],
  ['shift 3σ (mostly out of range)', (g) => g.normal(), (g) => g.normal() + 3],
];

describe.each([10, 20])('binned KS and Wasserstein with %i quantile bins, 20k rows', (bins) => {
  it.each(SHAPES)('%s', (_name, drawReference, drawCurrent) => {
    const g = generator(7 + bins);
    const reference = Array.from({ length: 20000 }, () => drawReference(g));
    const current = Array.from({ length: 20000 }, () => drawCurrent(g));
    const feature = profileNumericalFeature('x', 0, reference, { bins });
    const counts = countBins(feature, current);
    const exactKs = ksTwoSample(reference, current);
    const exactW = normedWassersteinDistance(reference, current);

    const withSums = featureDriftFromCounts(feature, feature.counts, counts, {
      binSums: { reference: feature.sums, current: sumNumericalBins(feature.edges, current) },
    });
    const ks = withSums.stats.ks_statistic ?? Number.NaN;
    // KS from bins is a lower bound, within one bin's mass of the raw statistic.
    expect(ks).toBeLessThanOrEqual(exactKs.statistic + 1e-12);
    expect(exactKs.statistic - ks).toBeLessThan(0.02);
    // With per-bin sums every bin's mass sits at its mean: Wasserstein within 0.003 (normed).
    expect(Math.abs((withSums.stats.wasserstein_normed ?? Number.NaN) - exactW)).toBeLessThan(
      0.003,
    );

    // Counts alone (uniform mass per bin): documented as coarser, still within 30% of the value.
    const countsOnly = featureDriftFromCounts(feature, feature.counts, counts);
    const w = countsOnly.stats.wasserstein_normed ?? Number.NaN;
    expect(Math.abs(w - exactW)).toBeLessThan(0.3 * exactW + 0.01);
    // The verdict agrees with the raw-sample verdict whenever the value is not near the threshold.
    if (Math.abs(exactW - 0.1) > 0.02) expect(withSums.drift).toBe(exactW >= 0.1);
  });
});

describe('ROC AUC from score histograms', () => {
  it('100 equal-width bins stay within 0.005 of the exact AUC', () => {
    const g = generator(99);
    const labels: number[] = [];
    const scores: number[] = [];
    for (let i = 0; i < 20000; i++) {
      const y = g.uniform() < 0.3 ? 1 : 0;
      labels.push(y);
      scores.push(Math.min(1, Math.max(0, 0.5 + 0.15 * g.normal() + (y ? 0.12 : 0))));
    }
    const positives = new Array<number>(100).fill(0);
    const negatives = new Array<number>(100).fill(0);
    scores.forEach((s, i) => {
      const bin = Math.min(99, Math.floor(s * 100));
      if (labels[i]) positives[bin]++;
      else negatives[bin]++;
    });
    const exact = rocAuc(scores, labels) ?? Number.NaN;
    const binned = rocAucFromHistograms(positives, negatives) ?? Number.NaN;
    expect(exact).toBeGreaterThan(0.6);
    expect(Math.abs(binned - exact)).toBeLessThan(0.005);
  });

  it('is exact when the scores already are the bins, and null with one class', () => {
    expect(rocAucFromHistograms([0, 1, 1], [1, 1, 0])).toBeCloseTo(
      rocAuc([1, 2, 1, 0], [1, 1, 0, 0]) ?? 0,
      14,
    );
    expect(rocAucFromHistograms([0, 0], [3, 4])).toBeNull();
    expect(rocAuc([0.2, 0.4], [1, 1])).toBeNull();
  });
});
