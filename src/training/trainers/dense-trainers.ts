import { DenseNetworkTrainer, DenseTrainingOptions } from './dense-trainer';

/** Options of the trainers without hidden layers. */
export type LinearTrainingOptions = Omit<DenseTrainingOptions, 'hiddenLayers'>;

/** Multinomial logistic regression: one dense layer and a softmax, trained on cross-entropy. */
export class SoftmaxRegression extends DenseNetworkTrainer {
  constructor(options: Partial<LinearTrainingOptions> = {}) {
    super('classification', { ...options, hiddenLayers: [] });
  }
}

/** Multi-layer perceptron classifier: ReLU hidden layers, softmax output, cross-entropy loss. */
export class MlpClassifier extends DenseNetworkTrainer {
  constructor(options: Partial<DenseTrainingOptions> = {}) {
    super('classification', options);
  }
}

/** Multi-layer perceptron regressor: ReLU hidden layers, linear output, mean squared error. */
export class MlpRegressor extends DenseNetworkTrainer {
  constructor(options: Partial<DenseTrainingOptions> = {}) {
    super('regression', options);
  }
}
