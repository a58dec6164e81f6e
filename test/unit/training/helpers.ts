import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { ClassificationDataset, RegressionDataset } from '../../../src/training';
import { SeededRandom } from '../../../src/training';

/** Gaussian blobs: `classes` well-separated centres in `features` dimensions. */
export function makeBlobs(
  rows: number,
  features: number,
  classes: number,
  seed: number,
  spread = 0.6,
): ClassificationDataset {
  const random = new SeededRandom(seed);
  const centres = Array.from({ length: classes }, () =>
    Array.from({ length: features }, () => random.nextNormal() * 3),
  );
  const data = new Float32Array(rows * features);
  const labels = new Int32Array(rows);
  for (let i = 0; i < rows; i++) {
    const label = i % classes;
    labels[i] = label;
    for (let j = 0; j < features; j++) {
      data[i * features + j] = centres[label][j] + random.nextNormal() * spread;
    }
  }
  return {
    task: 'classification',
    features: data,
    featureCount: features,
    labels,
    classCount: classes,
  };
}

/** y = sin(2 x0) + x1² / 2 − x2 + small noise, x uniform in [−1.5, 1.5]. */
export function makeNonlinearRegression(
  rows: number,
  seed: number,
  noise = 0.02,
): RegressionDataset {
  const random = new SeededRandom(seed);
  const features = 3;
  const data = new Float32Array(rows * features);
  const targets = new Float32Array(rows);
  for (let i = 0; i < rows; i++) {
    const x = [0, 1, 2].map(() => random.nextFloat() * 3 - 1.5);
    data.set(x, i * features);
    targets[i] = Math.sin(2 * x[0]) + (x[1] * x[1]) / 2 - x[2] + random.nextNormal() * noise;
  }
  return { task: 'regression', features: data, featureCount: features, targets, targetCount: 1 };
}

export interface OnnxOutput {
  dims: number[];
  data: number[];
}

// onnxruntime-node builds its output tensors from typed arrays of Node's own realm, which the
// onnxruntime-common copy loaded inside jest's sandbox rejects ("A float32 tensor's data must be
// type of Float32Array"). So the reference run happens in a plain Node process, the way a user's
// process would run the exported file.
const RUN_ONNX_SCRIPT = `
const fs = require('fs');
const ort = require('onnxruntime-node');
const [modelPath, inputPath, rows, columns] = process.argv.slice(1);
(async () => {
  const session = await ort.InferenceSession.create(modelPath);
  const raw = fs.readFileSync(inputPath);
  const data = new Float32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4);
  const outputs = await session.run({ input: new ort.Tensor('float32', data, [Number(rows), Number(columns)]) });
  const out = {};
  for (const [name, tensor] of Object.entries(outputs)) {
    out[name] = { dims: tensor.dims, data: Array.from(tensor.data, Number) };
  }
  process.stdout.write(JSON.stringify(out));
})().catch((err) => { console.error(err); process.exit(1); });
`;

const REPOSITORY_ROOT = path.resolve(__dirname, '../../..');

/** Runs exported bytes in onnxruntime-node (separate process) and returns every output. */
export function runOnnx(
  bytes: Uint8Array,
  features: Float32Array,
  rows: number,
  featureCount: number,
): Record<string, OnnxOutput> {
  const directory = mkdtempSync(path.join(tmpdir(), 'argus-onnx-'));
  try {
    const modelPath = path.join(directory, 'model.onnx');
    const inputPath = path.join(directory, 'input.f32');
    writeFileSync(modelPath, bytes);
    writeFileSync(
      inputPath,
      Buffer.from(features.buffer, features.byteOffset, features.byteLength),
    );
    const stdout = execFileSync(
      process.execPath,
      ['-e', RUN_ONNX_SCRIPT, modelPath, inputPath, String(rows), String(featureCount)],
      { cwd: REPOSITORY_ROOT, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 },
    );
    return JSON.parse(stdout) as Record<string, OnnxOutput>;
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
}

export function maxAbsDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}

export function sameBytes(a: ArrayBufferView, b: ArrayBufferView): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(
    Buffer.from(b.buffer, b.byteOffset, b.byteLength),
  );
}
