import { ArgusError } from '../common/errors';
import { FeedbackRecord, PredictionRecord } from '../predictions/prediction-record';

/**
 * The one interface for everything Argus persists in its analytical store (DESIGN.md §3).
 * Two implementations behave the same: ClickHouse (`ClickHouseStore`) and embedded DuckDB
 * (`DuckDbStore`); one contract test suite runs against both.
 *
 * Timestamps cross this interface as milliseconds since the epoch (UTC), like the records do.
 */
export const ANALYTICS_STORE = Symbol('ANALYTICS_STORE');

/** The stored columns of `predictions`, in insert order: the same in both stores. */
export const PREDICTION_COLUMNS = [
  'id',
  'request_id',
  'ts_ms',
  'model',
  'model_version',
  'route',
  'client_id',
  'trace_id',
  'span_id',
  'protocol',
  'inputs',
  'feature_bins',
  'scores',
  'label',
  'value',
  'latency_us',
  'batch_size',
  'status',
  'error',
] as const;

export interface AnalyticsStore {
  /** `clickhouse` or `duckdb`: for logs and `argus status`, never for branching behaviour. */
  readonly kind: StoreKind;

  /**
   * Applies pending migrations from `migrations/<kind>/NNNN_*.sql` in order and records them in
   * `schema_migrations`. Idempotent. Throws `MigrationChecksumError` when a migration that was
   * already applied has been edited since. `onProgress` receives one line per migration, and
   * progress lines while a long statement runs (migrations.ts, runStatements).
   */
  migrate(onProgress?: MigrationProgress, options?: MigrateOptions): Promise<MigrationReport>;

  /** Resolves when the store answers a trivial query; throws `StoreUnavailableError` otherwise. */
  ping(): Promise<void>;

  /**
   * Appends prediction rows. Throws `StoreUnavailableError` (cannot reach the store, timeout,
   * overloaded: retry later) or `StoreWriteError` (the store refused the data); never swallows a
   * failure. Inserting the same rows twice is safe: rows are identified by `id`, and every read
   * of this interface counts each id once.
   */
  insertPredictions(rows: readonly StoredPrediction[]): Promise<void>;

  /**
   * Appends ground-truth labels. The latest (by `ts`) label of a prediction id wins. Same errors.
   * Also writes the rows' `labeled_predictions` (quality reads them): from each row's `prediction`
   * when it has one, otherwise joined from the stored prediction (rows whose prediction is not
   * stored get none). Inserting the same rows twice is safe.
   */
  insertFeedback(rows: readonly FeedbackRecord[]): Promise<void>;

  /**
   * The stored predictions among `ids` (for validating feedback). Ids that are not UUIDs or are not
   * stored are absent from the map. Any number of ids; the store batches them.
   */
  lookupPredictions(ids: readonly string[]): Promise<Map<string, PredictionSummary>>;

  /** Distinct prediction ids per (model, model_version, route, status) matching the filter. */
  countPredictions(filter?: PredictionCountFilter): Promise<PredictionCount[]>;

  /**
   * Predictions of a model in `[from, to)` that have ground truth, each with its latest label,
   * ordered by (ts, id). Each prediction id appears once.
   */
  labeledPredictions(query: LabeledPredictionQuery): Promise<LabeledPrediction[]>;

  /**
   * Confusion counts of the window: per (predicted label, actual label), the distinct predictions
   * that have ground truth. Accuracy, precision and recall are computed from these.
   */
  labelPairCounts(query: WindowQuery): Promise<LabelPairCount[]>;

  /**
   * Per (feature index, bin) the number of distinct predictions in `[from, to)` whose
   * `feature_bins[feature]` is that bin: the aggregate drift statistics are computed from.
   */
  featureBinCounts(query: WindowQuery): Promise<FeatureBinCount[]>;

  /** Per time bucket of `bucketSeconds`: distinct predictions and distinct errored ones (status >= 400). */
  predictionTimeSeries(query: TimeSeriesQuery): Promise<PredictionTimeBucket[]>;

  insertMonitoringResults(rows: readonly MonitoringResult[]): Promise<void>;

  /** Results of one model, newest window first. */
  listMonitoringResults(query: MonitoringResultQuery): Promise<MonitoringResult[]>;

  insertEvents(rows: readonly StoreEvent[]): Promise<void>;

  /** Newest first. */
  listEvents(query?: EventQuery): Promise<StoreEvent[]>;

  /**
   * Retention: deletes predictions (with their insert-time aggregates and labeled copies),
   * feedback and monitoring results older than `days` whole UTC days (ClickHouse drops whole day
   * partitions; no TTL on 18.16). Events are an audit trail and are kept. Returns what was
   * dropped, for the log.
   */
  dropPartitionsOlderThan(days: number): Promise<RetentionReport>;

  /**
   * Collapses duplicate rows physically (ClickHouse: `OPTIMIZE TABLE … FINAL`). Reads never need
   * it; tests and `argus` maintenance commands use it.
   */
  compact(): Promise<void>;

  /**
   * Physical row counts per table, duplicates not yet collapsed included: diagnostics only. Use
   * `countPredictions` for anything a user sees.
   */
  rowCounts(): Promise<Record<StoreTable, number>>;

  /** Releases connections. Safe to call twice. */
  close(): Promise<void>;

  // --- Monitoring aggregates (docs/monitoring.md). Each is one query over one window; every
  // read counts a prediction id once, like the reads above. Rows with status >= 400 are left out.

  /**
   * Per (predicted label, position in `feature_bins`, bin): distinct predictions, and Σ of
   * `scores[position − scoreOffset]` for positions after `scoreOffset` (1-based positions; the CBPE
   * segments of the monitoring layout). Only rows whose `feature_bins` has exactly `width` entries
   * count (rows logged before the version had a profile have none).
   */
  monitoringBinAggregates(query: MonitoringBinQuery): Promise<MonitoringBinAggregate[]>;

  /**
   * Labeled predictions of the window (joined with their latest feedback label), per (predicted
   * label, actual label, top-score bin): rows, Σ top score, Σ log-loss term of the true class and
   * the rows that term covers (the actual label is one of `classNames`).
   */
  monitoringLabelAggregates(query: MonitoringLabelQuery): Promise<MonitoringLabelAggregate[]>;

  /**
   * Labeled predictions per (actual label, class index 0-based, score bin
   * `least(toUInt32(score · 100), 99)`): rows and Σ score. ROC AUC one-vs-rest reads it.
   */
  monitoringScoreHistogram(query: WindowQuery): Promise<MonitoringScoreBin[]>;

  /**
   * The insert-time aggregates (`prediction_aggregates`, docs/monitoring.md "Aggregates at
   * ingest") of a minute-aligned window: `from` and `to` must be multiples of 60 000 ms (throws
   * `StoreQueryError` otherwise). `rows`: successful predictions of the window (what
   * `countPredictions` counts with status < 400); `bins`: what `monitoringBinAggregates` returns for
   * the same query. Each delivery unit counts once, however often it was inserted.
   */
  monitoringIngestAggregates(query: MonitoringBinQuery): Promise<MonitoringIngestAggregates>;

  /**
   * `monitoringLabelAggregates` and `monitoringScoreHistogram` of the same window in one pass over
   * its labeled predictions, read from `labeled_predictions` alone (written at feedback time, no
   * join with predictions or feedback). The two-query path above stays on the join: the cross-check.
   */
  monitoringQualityAggregates(query: MonitoringLabelQuery): Promise<MonitoringQualityAggregates>;

  /** Regression sums of the labeled predictions with a finite predicted and true value. */
  monitoringRegressionSums(query: WindowQuery): Promise<MonitoringRegressionSums>;

  /**
   * Start (ms, inclusive) of the window holding the latest `rows` distinct predictions before `to`,
   * and how many there are; `start` is null when there is none.
   */
  latestRowsWindow(query: LatestRowsQuery): Promise<{ start: number | null; rows: number }>;

  /** The oldest successful predictions of a version that logged their inputs, oldest first. */
  firstLoggedPredictions(query: FirstLoggedQuery): Promise<LoggedPredictionSample[]>;
}

export interface MonitoringBinQuery extends WindowQuery {
  version: number;
  width: number;
  /** Positions after this (1-based) also sum `scores[position − scoreOffset]`; `width` for none. */
  scoreOffset: number;
}

export interface MonitoringBinAggregate {
  label: string;
  /** 1-based position in `feature_bins`. */
  position: number;
  bin: number;
  count: number;
  sum_score: number;
}

export interface MonitoringIngestAggregates {
  /** Successful predictions (status < 400) of the window. */
  rows: number;
  bins: MonitoringBinAggregate[];
}

export interface MonitoringQualityAggregates {
  labels: MonitoringLabelAggregate[];
  histogram: MonitoringScoreBin[];
}

export interface MonitoringLabelQuery extends WindowQuery {
  /** The names the model logs as `label`, in class-index order. */
  classNames: readonly string[];
  /** Equal-width bins of the top score (calibration error). */
  topScoreBins: number;
}

export interface MonitoringLabelAggregate {
  label: string;
  actual_label: string;
  top_bin: number;
  count: number;
  sum_top_score: number;
  sum_log_loss: number;
  log_loss_rows: number;
}

export interface MonitoringScoreBin {
  actual_label: string;
  /** 0-based class index (column of `scores`). */
  class_index: number;
  bin: number;
  count: number;
  sum_score: number;
}

export interface MonitoringRegressionSums {
  count: number;
  sum_absolute_error: number;
  sum_squared_error: number;
  sum_absolute_percentage_error: number;
  sum_target: number;
  sum_squared_target: number;
  sum_squared_target_deviation: number;
}

export interface LatestRowsQuery {
  model: string;
  version: number;
  rows: number;
  /** Exclusive, ms since the epoch. */
  to: number;
}

export interface FirstLoggedQuery {
  model: string;
  version: number;
  limit: number;
}

export interface LoggedPredictionSample {
  inputs: number[];
  scores: number[];
  label: string;
  value: number | null;
}

export type StoreKind = 'clickhouse' | 'duckdb';

export type StoreTable = 'predictions' | 'feedback' | 'monitoring_results' | 'events';

/**
 * A prediction as stored. `feature_bins` (bin index per monitored feature against the reference
 * profile) is reserved for the monitoring issue; absent means empty.
 */
export type StoredPrediction = PredictionRecord & { feature_bins?: number[] };

export type MigrationProgress = (line: string) => void;

export interface MigrateOptions {
  /** How often a long statement's progress is reported; default 1000 ms (migrations.ts). */
  progressIntervalMs?: number;
}

export interface MigrationReport {
  /** Names (file names) applied by this call, in order. */
  applied: string[];
  /** Names already applied before this call. */
  alreadyApplied: string[];
}

/**
 * What `lookupPredictions` returns of a stored prediction: enough to validate feedback against its
 * model, and what a `labeled_predictions` row carries of it (migration 0003; FeedbackService
 * attaches it to each feedback record as `prediction`).
 */
export interface PredictionSummary {
  /** The prediction's time, ms since the epoch. */
  ts_ms: number;
  model: string;
  model_version: number;
  route: string;
  /** Predicted class name (classifier); empty otherwise. */
  label: string;
  /** Predicted value (regressor); null otherwise. */
  value: number | null;
  /** Class probabilities or raw outputs, as stored (Float32 values). */
  scores: number[];
  /** HTTP status of the prediction's request. */
  status: number;
}

export interface PredictionCountFilter {
  model?: string;
  version?: number;
  route?: string;
  /** Inclusive, ms since the epoch. */
  from?: number;
  /** Exclusive, ms since the epoch. */
  to?: number;
}

export interface PredictionCount {
  model: string;
  model_version: number;
  route: string;
  status: number;
  /** Distinct prediction ids. */
  count: number;
}

export interface WindowQuery {
  model: string;
  version?: number;
  /** Inclusive, ms since the epoch. */
  from: number;
  /** Exclusive, ms since the epoch. */
  to: number;
}

export interface LabeledPredictionQuery extends WindowQuery {
  /** At most this many rows (oldest first); default 100 000. */
  limit?: number;
}

export interface LabeledPrediction {
  id: string;
  ts: number;
  model: string;
  model_version: number;
  route: string;
  inputs: number[];
  scores: number[];
  /** What the model predicted. */
  label: string;
  value: number | null;
  /** Ground truth: the latest feedback for this id. */
  actual_label: string;
  actual_value: number | null;
  feedback_ts: number;
}

export interface LabelPairCount {
  /** Predicted label. */
  label: string;
  actual_label: string;
  count: number;
}

export interface FeatureBinCount {
  /** 0-based position in `feature_bins`. */
  feature: number;
  bin: number;
  count: number;
}

export interface TimeSeriesQuery extends WindowQuery {
  /** Bucket width; buckets start at multiples of it since the epoch. */
  bucketSeconds: number;
}

export interface PredictionTimeBucket {
  /** Bucket start, ms since the epoch. */
  bucket: number;
  predictions: number;
  errors: number;
}

export type MonitoringStatus = 'ok' | 'warning' | 'alert' | 'insufficient_data';

export interface MonitoringResult {
  model: string;
  model_version: number;
  /** ms since the epoch; stored with second precision. */
  window_start: number;
  window_end: number;
  metric: string;
  /** Feature name for per-feature metrics, '' otherwise. */
  feature: string;
  value: number;
  threshold: number | null;
  status: MonitoringStatus;
  /** When the result was computed, ms since the epoch. */
  ts: number;
}

export interface MonitoringResultQuery {
  model: string;
  version?: number;
  metric?: string;
  /** Windows starting at or after this (ms since the epoch). */
  from?: number;
  /** Default 1000. */
  limit?: number;
}

export interface StoreEvent {
  ts: number;
  /** e.g. `lifecycle.promoted`, `training.finished`, `alert.fired`, `security.extraction`. */
  type: string;
  /** '' for events not about one model. */
  model: string;
  /** 0 when not about one version. */
  model_version: number;
  severity: 'info' | 'warning' | 'critical';
  /** Stored as a JSON string. */
  details: Record<string, unknown>;
}

export interface EventQuery {
  type?: string;
  model?: string;
  /** Inclusive, ms since the epoch. */
  from?: number;
  /** Default 100. */
  limit?: number;
}

export interface RetentionReport {
  /** ClickHouse: `table:partition` dropped; DuckDB: `table` with rows deleted. */
  dropped: string[];
  /** Rows removed (ClickHouse: rows in dropped partitions, duplicates included). */
  rows: number;
}

/** Any failure of the analytical store. `retryable` tells a writer whether to spool and retry. */
export abstract class StoreError extends ArgusError {
  abstract readonly retryable: boolean;
}

/**
 * The store cannot be reached or did not answer in time (connection refused or reset, timeout,
 * server overloaded or shutting down). The same request may succeed later: spool and retry.
 */
export class StoreUnavailableError extends StoreError {
  readonly retryable = true;
  constructor(message: string, options?: { cause?: unknown }) {
    super('unavailable', message);
    if (options?.cause !== undefined) this.cause = options.cause;
  }
}

/**
 * The store answered and refused the write (bad data, missing table, schema mismatch). Retrying the
 * same rows unchanged will fail again; keep them (spool) and surface the error instead of looping.
 */
export class StoreWriteError extends StoreError {
  readonly retryable = false;
  constructor(message: string, options?: { cause?: unknown }) {
    super('unavailable', message);
    if (options?.cause !== undefined) this.cause = options.cause;
  }
}

/** A read failed although the store is up (a bug or an incompatible schema). */
export class StoreQueryError extends StoreError {
  readonly retryable = false;
  constructor(message: string, options?: { cause?: unknown }) {
    super('unavailable', message);
    if (options?.cause !== undefined) this.cause = options.cause;
  }
}

/** An already-applied migration file was edited after it was applied. */
export class MigrationChecksumError extends StoreError {
  readonly retryable = false;
  constructor(
    readonly file: string,
    readonly appliedChecksum: string,
    readonly currentChecksum: string,
  ) {
    super(
      'conflict',
      `migration ${file} was edited after it was applied (applied sha256 ${appliedChecksum}, ` +
        `file now ${currentChecksum}); restore the original file and put the change in a new ` +
        `migration`,
    );
  }
}

/** A migration file failed to apply; names the file and the statement. */
export class MigrationFailedError extends StoreError {
  readonly retryable = false;
  constructor(
    readonly file: string,
    readonly statementIndex: number,
    cause: unknown,
  ) {
    super(
      'unavailable',
      `migration ${file} failed at statement ${statementIndex + 1}: ${
        cause instanceof Error ? cause.message : String(cause)
      }`,
    );
    this.cause = cause;
  }
}
