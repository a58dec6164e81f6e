import { fround, max, sqrt } from './math';
/**
 * Per-feature standardisation, (x − mean) / std, learned from the training rows only and carried
 * into the exported ONNX graph (Sub, Div), so callers send raw features.
 */
export interface Standardization {
  mean: Float32Array;
  std: Float32Array;
}

/**
 * Mean and population standard deviation of every column. A column whose spread is below
 * `minStd` gets std = max(std, minStd), and a constant column gets std = 1 (as scikit-learn's
 * StandardScaler does), so a feature that never varied in training cannot divide by zero — or
 * blow a rare non-zero value up to thousands of standard deviations — at serving time.
 */
export function fitStandardization(
  features: Float32Array,
  rows: number,
  columns: number,
  minStd = 0,
): Standardization {
  // Two passes in float64: a one-pass sum of squares loses precision when |mean| ≫ std.
  const sum = new Float64Array(columns);
  for (let i = 0; i < rows; i++) {
    const start = i * columns;
    for (let j = 0; j < columns; j++) sum[j] += features[start + j];
  }
  const mean = new Float64Array(columns);
  for (let j = 0; j < columns; j++) mean[j] = rows > 0 ? sum[j] / rows : 0;
  const squares = new Float64Array(columns);
  for (let i = 0; i < rows; i++) {
    const start = i * columns;
    for (let j = 0; j < columns; j++) {
      const d = features[start + j] - mean[j];
      squares[j] += d * d;
    }
  }
  const result: Standardization = {
    mean: new Float32Array(columns),
    std: new Float32Array(columns),
  };
  for (let j = 0; j < columns; j++) {
    const std = rows > 0 ? sqrt(squares[j] / rows) : 0;
    result.mean[j] = mean[j];
    result.std[j] = std === 0 ? 1 : max(std, minStd);
  }
  return result;
}

/** The identity transform (mean 0, std 1), for models trained without standardisation. */
export function identityStandardization(columns: number): Standardization {
  return { mean: new Float32Array(columns), std: new Float32Array(columns).fill(1) };
}

/** Applies a standardisation in float32, in the same order of operations as the ONNX graph. */
export function applyStandardization(
  features: Float32Array,
  rows: number,
  standardization: Standardization,
): Float32Array {
  const columns = standardization.mean.length;
  const out = new Float32Array(rows * columns);
  for (let i = 0; i < rows; i++) {
    const start = i * columns;
    for (let j = 0; j < columns; j++) {
      // Sub then Div, each rounded to float32, exactly like the exported graph.
      const centered = fround(features[start + j] - standardization.mean[j]);
      out[start + j] = centered / standardization.std[j];
    }
  }
  return out;
}
