/**
 * Training benchmark: the MNIST demo network (784 → 128 → 10) as a newcomer's first `npm start`
 * trains it, plus the matrix kernel underneath and what training in a worker costs serving.
 *
 *   npx ts-node --transpile-only bench/training/run.ts
 *
 * Prints tables and writes bench/results/training.json. Limits measured in the same run:
 * - kernel: onnxruntime's own MatMul (MLAS, SIMD, one thread) on the same shapes;
 * - demo: the target, ≥ 94 % held-out accuracy in ≤ 60 s;
 * - serving: ONNX Runtime predict latency with nothing else running.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { OnnxGraphBuilder } from '../../src/onnx';
import {
  EpochProgress,
  ensureMnistDemoModel,
  loadMnistSplit,
  multiplyAccumulate,
  multiplyNaive,
  runTrainingWorker,
  SeededRandom,
} from '../../src/training';

const TARGET_ACCURACY = 0.94;
const TARGET_SECONDS = 60;

function table(headers: string[], rows: (string | number)[][]): string {
  const cells = [headers, ...rows.map((row) => row.map(String))];
  const widths = headers.map((_, c) => Math.max(...cells.map((row) => row[c].length)));
  const line = (row: string[]) => row.map((cell, c) => cell.padStart(widths[c])).join('  ');
  return [
    line(headers),
    widths.map((w) => '-'.repeat(w)).join('  '),
    ...cells.slice(1).map(line),
  ].join('\n');
}

function fixed(value: number, digits = 2): string {
  return value.toFixed(digits);
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** Repeats `run` for at least `seconds` and returns runs per second. */
function rate(run: () => void, seconds = 0.7): number {
  run();
  let count = 0;
  const start = performance.now();
  while (performance.now() - start < seconds * 1000) {
    run();
    count++;
  }
  return count / ((performance.now() - start) / 1000);
}

async function ortRate(m: number, k: number, n: number, a: Float32Array, b: Float32Array) {
  const graph = new OnnxGraphBuilder('matmul', 13)
    .input('A', 'float32', [m, k])
    .initializer('B', { type: 'float32', dims: [k, n], values: b })
    .output('C', 'float32', [m, n]);
  graph.node('MatMul', ['A', 'B'], ['C']);
  const session = await ort.InferenceSession.create(graph.toBytes(), {
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
  });
  const feeds = { A: new ort.Tensor('float32', a, [m, k]) };
  await session.run(feeds);
  let count = 0;
  const start = performance.now();
  while (performance.now() - start < 700) {
    await session.run(feeds);
    count++;
  }
  const perSecond = count / ((performance.now() - start) / 1000);
  await session.release();
  return perSecond;
}

interface KernelResult {
  shape: string;
  aZeroShare: number;
  naiveGflops: number;
  kernelGflops: number;
  onnxRuntimeGflops: number;
}

async function kernels(): Promise<KernelResult[]> {
  const random = new SeededRandom(1);
  const mnist = await loadMnistSplit();
  const out: KernelResult[] = [];
  const cases: { m: number; k: number; n: number; sparse: boolean }[] = [
    { m: 128, k: 784, n: 128, sparse: false },
    { m: 128, k: 784, n: 128, sparse: true },
    { m: 256, k: 256, n: 256, sparse: false },
  ];
  for (const { m, k, n, sparse } of cases) {
    // Sparse: a real MNIST batch (pixels), which is what the first layer multiplies.
    const a = sparse
      ? mnist.train.features.slice(0, m * k)
      : new Float32Array(m * k).map(() => random.nextFloat() * 2 - 1);
    const b = new Float32Array(k * n).map(() => random.nextFloat() * 2 - 1);
    const c = new Float32Array(m * n);
    const zeroShare = a.filter((v) => v === 0).length / a.length;
    const flops = 2 * m * k * n;
    out.push({
      shape: `${m}×${k}·${k}×${n}${sparse ? ' (MNIST batch)' : ''}`,
      aZeroShare: zeroShare,
      naiveGflops: (rate(() => multiplyNaive(a, b, m, k, n), 0.5) * flops) / 1e9,
      kernelGflops: (rate(() => multiplyAccumulate(a, b, c, m, k, n)) * flops) / 1e9,
      onnxRuntimeGflops: ((await ortRate(m, k, n, a, b)) * flops) / 1e9,
    });
  }
  return out;
}

/** Single-row predictions, one after another, for `seconds` or until `until` resolves. */
async function predictLatencies(
  session: ort.InferenceSession,
  rows: Float32Array[],
  until: Promise<unknown> | null,
  seconds: number,
): Promise<number[]> {
  let done = false;
  void until?.then(
    () => (done = true),
    () => (done = true),
  );
  const latencies: number[] = [];
  const start = performance.now();
  let i = 0;
  while (!done && (until !== null || performance.now() - start < seconds * 1000)) {
    const input = new ort.Tensor('float32', rows[i++ % rows.length], [1, 784]);
    const t = performance.now();
    await session.run({ input });
    latencies.push((performance.now() - t) * 1000);
    // Yield to the event loop like a server between requests (worker messages get through).
    await new Promise((resolve) => setImmediate(resolve));
  }
  return latencies.sort((x, y) => x - y);
}

function latencySummary(sorted: number[]) {
  return {
    count: sorted.length,
    p50Us: percentile(sorted, 50),
    p99Us: percentile(sorted, 99),
    maxUs: sorted[sorted.length - 1],
  };
}

async function main(): Promise<void> {
  // These machines are shared: the load average says how much of the 2 cores the run really had.
  const loadAtStart = loadavg()[0];
  const cacheDir = mkdtempSync(path.join(tmpdir(), 'argus-bench-training-'));
  try {
    // 1. The kernel against the textbook loop and ONNX Runtime's MLAS.
    const kernelResults = await kernels();
    console.log('\nMatrix kernel (C += A·B, float32), GFLOP/s counted as 2·m·k·n');
    console.log(
      table(
        ['shape', 'A zeros', 'naive i-j-k', 'Argus kernel', 'ORT MatMul', 'kernel/ORT'],
        kernelResults.map((r) => [
          r.shape,
          `${fixed(r.aZeroShare * 100, 0)}%`,
          fixed(r.naiveGflops),
          fixed(r.kernelGflops),
          fixed(r.onnxRuntimeGflops),
          fixed(r.kernelGflops / r.onnxRuntimeGflops),
        ]),
      ),
    );

    // 2. The demo, exactly as `npm start` runs it: worker thread, empty cache.
    const progress: EpochProgress[] = [];
    const demo = await ensureMnistDemoModel(cacheDir, (p) => progress.push(p));
    const meta = demo.trainingMetadata;
    console.log(
      `\nMNIST demo 784 → 128 → 10, ${meta.trainRows} training rows (7,000 images + 4 shifted copies), ` +
        `batch ${meta.options.batchSize}, ${meta.parameterCount} parameters, in a worker thread`,
    );
    console.log(
      table(
        [
          'epoch',
          'seconds',
          'samples/s',
          'GFLOP/s exec',
          'GFLOP/s dense-eq',
          'train loss',
          'val loss',
          'val acc',
          'best',
        ],
        progress.map((p) => [
          p.epoch,
          fixed(p.epochSeconds),
          fixed(p.samplesPerSecond, 0),
          fixed(p.executedGflops),
          fixed(p.denseEquivalentGflops),
          fixed(p.trainLoss, 4),
          fixed(p.validationLoss ?? NaN, 4),
          `${fixed((p.validationMetric ?? NaN) * 100)}%`,
          p.bestEpoch,
        ]),
      ),
    );

    // 3. Held-out accuracy of the exported file itself, run by ONNX Runtime.
    const split = await loadMnistSplit();
    const session = await ort.InferenceSession.create(demo.onnx, { intraOpNumThreads: 1 });
    const result = await session.run({
      input: new ort.Tensor('float32', split.test.features, [2000, 784]),
    });
    const labels = result.label.data as BigInt64Array;
    let correct = 0;
    for (let i = 0; i < 2000; i++) if (Number(labels[i]) === split.test.labels[i]) correct++;
    const onnxAccuracy = correct / 2000;
    const test = demo.metrics.test;
    if (test?.task !== 'classification') throw new Error('no classification test metrics');

    // 4. Second start: the cache.
    const cached = await ensureMnistDemoModel(cacheDir);

    // 5. Serving while training: ORT predict latency idle, then during a worker training run.
    const rows = Array.from({ length: 200 }, (_, i) =>
      split.test.features.slice(i * 784, (i + 1) * 784),
    );
    const idle = await predictLatencies(session, rows, null, 5);
    const training = runTrainingWorker({ type: 'mnist-demo' });
    const during = await predictLatencies(session, rows, training, 0);
    await training;
    await session.release();

    const summary = {
      totalSecondsFirstStart: demo.seconds,
      trainingSecondsInUpdates: meta.trainingSeconds,
      epochs: meta.epochsRun,
      bestEpoch: meta.bestEpoch,
      meanSecondsPerEpoch: progress.reduce((s, p) => s + p.epochSeconds, 0) / progress.length,
      samplesPerSecond: meta.samplesPerSecond,
      executedGflops: meta.executedGflops,
      denseEquivalentGflops: meta.denseEquivalentGflops,
      testAccuracy: test.accuracy,
      testAccuracyOnnxRuntime: onnxAccuracy,
      testMacroF1: test.macroF1,
      testLogLoss: test.logLoss,
      validationAccuracy:
        demo.metrics.validation?.task === 'classification'
          ? demo.metrics.validation.accuracy
          : null,
      cachedStartSeconds: cached.seconds,
      meetsTarget: test.accuracy >= TARGET_ACCURACY && demo.seconds <= TARGET_SECONDS,
    };
    console.log('\nMNIST demo, summary (target: ≥ 94 % held-out accuracy in ≤ 60 s)');
    console.log(
      table(
        [
          'first start (s)',
          'epochs',
          's/epoch',
          'samples/s',
          'GFLOP/s',
          'test acc',
          'test acc (ORT)',
          'macro F1',
          'cached start (s)',
          'target',
        ],
        [
          [
            fixed(summary.totalSecondsFirstStart),
            `${summary.epochs} (best ${summary.bestEpoch})`,
            fixed(summary.meanSecondsPerEpoch),
            fixed(summary.samplesPerSecond, 0),
            `${fixed(summary.executedGflops)} exec / ${fixed(summary.denseEquivalentGflops)} dense-eq`,
            `${fixed(summary.testAccuracy * 100)}%`,
            `${fixed(onnxAccuracy * 100)}%`,
            fixed(summary.testMacroF1, 4),
            fixed(summary.cachedStartSeconds),
            summary.meetsTarget ? 'met' : 'MISSED',
          ],
        ],
      ),
    );

    const idleSummary = latencySummary(idle);
    const duringSummary = latencySummary(during);
    console.log(
      '\nONNX Runtime predict, 1 row, main thread: idle vs while the demo trains in a worker',
    );
    console.log(
      table(
        ['', 'predictions', 'p50 µs', 'p99 µs', 'max µs'],
        [
          [
            'idle',
            idleSummary.count,
            fixed(idleSummary.p50Us, 0),
            fixed(idleSummary.p99Us, 0),
            fixed(idleSummary.maxUs, 0),
          ],
          [
            'training',
            duringSummary.count,
            fixed(duringSummary.p50Us, 0),
            fixed(duringSummary.p99Us, 0),
            fixed(duringSummary.maxUs, 0),
          ],
          [
            'ratio',
            '',
            fixed(duringSummary.p50Us / idleSummary.p50Us),
            fixed(duringSummary.p99Us / idleSummary.p99Us),
            '',
          ],
        ],
      ),
    );

    const loadAtEnd = loadavg()[0];
    console.log(
      `\n1-minute load average: ${fixed(loadAtStart)} at start, ${fixed(loadAtEnd)} at end (2 cores)`,
    );
    const output = {
      date: new Date().toISOString(),
      node: process.version,
      loadAverage: { start: loadAtStart, end: loadAtEnd },
      kernels: kernelResults,
      demo: { ...summary, options: meta.options, history: progress },
      predictWhileTraining: { idle: idleSummary, duringWorkerTraining: duringSummary },
    };
    const resultsDir = path.resolve(__dirname, '../results');
    mkdirSync(resultsDir, { recursive: true });
    writeFileSync(path.join(resultsDir, 'training.json'), JSON.stringify(output, null, 2));
    console.log(`\nwrote ${path.join(resultsDir, 'training.json')}`);
  } finally {
    rmSync(cacheDir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
