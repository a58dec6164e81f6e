import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import {
  ensureMnistDemoModel,
  EpochProgress,
  loadMnistSplit,
  mnistDemoCacheKey,
} from '../../../src/training';
import { runOnnx, sameBytes } from './helpers';

// The real recipe trains for a few seconds more; the benchmark checks its accuracy. Here one
// epoch is enough to prove the pipeline: worker run, cache files, reuse, recovery.
const quick = { recipeOverrides: { maxEpochs: 1, batchSize: 256 } };

describe('MNIST demo model', () => {
  let cacheDir: string;
  beforeAll(async () => {
    cacheDir = await fs.mkdtemp(path.join(tmpdir(), 'argus-mnist-demo-'));
  });
  afterAll(async () => {
    await fs.rm(cacheDir, { recursive: true, force: true });
  });

  it('trains in a worker on first use, and the ONNX file scores what the metrics say', async () => {
    const progress: EpochProgress[] = [];
    const demo = await ensureMnistDemoModel(cacheDir, (p) => progress.push(p), quick);

    expect(demo.fromCache).toBe(false);
    expect(progress.map((p) => p.epoch)).toEqual([1]);
    expect(demo.name).toBe('mnist');
    expect(demo.featureNames).toHaveLength(784);
    expect(demo.classNames).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
    expect(demo.referenceSample).toHaveLength(500);
    expect(demo.referenceSample.every((row) => row.length === 784)).toBe(true);
    expect(demo.trainingMetadata).toMatchObject({
      trainer: 'mlp-classifier',
      featureCount: 784,
      outputCount: 10,
      trainRows: 35000,
      validationRows: 1000,
      testRows: 2000,
    });
    expect(demo.trainingMetadata.options.hiddenLayers).toEqual([128]);
    await expect(fs.stat(demo.files.onnx)).resolves.toBeTruthy();
    await expect(fs.stat(demo.files.metadata)).resolves.toBeTruthy();

    const test = demo.metrics.test;
    if (test?.task !== 'classification') throw new Error('expected classification test metrics');
    expect(test.rows).toBe(2000);
    expect(test.accuracy).toBeGreaterThan(0.85);

    // The file itself, run by onnxruntime, classifies the held-out digits just as reported.
    const split = await loadMnistSplit();
    const outputs = runOnnx(demo.onnx, split.test.features, 2000, 784);
    const correct = outputs.label.data.filter((label, i) => label === split.test.labels[i]).length;
    expect(Math.abs(correct / 2000 - test.accuracy)).toBeLessThanOrEqual(0.001);
  });

  it('reuses the cached model on the next start without training', async () => {
    const first = await ensureMnistDemoModel(cacheDir, undefined, quick);
    const progress: EpochProgress[] = [];
    const second = await ensureMnistDemoModel(cacheDir, (p) => progress.push(p), quick);
    expect(first.fromCache).toBe(true);
    expect(second.fromCache).toBe(true);
    expect(progress).toEqual([]);
    expect(sameBytes(second.onnx, first.onnx)).toBe(true);
    expect(second.metrics).toEqual(first.metrics);
    expect(second.referenceSample).toEqual(first.referenceSample);
  });

  it('retrains when the cache is damaged, and keys the cache by the recipe', async () => {
    const before = await ensureMnistDemoModel(cacheDir, undefined, quick);
    await fs.writeFile(before.files.onnx, Buffer.from('not an onnx file'));
    const rebuilt = await ensureMnistDemoModel(cacheDir, undefined, { ...quick, inWorker: false });
    expect(rebuilt.fromCache).toBe(false);
    // Same recipe and seed, other thread: bit-identical model.
    expect(sameBytes(rebuilt.onnx, before.onnx)).toBe(true);
    expect(mnistDemoCacheKey(quick.recipeOverrides)).toBe(before.cacheKey);
    expect(mnistDemoCacheKey()).not.toBe(before.cacheKey);
  });
});
