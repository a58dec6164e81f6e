import type { SerializedError } from '../../common/worker-threads';
import type { DenseTrainingOptions, EpochProgress } from '../trainers/dense-trainer';
import type { TrainingResult, TrainingSpec } from '../train-model';

/** What the parent asks a training worker to do (passed as workerData). */
export type TrainingWorkerRequest =
  | { type: 'train'; spec: TrainingSpec }
  /** The MNIST demo: the worker loads the digits itself, so the parent thread never parses them. */
  | { type: 'mnist-demo'; options?: Partial<DenseTrainingOptions> };

/** Messages from the worker to the parent. Exactly one `result` or `error` ends a run. */
export type TrainingWorkerMessage =
  | { type: 'progress'; progress: EpochProgress }
  | { type: 'result'; result: TrainingResult }
  | { type: 'error'; error: SerializedError };
