import type { DatasetManifest } from '../datasets/dataset-manifest';
import type { EvaluationMetrics, GateRule, GateVerdict } from '../evaluation';
import type { ValidationMetricName } from '../trainers/dense-trainer';

/**
 * A training job as stored in `ARGUS_HOME/jobs/<id>.json` and returned by `GET /v1/jobs/{id}`.
 * Times are ISO 8601 strings.
 */
export const JOB_STATUSES = ['queued', 'running', 'succeeded', 'failed', 'cancelled'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];

export function isTerminal(status: JobStatus): boolean {
  return status === 'succeeded' || status === 'failed' || status === 'cancelled';
}

export interface JobProgress {
  epoch: number;
  maxEpochs: number;
  /** Training loss of the last epoch (cross-entropy or MSE). */
  loss: number;
  /** Accuracy (classifiers) or RMSE (regressors) on the validation rows, when there are any. */
  validationMetric: number | null;
  metricName: ValidationMetricName;
}

export interface JobMetrics {
  /** Both measured by ONNX Runtime on the same held-out rows (`dataset.split.test_sha256`). */
  candidate: EvaluationMetrics;
  champion: EvaluationMetrics | null;
  /** The built-in trainer's own validation metrics (early-stopping rows). */
  validation: EvaluationMetrics | null;
}

export interface JobGate extends GateVerdict {
  rule: GateRule;
  champion_version: number | null;
}

/** Which process runs the job: lets a later process tell a live job from an orphaned one. */
export interface JobOwner {
  pid: number;
  host: string;
  /** Random per TrainingJobService instance. */
  instance: string;
}

export interface TrainingJob {
  id: string;
  model: string;
  kind: string;
  status: JobStatus;
  progress: JobProgress | null;
  metrics: JobMetrics | null;
  /** The last lines of the job log (bounded); `logs_dropped` counts older lines let go. */
  logs: string[];
  logs_dropped: number;
  error: string | null;
  /** Version registered for the trained model; null until the job succeeds. */
  candidate_version: number | null;
  /** The champion when the job started (the candidate's parent). */
  parent_version: number | null;
  gate: JobGate | null;
  dataset: DatasetManifest | null;
  /** The canonical spec (see storableTrainingSpec). */
  spec: Record<string, unknown>;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  /** Rewritten every 15 s while the job is queued or running (see isOrphaned). */
  heartbeat_at: string | null;
  owner: JobOwner;
}

/** A job without its log lines: what listings show (`GET /v1/jobs/{id}` has the log). */
export function jobSummary(job: TrainingJob): Omit<TrainingJob, 'logs'> {
  const summary: Partial<TrainingJob> = { ...job };
  delete summary.logs;
  return summary as Omit<TrainingJob, 'logs'>;
}
