import { PredictionRecord } from '../predictions/prediction-record';

/**
 * Where the data plane hands finished predictions. The prediction-log module provides the real
 * implementation; without it (logging disabled) nothing is recorded. `record` must be cheap: the
 * request path only appends to a queue. In durable mode it resolves once the records are safe.
 */
export const PREDICTION_SINK = Symbol('PREDICTION_SINK');

export interface PredictionSink {
  record(records: PredictionRecord[]): void | Promise<void>;
  /** Whether to keep the input values of a row of this width (full / sampled / none policy). */
  shouldLogInputs(width: number): boolean;
}
