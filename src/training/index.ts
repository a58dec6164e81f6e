/**
 * The training module's public surface: built-in trainers that export ONNX, worker-thread runs,
 * the MNIST demo data set and model, held-out metrics and the evaluation gate.
 */
export * from './trainers';
export * from './errors';
export * from './evaluation';
export * from './export';
export * from './train-model';
export * from './datasets/mnist';
export * from './mnist-demo-training';
export * from './demo-model';
export { trainInWorker, runTrainingWorker, trainingWorkerEntry } from './worker/train-in-worker';
export type { ProgressListener } from './worker/train-in-worker';
export type { TrainingWorkerRequest, TrainingWorkerMessage } from './worker/messages';
