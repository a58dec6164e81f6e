/**
 * Log-gamma and the regularized incomplete gamma functions, for chi-square p-values
 * (`chi2.sf(x, k) = Q(k/2, x/2)`). Series below a + 1, Lentz continued fraction above it
 * (Numerical Recipes §6.2): each branch is used where it converges fast and does not cancel.
 */

const LANCZOS_G = 7;
const LANCZOS_COEFFICIENTS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313,
  -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6,
  1.5056327351493116e-7,
];
const HALF_LOG_TWO_PI = 0.5 * Math.log(2 * Math.PI);
const EPSILON = 1e-16;
const TINY = 1e-300;
const MAX_ITERATIONS = 1_000_000;

/** ln Γ(x) for x > 0 (Lanczos, g = 7, n = 9: about 15 significant digits). */
export function logGamma(x: number): number {
  if (Number.isNaN(x) || x <= 0) return Number.NaN;
  if (x < 0.5) {
    // Reflection keeps the Lanczos sum in its accurate range.
    return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  }
  const z = x - 1;
  let sum = LANCZOS_COEFFICIENTS[0];
  for (let i = 1; i < LANCZOS_G + 2; i++) sum += LANCZOS_COEFFICIENTS[i] / (z + i);
  const t = z + LANCZOS_G + 0.5;
  return HALF_LOG_TWO_PI + (z + 0.5) * Math.log(t) - t + Math.log(sum);
}

/** ln(1 + t) − t without cancelling for small t. */
function log1pMinusX(t: number): number {
  if (Math.abs(t) > 0.25) return Math.log1p(t) - t;
  // −t²/2 + t³/3 − t⁴/4 + …, converging fast for |t| ≤ 1/4.
  let term = t;
  let sum = 0;
  for (let k = 2; k < 200; k++) {
    term *= -t;
    const next = term / k;
    sum += next;
    if (Math.abs(next) < Math.abs(sum) * 1e-17) break;
  }
  return sum;
}

/** ln Γ(a) − [(a − ½) ln a − a + ½ ln 2π]: Stirling's correction, small for large a. */
function stirlingCorrection(a: number): number {
  if (a < 10) return logGamma(a) - ((a - 0.5) * Math.log(a) - a + HALF_LOG_TWO_PI);
  const r = 1 / a;
  const r2 = r * r;
  return r * (1 / 12 - r2 * (1 / 360 - r2 * (1 / 1260 - r2 * (1 / 1680 - r2 / 1188))));
}

/**
 * xᵃ e⁻ˣ / Γ(a), the common factor of both branches. Written as
 * √(a/2π) · exp(a·[ln(1+t) − t] − correction(a)) with t = (x − a)/a, so that for large a the
 * huge terms a·ln x, x and ln Γ(a) never cancel in floating point.
 */
function gammaPrefactor(a: number, x: number): number {
  if (a < 10) return Math.exp(a * Math.log(x) - x - logGamma(a));
  const t = (x - a) / a;
  return Math.sqrt(a / (2 * Math.PI)) * Math.exp(a * log1pMinusX(t) - stirlingCorrection(a));
}

function lowerSeries(a: number, x: number): number {
  let term = 1 / a;
  let sum = term;
  let ap = a;
  for (let i = 0; i < MAX_ITERATIONS; i++) {
    ap += 1;
    term *= x / ap;
    sum += term;
    if (Math.abs(term) < Math.abs(sum) * EPSILON) break;
  }
  return sum * gammaPrefactor(a, x);
}

function upperContinuedFraction(a: number, x: number): number {
  let b = x + 1 - a;
  let c = 1 / TINY;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < MAX_ITERATIONS; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < TINY) d = TINY;
    c = b + an / c;
    if (Math.abs(c) < TINY) c = TINY;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < EPSILON) break;
  }
  return h * gammaPrefactor(a, x);
}

/** Regularized lower incomplete gamma P(a, x) = γ(a, x) / Γ(a). */
export function regularizedGammaP(a: number, x: number): number {
  if (Number.isNaN(a) || Number.isNaN(x) || a <= 0 || x < 0) return Number.NaN;
  if (x === 0) return 0;
  if (x === Number.POSITIVE_INFINITY) return 1;
  if (x < a + 1) return Math.min(1, lowerSeries(a, x));
  return Math.max(0, 1 - upperContinuedFraction(a, x));
}

/** Regularized upper incomplete gamma Q(a, x) = Γ(a, x) / Γ(a) = 1 − P(a, x). */
export function regularizedGammaQ(a: number, x: number): number {
  if (Number.isNaN(a) || Number.isNaN(x) || a <= 0 || x < 0) return Number.NaN;
  if (x === 0) return 1;
  if (x === Number.POSITIVE_INFINITY) return 0;
  if (x < a + 1) return Math.max(0, 1 - lowerSeries(a, x));
  return Math.min(1, upperContinuedFraction(a, x));
}

/** Survival function of the chi-square distribution (scipy `chi2.sf(x, df)`). */
export function chiSquareSf(x: number, degreesOfFreedom: number): number {
  if (Number.isNaN(x) || !(degreesOfFreedom > 0)) return Number.NaN;
  if (x <= 0) return 1;
  return regularizedGammaQ(degreesOfFreedom / 2, x / 2);
}
