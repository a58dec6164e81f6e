import { InvalidInputError } from '../../common/errors';

/**
 * Distances between two binned distributions: PSI, KL, Jensen–Shannon and Hellinger, with
 * Evidently's definitions. Inputs are histograms over the same bins (counts or proportions — they
 * are normalised to proportions first); missing values are not a bin here (their share is its own
 * drift signal).
 */

export function toProportions(weights: ArrayLike<number>): Float64Array {
  let total = 0;
  for (let i = 0; i < weights.length; i++) {
    const w = weights[i];
    if (!(w >= 0) || !Number.isFinite(w)) {
      throw new InvalidInputError('histogram weights must be finite and non-negative');
    }
    total += w;
  }
  if (total <= 0) throw new InvalidInputError('a histogram needs a positive total');
  const out = new Float64Array(weights.length);
  for (let i = 0; i < weights.length; i++) out[i] = weights[i] / total;
  return out;
}

function checkSameLength(a: ArrayLike<number>, b: ArrayLike<number>): void {
  if (a.length !== b.length) throw new InvalidInputError('both histograms need the same bins');
}

/**
 * Evidently's zero fill (`get_binned_data(..., feel_zeroes=True)`): empty bins get 1e-4, or
 * min-nonzero / 10⁶ when the smallest non-empty proportion is itself ≤ 1e-4, so that the filled
 * value stays far below every real proportion. Proportions are not renormalised afterwards
 * (Evidently does not either).
 */
export function fillEmptyProportions(proportions: ArrayLike<number>): Float64Array {
  let minNonZero = Number.POSITIVE_INFINITY;
  for (let i = 0; i < proportions.length; i++) {
    if (proportions[i] !== 0 && proportions[i] < minNonZero) minNonZero = proportions[i];
  }
  const fill = minNonZero <= 0.0001 ? minNonZero / 10 ** 6 : 0.0001;
  const out = Float64Array.from(proportions);
  for (let i = 0; i < out.length; i++) if (out[i] === 0) out[i] = fill;
  return out;
}

/**
 * Population stability index Σ (p − q)·ln(p / q), p = reference, q = current, after the zero
 * fill. Evidently flags drift at PSI ≥ 0.1.
 */
export function populationStabilityIndex(
  reference: ArrayLike<number>,
  current: ArrayLike<number>,
): number {
  checkSameLength(reference, current);
  const p = fillEmptyProportions(toProportions(reference));
  const q = fillEmptyProportions(toProportions(current));
  let psi = 0;
  for (let i = 0; i < p.length; i++) psi += (p[i] - q[i]) * Math.log(p[i] / q[i]);
  return psi;
}

/** x·ln(x/y) with scipy's `rel_entr` conventions. */
function relativeEntropyTerm(x: number, y: number): number {
  if (x > 0 && y > 0) return x * Math.log(x / y);
  if (x === 0 && y >= 0) return 0;
  return Number.POSITIVE_INFINITY;
}

/**
 * Kullback–Leibler divergence KL(reference ‖ current) in nats: Evidently's `kl_div` test, i.e.
 * `scipy.stats.entropy(p, q)` on zero-filled proportions (which scipy renormalises).
 */
export function klDivergence(reference: ArrayLike<number>, current: ArrayLike<number>): number {
  checkSameLength(reference, current);
  const p = toProportions(fillEmptyProportions(toProportions(reference)));
  const q = toProportions(fillEmptyProportions(toProportions(current)));
  let kl = 0;
  for (let i = 0; i < p.length; i++) kl += relativeEntropyTerm(p[i], q[i]);
  return kl;
}

/**
 * Jensen–Shannon *distance* (the square root of the divergence), `scipy.spatial.distance
 * .jensenshannon(p, q, base)`. The default base is e (natural log, range [0, √ln 2 ≈ 0.833]), as
 * the design reference states; NannyML reports base 2 (range [0, 1]) and recent Evidently passes
 * base=2 as well — pass `base = 2` to compare with those. No zero fill: the mixture m is positive
 * wherever p or q is. A divergence that rounds below zero is clamped to 0 (scipy would return NaN).
 */
export function jensenShannonDistance(
  reference: ArrayLike<number>,
  current: ArrayLike<number>,
  base: number = Math.E,
): number {
  checkSameLength(reference, current);
  const p = toProportions(reference);
  const q = toProportions(current);
  let divergence = 0;
  for (let i = 0; i < p.length; i++) {
    const m = (p[i] + q[i]) / 2;
    divergence += relativeEntropyTerm(p[i], m) + relativeEntropyTerm(q[i], m);
  }
  divergence /= 2;
  if (base !== Math.E) divergence /= Math.log(base);
  return Math.sqrt(Math.max(0, divergence));
}

/**
 * Hellinger distance sqrt(1 − Σ √(p·q)) on proportions (range [0, 1]); the Bhattacharyya
 * coefficient is clipped to [0, 1] against rounding, as Evidently does. Drift at ≥ 0.1.
 */
export function hellingerDistance(
  reference: ArrayLike<number>,
  current: ArrayLike<number>,
): number {
  checkSameLength(reference, current);
  const p = toProportions(reference);
  const q = toProportions(current);
  let coefficient = 0;
  for (let i = 0; i < p.length; i++) coefficient += Math.sqrt(p[i] * q[i]);
  return Math.sqrt(1 - Math.min(1, Math.max(0, coefficient)));
}
