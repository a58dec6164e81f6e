import { InvalidInputError } from '../../../src/common/errors';
import {
  EpochProgress,
  TrainingCancelledError,
  trainInWorker,
  trainingWorkerEntry,
  trainModel,
  TrainingSpec,
} from '../../../src/training';
import { makeBlobs, sameBytes } from './helpers';

const spec: TrainingSpec = {
  kind: 'mlp-classifier',
  modelName: 'worker',
  train: makeBlobs(600, 6, 3, 71, 1.5),
  test: makeBlobs(150, 6, 3, 71, 1.5),
  options: { hiddenLayers: [16], maxEpochs: 8, patience: 100, seed: 9 },
};

describe('training in a worker thread', () => {
  it('starts the TypeScript entry through ts-node when running from source', () => {
    const entry = trainingWorkerEntry();
    expect(entry.filename).toMatch(/training-worker\.ts$/);
    expect(entry.execArgv.join(' ')).toMatch(/ts-node/);
  });

  it('streams progress per epoch and returns the same result as training in-thread', async () => {
    const progress: EpochProgress[] = [];
    const inWorker = await trainInWorker(spec, (p) => progress.push(p));
    const inThread = trainModel(spec);

    expect(progress.map((p) => p.epoch)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(progress.map((p) => p.validationLoss)).toEqual(
      inThread.history.map((h) => h.validationLoss),
    );
    expect(sameBytes(inWorker.onnx, inThread.onnx)).toBe(true);
    inWorker.model.layers.forEach((layer, l) => {
      expect(sameBytes(layer.weights, inThread.model.layers[l].weights)).toBe(true);
      expect(sameBytes(layer.bias, inThread.model.layers[l].bias)).toBe(true);
    });
    expect(inWorker.metrics).toEqual(inThread.metrics);
    expect(inWorker.referenceSample).toEqual(inThread.referenceSample);
  });

  it('stops the thread when the signal aborts', async () => {
    // Thousands of epochs: without a working cancellation this test runs into its time-out.
    const long: TrainingSpec = {
      ...spec,
      train: makeBlobs(5000, 50, 5, 72, 2),
      test: null,
      options: { hiddenLayers: [256], maxEpochs: 10000, patience: 10000 },
    };
    const controller = new AbortController();
    const epochs: number[] = [];
    const run = trainInWorker(
      long,
      (p) => {
        epochs.push(p.epoch);
        if (p.epoch === 2) controller.abort();
      },
      controller.signal,
    );
    // The promise settles only after the worker thread has exited.
    await expect(run).rejects.toBeInstanceOf(TrainingCancelledError);
    expect(epochs).toEqual([1, 2]);
  });

  it('rejects at once when the signal is already aborted', async () => {
    const controller = new AbortController();
    controller.abort();
    await expect(trainInWorker(spec, undefined, controller.signal)).rejects.toBeInstanceOf(
      TrainingCancelledError,
    );
  });

  it('carries a bad spec back as the same typed error', async () => {
    const oneClass = makeBlobs(600, 6, 3, 71, 1.5);
    oneClass.labels.fill(0);
    const bad: TrainingSpec = { ...spec, train: oneClass };
    const run = trainInWorker(bad);
    await expect(run).rejects.toBeInstanceOf(InvalidInputError);
    await expect(run).rejects.toThrow(/single class/);
  });
});
