import { InvalidInputError } from '../../common/errors';
import { chiSquareSf } from './gamma';

export interface ChiSquareResult {
  statistic: number;
  pValue: number;
  degreesOfFreedom: number;
}

/**
 * Which chi-square test a drift check runs on a categorical (or low-cardinality) feature.
 *
 * - `contingency` (the default): `scipy.stats.chi2_contingency([reference, current])`, the test of
 *   homogeneity of two samples. Both histograms are samples with sampling error, and this test
 *   accounts for that; it also stays finite for categories that only one side has (an unseen
 *   category in the window), and it is symmetric. Alibi Detect moved to it for these reasons.
 * - `goodness_of_fit`: Evidently's `chisquare(current, reference · n_cur / n_ref)`, which treats
 *   the reference proportions as the true population. It overstates significance when the
 *   reference is small (the reference's own noise counts as drift) and is infinite as soon as one
 *   window row falls into a category the reference never had.
 */
export type ChiSquareMode = 'contingency' | 'goodness_of_fit';

function checkCounts(counts: ArrayLike<number>, role: string): number {
  let total = 0;
  for (let i = 0; i < counts.length; i++) {
    const c = counts[i];
    if (!(c >= 0) || !Number.isFinite(c)) {
      throw new InvalidInputError(`${role} counts must be finite and non-negative`);
    }
    total += c;
  }
  return total;
}

/**
 * Pearson's goodness-of-fit test, `scipy.stats.chisquare(observed, expected)`, with
 * degrees of freedom k − 1. Categories with expected 0 and observed 0 carry no information and are
 * skipped (scipy would produce NaN from 0/0); expected 0 with observed > 0 gives an infinite
 * statistic and p-value 0, as in scipy. Fewer than two informative categories → statistic 0,
 * p-value 1 (nothing to compare).
 */
export function chiSquareGoodnessOfFit(
  observed: ArrayLike<number>,
  expected: ArrayLike<number>,
): ChiSquareResult {
  if (observed.length !== expected.length) {
    throw new InvalidInputError('observed and expected need the same categories');
  }
  checkCounts(observed, 'observed');
  checkCounts(expected, 'expected');
  let statistic = 0;
  let categories = 0;
  for (let i = 0; i < observed.length; i++) {
    const o = observed[i];
    const e = expected[i];
    if (o === 0 && e === 0) continue;
    categories++;
    statistic += e === 0 ? Number.POSITIVE_INFINITY : ((o - e) * (o - e)) / e;
  }
  const degreesOfFreedom = categories - 1;
  if (degreesOfFreedom < 1) return { statistic: 0, pValue: 1, degreesOfFreedom: 0 };
  return { statistic, pValue: chiSquareSf(statistic, degreesOfFreedom), degreesOfFreedom };
}

/**
 * Evidently's chi-square drift test: goodness of fit of the current counts against the reference
 * counts rescaled to the current total.
 */
export function chiSquareGoodnessOfFitToReference(
  reference: ArrayLike<number>,
  current: ArrayLike<number>,
): ChiSquareResult {
  if (reference.length !== current.length) {
    throw new InvalidInputError('reference and current need the same categories');
  }
  const nRef = checkCounts(reference, 'reference');
  const nCur = checkCounts(current, 'current');
  if (nRef <= 0 || nCur <= 0) throw new InvalidInputError('both histograms need a positive total');
  const expected = new Float64Array(reference.length);
  for (let i = 0; i < reference.length; i++) expected[i] = (reference[i] * nCur) / nRef;
  return chiSquareGoodnessOfFit(current, expected);
}

/**
 * `scipy.stats.chi2_contingency([reference, current])` (Pearson, with Yates' continuity correction
 * when there is one degree of freedom, scipy's default). Categories empty on both sides are
 * dropped first (scipy refuses zero expected frequencies); with fewer than two categories left
 * the result is statistic 0, p-value 1, as scipy returns for zero degrees of freedom.
 */
export function chiSquareContingency(
  reference: ArrayLike<number>,
  current: ArrayLike<number>,
): ChiSquareResult {
  if (reference.length !== current.length) {
    throw new InvalidInputError('reference and current need the same categories');
  }
  const nRef = checkCounts(reference, 'reference');
  const nCur = checkCounts(current, 'current');
  if (nRef <= 0 || nCur <= 0) throw new InvalidInputError('both histograms need a positive total');
  const total = nRef + nCur;
  const columns: number[] = [];
  for (let i = 0; i < reference.length; i++) if (reference[i] + current[i] > 0) columns.push(i);
  const degreesOfFreedom = columns.length - 1;
  if (degreesOfFreedom < 1) return { statistic: 0, pValue: 1, degreesOfFreedom: 0 };
  let statistic = 0;
  for (const i of columns) {
    const columnTotal = reference[i] + current[i];
    for (const [observed, rowTotal] of [
      [reference[i], nRef],
      [current[i], nCur],
    ]) {
      const expected = (rowTotal * columnTotal) / total;
      let o = observed;
      if (degreesOfFreedom === 1) {
        // Yates: move each observation half a count towards its expectation (never past it).
        const diff = expected - o;
        o += Math.sign(diff) * Math.min(0.5, Math.abs(diff));
      }
      statistic += ((o - expected) * (o - expected)) / expected;
    }
  }
  return { statistic, pValue: chiSquareSf(statistic, degreesOfFreedom), degreesOfFreedom };
}

/** The chosen chi-square test of two histograms over the same bins. */
export function chiSquareTest(
  reference: ArrayLike<number>,
  current: ArrayLike<number>,
  mode: ChiSquareMode = 'contingency',
): ChiSquareResult {
  return mode === 'contingency'
    ? chiSquareContingency(reference, current)
    : chiSquareGoodnessOfFitToReference(reference, current);
}
