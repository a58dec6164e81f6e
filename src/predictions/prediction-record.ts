import type { PredictionSummary } from '../store/analytics-store';

/**
 * The records Argus writes to the analytical store. Field names are the column names of the
 * `predictions` and `feedback` tables (DESIGN.md §3), so codecs can write them without a mapping.
 */

/**
 * How a request reached a model version. `pinned` = the URL named the version explicitly; `cli` =
 * offline scoring with `argus predict --log` (not live traffic).
 */
export type PredictionRoute = 'champion' | 'challenger' | 'shadow' | 'canary' | 'pinned' | 'cli';

/** Float values of a record: plain numbers, or a Float32Array (what the column stores anyway). */
export type LoggedFloats = number[] | Float32Array;

export interface PredictionRecord {
  /** UUID returned to the client in `prediction_ids`; feedback refers to it. */
  id: string;
  request_id: string;
  /** Milliseconds since the epoch. */
  ts: number;
  model: string;
  model_version: number;
  route: PredictionRoute;
  client_id: string;
  trace_id: string;
  span_id: string;
  /**
   * The row's input values (Float32), or empty when input logging is off or not sampled. The
   * server passes a Float32Array view of the request tensor; the writer's queue copies the values
   * into its slab (encoded-prediction-queue.ts), and records it decodes carry views of that slab.
   */
  inputs: LoggedFloats;
  /** Class probabilities (classifier) or raw outputs; empty for failed requests. */
  scores: number[];
  /** Predicted class name (classifier); empty otherwise. */
  label: string;
  /** Predicted value (regressor); null otherwise. */
  value: number | null;
  latency_us: number;
  batch_size: number;
  /** HTTP status of the request the row belonged to (200, or the 4xx/5xx it failed with). */
  status: number;
  error: string;
  /** Which front door: `v2`, `v1`, `cli`. */
  protocol: string;
  /**
   * Not a column: the delivery unit this record belongs to (docs/monitoring.md "Aggregates at
   * ingest"). The prediction writer sets it once, before the first store attempt; the spool keeps
   * it, and a unit is always delivered whole, so the store's insert-time aggregates of a unit
   * inserted twice collapse instead of counting twice. Absent: the store keys the insert itself.
   */
  batch_key?: string;
}

export interface FeedbackRecord {
  prediction_id: string;
  ts: number;
  /** Ground-truth class name (classifier); empty for regression. */
  label: string;
  /** Ground-truth value (regression); null for classification. */
  value: number | null;
  source: string;
  /**
   * Not a column of `feedback`: the labeled prediction, as FeedbackService looked it up to validate
   * the id. The store writes it with the label into `labeled_predictions` (what quality reads), so
   * no join with `predictions` is needed then or later. It travels through the spool (JSON; scores
   * that are not finite come back as null). Absent (older spool frames, rows built by hand): the
   * store joins the stored prediction in itself.
   */
  prediction?: PredictionSummary;
}
