import { InvalidInputError } from '../../common/errors';
import { TrainingCancelledError } from '../errors';
import { AdamOptimizer } from './adam';
import { classCounts, Dataset, datasetRows, selectRows, Task, validateDataset } from './dataset';
import { DenseLayerParameters, DenseModel } from './dense-model';
import { multiplyAccumulate, multiplyTransposedAAccumulate, multiplyTransposedB } from './matrix';
import { SeededRandom } from './random';
import { fitStandardization, Standardization } from './standardization';
import { exp, isFiniteNumber, log, max, min, sqrt } from './math';

/**
 * Mini-batch training of a dense network (dense layers, ReLU between them) with Adam, L2 and early
 * stopping on a validation set. One engine behind three trainers: softmax regression is the
 * network with no hidden layer, the MLP classifier adds hidden layers, the MLP regressor swaps the
 * softmax cross-entropy head for mean squared error.
 *
 * Pure computation: no I/O, no clocks except for the progress report's timings, and every random
 * choice (validation split, initial weights, batch order) comes from one seeded generator, so a
 * seed reproduces a run bit for bit on one machine.
 */

export interface DenseTrainingOptions {
  /** Hidden layer widths; [] is softmax / linear regression. */
  hiddenLayers: number[];
  /** Upper bound on passes over the training rows; early stopping usually ends sooner. */
  maxEpochs: number;
  batchSize: number;
  learningRate: number;
  /** The learning rate is multiplied by this after every epoch (1 = constant). */
  learningRateDecay: number;
  /** L2 penalty λ: the loss gains λ/2·‖W‖² over all weight matrices (biases are not penalised). */
  l2: number;
  beta1: number;
  beta2: number;
  epsilon: number;
  /** Share of the training rows held out for early stopping when no validation set is given. */
  validationFraction: number;
  /** Epochs without a validation-loss improvement of more than `minDelta` before stopping. */
  patience: number;
  minDelta: number;
  seed: number;
  /** Learn per-feature standardisation from the training rows and put it in the model. */
  standardize: boolean;
  /** Floor for a feature's standard deviation (see fitStandardization). */
  minStd: number;
}

export const DEFAULT_TRAINING_OPTIONS: Readonly<DenseTrainingOptions> = Object.freeze({
  hiddenLayers: [64],
  maxEpochs: 100,
  batchSize: 64,
  learningRate: 1e-3,
  learningRateDecay: 1,
  l2: 1e-4,
  beta1: 0.9,
  beta2: 0.999,
  epsilon: 1e-8,
  validationFraction: 0.1,
  patience: 5,
  minDelta: 0,
  seed: 1,
  standardize: true,
  minStd: 0,
});

export type ValidationMetricName = 'accuracy' | 'rmse';

export interface EpochProgress {
  /** 1-based. */
  epoch: number;
  maxEpochs: number;
  /** Mean loss over the epoch's batches: cross-entropy (nats) or MSE in target units. */
  trainLoss: number;
  validationLoss: number | null;
  /** Accuracy (classifiers) or RMSE in target units (regressors) on the validation rows. */
  validationMetric: number | null;
  metricName: ValidationMetricName;
  /** Epoch whose weights are currently the best (the ones early stopping would restore). */
  bestEpoch: number;
  learningRate: number;
  /** Training rows per second over the epoch's mini-batch updates (validation excluded). */
  samplesPerSecond: number;
  /** Wall time of the whole epoch, validation included. */
  epochSeconds: number;
  /** Matrix-product FLOPs actually executed per second (zeros skipped). */
  executedGflops: number;
  /** FLOPs a dense implementation would have spent, per second of this one's time. */
  denseEquivalentGflops: number;
}

export interface FitHooks {
  onEpoch?: (progress: EpochProgress) => void;
  /** Polled before every mini-batch; returning true cancels with TrainingCancelledError. */
  shouldStop?: () => boolean;
}

export interface FitReport {
  model: DenseModel;
  history: EpochProgress[];
  epochsRun: number;
  /** 1-based epoch whose weights the model holds (the last epoch without validation). */
  bestEpoch: number;
  stoppedEarly: boolean;
  trainRows: number;
  validationRows: number;
  /** The rows used for early stopping: the given validation set or the split-off share. */
  validation: Dataset | null;
  /** Time in mini-batch updates (validation passes excluded). */
  trainingSeconds: number;
  /** Matrix-product FLOPs of the mini-batch updates: executed, and what dense kernels need. */
  executedFlops: number;
  denseEquivalentFlops: number;
}

const EVALUATION_CHUNK_ROWS = 256;

/**
 * Fills in defaults and checks every option, naming the first bad one. Options often arrive from
 * a request body, so unknown keys (a typo such as `hiden_layers`) are refused rather than ignored.
 */
export function resolveTrainingOptions(
  options: Partial<DenseTrainingOptions> = {},
): DenseTrainingOptions {
  for (const key of Object.keys(options)) {
    if (!(key in DEFAULT_TRAINING_OPTIONS)) {
      throw new InvalidInputError(
        `unknown training option '${key}'; known: ${Object.keys(DEFAULT_TRAINING_OPTIONS).join(', ')}`,
      );
    }
  }
  if (options.hiddenLayers !== undefined && !Array.isArray(options.hiddenLayers)) {
    throw new InvalidInputError('hiddenLayers must be an array of layer widths, e.g. [128]');
  }
  const resolved: DenseTrainingOptions = {
    ...DEFAULT_TRAINING_OPTIONS,
    ...stripUndefined(options),
    hiddenLayers: [...(options.hiddenLayers ?? DEFAULT_TRAINING_OPTIONS.hiddenLayers)],
  };
  const positiveInteger = (name: keyof DenseTrainingOptions, value: number, limit: number) => {
    if (!Number.isInteger(value) || value < 1 || value > limit) {
      throw new InvalidInputError(`${name} must be an integer in 1..${limit}, got ${value}`);
    }
  };
  const inRange = (name: keyof DenseTrainingOptions, value: number, lo: number, hi: number) => {
    if (!(typeof value === 'number' && value >= lo && value <= hi)) {
      throw new InvalidInputError(`${name} must be within [${lo}, ${hi}], got ${value}`);
    }
  };
  positiveInteger('maxEpochs', resolved.maxEpochs, 100_000);
  positiveInteger('batchSize', resolved.batchSize, 65_536);
  positiveInteger('patience', resolved.patience, 100_000);
  if (resolved.hiddenLayers.length > 8) {
    throw new InvalidInputError('hiddenLayers must be an array of at most 8 layer widths');
  }
  for (const width of resolved.hiddenLayers) {
    if (!Number.isInteger(width) || width < 1 || width > 4096) {
      throw new InvalidInputError(`hidden layer widths must be integers in 1..4096, got ${width}`);
    }
  }
  inRange('learningRate', resolved.learningRate, Number.MIN_VALUE, 10);
  inRange('learningRateDecay', resolved.learningRateDecay, Number.MIN_VALUE, 1);
  inRange('l2', resolved.l2, 0, 100);
  inRange('beta1', resolved.beta1, 0, 0.999999);
  inRange('beta2', resolved.beta2, 0, 0.999999999);
  inRange('epsilon', resolved.epsilon, Number.MIN_VALUE, 1);
  inRange('validationFraction', resolved.validationFraction, 0, 0.9);
  inRange('minDelta', resolved.minDelta, 0, Number.MAX_VALUE);
  inRange('minStd', resolved.minStd, 0, Number.MAX_VALUE);
  if (!Number.isSafeInteger(resolved.seed)) {
    throw new InvalidInputError(`seed must be an integer, got ${resolved.seed}`);
  }
  if (typeof resolved.standardize !== 'boolean') {
    throw new InvalidInputError('standardize must be true or false');
  }
  return resolved;
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  const out: Partial<T> = {};
  for (const key of Object.keys(value) as (keyof T)[]) {
    if (value[key] !== undefined) out[key] = value[key];
  }
  return out;
}

/**
 * Training-time data: features pre-multiplied by 1/std (zeros stay zeros, so sparse inputs stay
 * sparse) and targets in the form the loss wants. Centring is not applied to the rows; the
 * network folds "− mean/std" into the first layer's bias instead (see TrainingNetwork).
 */
interface PreparedData {
  rows: number;
  features: Float32Array;
  labels: Int32Array | null;
  /** Standardised regression targets, rows × targetCount. */
  targets: Float32Array | null;
}

interface TargetScaling {
  mean: Float64Array;
  std: Float64Array;
}

function prepare(
  dataset: Dataset,
  inverseStd: Float32Array | null,
  targetScaling: TargetScaling | null,
): PreparedData {
  const rows = datasetRows(dataset);
  const columns = dataset.featureCount;
  const source = dataset.features;
  let features = source;
  if (inverseStd) {
    features = new Float32Array(rows * columns);
    for (let i = 0; i < rows; i++) {
      const start = i * columns;
      for (let j = 0; j < columns; j++) features[start + j] = source[start + j] * inverseStd[j];
    }
  }
  if (dataset.task === 'classification') {
    return { rows, features, labels: dataset.labels, targets: null };
  }
  const { targetCount } = dataset;
  const targets = new Float32Array(dataset.targets.length);
  for (let i = 0; i < targets.length; i++) {
    const j = i % targetCount;
    targets[i] = targetScaling
      ? (dataset.targets[i] - targetScaling.mean[j]) / targetScaling.std[j]
      : dataset.targets[i];
  }
  return { rows, features, labels: null, targets };
}

function fitTargetScaling(dataset: Dataset): TargetScaling | null {
  if (dataset.task !== 'regression') return null;
  const { targets, targetCount } = dataset;
  const rows = targets.length / targetCount;
  const mean = new Float64Array(targetCount);
  const std = new Float64Array(targetCount);
  for (let i = 0; i < targets.length; i++) mean[i % targetCount] += targets[i];
  for (let j = 0; j < targetCount; j++) mean[j] /= rows;
  for (let i = 0; i < targets.length; i++) {
    const d = targets[i] - mean[i % targetCount];
    std[i % targetCount] += d * d;
  }
  for (let j = 0; j < targetCount; j++) {
    const s = sqrt(std[j] / rows);
    std[j] = s > 0 ? s : 1;
  }
  return { mean, std };
}

interface BatchLoss {
  /** Summed (not averaged) loss over the batch rows, in reporting units. */
  lossSum: number;
  /** Correct predictions (classifiers) or summed squared error in target units (regressors). */
  metricSum: number;
}

/**
 * The network while it trains: parameters, gradients, Adam state and per-batch buffers, all
 * allocated once. Standardisation is folded in: with x̃ = x·(1/std) precomputed and
 * shift = mean/std, the first layer computes (x̃ − shift)·W + b = x̃·W + (b − shiftᵀW), and its
 * weight gradient is x̃ᵀδ − shift ⊗ Σδ. Mathematically the same network as the exported one,
 * but the sparse x̃ goes through the zero-skipping kernels.
 */
class TrainingNetwork {
  readonly layers: DenseLayerParameters[];
  private readonly gradientWeights: Float32Array[];
  private readonly gradientBiases: Float32Array[];
  private readonly activations: Float32Array[];
  private readonly deltas: Float32Array[];
  private readonly firstLayerBias: Float32Array;
  readonly batchInput: Float32Array;
  private readonly optimizer: AdamOptimizer;
  executedFlops = 0;
  denseEquivalentFlops = 0;

  constructor(
    readonly task: Task,
    sizes: number[],
    capacityRows: number,
    private readonly shift: Float32Array | null,
    private readonly options: DenseTrainingOptions,
    private readonly targetStd: Float64Array | null,
    random: SeededRandom,
  ) {
    this.layers = [];
    for (let l = 0; l + 1 < sizes.length; l++) {
      const inputs = sizes[l];
      const outputs = sizes[l + 1];
      const weights = new Float32Array(inputs * outputs);
      const isHidden = l + 2 < sizes.length;
      if (isHidden) {
        // He initialisation: keeps the activation variance steady through ReLU layers.
        const std = sqrt(2 / inputs);
        for (let i = 0; i < weights.length; i++) weights[i] = random.nextNormal() * std;
      } else {
        // Glorot (uniform) for the linear output layer.
        const limit = sqrt(6 / (inputs + outputs));
        for (let i = 0; i < weights.length; i++) {
          weights[i] = (random.nextFloat() * 2 - 1) * limit;
        }
      }
      this.layers.push({ weights, bias: new Float32Array(outputs), inputs, outputs });
    }
    this.gradientWeights = this.layers.map((layer) => new Float32Array(layer.weights.length));
    this.gradientBiases = this.layers.map((layer) => new Float32Array(layer.outputs));
    this.activations = this.layers.map((layer) => new Float32Array(capacityRows * layer.outputs));
    this.deltas = this.layers.map((layer) => new Float32Array(capacityRows * layer.outputs));
    this.firstLayerBias = new Float32Array(this.layers[0].outputs);
    this.batchInput = new Float32Array(capacityRows * sizes[0]);
    this.optimizer = new AdamOptimizer(
      this.layers.flatMap((layer) => [layer.weights.length, layer.bias.length]),
      options,
    );
    this.refreshFirstLayerBias();
  }

  /** b − shiftᵀW for the first layer; recomputed whenever its weights change. */
  refreshFirstLayerBias(): void {
    const { weights, bias, inputs, outputs } = this.layers[0];
    const shift = this.shift;
    if (!shift) {
      this.firstLayerBias.set(bias);
      return;
    }
    const accumulator = new Float64Array(outputs);
    for (let j = 0; j < outputs; j++) accumulator[j] = bias[j];
    for (let p = 0; p < inputs; p++) {
      const s = shift[p];
      if (s === 0) continue;
      const start = p * outputs;
      for (let j = 0; j < outputs; j++) accumulator[j] -= s * weights[start + j];
    }
    this.firstLayerBias.set(accumulator);
  }

  /** Copies `rows` rows of `data` (by index) into the batch input buffer. */
  gatherInput(data: PreparedData, order: Uint32Array, start: number, rows: number): void {
    const columns = this.layers[0].inputs;
    for (let r = 0; r < rows; r++) {
      const from = order[start + r] * columns;
      this.batchInput.set(data.features.subarray(from, from + columns), r * columns);
    }
  }

  /** Forward pass over the batch buffer; leaves logits / outputs in the last activation buffer. */
  forward(rows: number): void {
    let input = this.batchInput;
    for (let l = 0; l < this.layers.length; l++) {
      const { weights, inputs, outputs } = this.layers[l];
      const bias = l === 0 ? this.firstLayerBias : this.layers[l].bias;
      const output = this.activations[l];
      for (let i = 0; i < rows; i++) output.set(bias, i * outputs);
      const nonZeros = multiplyAccumulate(input, weights, output, rows, inputs, outputs);
      this.executedFlops += 2 * nonZeros * outputs;
      this.denseEquivalentFlops += 2 * rows * inputs * outputs;
      if (l < this.layers.length - 1) {
        const used = rows * outputs;
        for (let i = 0; i < used; i++) if (output[i] < 0) output[i] = 0;
      }
      input = output;
    }
  }

  /**
   * Loss of the last forward pass against rows `order[start..start+rows)` of `data`, and, when
   * `withGradient`, the output-layer delta ∂(mean loss)/∂(output) in the last delta buffer.
   */
  lossAndOutputDelta(
    data: PreparedData,
    order: Uint32Array | null,
    start: number,
    rows: number,
    withGradient: boolean,
  ): BatchLoss {
    const last = this.layers.length - 1;
    const outputs = this.layers[last].outputs;
    const out = this.activations[last];
    const delta = this.deltas[last];
    let lossSum = 0;
    let metricSum = 0;
    if (this.task === 'classification') {
      const labels = data.labels as Int32Array;
      for (let i = 0; i < rows; i++) {
        const row = order ? order[start + i] : start + i;
        const label = labels[row];
        const base = i * outputs;
        let largest = -Infinity;
        let argmax = 0;
        for (let j = 0; j < outputs; j++) {
          if (out[base + j] > largest) {
            largest = out[base + j];
            argmax = j;
          }
        }
        let sumExp = 0;
        for (let j = 0; j < outputs; j++) sumExp += exp(out[base + j] - largest);
        const logSumExp = largest + log(sumExp);
        lossSum += logSumExp - out[base + label];
        if (argmax === label) metricSum++;
        if (withGradient) {
          for (let j = 0; j < outputs; j++) {
            const p = exp(out[base + j] - logSumExp);
            delta[base + j] = (j === label ? p - 1 : p) / rows;
          }
        }
      }
    } else {
      const targets = data.targets as Float32Array;
      const targetStd = this.targetStd as Float64Array;
      const scale = 2 / (rows * outputs);
      for (let i = 0; i < rows; i++) {
        const row = order ? order[start + i] : start + i;
        const base = i * outputs;
        for (let j = 0; j < outputs; j++) {
          const diff = out[base + j] - targets[row * outputs + j];
          const inTargetUnits = diff * targetStd[j];
          lossSum += inTargetUnits * inTargetUnits;
          if (withGradient) delta[base + j] = scale * diff;
        }
      }
      metricSum = lossSum;
    }
    return { lossSum, metricSum };
  }

  /** Gradients of the batch loss (+ L2) from the output delta back to the first layer. */
  backward(rows: number): void {
    const { l2 } = this.options;
    for (let l = this.layers.length - 1; l >= 0; l--) {
      const { weights, inputs, outputs } = this.layers[l];
      const input = l === 0 ? this.batchInput : this.activations[l - 1];
      const delta = this.deltas[l];
      const gradWeights = this.gradientWeights[l];
      const gradBias = this.gradientBiases[l];
      gradWeights.fill(0);
      const nonZeros = multiplyTransposedAAccumulate(
        input,
        delta,
        gradWeights,
        rows,
        inputs,
        outputs,
      );
      this.executedFlops += 2 * nonZeros * outputs;
      this.denseEquivalentFlops += 2 * rows * inputs * outputs;
      const biasSum = new Float64Array(outputs);
      for (let i = 0; i < rows; i++) {
        const base = i * outputs;
        for (let j = 0; j < outputs; j++) biasSum[j] += delta[base + j];
      }
      gradBias.set(biasSum);
      if (l === 0 && this.shift) {
        const shift = this.shift;
        for (let p = 0; p < inputs; p++) {
          const s = shift[p];
          if (s === 0) continue;
          const start = p * outputs;
          for (let j = 0; j < outputs; j++) gradWeights[start + j] -= s * gradBias[j];
        }
      }
      if (l2 > 0) {
        for (let i = 0; i < weights.length; i++) gradWeights[i] += l2 * weights[i];
      }
      if (l > 0) {
        const previousDelta = this.deltas[l - 1];
        const previousActivation = this.activations[l - 1];
        multiplyTransposedB(delta, weights, previousDelta, rows, outputs, inputs);
        this.executedFlops += 2 * rows * inputs * outputs;
        this.denseEquivalentFlops += 2 * rows * inputs * outputs;
        const used = rows * inputs;
        // ReLU derivative: no gradient flows through units that were off.
        for (let i = 0; i < used; i++) if (previousActivation[i] <= 0) previousDelta[i] = 0;
      }
    }
  }

  step(learningRate: number): void {
    const parameters: Float32Array[] = [];
    const gradients: Float32Array[] = [];
    for (let l = 0; l < this.layers.length; l++) {
      parameters.push(this.layers[l].weights, this.layers[l].bias);
      gradients.push(this.gradientWeights[l], this.gradientBiases[l]);
    }
    this.optimizer.step(parameters, gradients, learningRate);
    this.refreshFirstLayerBias();
  }

  snapshot(): Float32Array[] {
    return this.layers.flatMap((layer) => [layer.weights.slice(), layer.bias.slice()]);
  }

  restore(snapshot: Float32Array[]): void {
    this.layers.forEach((layer, l) => {
      layer.weights.set(snapshot[2 * l]);
      layer.bias.set(snapshot[2 * l + 1]);
    });
    this.refreshFirstLayerBias();
  }
}

/** The shared engine; use SoftmaxRegression, MlpClassifier or MlpRegressor. */
export class DenseNetworkTrainer {
  readonly options: DenseTrainingOptions;

  constructor(
    readonly task: Task,
    options: Partial<DenseTrainingOptions> = {},
  ) {
    this.options = resolveTrainingOptions(options);
  }

  fit(train: Dataset, validation: Dataset | null = null, hooks: FitHooks = {}): FitReport {
    const options = this.options;
    this.checkData(train, validation);
    const random = new SeededRandom(options.seed);

    // Early-stopping rows: the given validation set, or a seeded share of the training rows.
    let trainSet = train;
    let validationSet = validation;
    const totalRows = datasetRows(train);
    if (!validationSet && options.validationFraction > 0 && totalRows >= 2) {
      const permutation = random.permutation(totalRows);
      const validationRows = min(
        totalRows - 1,
        max(1, Math.round(totalRows * options.validationFraction)),
      );
      validationSet = selectRows(train, permutation.subarray(0, validationRows));
      trainSet = selectRows(train, permutation.subarray(validationRows));
    }
    const trainRows = datasetRows(trainSet);
    if (trainSet.task === 'classification') {
      const present = classCounts(trainSet).filter((count) => count > 0).length;
      if (present < 2) {
        throw new InvalidInputError(
          'the training rows hold a single class; a classifier needs at least two',
        );
      }
    }

    const standardization: Standardization | null = options.standardize
      ? fitStandardization(trainSet.features, trainRows, trainSet.featureCount, options.minStd)
      : null;
    let inverseStd: Float32Array | null = null;
    let shift: Float32Array | null = null;
    if (standardization) {
      inverseStd = new Float32Array(trainSet.featureCount);
      shift = new Float32Array(trainSet.featureCount);
      for (let j = 0; j < trainSet.featureCount; j++) {
        inverseStd[j] = 1 / standardization.std[j];
        shift[j] = standardization.mean[j] * inverseStd[j];
      }
    }
    const targetScaling = fitTargetScaling(trainSet);
    const preparedTrain = prepare(trainSet, inverseStd, targetScaling);
    const preparedValidation = validationSet
      ? prepare(validationSet, inverseStd, targetScaling)
      : null;

    const outputCount =
      trainSet.task === 'classification' ? trainSet.classCount : trainSet.targetCount;
    const sizes = [trainSet.featureCount, ...options.hiddenLayers, outputCount];
    const network = new TrainingNetwork(
      this.task,
      sizes,
      max(options.batchSize, EVALUATION_CHUNK_ROWS),
      shift,
      options,
      targetScaling ? targetScaling.std : null,
      random,
    );

    const history: EpochProgress[] = [];
    const order = new Uint32Array(trainRows);
    for (let i = 0; i < trainRows; i++) order[i] = i;
    let learningRate = options.learningRate;
    let bestLoss = Infinity;
    let bestEpoch = 0;
    let best: Float32Array[] | null = null;
    let epochsWithoutImprovement = 0;
    let stoppedEarly = false;
    let trainingSeconds = 0;
    let executedFlops = 0;
    let denseEquivalentFlops = 0;
    const lossDivisor = this.task === 'classification' ? 1 : outputCount;

    for (let epoch = 1; epoch <= options.maxEpochs; epoch++) {
      const epochStart = performance.now();
      const flopsBefore = network.executedFlops;
      const denseFlopsBefore = network.denseEquivalentFlops;
      random.shuffle(order);
      let lossSum = 0;
      for (let start = 0; start < trainRows; start += options.batchSize) {
        if (hooks.shouldStop?.()) throw new TrainingCancelledError();
        const rows = min(options.batchSize, trainRows - start);
        network.gatherInput(preparedTrain, order, start, rows);
        network.forward(rows);
        lossSum += network.lossAndOutputDelta(preparedTrain, order, start, rows, true).lossSum;
        network.backward(rows);
        network.step(learningRate);
      }
      const updateSeconds = (performance.now() - epochStart) / 1000;
      trainingSeconds += updateSeconds;
      // Only the mini-batch updates count towards throughput; validation passes come after.
      const executed = network.executedFlops - flopsBefore;
      const denseEquivalent = network.denseEquivalentFlops - denseFlopsBefore;
      executedFlops += executed;
      denseEquivalentFlops += denseEquivalent;
      const trainLoss = lossSum / (trainRows * lossDivisor);

      let validationLoss: number | null = null;
      let validationMetric: number | null = null;
      if (preparedValidation) {
        const evaluation = this.evaluatePrepared(network, preparedValidation);
        validationLoss = evaluation.loss;
        validationMetric = evaluation.metric;
        if (validationLoss < bestLoss - options.minDelta) {
          bestLoss = validationLoss;
          bestEpoch = epoch;
          best = network.snapshot();
          epochsWithoutImprovement = 0;
        } else {
          epochsWithoutImprovement++;
        }
      } else {
        bestEpoch = epoch;
      }
      const progress: EpochProgress = {
        epoch,
        maxEpochs: options.maxEpochs,
        trainLoss,
        validationLoss,
        validationMetric,
        metricName: this.task === 'classification' ? 'accuracy' : 'rmse',
        bestEpoch,
        learningRate,
        samplesPerSecond: trainRows / max(updateSeconds, 1e-9),
        epochSeconds: (performance.now() - epochStart) / 1000,
        executedGflops: executed / max(updateSeconds, 1e-9) / 1e9,
        denseEquivalentGflops: denseEquivalent / max(updateSeconds, 1e-9) / 1e9,
      };
      history.push(progress);
      hooks.onEpoch?.(progress);
      if (!isFiniteNumber(trainLoss)) {
        throw new InvalidInputError(
          `training diverged at epoch ${epoch} (loss ${trainLoss}); lower the learning rate`,
        );
      }
      if (preparedValidation && epochsWithoutImprovement >= options.patience) {
        stoppedEarly = epoch < options.maxEpochs;
        break;
      }
      learningRate *= options.learningRateDecay;
    }
    if (best) network.restore(best);

    return {
      model: this.exportReadyModel(network, standardization, targetScaling),
      history,
      epochsRun: history.length,
      bestEpoch,
      stoppedEarly,
      trainRows,
      validationRows: validationSet ? datasetRows(validationSet) : 0,
      validation: validationSet,
      trainingSeconds,
      executedFlops,
      denseEquivalentFlops,
    };
  }

  private checkData(train: Dataset, validation: Dataset | null): void {
    if (train.task !== this.task) {
      throw new InvalidInputError(`a ${this.task} trainer was given ${train.task} data`);
    }
    validateDataset(train, 'training');
    if (!validation) return;
    validateDataset(validation, 'validation');
    if (validation.task !== train.task || validation.featureCount !== train.featureCount) {
      throw new InvalidInputError(
        'validation data must have the same task and feature count as the training data',
      );
    }
    if (
      (validation.task === 'classification' &&
        train.task === 'classification' &&
        validation.classCount !== train.classCount) ||
      (validation.task === 'regression' &&
        train.task === 'regression' &&
        validation.targetCount !== train.targetCount)
    ) {
      throw new InvalidInputError(
        'validation data must have the same outputs as the training data',
      );
    }
  }

  /** Mean loss and the validation metric, forward passes in chunks (no gradients). */
  private evaluatePrepared(
    network: TrainingNetwork,
    data: PreparedData,
  ): { loss: number; metric: number } {
    let lossSum = 0;
    let metricSum = 0;
    const columns = network.layers[0].inputs;
    for (let start = 0; start < data.rows; start += EVALUATION_CHUNK_ROWS) {
      const rows = min(EVALUATION_CHUNK_ROWS, data.rows - start);
      network.batchInput.set(data.features.subarray(start * columns, (start + rows) * columns));
      network.forward(rows);
      const batch = network.lossAndOutputDelta(data, null, start, rows, false);
      lossSum += batch.lossSum;
      metricSum += batch.metricSum;
    }
    if (this.task === 'classification') {
      return { loss: lossSum / data.rows, metric: metricSum / data.rows };
    }
    const outputs = network.layers[network.layers.length - 1].outputs;
    const mse = lossSum / (data.rows * outputs);
    return { loss: mse, metric: sqrt(mse) };
  }

  /** Copies the parameters out, folding the regression target scaling into the last layer. */
  private exportReadyModel(
    network: TrainingNetwork,
    standardization: Standardization | null,
    targetScaling: TargetScaling | null,
  ): DenseModel {
    const layers = network.layers.map((layer) => ({
      weights: layer.weights.slice(),
      bias: layer.bias.slice(),
      inputs: layer.inputs,
      outputs: layer.outputs,
    }));
    if (targetScaling) {
      const last = layers[layers.length - 1];
      for (let p = 0; p < last.inputs; p++) {
        for (let j = 0; j < last.outputs; j++)
          last.weights[p * last.outputs + j] *= targetScaling.std[j];
      }
      for (let j = 0; j < last.outputs; j++) {
        last.bias[j] = last.bias[j] * targetScaling.std[j] + targetScaling.mean[j];
      }
    }
    return new DenseModel({ task: this.task, layers, standardization });
  }
}
