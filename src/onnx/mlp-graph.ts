import { OnnxGraphBuilder } from './graph-builder';

/**
 * ONNX export of a dense network: optional standardisation, Gemm layers with ReLU between them,
 * and the heads Argus serves — `probabilities` (softmax) + `label` (argmax, int64) for classifiers,
 * `value` for regressors. The batch dimension is dynamic (`batch`) unless `fixedBatch` is given.
 */

export interface DenseLayer {
  /** Row-major [inputs × outputs]. */
  weights: Float32Array;
  bias: Float32Array;
  inputs: number;
  outputs: number;
}

export interface DenseNetworkSpec {
  name: string;
  task: 'classification' | 'regression';
  layers: DenseLayer[];
  /** Per-feature standardisation learned from training data: (x - mean) / std. */
  standardize?: { mean: Float32Array; std: Float32Array };
  inputName?: string;
  fixedBatch?: number;
  opset?: number;
  metadata?: Record<string, string>;
}

export function buildDenseNetwork(spec: DenseNetworkSpec): Uint8Array {
  if (spec.layers.length === 0) throw new Error('a dense network needs at least one layer');
  for (let i = 1; i < spec.layers.length; i++) {
    if (spec.layers[i].inputs !== spec.layers[i - 1].outputs) {
      throw new Error(
        `layer ${i} takes ${spec.layers[i].inputs} inputs, previous gives ${spec.layers[i - 1].outputs}`,
      );
    }
  }
  const inputName = spec.inputName ?? 'input';
  const batch = spec.fixedBatch ?? 'batch';
  const features = spec.layers[0].inputs;
  const last = spec.layers[spec.layers.length - 1];
  const g = new OnnxGraphBuilder(spec.name, spec.opset ?? 13);
  g.input(inputName, 'float32', [batch, features]);

  let current = inputName;
  if (spec.standardize) {
    g.initializer('scaler_mean', {
      type: 'float32',
      dims: [features],
      values: spec.standardize.mean,
    });
    g.initializer('scaler_std', {
      type: 'float32',
      dims: [features],
      values: spec.standardize.std,
    });
    g.node('Sub', [current, 'scaler_mean'], ['centered']);
    g.node('Div', ['centered', 'scaler_std'], ['standardized']);
    current = 'standardized';
  }
  spec.layers.forEach((layer, i) => {
    g.initializer(`W${i}`, {
      type: 'float32',
      dims: [layer.inputs, layer.outputs],
      values: layer.weights,
    });
    g.initializer(`b${i}`, { type: 'float32', dims: [layer.outputs], values: layer.bias });
    const out = i === spec.layers.length - 1 ? 'logits' : `h${i}`;
    g.node('Gemm', [current, `W${i}`, `b${i}`], [out]);
    current = out;
    if (i < spec.layers.length - 1) {
      g.node('Relu', [out], [`${out}_relu`]);
      current = `${out}_relu`;
    }
  });

  if (spec.task === 'classification') {
    g.node('Softmax', [current], ['probabilities'], { axis: 1 });
    g.node('ArgMax', ['probabilities'], ['label'], { axis: 1, keepdims: 0 });
    g.output('probabilities', 'float32', [batch, last.outputs]);
    g.output('label', 'int64', [batch]);
  } else {
    g.node('Identity', [current], ['value']);
    g.output('value', 'float32', [batch, last.outputs]);
  }
  for (const [k, v] of Object.entries(spec.metadata ?? {})) g.meta(k, v);
  return g.toBytes();
}
