import { buildDenseNetwork } from '../onnx/mlp-graph';
import type { DenseModel } from './trainers/dense-model';

/** The ONNX opset the exported graphs declare (Softmax with axis = 1 needs ≥ 13 semantics). */
export const EXPORT_OPSET = 13;

export interface OnnxExportOptions {
  /** Graph name inside the ONNX file. */
  name: string;
  /** Stored as ONNX metadata_props; keep it deterministic (no timestamps) so bytes reproduce. */
  metadata?: Record<string, string>;
}

/**
 * ONNX bytes for a trained dense model, through the graph builder the test fixtures use: input
 * `input` [batch, features] float32; the learned standardisation as Sub/Div; Gemm + Relu layers;
 * `probabilities` + `label` (int64) for classifiers, `value` for regressors; dynamic batch.
 */
export function exportDenseModelToOnnx(model: DenseModel, options: OnnxExportOptions): Uint8Array {
  const { layers, standardization, task } = model.parameters;
  return buildDenseNetwork({
    name: options.name,
    task,
    layers,
    standardize: standardization ?? undefined,
    opset: EXPORT_OPSET,
    metadata: options.metadata,
  });
}
