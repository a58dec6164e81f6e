/**
 * The training module's public surface: built-in trainers that export ONNX, worker-thread runs,
 * the MNIST demo data set and model, held-out metrics and the evaluation gate, data sets from files
 * and the prediction log, and training jobs (`TrainingJobService`). The Nest module
 * (`training.module.ts`) is imported from its file, so worker threads never load Nest.
 */
export * from './trainers';
export * from './errors';
export * from './evaluation';
export * from './export';
export * from './train-model';
export * from './datasets/mnist';
export * from './datasets';
export * from './jobs';
export * from './mnist-demo-training';
export * from './demo-model';
export { trainInWorker, runTrainingWorker, trainingWorkerEntry } from './worker/train-in-worker';
export type { ProgressListener } from './worker/train-in-worker';
export type { TrainingWorkerRequest, TrainingWorkerMessage } from './worker/messages';
