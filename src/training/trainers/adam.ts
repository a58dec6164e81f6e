import { pow, sqrt } from './math';
/**
 * Adam (Kingma & Ba, 2015) over a list of parameter tensors, with bias-corrected moment estimates.
 * Moments are kept in float64: they are a small fraction of the work per step, and float64 keeps
 * the second moment from underflowing for rarely-active inputs (rare MNIST pixels).
 */
export interface AdamSettings {
  learningRate: number;
  beta1: number;
  beta2: number;
  epsilon: number;
}

export const DEFAULT_ADAM: AdamSettings = {
  learningRate: 1e-3,
  beta1: 0.9,
  beta2: 0.999,
  epsilon: 1e-8,
};

export class AdamOptimizer {
  private readonly firstMoments: Float64Array[];
  private readonly secondMoments: Float64Array[];
  private stepCount = 0;

  constructor(
    parameterSizes: readonly number[],
    private readonly settings: AdamSettings,
  ) {
    this.firstMoments = parameterSizes.map((n) => new Float64Array(n));
    this.secondMoments = parameterSizes.map((n) => new Float64Array(n));
  }

  get steps(): number {
    return this.stepCount;
  }

  /** One update: parameters[t] -= lr · m̂ / (√v̂ + ε), for every tensor t. */
  step(
    parameters: readonly Float32Array[],
    gradients: readonly Float32Array[],
    learningRate = this.settings.learningRate,
  ): void {
    const { beta1, beta2, epsilon } = this.settings;
    this.stepCount++;
    const correction1 = 1 - pow(beta1, this.stepCount);
    const correction2 = 1 - pow(beta2, this.stepCount);
    // Fold the bias corrections into the step size and epsilon (the paper's efficient form).
    const stepSize = (learningRate * sqrt(correction2)) / correction1;
    const epsilonHat = epsilon * sqrt(correction2);
    for (let t = 0; t < parameters.length; t++) {
      const p = parameters[t];
      const g = gradients[t];
      const m = this.firstMoments[t];
      const v = this.secondMoments[t];
      for (let i = 0; i < p.length; i++) {
        const gi = g[i];
        const mi = beta1 * m[i] + (1 - beta1) * gi;
        const vi = beta2 * v[i] + (1 - beta2) * gi * gi;
        m[i] = mi;
        v[i] = vi;
        p[i] -= (stepSize * mi) / (sqrt(vi) + epsilonHat);
      }
    }
  }
}
