import type { ErrorKind } from '../../common/errors';
import type { DenseTrainingOptions, EpochProgress } from '../trainers/dense-trainer';
import type { TrainingResult, TrainingSpec } from '../train-model';

/** What the parent asks a training worker to do (passed as workerData). */
export type TrainingWorkerRequest =
  | { type: 'train'; spec: TrainingSpec }
  /** The MNIST demo: the worker loads the digits itself, so the parent thread never parses them. */
  | { type: 'mnist-demo'; options?: Partial<DenseTrainingOptions> };

export interface SerializedTrainingError {
  name: string;
  message: string;
  /** Set for ArgusErrors, so the parent can rethrow the same kind (e.g. invalid → 400). */
  kind: ErrorKind | null;
  details: Record<string, unknown> | null;
}

/** Messages from the worker to the parent. Exactly one `result` or `error` ends a run. */
export type TrainingWorkerMessage =
  | { type: 'progress'; progress: EpochProgress }
  | { type: 'result'; result: TrainingResult }
  | { type: 'error'; error: SerializedTrainingError };
