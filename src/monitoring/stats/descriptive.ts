/**
 * Descriptive statistics on Float64Array samples: compensated sums, mean, population standard
 * deviation and numpy-compatible quantiles. Every other statistic builds on these, so they follow
 * numpy's definitions exactly (the golden tests compare against numpy and scipy).
 */

/** Neumaier-compensated sum: exact to a few ulps where a naive sum drifts on 10^7 values. */
export function compensatedSum(values: ArrayLike<number>): number {
  let sum = 0;
  let compensation = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    const t = sum + v;
    if (Math.abs(sum) >= Math.abs(v)) compensation += sum - t + v;
    else compensation += v - t + sum;
    sum = t;
  }
  return sum + compensation;
}

export function mean(values: ArrayLike<number>): number {
  return values.length === 0 ? Number.NaN : compensatedSum(values) / values.length;
}

/**
 * Population standard deviation (numpy `std`, ddof = 0), two-pass so a large common offset does
 * not cancel away the variance.
 */
export function populationStd(values: ArrayLike<number>): number {
  const n = values.length;
  if (n === 0) return Number.NaN;
  const m = mean(values);
  const squared = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const d = values[i] - m;
    squared[i] = d * d;
  }
  return Math.sqrt(compensatedSum(squared) / n);
}

/** The finite values of `values`, sorted ascending (NaN and ±Infinity dropped). */
export function sortedFinite(values: ArrayLike<number>): Float64Array {
  let count = 0;
  for (let i = 0; i < values.length; i++) if (Number.isFinite(values[i])) count++;
  const out = new Float64Array(count);
  let j = 0;
  for (let i = 0; i < values.length; i++) if (Number.isFinite(values[i])) out[j++] = values[i];
  return out.sort();
}

/**
 * Quantile of an ascending sample with numpy's default method ('linear', Hyndman & Fan type 7),
 * including numpy's two-sided interpolation formula, so bin edges equal `np.quantile` bit for bit.
 */
export function quantileOfSorted(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length;
  if (n === 0) return Number.NaN;
  const virtualIndex = (n - 1) * q;
  if (virtualIndex >= n - 1) return sorted[n - 1];
  if (virtualIndex < 0) return sorted[0];
  const previousIndex = Math.floor(virtualIndex);
  const gamma = virtualIndex - previousIndex;
  const a = sorted[previousIndex];
  const b = sorted[previousIndex + 1];
  const diff = b - a;
  return gamma >= 0.5 ? b - diff * (1 - gamma) : a + diff * gamma;
}

/** Number of distinct values in an ascending sample. */
export function distinctCountOfSorted(sorted: ArrayLike<number>): number {
  let count = 0;
  for (let i = 0; i < sorted.length; i++) if (i === 0 || sorted[i] !== sorted[i - 1]) count++;
  return count;
}

/** Round half to even, as numpy's `np.round` does (scipy relies on it in `ks_2samp`). */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}
