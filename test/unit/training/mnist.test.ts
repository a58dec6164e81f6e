import {
  evaluateModel,
  loadMnistSplit,
  MlpClassifier,
  MNIST_CLASS_NAMES,
  MNIST_FEATURE_NAMES,
  MNIST_SPLIT,
  MnistSplit,
  withShiftedCopies,
} from '../../../src/training';

describe('MNIST demo data set', () => {
  let split: MnistSplit;
  beforeAll(async () => {
    split = await loadMnistSplit();
  });

  it('has the documented 7000 / 1000 / 2000 split of disjoint package rows', () => {
    expect(MNIST_SPLIT).toMatchObject({ train: 7000, validation: 1000, test: 2000 });
    expect(split.train.labels).toHaveLength(7000);
    expect(split.validation.labels).toHaveLength(1000);
    expect(split.test.labels).toHaveLength(2000);
    const all = [...split.indices.train, ...split.indices.validation, ...split.indices.test];
    expect(new Set(all).size).toBe(10000);
    expect(Math.min(...all)).toBe(0);
    expect(Math.max(...all)).toBe(9999);
  });

  it('is the same split on every load and every install (pinned rows)', async () => {
    const again = await loadMnistSplit();
    expect(again.indices).toEqual(split.indices);
    expect(Array.from(split.indices.train.slice(0, 5))).toEqual([6067, 2751, 3697, 6924, 6023]);
    expect(Array.from(split.indices.validation.slice(0, 5))).toEqual([
      2483, 2206, 4821, 3067, 5700,
    ]);
    expect(Array.from(split.indices.test.slice(0, 5))).toEqual([1872, 7424, 1826, 9741, 1262]);
    expect(Array.from(again.test.features.subarray(0, 784))).toEqual(
      Array.from(split.test.features.subarray(0, 784)),
    );
  });

  it('holds 784 intensities in [0, 1] per row, every digit in every part, named features', () => {
    for (const part of [split.train, split.validation, split.test]) {
      expect(part.featureCount).toBe(784);
      expect(part.classCount).toBe(10);
      expect(part.features.length).toBe(part.labels.length * 784);
      let min = Infinity;
      let max = -Infinity;
      for (const v of part.features) {
        if (v < min) min = v;
        if (v > max) max = v;
      }
      expect(min).toBe(0);
      expect(max).toBeLessThanOrEqual(1);
      expect(max).toBeGreaterThan(0.99);
      const seen = new Set(part.labels);
      expect(seen.size).toBe(10);
    }
    expect(split.classNames).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
    expect(MNIST_CLASS_NAMES).toEqual(split.classNames);
    expect(split.featureNames[0]).toBe('pixel_0');
    expect(split.featureNames[783]).toBe('pixel_783');
    expect(MNIST_FEATURE_NAMES).toHaveLength(784);
  });

  it('shifted copies move every pixel and keep the labels', () => {
    const one = {
      ...split.train,
      features: split.train.features.slice(0, 784),
      labels: split.train.labels.slice(0, 1),
    };
    const shifted = withShiftedCopies(one, [
      [1, 0],
      [0, -1],
    ]);
    expect(Array.from(shifted.labels)).toEqual([one.labels[0], one.labels[0], one.labels[0]]);
    const pixel = (row: number, x: number, y: number) => shifted.features[row * 784 + y * 28 + x];
    for (let y = 1; y < 27; y++) {
      for (let x = 1; x < 27; x++) {
        expect(pixel(1, x, y)).toBe(pixel(0, x - 1, y)); // right by one
        expect(pixel(2, x, y)).toBe(pixel(0, x, y + 1)); // up by one
      }
    }
    for (let y = 0; y < 28; y++) expect(pixel(1, 0, y)).toBe(0);
  });

  it('a short training run gets well above chance on the held-out test rows', () => {
    const report = new MlpClassifier({
      hiddenLayers: [64],
      maxEpochs: 2,
      batchSize: 128,
      learningRate: 2e-3,
      minStd: 0.3,
      seed: 1,
    }).fit(split.train, split.validation);
    const metrics = evaluateModel(report.model, split.test);
    expect(metrics.task).toBe('classification');
    // Chance is 10 %; two epochs of a small MLP land around 90 %.
    expect(metrics.task === 'classification' && metrics.accuracy).toBeGreaterThan(0.8);
  });
});
