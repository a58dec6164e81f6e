/**
 * Distributions of the Kolmogorov–Smirnov statistic, ported from scipy so that p-values agree
 * with `scipy.stats.ks_2samp` to well below 1e-6:
 *
 * - `kolmogorovSf(x)`: the limiting distribution of √n·Dₙ (`scipy.special.kolmogorov`,
 *   `kstwobign.sf`).
 * - `smirnovSf(n, x)`: the one-sided statistic Dₙ⁺ (`scipy.special.smirnov`), the
 *   Birnbaum–Tingey sum evaluated in log space.
 * - `kolmogorovSmirnovSf(n, x)`: the two-sided one-sample statistic Dₙ for finite n
 *   (`scipy.stats.kstwo.sf`), which `ks_2samp` uses in its asymptotic mode with
 *   n = round(n1·n2 / (n1 + n2)). The algorithm choice follows Simard & L'Ecuyer (2011) exactly as
 *   scipy's `_kolmogn` does: Ruben–Gambino closed forms at the ends, Durbin's matrix (Marsaglia,
 *   Tsang & Wang) and Pomeranz's recursion for small n·x², Pelz–Good for large n, 2·smirnov in the
 *   upper tail.
 */

const MIN_EXPABLE = -708 - 38;
const MIN_LOG = -708.3964185322641;
const KOLMOGOROV_CUTOVER = 0.82;
const SQRT_TWO_PI = Math.sqrt(2 * Math.PI);
const LOG_TWO_PI = Math.log(2 * Math.PI);
const PI_SQUARED = Math.PI ** 2;
const PI_FOUR = Math.PI ** 4;
const PI_SIX = Math.PI ** 6;
const SQRT3 = Math.sqrt(3);
const TWO_POW_128 = 2 ** 128;
const TWO_POW_MINUS_128 = 2 ** -128;
const SMIRNOV_MAX_COMPUTE_N = 1_000_000;
/** Bernoulli-number coefficients of Stirling's series, B₂ⱼ/(2j(2j−1)) for j = 8..1. */
const STIRLING_COEFFICIENTS = [
  -0.029550653594771242, 0.00641025641025641, -0.0019175269175269176, 0.0008417508417508417,
  -0.0005952380952380953, 0.0007936507936507937, -0.002777777777777778, 0.08333333333333333,
];

function clipProbability(p: number): number {
  return Math.min(1, Math.max(0, p));
}

/** x·2^exponent without overflowing the intermediate power of two. */
function scaleByPowerOfTwo(x: number, exponent: number): number {
  let result = x;
  let e = exponent;
  while (e > 1000) {
    result *= 2 ** 1000;
    e -= 1000;
  }
  while (e < -1000) {
    result *= 2 ** -1000;
    e += 1000;
  }
  return result * 2 ** e;
}

/** Survival function of the Kolmogorov distribution: P(K > x), K = lim √n·Dₙ. */
export function kolmogorovSf(x: number): number {
  if (Number.isNaN(x)) return Number.NaN;
  if (x <= 0) return 1;
  if (x <= Math.PI / Math.sqrt(-MIN_EXPABLE * 8)) return 1;
  if (x <= KOLMOGOROV_CUTOVER) {
    // P(K ≤ x) = √(2π)/x · Σ exp(−(2k−1)²π²/(8x²)), three terms reach double precision here.
    const w = SQRT_TWO_PI / x;
    const logU8 = -PI_SQUARED / (x * x);
    const u = Math.exp(logU8 / 8);
    let cdf: number;
    if (u === 0) cdf = Math.exp(logU8 / 8 + Math.log(w));
    else {
      const u8 = Math.exp(logU8);
      let p = 1;
      p = 1 + u8 ** 3 * p;
      p = 1 + u8 * u8 * p;
      p = 1 + u8 * p;
      cdf = w * u * p;
    }
    return clipProbability(1 - cdf);
  }
  // P(K > x) = 2 Σ (−1)^(k−1) exp(−2k²x²), four terms suffice above the cut-over.
  const v = Math.exp(-2 * x * x);
  const v3 = v ** 3;
  let p = 1;
  p = 1 - v3 * v3 * v * p;
  p = 1 - v3 * v * v * p;
  p = 1 - v3 * p;
  return clipProbability(2 * v * p);
}

/**
 * Survival function of the one-sided one-sample KS statistic, P(Dₙ⁺ ≥ x):
 * x · Σ_{v=0}^{⌊n(1−x)⌋} C(n,v) (x + v/n)^(v−1) (1 − x − v/n)^(n−v). All terms are positive, so the
 * sum is evaluated term by term in log space without cancellation.
 */
export function smirnovSf(n: number, x: number): number {
  if (!(n > 0) || !(x >= 0 && x <= 1) || !Number.isInteger(n)) return Number.NaN;
  if (n === 1) return 1 - x;
  if (x === 0) return 1;
  if (x === 1) return 0;
  const nx = n * x;
  let nxFloor = Math.floor(nx);
  let alpha = nx - nxFloor;
  if (alpha >= 1) {
    nxFloor += 1;
    alpha = 0;
  }
  if (nxFloor === 0 || (nxFloor === 1 && alpha === 0)) {
    // x ≤ 1/n: the sum collapses to P(Dₙ⁺ < x) = x (1 + x)^(n−1).
    return clipProbability(1 - x * Math.exp((n - 1) * Math.log1p(x)));
  }
  if (-2 * n * x * x < MIN_LOG) return 0;
  if (nxFloor >= n - 1) return clipProbability(Math.exp(n * Math.log1p(-x)));
  if (n > SMIRNOV_MAX_COMPUTE_N) {
    // scipy's approximation for very large n: P ≈ exp(−(6nx + 1)² / 18n).
    return clipProbability(Math.exp(-Math.pow(6 * n * x + 1, 2) / 18 / n));
  }
  // Terms v = 0 .. ⌊n(1−x)⌋; when n·x is an integer the last term (1 − x − v/n = 0) is excluded.
  const lastV = n - nxFloor - 1;
  const logX = Math.log(x);
  let logBinomial = 0;
  let sum = 0;
  for (let v = 0; v <= lastV; v++) {
    if (v > 0) logBinomial += Math.log((n - v + 1) / v);
    const upper = (n - v - nx) / n;
    if (upper <= 0) break;
    const logTerm = logBinomial + (v - 1) * Math.log(x + v / n) + (n - v) * Math.log(upper) + logX;
    const term = Math.exp(logTerm);
    sum += term;
    // scipy's stopping rule: the remaining terms cannot move the sum by an ulp.
    if (term !== 0 && v !== lastV && 4 * (lastV - v + 1) * term < Number.EPSILON * sum) break;
    if (term === 0 && v > n / 2) break;
  }
  return clipProbability(sum);
}

/** ln(n! / nⁿ) by Stirling's series with n·ln n removed up front (no cancellation). */
function logFactorialOverPower(n: number): number {
  const rn = 1 / n;
  const y = rn / n;
  let poly = 0;
  for (const c of STIRLING_COEFFICIENTS) poly = poly * y + c;
  return Math.log(n) / 2 - n + LOG_TWO_PI / 2 + rn * poly;
}

function multiplySquare(a: Float64Array[], b: Float64Array[]): Float64Array[] {
  const m = a.length;
  const out: Float64Array[] = [];
  for (let i = 0; i < m; i++) {
    const row = new Float64Array(m);
    const ai = a[i];
    for (let k = 0; k < m; k++) {
      const aik = ai[k];
      if (aik === 0) continue;
      const bk = b[k];
      for (let j = 0; j < m; j++) row[j] += aik * bk[j];
    }
    out.push(row);
  }
  return out;
}

/** P(Dₙ ≤ d) by Durbin's matrix method as organised by Marsaglia, Tsang & Wang (2003). */
function kolmogorovSmirnovCdfDurbin(n: number, d: number): number {
  if (d >= 1) return 1;
  const nd = n * d;
  if (nd <= 0.5) return 0;
  const k = Math.ceil(nd);
  const h = k - nd;
  const m = 2 * k - 1;
  const v = new Float64Array(m);
  const w = new Float64Array(m);
  let factorial = 1;
  for (let j = 1; j <= m; j++) {
    w[j - 1] = factorial;
    factorial /= j;
    v[j - 1] = (1 - h ** j) * factorial;
  }
  const tt = Math.max(2 * h - 1, 0) ** m - 2 * h ** m;
  v[m - 1] = (1 + tt) * factorial;
  let H: Float64Array[] = [];
  for (let i = 0; i < m; i++) H.push(new Float64Array(m));
  for (let i = 1; i < m; i++) for (let r = i - 1; r < m; r++) H[r][i] = w[r - i + 1];
  for (let r = 0; r < m; r++) H[r][0] = v[r];
  for (let c = 0; c < m; c++) H[m - 1][c] = v[m - 1 - c];

  let power: Float64Array[] = [];
  for (let i = 0; i < m; i++) {
    const row = new Float64Array(m);
    row[i] = 1;
    power.push(row);
  }
  let exponent = 0;
  let hExponent = 0;
  let remaining = n;
  while (remaining > 0) {
    if (remaining % 2 === 1) {
      power = multiplySquare(power, H);
      exponent += hExponent;
    }
    H = multiplySquare(H, H);
    hExponent *= 2;
    if (Math.abs(H[k - 1][k - 1]) > TWO_POW_128) {
      for (const row of H) for (let j = 0; j < m; j++) row[j] /= TWO_POW_128;
      hExponent += 128;
    }
    remaining = Math.floor(remaining / 2);
  }
  let p = power[k - 1][k - 1];
  for (let i = 1; i <= n; i++) {
    p = (i * p) / n;
    if (Math.abs(p) < TWO_POW_MINUS_128) {
      p *= TWO_POW_128;
      exponent -= 128;
    }
  }
  if (exponent !== 0) p = scaleByPowerOfTwo(p, exponent);
  return clipProbability(p);
}

function pomeranzInterval(
  i: number,
  n: number,
  ll: number,
  ceilF: number,
  roundF: number,
): [number, number] {
  let j1: number;
  let j2: number;
  if (i === 0) {
    j1 = -ll - ceilF - 1;
    j2 = ll + ceilF - 1;
  } else {
    const half = Math.floor((i + 1) / 2);
    if ((i + 1) % 2 === 0) {
      if (half === n + 1) {
        j1 = n - ll - ceilF - 1;
        j2 = n + ll + ceilF - 1;
      } else {
        j1 = half - 1 - ll - roundF - 1;
        j2 = half + ll - 1 + ceilF - 1;
      }
    } else {
      j1 = half - 1 - ll - 1;
      j2 = half + ll + roundF - 1;
    }
  }
  return [Math.max(j1 + 2, 0), Math.min(j2, n)];
}

/** P(Dₙ ≤ x) by Pomeranz's recursion (1974), with scaling against underflow. */
function kolmogorovSmirnovCdfPomeranz(n: number, x: number): number {
  const t = n * x;
  const ll = Math.floor(t);
  const f = t - ll;
  const g = Math.min(f, 1 - f);
  const ceilF = f > 0 ? 1 : 0;
  const roundF = f > 0.5 ? 1 : 0;
  const powers = 2 * (ll + 1);
  const gPower = new Float64Array(powers);
  const twoGPower = new Float64Array(powers);
  const oneMinusTwoGPower = new Float64Array(powers);
  gPower[0] = 1;
  twoGPower[0] = 1;
  oneMinusTwoGPower[0] = 1;
  const gOverN = g / n;
  const twoGOverN = (2 * g) / n;
  const oneMinusTwoGOverN = (1 - 2 * g) / n;
  for (let m = 1; m < powers; m++) {
    gPower[m] = (gPower[m - 1] * gOverN) / m;
    twoGPower[m] = (twoGPower[m - 1] * twoGOverN) / m;
    oneMinusTwoGPower[m] = (oneMinusTwoGPower[m - 1] * oneMinusTwoGOverN) / m;
  }
  let v0 = new Float64Array(powers);
  let v1 = new Float64Array(powers);
  v1[0] = 1;
  let v0Start = 0;
  let v1Start = 0;
  let exponent = 0;
  let [j1, j2] = pomeranzInterval(0, n, ll, ceilF, roundF);
  for (let i = 1; i < 2 * n + 2; i++) {
    const k1 = j1;
    [v0, v1] = [v1, v0];
    [v0Start, v1Start] = [v1Start, v0Start];
    v1.fill(0);
    [j1, j2] = pomeranzInterval(i, n, ll, ceilF, roundF);
    const weights =
      i === 1 || i === 2 * n + 1 ? gPower : i % 2 === 1 ? twoGPower : oneMinusTwoGPower;
    const length = j2 - k1 + 1;
    if (length > 0) {
      // Entries j1..j2 of the full convolution of V0[k1..] with the Poisson-like weights.
      const offset = k1 - v0Start;
      const convStart = j1 - k1;
      const convLength = j2 - j1 + 1;
      const available = Math.max(0, Math.min(length, powers - offset));
      const weightCount = Math.min(length, powers);
      let maxValue = 0;
      for (let c = 0; c < convLength; c++) {
        const idx = convStart + c;
        let s = 0;
        const lo = Math.max(0, idx - (weightCount - 1));
        const hi = Math.min(idx, available - 1);
        for (let a = lo; a <= hi; a++) s += v0[offset + a] * weights[idx - a];
        v1[c] = s;
        if (s > maxValue) maxValue = s;
      }
      if (maxValue > 0 && maxValue < TWO_POW_MINUS_128) {
        for (let c = 0; c < powers; c++) v1[c] *= TWO_POW_128;
        exponent -= 128;
      }
      v1Start = v0Start + j1 - k1;
    }
  }
  let answer = v1[n - v1Start];
  for (let m = 1; m <= n; m++) {
    if (Math.abs(answer) > TWO_POW_128) {
      answer *= TWO_POW_MINUS_128;
      exponent += 128;
    }
    answer *= m;
  }
  if (exponent !== 0) answer = scaleByPowerOfTwo(answer, exponent);
  return clipProbability(answer);
}

/** Pelz–Good asymptotic series for P(Dₙ ≤ x), accurate for large n. */
function kolmogorovSmirnovCdfPelzGood(n: number, x: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const z = Math.sqrt(n) * x;
  const z2 = z * z;
  const z3 = z2 * z;
  const z4 = z2 * z2;
  const z6 = z4 * z2;
  const qLog = -PI_SQUARED / 8 / z2;
  if (qLog < -708) return 0;
  let q = Math.exp(qLog);
  const k1a = -z2;
  const k1b = PI_SQUARED / 4;
  const k2a = 6 * z6 + 2 * z4;
  const k2b = ((2 * z4 - 5 * z2) * PI_SQUARED) / 4;
  const k2c = (PI_FOUR * (1 - 2 * z2)) / 16;
  const k3d = (PI_SIX * (5 - 30 * z2)) / 64;
  const k3c = (PI_FOUR * (-60 * z2 + 212 * z4)) / 16;
  const k3b = (PI_SQUARED * (135 * z4 - 96 * z6)) / 4;
  const k3a = -30 * z6 - 90 * z ** 8;
  const K = [0, 0, 0, 0];
  const maxK = Math.ceil((16 * z) / Math.PI);
  for (let k = maxK; k > 0; k--) {
    const m = 2 * k - 1;
    const m2 = m * m;
    const m4 = m2 * m2;
    const m6 = m4 * m2;
    const qPower = Math.pow(q, 8 * k);
    const coefficients = [
      1,
      k1a + k1b * m2,
      k2a + k2b * m2 + k2c * m4,
      k3a + k3b * m2 + k3c * m4 + k3d * m6,
    ];
    for (let i = 0; i < 4; i++) K[i] = K[i] * qPower + coefficients[i];
  }
  const divisors = [z, 6 * z4, 72 * z ** 7, 6480 * z ** 10];
  for (let i = 0; i < 4; i++) K[i] = (K[i] * q * SQRT_TWO_PI) / divisors[i];
  q = Math.exp(-PI_SQUARED / 2 / z2);
  const sqrt3z = SQRT3 * z;
  let k2Extra = 0;
  let k3Extra = 0;
  for (let k = maxK; k > 0; k--) {
    const k2 = k * k;
    const qPower = Math.pow(q, k2);
    const kPi = Math.PI * k;
    k2Extra += k2 * qPower;
    k3Extra += (sqrt3z + kPi) * (sqrt3z - kPi) * k2 * qPower;
  }
  K[2] += (k2Extra * PI_SQUARED * SQRT_TWO_PI) / (-36 * z3);
  K[3] += (k3Extra * PI_SQUARED * SQRT_TWO_PI) / (216 * z6);
  let sum = 0;
  for (let i = 0; i < 4; i++) sum += K[i] / Math.pow(n, i / 2);
  return sum;
}

/**
 * P(Dₙ > x) for the two-sided one-sample KS statistic with n observations (scipy `kstwo.sf`).
 */
export function kolmogorovSmirnovSf(n: number, x: number): number {
  if (Number.isNaN(x) || !Number.isInteger(n) || n <= 0) return Number.NaN;
  // rv_continuous bounds: the support is (0.5/n, 1).
  if (x <= 0.5 / n) return 1;
  if (x >= 1) return 0;
  const t = n * x;
  if (t <= 1) {
    // Ruben–Gambino: P(Dₙ ≤ x) = n!/nⁿ (2t − 1)ⁿ for 1/(2n) ≤ x ≤ 1/n.
    if (t <= 0.5) return 1;
    let cdf: number;
    if (n <= 140) {
      cdf = 1;
      for (let i = 1; i <= n; i++) cdf *= (i / n) * (2 * t - 1);
    } else cdf = Math.exp(logFactorialOverPower(n) + n * Math.log(2 * t - 1));
    return clipProbability(1 - cdf);
  }
  if (t >= n - 1) return clipProbability(2 * (1 - x) ** n);
  if (x >= 0.5) return clipProbability(2 * smirnovSf(n, x));
  const nxSquared = t * x;
  if (n <= 140) {
    if (nxSquared <= 0.754693) return clipProbability(1 - kolmogorovSmirnovCdfDurbin(n, x));
    if (nxSquared <= 4) return clipProbability(1 - kolmogorovSmirnovCdfPomeranz(n, x));
    return clipProbability(2 * smirnovSf(n, x));
  }
  if (nxSquared >= 370) return 0;
  if (nxSquared >= 2.2) return clipProbability(2 * smirnovSf(n, x));
  let cdf: number;
  if (nxSquared >= 18) cdf = 1;
  else if (n <= 100000 && n * x ** 1.5 <= 1.4) cdf = kolmogorovSmirnovCdfDurbin(n, x);
  else cdf = kolmogorovSmirnovCdfPelzGood(n, x);
  return clipProbability(1 - clipProbability(cdf));
}
