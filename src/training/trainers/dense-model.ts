import type { Task } from './dataset';
import { multiplyAccumulate } from './matrix';
import { applyStandardization, Standardization } from './standardization';
import { exp } from './math';

/**
 * A trained dense network in exactly the form it is exported: optional standardisation, then
 * dense layers with ReLU between them, then softmax (classification) or nothing (regression).
 * Its forward pass is the reference the exported ONNX graph is checked against.
 */
export interface DenseLayerParameters {
  /** Row-major [inputs × outputs], the layout the ONNX Gemm initialiser uses. */
  weights: Float32Array;
  bias: Float32Array;
  inputs: number;
  outputs: number;
}

export interface DenseModelParameters {
  task: Task;
  layers: DenseLayerParameters[];
  standardization: Standardization | null;
}

export class DenseModel {
  constructor(readonly parameters: DenseModelParameters) {}

  get task(): Task {
    return this.parameters.task;
  }

  get featureCount(): number {
    return this.parameters.layers[0].inputs;
  }

  get outputCount(): number {
    const { layers } = this.parameters;
    return layers[layers.length - 1].outputs;
  }

  /**
   * Class probabilities (rows × classes) for a classifier, values (rows × targets) for a
   * regressor. Float32 storage and the graph's steps: Sub/Div, then per layer b + x·W and ReLU,
   * then a max-shifted softmax.
   */
  predict(features: Float32Array, rows: number): Float32Array {
    const { layers, standardization } = this.parameters;
    let current = standardization
      ? applyStandardization(features, rows, standardization)
      : features;
    for (let l = 0; l < layers.length; l++) {
      const { weights, bias, inputs, outputs } = layers[l];
      const next = new Float32Array(rows * outputs);
      for (let i = 0; i < rows; i++) next.set(bias, i * outputs);
      multiplyAccumulate(current, weights, next, rows, inputs, outputs);
      if (l < layers.length - 1) {
        for (let i = 0; i < next.length; i++) if (next[i] < 0) next[i] = 0;
      }
      current = next;
    }
    if (this.parameters.task === 'classification')
      softmaxRowsInPlace(current, rows, this.outputCount);
    return current;
  }

  /** Predicted class index per row (the arg-max of the probabilities; first index on ties). */
  predictLabels(features: Float32Array, rows: number): Int32Array {
    if (this.task !== 'classification') throw new Error('predictLabels needs a classifier');
    return argmaxRows(this.predict(features, rows), rows, this.outputCount);
  }
}

export function softmaxRowsInPlace(values: Float32Array, rows: number, columns: number): void {
  for (let i = 0; i < rows; i++) {
    const start = i * columns;
    let largest = -Infinity;
    for (let j = 0; j < columns; j++) if (values[start + j] > largest) largest = values[start + j];
    let sum = 0;
    for (let j = 0; j < columns; j++) sum += exp(values[start + j] - largest);
    for (let j = 0; j < columns; j++) values[start + j] = exp(values[start + j] - largest) / sum;
  }
}

export function argmaxRows(values: Float32Array, rows: number, columns: number): Int32Array {
  const out = new Int32Array(rows);
  for (let i = 0; i < rows; i++) {
    const start = i * columns;
    let best = 0;
    for (let j = 1; j < columns; j++) if (values[start + j] > values[start + best]) best = j;
    out[i] = best;
  }
  return out;
}

/** A deep copy, so a caller can keep parameters while training continues to change its own. */
export function cloneModelParameters(parameters: DenseModelParameters): DenseModelParameters {
  return {
    task: parameters.task,
    layers: parameters.layers.map((layer) => ({
      weights: layer.weights.slice(),
      bias: layer.bias.slice(),
      inputs: layer.inputs,
      outputs: layer.outputs,
    })),
    standardization: parameters.standardization
      ? {
          mean: parameters.standardization.mean.slice(),
          std: parameters.standardization.std.slice(),
        }
      : null,
  };
}
