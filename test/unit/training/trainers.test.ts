import { InvalidInputError } from '../../../src/common/errors';
import {
  ClassificationDataset,
  Dataset,
  datasetRows,
  DenseModel,
  DenseTrainingOptions,
  evaluateModel,
  exportDenseModelToOnnx,
  MlpClassifier,
  MlpRegressor,
  selectRows,
  SoftmaxRegression,
  TrainingCancelledError,
  trainModel,
  TrainingSpec,
} from '../../../src/training';
import {
  makeBlobs,
  makeNonlinearRegression,
  maxAbsDifference,
  runOnnx,
  sameBytes,
} from './helpers';

function split(dataset: Dataset, trainRows: number): { train: Dataset; heldOut: Dataset } {
  const rows = datasetRows(dataset);
  const all = Array.from({ length: rows }, (_, i) => i);
  return {
    train: selectRows(dataset, all.slice(0, trainRows)),
    heldOut: selectRows(dataset, all.slice(trainRows)),
  };
}

function weightNorm(model: DenseModel): number {
  let sum = 0;
  for (const layer of model.parameters.layers) for (const w of layer.weights) sum += w * w;
  return Math.sqrt(sum);
}

/** Blobs with features far from zero mean and unit scale, so the exported scaler matters. */
function shiftedBlobs(rows: number, seed: number): ClassificationDataset {
  const blobs = makeBlobs(rows, 6, 3, seed);
  for (let i = 0; i < blobs.features.length; i++) {
    blobs.features[i] = blobs.features[i] * (1 + (i % 6) * 10) + 100 * (i % 6);
  }
  return blobs;
}

describe('exported ONNX models agree with the trainer forward pass on held-out rows', () => {
  it('softmax regression', () => {
    const { train, heldOut } = split(shiftedBlobs(600, 1), 450);
    const report = new SoftmaxRegression({ maxEpochs: 15, seed: 3 }).fit(train);
    const rows = datasetRows(heldOut);
    const onnx = exportDenseModelToOnnx(report.model, { name: 'softmax' });
    const outputs = runOnnx(onnx, heldOut.features, rows, heldOut.featureCount);
    const expected = report.model.predict(heldOut.features, rows);
    expect(outputs.probabilities.dims).toEqual([rows, 3]);
    expect(maxAbsDifference(outputs.probabilities.data, expected)).toBeLessThanOrEqual(1e-5);
    const onnxLabels = outputs.label.data;
    expect(onnxLabels).toEqual(Array.from(report.model.predictLabels(heldOut.features, rows)));
  });

  it('MLP classifier with two hidden layers', () => {
    const { train, heldOut } = split(shiftedBlobs(600, 2), 450);
    const report = new MlpClassifier({ hiddenLayers: [16, 8], maxEpochs: 15, seed: 4 }).fit(train);
    const rows = datasetRows(heldOut);
    const onnx = exportDenseModelToOnnx(report.model, { name: 'mlp' });
    const outputs = runOnnx(onnx, heldOut.features, rows, heldOut.featureCount);
    const expected = report.model.predict(heldOut.features, rows);
    expect(maxAbsDifference(outputs.probabilities.data, expected)).toBeLessThanOrEqual(1e-5);
    const onnxLabels = outputs.label.data;
    expect(onnxLabels).toEqual(Array.from(report.model.predictLabels(heldOut.features, rows)));
  });

  it('MLP regressor (targets scaled inside training, unscaled in the graph)', () => {
    const data = makeNonlinearRegression(500, 5);
    // Targets far from 0 with a large spread: the export must fold the target scaling back in.
    for (let i = 0; i < data.targets.length; i++) data.targets[i] = data.targets[i] * 3 + 10;
    const { train, heldOut } = split(data, 400);
    const report = new MlpRegressor({ hiddenLayers: [32], maxEpochs: 20, seed: 6 }).fit(train);
    const rows = datasetRows(heldOut);
    const onnx = exportDenseModelToOnnx(report.model, { name: 'regressor' });
    const outputs = runOnnx(onnx, heldOut.features, rows, heldOut.featureCount);
    expect(outputs.value.dims).toEqual([rows, 1]);
    const expected = report.model.predict(heldOut.features, rows);
    expect(maxAbsDifference(outputs.value.data, expected)).toBeLessThanOrEqual(1e-5);
  });
});

describe('reproducibility', () => {
  const spec = (seed: number): TrainingSpec => ({
    kind: 'mlp-classifier',
    modelName: 'repro',
    train: makeBlobs(400, 5, 3, 11, 1.5),
    options: { hiddenLayers: [12], maxEpochs: 6, seed },
  });

  it('the same seed gives bit-identical weights and ONNX bytes', () => {
    const first = trainModel(spec(21));
    const second = trainModel(spec(21));
    first.model.layers.forEach((layer, l) => {
      expect(sameBytes(layer.weights, second.model.layers[l].weights)).toBe(true);
      expect(sameBytes(layer.bias, second.model.layers[l].bias)).toBe(true);
    });
    expect(sameBytes(first.onnx, second.onnx)).toBe(true);
    expect(first.history.map((h) => h.validationLoss)).toEqual(
      second.history.map((h) => h.validationLoss),
    );
  });

  it('a different seed gives different weights', () => {
    const first = trainModel(spec(21));
    const other = trainModel(spec(22));
    expect(sameBytes(first.model.layers[0].weights, other.model.layers[0].weights)).toBe(false);
  });
});

describe('learning', () => {
  it('softmax regression separates generated classes', () => {
    const { train, heldOut } = split(makeBlobs(1000, 4, 4, 31), 800);
    const report = new SoftmaxRegression({ maxEpochs: 30, learningRate: 1e-2, seed: 1 }).fit(train);
    const metrics = evaluateModel(report.model, heldOut);
    expect(metrics.task === 'classification' && metrics.accuracy).toBeGreaterThanOrEqual(0.97);
  });

  it('an MLP learns a problem a linear model cannot (concentric rings)', () => {
    const rows = 1200;
    const features = new Float32Array(rows * 2);
    const labels = new Int32Array(rows);
    for (let i = 0; i < rows; i++) {
      const label = i % 2;
      const angle = (i * 2.399963) % (2 * Math.PI);
      const radius = (label === 0 ? 1 : 2.2) + ((i * 7919) % 100) / 400;
      features[2 * i] = radius * Math.cos(angle);
      features[2 * i + 1] = radius * Math.sin(angle);
      labels[i] = label;
    }
    const data: ClassificationDataset = {
      task: 'classification',
      features,
      featureCount: 2,
      labels,
      classCount: 2,
    };
    const { train, heldOut } = split(data, 1000);
    const linear = evaluateModel(
      new SoftmaxRegression({ maxEpochs: 30 }).fit(train).model,
      heldOut,
    );
    const mlp = evaluateModel(
      new MlpClassifier({ hiddenLayers: [32], maxEpochs: 60, learningRate: 5e-3 }).fit(train).model,
      heldOut,
    );
    expect(linear.task === 'classification' && linear.accuracy).toBeLessThan(0.75);
    expect(mlp.task === 'classification' && mlp.accuracy).toBeGreaterThanOrEqual(0.97);
  });

  it('the MLP regressor fits a nonlinear function (high R²)', () => {
    const { train, heldOut } = split(makeNonlinearRegression(2000, 9), 1600);
    const report = new MlpRegressor({
      hiddenLayers: [32, 32],
      maxEpochs: 80,
      learningRate: 3e-3,
      patience: 8,
      seed: 2,
    }).fit(train);
    const metrics = evaluateModel(report.model, heldOut);
    expect(metrics.task === 'regression' && metrics.r2).toBeGreaterThan(0.97);
  });

  it('a linear regressor (no hidden layer) recovers a linear function', () => {
    const rows = 800;
    const features = new Float32Array(rows * 2);
    const targets = new Float32Array(rows);
    for (let i = 0; i < rows; i++) {
      const x0 = ((i * 37) % 101) / 10 - 5;
      const x1 = ((i * 53) % 97) / 10 - 5;
      features.set([x0, x1], 2 * i);
      targets[i] = 3 * x0 - 2 * x1 + 7;
    }
    const report = new MlpRegressor({
      hiddenLayers: [],
      maxEpochs: 200,
      learningRate: 1e-2,
      l2: 0,
    }).fit({
      task: 'regression',
      features,
      featureCount: 2,
      targets,
      targetCount: 1,
    });
    const prediction = report.model.predict(new Float32Array([1, 1, -2, 3]), 2);
    expect(prediction[0]).toBeCloseTo(8, 1);
    expect(prediction[1]).toBeCloseTo(-5, 1);
  });

  it('L2 shrinks the weights', () => {
    const train = makeBlobs(500, 8, 3, 41, 1.2);
    const options = {
      hiddenLayers: [16],
      maxEpochs: 40,
      learningRate: 1e-2,
      validationFraction: 0,
      seed: 5,
    };
    const plain = new MlpClassifier({ ...options, l2: 0 }).fit(train);
    const penalised = new MlpClassifier({ ...options, l2: 0.05 }).fit(train);
    expect(weightNorm(penalised.model)).toBeLessThan(0.7 * weightNorm(plain.model));
  });

  it('early stopping stops once validation loss stops improving and restores the best weights', () => {
    // A wide network on few noisy rows overfits fast: validation loss turns up after a while.
    const data = makeBlobs(240, 10, 3, 51, 3.5);
    const validation = makeBlobs(300, 10, 3, 51, 3.5);
    const report = new MlpClassifier({
      hiddenLayers: [128],
      maxEpochs: 300,
      learningRate: 1e-2,
      l2: 0,
      patience: 4,
      seed: 8,
    }).fit(
      selectRows(
        data,
        Array.from({ length: 240 }, (_, i) => i),
      ),
      validation,
    );

    expect(report.stoppedEarly).toBe(true);
    expect(report.epochsRun).toBe(report.bestEpoch + 4);
    const losses = report.history.map((h) => h.validationLoss as number);
    const best = losses[report.bestEpoch - 1];
    expect(Math.min(...losses)).toBe(best);
    expect(losses[losses.length - 1]).toBeGreaterThan(best);
    // The returned model is the best epoch's, not the last one's.
    const restored = evaluateModel(report.model, validation);
    expect(restored.task === 'classification' && restored.logLoss).toBeCloseTo(best, 4);
  });
});

describe('progress, cancellation and bad input', () => {
  it('reports every epoch with losses, metric and throughput', () => {
    const seen: number[] = [];
    const result = trainModel(
      {
        kind: 'mlp-classifier',
        modelName: 'progress',
        train: makeBlobs(300, 4, 3, 61),
        options: { maxEpochs: 5, patience: 100 },
      },
      {
        onEpoch: (p) => {
          seen.push(p.epoch);
          expect(p.metricName).toBe('accuracy');
          expect(p.trainLoss).toBeGreaterThan(0);
          expect(p.validationLoss).toBeGreaterThan(0);
          expect(p.validationMetric).toBeGreaterThanOrEqual(0);
          expect(p.samplesPerSecond).toBeGreaterThan(0);
        },
      },
    );
    expect(seen).toEqual([1, 2, 3, 4, 5]);
    expect(result.metadata.epochsRun).toBe(5);
    expect(result.metadata.trainRows + result.metadata.validationRows).toBe(300);
    expect(result.referenceSample).toHaveLength(300);
    expect(result.referenceSample[0]).toHaveLength(4);
  });

  it('a cooperative stop request cancels between mini-batches', () => {
    let batches = 0;
    expect(() =>
      new MlpClassifier({ maxEpochs: 50, batchSize: 10 }).fit(makeBlobs(300, 4, 3, 62), null, {
        shouldStop: () => ++batches > 5,
      }),
    ).toThrow(TrainingCancelledError);
    expect(batches).toBe(6);
  });

  it.each([
    ['a single class', { labels: new Int32Array(50), classCount: 2 }, /single class/],
    [
      'a label out of range',
      { labels: new Int32Array(50).fill(3), classCount: 3 },
      /outside 0\.\.2/,
    ],
    [
      'NaN in the features',
      { features: new Float32Array(100).fill(Number.NaN) },
      /not a finite number/,
    ],
    ['no rows', { features: new Float32Array(0), labels: new Int32Array(0) }, /empty/],
  ])('refuses %s with a clear InvalidInputError', (_, change, message) => {
    const base: ClassificationDataset = {
      task: 'classification',
      features: new Float32Array(100).map((_, i) => i % 7),
      featureCount: 2,
      labels: new Int32Array(50).map((_, i) => i % 2),
      classCount: 2,
    };
    const run = () => new MlpClassifier().fit({ ...base, ...change });
    expect(run).toThrow(InvalidInputError);
    expect(run).toThrow(message);
  });

  it('refuses an unknown trainer kind and a task/kind mismatch', () => {
    const train = makeBlobs(30, 2, 2, 1);
    expect(() =>
      trainModel({ kind: 'random-forest' as 'mlp-classifier', modelName: 'x', train }),
    ).toThrow(/unknown trainer kind 'random-forest'/);
    expect(() => trainModel({ kind: 'mlp-regressor', modelName: 'x', train })).toThrow(
      /needs regression data/,
    );
    expect(() => new MlpClassifier({ batchSize: 0 })).toThrow(/batchSize/);
    const typo = { hidenLayers: [8] } as unknown as Partial<DenseTrainingOptions>;
    expect(() => new MlpClassifier(typo)).toThrow(/unknown training option 'hidenLayers'/);
  });
});
