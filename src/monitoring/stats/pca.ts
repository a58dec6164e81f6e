import { InvalidInputError } from '../../common/errors';

/**
 * PCA for multivariate drift on wide inputs (NannyML's data reconstruction drift): standardize,
 * keep the principal components that explain more than `varianceToKeep` (65%) of the variance,
 * and track per-row reconstruction error ‖z − VᵀVz‖ of the standardized row z.
 *
 * Pure TypeScript on Float64Array. Small inputs (≤ 128 columns) get a full cyclic Jacobi
 * eigendecomposition of the covariance; wider inputs use deterministic randomized subspace
 * iteration with Rayleigh–Ritz (Halko, Martinsson & Tropp 2011), which only needs the leading
 * components and costs O(d²·r) per iteration instead of O(d³) per Jacobi sweep.
 */

export interface PcaModel {
  columns: number;
  /** Column means (missing values are imputed with them). */
  center: number[];
  /**
   * Column population std (1 for constant columns, StandardScaler's rule), floored at
   * `rangeFraction` · (max − min) when that option is set.
   */
  scale: number[];
  /** Principal axes, one orthonormal row of length `columns` each. */
  components: number[][];
  /** Eigenvalues of the standardized covariance (ddof = 1), descending. */
  explained_variance: number[];
  explained_variance_ratio: number[];
  /** Σ explained_variance_ratio of the kept components. */
  variance_kept: number;
  rows_fitted: number;
}

/** Symmetric eigendecomposition by cyclic Jacobi rotations; eigenvalues sorted descending. */
export function symmetricEigen(matrix: readonly ArrayLike<number>[]): {
  values: Float64Array;
  vectors: Float64Array[];
} {
  const n = matrix.length;
  const a = matrix.map((row) => Float64Array.from(row));
  for (const row of a) if (row.length !== n) throw new InvalidInputError('matrix must be square');
  const v: Float64Array[] = Array.from({ length: n }, (_, i) => {
    const row = new Float64Array(n);
    row[i] = 1;
    return row;
  });
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    let diag = 0;
    for (let i = 0; i < n; i++) {
      diag += a[i][i] * a[i][i];
      for (let j = i + 1; j < n; j++) off += a[i][j] * a[i][j];
    }
    if (off <= 1e-30 * Math.max(diag, 1e-300)) break;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = a[p][q];
        if (apq === 0) continue;
        const theta = (a[q][q] - a[p][p]) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          const akp = a[k][p];
          const akq = a[k][q];
          a[k][p] = c * akp - s * akq;
          a[k][q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = a[p][k];
          const aqk = a[q][k];
          a[p][k] = c * apk - s * aqk;
          a[q][k] = s * apk + c * aqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = v[k][p];
          const vkq = v[k][q];
          v[k][p] = c * vkp - s * vkq;
          v[k][q] = s * vkp + c * vkq;
        }
      }
    }
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((i, j) => a[j][j] - a[i][i]);
  const values = Float64Array.from(order, (i) => a[i][i]);
  // Column i of v is the eigenvector of a[i][i]; return them as rows.
  const vectors = order.map((i) => Float64Array.from(v, (row) => row[i]));
  return { values, vectors };
}

/** Standardized covariance (ddof = 1) of the rows, plus the per-column center and scale. */
function standardizedCovariance(
  rows: readonly ArrayLike<number>[],
  d: number,
  rangeFraction: number,
) {
  const min = new Float64Array(d).fill(Number.POSITIVE_INFINITY);
  const max = new Float64Array(d).fill(Number.NEGATIVE_INFINITY);
  for (const row of rows) {
    for (let j = 0; j < d; j++) {
      const x = row[j];
      if (x < min[j]) min[j] = x;
      if (x > max[j]) max[j] = x;
    }
  }
  const n = rows.length;
  const center = new Float64Array(d);
  const counts = new Float64Array(d);
  for (const row of rows) {
    for (let j = 0; j < d; j++) {
      const x = row[j];
      if (!Number.isNaN(x)) {
        center[j] += x;
        counts[j]++;
      }
    }
  }
  for (let j = 0; j < d; j++) center[j] = counts[j] > 0 ? center[j] / counts[j] : 0;
  // Centered, mean-imputed rows: the imputed entries are exactly 0 after centering.
  const variance = new Float64Array(d);
  const cov: Float64Array[] = Array.from({ length: d }, () => new Float64Array(d));
  const centered = new Float64Array(d);
  const nonZero = new Int32Array(d);
  for (const row of rows) {
    let nz = 0;
    for (let j = 0; j < d; j++) {
      const x = row[j];
      const c = Number.isNaN(x) ? 0 : x - center[j];
      centered[j] = c;
      if (c !== 0) nonZero[nz++] = j;
    }
    // Only the non-zero entries contribute (sparse rows, e.g. images, are much cheaper).
    for (let a = 0; a < nz; a++) {
      const i = nonZero[a];
      const ci = centered[i];
      const covRow = cov[i];
      for (let b = a; b < nz; b++) {
        const j = nonZero[b];
        covRow[j] += ci * centered[j];
      }
    }
  }
  for (let i = 0; i < d; i++) variance[i] = cov[i][i] / n;
  // Optionally floor the scale at a fraction of the column's range: a column that is almost
  // constant in the reference (a border pixel lit in 2 of 7000 images) would otherwise turn every
  // later non-zero value into a z-score in the hundreds and swamp the reconstruction error. For a
  // well-spread column range/10 is below its std and changes nothing.
  const scale = Float64Array.from(variance, (v, j) =>
    v > 0 ? Math.max(Math.sqrt(v), rangeFraction * (max[j] - min[j])) : 1,
  );
  for (let i = 0; i < d; i++) {
    for (let j = i; j < d; j++) {
      const value = cov[i][j] / Math.max(n - 1, 1) / (scale[i] * scale[j]);
      cov[i][j] = value;
      cov[j][i] = value;
    }
  }
  return { center, scale, cov };
}

/** Deterministic pseudo-random numbers (LCG) for the subspace starting block. */
function startingBlock(d: number, width: number): Float64Array[] {
  let state = 2463534242;
  const columns: Float64Array[] = [];
  for (let c = 0; c < width; c++) {
    const col = new Float64Array(d);
    for (let i = 0; i < d; i++) {
      state = (1664525 * state + 1013904223) % 4294967296;
      col[i] = state / 4294967296 - 0.5;
    }
    columns.push(col);
  }
  return columns;
}

/** Orthonormalizes columns in place (modified Gram–Schmidt, twice); drops dependent columns. */
function orthonormalize(columns: Float64Array[]): Float64Array[] {
  const out: Float64Array[] = [];
  for (const col of columns) {
    for (let pass = 0; pass < 2; pass++) {
      for (const q of out) {
        let dot = 0;
        for (let i = 0; i < col.length; i++) dot += q[i] * col[i];
        for (let i = 0; i < col.length; i++) col[i] -= dot * q[i];
      }
    }
    let norm = 0;
    for (let i = 0; i < col.length; i++) norm += col[i] * col[i];
    norm = Math.sqrt(norm);
    if (norm < 1e-12) continue;
    for (let i = 0; i < col.length; i++) col[i] /= norm;
    out.push(col);
  }
  return out;
}

function multiply(cov: readonly Float64Array[], col: Float64Array): Float64Array {
  const d = cov.length;
  const out = new Float64Array(d);
  for (let i = 0; i < d; i++) {
    const row = cov[i];
    let s = 0;
    for (let j = 0; j < d; j++) s += row[j] * col[j];
    out[i] = s;
  }
  return out;
}

/** Leading eigenpairs of a symmetric PSD matrix by subspace iteration + Rayleigh–Ritz. */
function leadingEigen(cov: readonly Float64Array[], width: number, iterations: number) {
  let q = orthonormalize(startingBlock(cov.length, width));
  for (let it = 0; it < iterations; it++) q = orthonormalize(q.map((col) => multiply(cov, col)));
  const cq = q.map((col) => multiply(cov, col));
  const small = q.map((qi) =>
    cq.map((cj) => {
      let s = 0;
      for (let k = 0; k < qi.length; k++) s += qi[k] * cj[k];
      return s;
    }),
  );
  const { values, vectors } = symmetricEigen(small);
  const d = cov.length;
  const axes = vectors.map((u) => {
    const axis = new Float64Array(d);
    u.forEach((weight, j) => {
      const col = q[j];
      for (let i = 0; i < d; i++) axis[i] += weight * col[i];
    });
    return axis;
  });
  return { values, vectors: axes };
}

export const DEFAULT_VARIANCE_TO_KEEP = 0.65;
export const DEFAULT_PCA_MAX_COMPONENTS = 100;
const FULL_EIGEN_MAX_COLUMNS = 128;

/**
 * Fits the PCA basis. Components: the smallest count whose cumulative explained variance ratio
 * exceeds `varianceToKeep` (sklearn's rule for a fractional n_components), capped at
 * `maxComponents` (then `variance_kept` reports what the cap keeps).
 */
export function fitPca(
  rows: readonly ArrayLike<number>[],
  options: {
    varianceToKeep?: number;
    maxComponents?: number;
    /** Floor of each column's scale as a fraction of its range (0 = plain StandardScaler). */
    rangeFraction?: number;
  } = {},
): PcaModel {
  const keep = options.varianceToKeep ?? DEFAULT_VARIANCE_TO_KEEP;
  const rangeFraction = options.rangeFraction ?? 0;
  const maxComponents = options.maxComponents ?? DEFAULT_PCA_MAX_COMPONENTS;
  if (!(keep > 0 && keep < 1)) throw new InvalidInputError('varianceToKeep must be in (0, 1)');
  if (rows.length < 2) throw new InvalidInputError('PCA needs at least two rows');
  const d = rows[0].length;
  for (const row of rows) {
    if (row.length !== d) throw new InvalidInputError('all rows need the same number of columns');
  }
  const { center, scale, cov } = standardizedCovariance(rows, d, rangeFraction);
  let total = 0;
  for (let i = 0; i < d; i++) total += cov[i][i];
  const modelBase = {
    columns: d,
    center: Array.from(center),
    scale: Array.from(scale),
    rows_fitted: rows.length,
  };
  if (total <= 0) {
    return {
      ...modelBase,
      components: [],
      explained_variance: [],
      explained_variance_ratio: [],
      variance_kept: 0,
    };
  }

  let values: Float64Array;
  let vectors: Float64Array[];
  if (d <= FULL_EIGEN_MAX_COLUMNS) {
    ({ values, vectors } = symmetricEigen(cov));
  } else {
    // Grow the subspace until its leading eigenvalues cover the variance to keep.
    let width = Math.min(d, 32);
    for (;;) {
      ({ values, vectors } = leadingEigen(cov, width, 8));
      let covered = 0;
      const limit = Math.max(1, width - 8); // the last few Ritz values are the least accurate
      for (let i = 0; i < limit; i++) covered += Math.max(values[i], 0);
      if (covered / total > keep || width >= d || limit >= maxComponents) break;
      width = Math.min(d, width * 2);
    }
  }
  const ratios: number[] = [];
  let cumulative = 0;
  let count = 0;
  while (count < values.length && count < maxComponents) {
    const ratio = Math.max(values[count], 0) / total;
    ratios.push(ratio);
    cumulative += ratio;
    count++;
    if (cumulative > keep) break;
  }
  return {
    ...modelBase,
    components: vectors.slice(0, count).map((v) => Array.from(v)),
    explained_variance: Array.from(values.slice(0, count)),
    explained_variance_ratio: ratios,
    variance_kept: cumulative,
  };
}

/**
 * Reconstruction error ‖z − VᵀVz‖ of one row, z the standardized row (NaN entries are imputed
 * with the column mean). The monitoring layout computes it for every logged row of a version with
 * a multivariate profile, at flush time on the serving thread, so it is written for speed: the
 * rows of V are orthonormal, so ‖z − VᵀVz‖² = ‖z‖² − ‖Vz‖², and with W = V·diag(1/scale) both
 * terms are sums over the row's non-zero values only — (Vz)ₖ = Σⱼ Wₖⱼxⱼ − Σⱼ Wₖⱼcⱼ, and ‖z‖²
 * expands the same way. An MNIST row (81 % zeros, 52 components) takes ~18 µs instead of the
 * ~120–150 µs of the textbook form, which `exactReconstructionError` keeps (NaN rows go there;
 * the tests compare the two).
 */
export function reconstructionError(model: PcaModel, row: ArrayLike<number>): number {
  const d = model.columns;
  if (row.length !== d) throw new InvalidInputError(`a row needs ${d} values`);
  const s = scorerOf(model);
  const nonZero = s.nonZero;
  let n = 0;
  let squaredNorm = s.centerNorm;
  for (let j = 0; j < d; j++) {
    const x = row[j];
    if (x === 0) continue;
    if (Number.isNaN(x)) return exactReconstructionError(model, row);
    nonZero[n++] = j;
    const scaled = x * s.inverseScale[j];
    squaredNorm += scaled * scaled - 2 * x * s.centerOverScaleSquared[j];
  }
  const weights = s.weights;
  let projected = 0;
  for (let k = 0, base = 0; k < s.components; k++, base += d) {
    let p = -s.bias[k];
    for (let t = 0; t < n; t++) {
      const j = nonZero[t];
      p += weights[base + j] * row[j];
    }
    projected += p * p;
  }
  return Math.sqrt(Math.max(0, squaredNorm - projected));
}

/** ‖z − VᵀVz‖ computed as written: a reference for `reconstructionError`, and its NaN path. */
export function exactReconstructionError(model: PcaModel, row: ArrayLike<number>): number {
  const d = model.columns;
  if (row.length !== d) throw new InvalidInputError(`a row needs ${d} values`);
  const z = new Float64Array(d);
  for (let j = 0; j < d; j++) {
    const x = row[j];
    z[j] = Number.isNaN(x) ? 0 : (x - model.center[j]) / model.scale[j];
  }
  const residual = Float64Array.from(z);
  for (const axis of model.components) {
    let projection = 0;
    for (let j = 0; j < d; j++) projection += axis[j] * z[j];
    for (let j = 0; j < d; j++) residual[j] -= projection * axis[j];
  }
  let sum = 0;
  for (let j = 0; j < d; j++) sum += residual[j] * residual[j];
  return Math.sqrt(sum);
}

/** What `reconstructionError` precomputes once per model (models are immutable once fitted). */
interface PcaScorer {
  components: number;
  /** W = V·diag(1/scale), row-major, components × columns. */
  weights: Float64Array;
  /** bₖ = Σⱼ Wₖⱼ·centerⱼ. */
  bias: Float64Array;
  inverseScale: Float64Array;
  /** centerⱼ / scaleⱼ². */
  centerOverScaleSquared: Float64Array;
  /** Σⱼ (centerⱼ / scaleⱼ)²: ‖z‖² of an all-zero row. */
  centerNorm: number;
  /** Scratch: indices of a row's non-zero values. */
  nonZero: Int32Array;
}

const scorers = new WeakMap<PcaModel, PcaScorer>();

function scorerOf(model: PcaModel): PcaScorer {
  const cached = scorers.get(model);
  if (cached) return cached;
  const d = model.columns;
  const k = model.components.length;
  const inverseScale = Float64Array.from(model.scale, (v) => 1 / v);
  const centerOverScaleSquared = Float64Array.from(
    model.center,
    (c, j) => c * inverseScale[j] * inverseScale[j],
  );
  let centerNorm = 0;
  for (let j = 0; j < d; j++) centerNorm += (model.center[j] * inverseScale[j]) ** 2;
  const weights = new Float64Array(k * d);
  const bias = new Float64Array(k);
  model.components.forEach((axis, c) => {
    let b = 0;
    for (let j = 0; j < d; j++) {
      const w = axis[j] * inverseScale[j];
      weights[c * d + j] = w;
      b += w * model.center[j];
    }
    bias[c] = b;
  });
  const scorer: PcaScorer = {
    components: k,
    weights,
    bias,
    inverseScale,
    centerOverScaleSquared,
    centerNorm,
    nonZero: new Int32Array(d),
  };
  scorers.set(model, scorer);
  return scorer;
}
