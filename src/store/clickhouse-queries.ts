/**
 * Every ClickHouse statement the store runs, by name. `{name}` placeholders are filled by `bindSql`
 * (sql-escape.ts) with escaped literals; `{where}`-style placeholders take conditions that were
 * themselves bound from the templates below. All of it runs on 18.16 (DESIGN.md §4): no
 * `WITH name AS (subquery)`, no query parameters, JOINs as `ANY … JOIN … USING`.
 *
 * Duplicates: `predictions` may hold a row twice until a merge. Every read either counts
 * `uniqExact(id)` or takes one row per id with `LIMIT 1 BY id`, so duplicates never inflate;
 * `prediction_aggregates` rows are read `LIMIT 1 BY` their key (batch key, minute, label, status).
 */
export const CLICKHOUSE_SQL = {
  ping: 'SELECT 1',

  databaseExists: 'SELECT count() AS count FROM system.databases WHERE name = {name}',

  createDatabase: 'CREATE DATABASE IF NOT EXISTS {database}',

  // Not a migration: the runner needs this table before it can record any migration.
  createSchemaMigrations: `CREATE TABLE IF NOT EXISTS schema_migrations
(
    name String,
    checksum String,
    applied_at DateTime('UTC')
)
ENGINE = MergeTree()
ORDER BY name`,

  selectAppliedMigrations:
    'SELECT name, any(checksum) AS checksum FROM schema_migrations GROUP BY name ORDER BY name',

  // A running migration statement (ClickHouseStore.migrate runs each under its own query id).
  statementProgress:
    'SELECT read_rows, total_rows_approx FROM system.processes WHERE query_id = {queryId}',

  recordMigration:
    "INSERT INTO schema_migrations (name, checksum, applied_at) VALUES ({name}, {checksum}, toDateTime({appliedAt}, 'UTC'))",

  // --- conditions, combined with ' AND ' into {where} -------------------------------------------
  // The `ts` (seconds) bound lets partition and primary-key pruning work; `ts_ms` is exact.
  whereFrom: "ts >= toDateTime({fromSeconds}, 'UTC') AND ts_ms >= {from}",
  whereTo: "ts < toDateTime({toSecondsCeil}, 'UTC') AND ts_ms < {to}",
  whereModel: 'model = {model}',
  whereVersion: 'model_version = {version}',
  whereRoute: 'route = {route}',
  whereType: 'type = {type}',
  whereAll: '1',

  // Feedback validation and `labeled_predictions` need the prediction's fields, which only
  // `predictions` holds; its sorting key starts with (model, version, hour), not id. The narrow
  // `prediction_lookup` (sorted by id) gives each id's full sorting key, so the read of
  // `predictions` touches only the granules of those rows (checked on 18.16: 20 ids of 2M rows read
  // 20 granules, where `id IN` alone reads the whole table).
  lookupPredictions: `SELECT id, ts_ms, model, model_version, route, label,
       toString(value) AS value_text, arrayMap(x -> toString(x), scores) AS scores_text, status
FROM predictions
WHERE (model, model_version, toStartOfHour(ts), id) IN
    (SELECT model, model_version, toStartOfHour(ts), id FROM prediction_lookup WHERE id IN {ids})
LIMIT 1 BY id`,

  // `labeled_predictions` rows of feedback that came without its prediction (spooled by an older
  // version, or built by hand): the prediction joined in here, with the latest feedback of each id
  // (argMax by ts, like every feedback read). The shape of migration 0003's backfill, for {ids}.
  insertLabeledFromPredictions: `INSERT INTO labeled_predictions
    (prediction_id, ts_ms, model, model_version, route, label, value, scores, status,
     actual_label, actual_value, feedback_ts_ms)
SELECT id, ts_ms, model, model_version, route, label, value, scores, status,
       actual_label, actual_value, feedback_ts_ms
FROM
(
    SELECT id, ts_ms, model, model_version, route, label, value, scores, status
    FROM predictions
    WHERE (model, model_version, toStartOfHour(ts), id) IN
        (SELECT model, model_version, toStartOfHour(ts), id FROM prediction_lookup WHERE id IN {ids})
    LIMIT 1 BY id
)
ANY INNER JOIN
(
    SELECT prediction_id AS id, argMax(label, ts_ms) AS actual_label,
           argMax(value, ts_ms) AS actual_value, max(ts_ms) AS feedback_ts_ms
    FROM feedback
    WHERE prediction_id IN {ids}
    GROUP BY prediction_id
) USING id`,

  countPredictions: `SELECT model, model_version, route, status, uniqExact(id) AS count
FROM predictions
WHERE {where}
GROUP BY model, model_version, route, status
ORDER BY model, model_version, route, status`,

  // Left: one row per prediction id in the window. Right: the latest label per id, restricted to
  // ids of the window so the hash table of the join stays small.
  // Floats are read as text everywhere: JSON output cannot carry NaN/±Inf (it writes null).
  labeledPredictions: `SELECT id, ts_ms, model, model_version, route,
       arrayMap(x -> toString(x), inputs) AS inputs_text,
       arrayMap(x -> toString(x), scores) AS scores_text,
       label, toString(value) AS value_text, actual_label,
       toString(actual_value) AS actual_value_text, feedback_ts
FROM
(
    SELECT id, ts_ms, model, model_version, route, inputs, scores, label, value
    FROM predictions
    WHERE {where}
    LIMIT 1 BY id
)
ANY INNER JOIN
(
    SELECT prediction_id AS id,
           argMax(label, ts_ms) AS actual_label,
           argMax(value, ts_ms) AS actual_value,
           max(ts_ms) AS feedback_ts
    FROM feedback
    WHERE prediction_id IN (SELECT id FROM predictions WHERE {where})
    GROUP BY prediction_id
) USING id
ORDER BY ts_ms, id
LIMIT {limit}`,

  // Confusion matrix of the window: the aggregate accuracy / recall / precision are computed from.
  labelPairCounts: `SELECT label, actual_label, count() AS count
FROM
(
    SELECT id, label
    FROM predictions
    WHERE {where}
    LIMIT 1 BY id
)
ANY INNER JOIN
(
    SELECT prediction_id AS id, argMax(label, ts_ms) AS actual_label
    FROM feedback
    WHERE prediction_id IN (SELECT id FROM predictions WHERE {where})
    GROUP BY prediction_id
) USING id
GROUP BY label, actual_label
ORDER BY label, actual_label`,

  // Drift input: rows per (feature position, bin). Arithmetic only, no arrayFirstIndex (§4: 10× slower).
  featureBinCounts: `SELECT position - 1 AS feature, bin, count() AS count
FROM
(
    SELECT id, feature_bins
    FROM predictions
    WHERE {where}
    LIMIT 1 BY id
)
ARRAY JOIN feature_bins AS bin, arrayEnumerate(feature_bins) AS position
GROUP BY position, bin
ORDER BY position, bin`,

  predictionTimeSeries: `SELECT intDiv(toUInt32(ts), {bucketSeconds}) * {bucketSeconds} AS bucket,
       uniqExact(id) AS predictions,
       uniqExactIf(id, status >= 400) AS errors
FROM predictions
WHERE {where}
GROUP BY bucket
ORDER BY bucket`,

  whereMetric: 'metric = {metric}',
  whereWindowFrom: "window_start >= toDateTime({fromSeconds}, 'UTC')",

  listMonitoringResults: `SELECT model, model_version, toUInt32(window_start) AS window_start,
       toUInt32(window_end) AS window_end, metric, feature, toString(value) AS value_text,
       toString(threshold) AS threshold_text, status, ts_ms
FROM monitoring_results
WHERE {where}
ORDER BY window_start DESC, metric, feature
LIMIT {limit}`,

  listEvents: `SELECT ts_ms, type, model, model_version, severity, details
FROM events
WHERE {where}
ORDER BY ts_ms DESC
LIMIT {limit}`,

  partitionsOf: `SELECT table, partition, count() AS parts, sum(rows) AS rows
FROM system.parts
WHERE database = {database} AND active AND table IN {tables}
GROUP BY table, partition
ORDER BY table, partition`,

  dropPartition: 'ALTER TABLE {table} DROP PARTITION {partition}',

  optimizePartition: 'OPTIMIZE TABLE {table} PARTITION {partition} FINAL',

  countRows: 'SELECT count() AS count FROM {table}',
} as const;

/** Tables whose partitions retention drops (by day). `events` is an audit trail and is kept. */
export const CLICKHOUSE_RETENTION_TABLES = [
  'predictions',
  'prediction_lookup',
  'prediction_aggregates',
  'feedback',
  'labeled_predictions',
  'monitoring_results',
] as const;

/** Tables where duplicates collapse on merge; `compact()` forces that merge. */
export const CLICKHOUSE_REPLACING_TABLES = [
  'predictions',
  'prediction_lookup',
  'prediction_aggregates',
  'feedback',
  'labeled_predictions',
] as const;

/**
 * Copies of other tables' rows (kept in step with them): retention drops their partitions too but
 * does not count their rows as removed data.
 */
export const CLICKHOUSE_DERIVED_TABLES: readonly string[] = [
  'prediction_lookup',
  'prediction_aggregates',
  'labeled_predictions',
];

export { PREDICTION_COLUMNS } from './analytics-store';

/** `prediction_aggregates` (migration 0002): one row per unit, minute, label and status. */
export const AGGREGATE_COLUMNS = [
  'model',
  'model_version',
  'ts_ms',
  'batch_key',
  'label',
  'status',
  'rows',
  'bin_keys',
  'bin_counts',
  'score_keys',
  'score_sums',
] as const;

export const FEEDBACK_COLUMNS = ['prediction_id', 'ts_ms', 'label', 'value', 'source'] as const;

/** `labeled_predictions` (migration 0003): `ts_ms` is the prediction's time; `ts` is MATERIALIZED. */
export const LABELED_COLUMNS = [
  'prediction_id',
  'ts_ms',
  'model',
  'model_version',
  'route',
  'label',
  'value',
  'scores',
  'status',
  'actual_label',
  'actual_value',
  'feedback_ts_ms',
] as const;

export const MONITORING_COLUMNS = [
  'model',
  'model_version',
  'window_start',
  'window_end',
  'metric',
  'feature',
  'value',
  'threshold',
  'status',
  'ts_ms',
] as const;

export const EVENT_COLUMNS = [
  'ts_ms',
  'type',
  'model',
  'model_version',
  'severity',
  'details',
] as const;

/**
 * Monitoring aggregates (docs/monitoring.md): one statement per window and kind, all features at
 * once. Quality (`qualityAggregates`) reads `labeled_predictions` alone; the older two-query path
 * (`labelAggregates`, `scoreHistogram`, `regressionSums`) joins predictions with feedback and
 * semi-joins first (`id IN (SELECT prediction_id FROM feedback)`), so the join only sees the labeled
 * predictions of the window. `{where}` is the prediction window (model, version, time). Arithmetic
 * and comparisons only; the bin indexes were computed at ingest into `feature_bins`.
 */
export const CLICKHOUSE_MONITORING_SQL = {
  // Per predicted label, two sumMaps keyed by position * 256 + bin (1-based positions): rows, and
  // Σ raw score of the CBPE segment positions (after {scoreOffset}; class = position − offset;
  // lambdas on 18.16 cannot read outer columns, so the scores go in as an argument array).
  // sumMap instead of ARRAY JOIN + GROUP BY: no row multiplication, about twice as fast on 18.16.
  binAggregates: `SELECT label,
       sumMap(arrayMap((b, i) -> toUInt16(i * 256 + b), feature_bins, arrayEnumerate(feature_bins)),
              arrayMap(b -> toUInt64(1), feature_bins)) AS counts,
       sumMap(arrayMap((b, i) -> toUInt16((i + {scoreOffset}) * 256 + b), segments, arrayEnumerate(segments)),
              arrayMap(x -> toFloat64(x), arraySlice(scores, 1, length(segments)))) AS score_sums
FROM
(
    SELECT label, feature_bins, scores, arraySlice(feature_bins, {scoreOffset} + 1) AS segments
    FROM predictions
    WHERE {where} AND status < 400 AND length(feature_bins) = {width}
    LIMIT 1 BY id
)
GROUP BY label`,

  // Minute-aligned windows (docs/monitoring.md "Aggregates at ingest"): the insert-time aggregate
  // rows of the window, one per delivery unit (`LIMIT 1 BY` the key: a unit inserted twice counts
  // once), summed per predicted label. Keys hold width, position and bin; see migration 0002.
  ingestAggregates: `SELECT label, sum(rows) AS rows,
       sumMap(bin_keys, bin_counts) AS bins,
       sumMap(score_keys, score_sums) AS sums
FROM
(
    SELECT label, rows, bin_keys, bin_counts, score_keys, score_sums
    FROM prediction_aggregates
    WHERE {where} AND status < 400
    LIMIT 1 BY model, model_version, ts_ms, batch_key, label, status
)
GROUP BY label`,

  // Quality in one pass over the window's labels (`labeled_predictions`, migration 0003), no join:
  // the predictions and feedback tables are not read. One row per labeled prediction by `FINAL`:
  // every row of a prediction id shares the sorting key (model, version, hour, id), so the read
  // merges them as a merge would, keeping the latest feedback (the version column
  // feedback_ts_ms; on a tie the last inserted, the rule of latestFeedbackPerId and of DuckDB's
  // upsert); exact before merges. Measured on 18.16 (100k labeled rows of 1M): 0.04 s, where
  // GROUP BY prediction_id with argMax took 0.13–0.29 s, 2–4 raw scans of the window. The filters are
  // on prediction fields, equal in every row of an id, so they cannot separate a row from its
  // replacement. Then per (predicted label, actual label, top-score bin, class, score bin): rows,
  // Σ score and the per-row sums. Rows with class_index 0 carry each labeled prediction once (label
  // aggregates); all rows together are the per-class score histogram (ROC AUC).
  qualityAggregates: `SELECT label, actual_label, top_bin, class_position - 1 AS class_index,
       least(toUInt32(greatest(score, 0) * 100), 99) AS bin,
       count() AS count, sum(toFloat64(score)) AS sum_score,
       sum(top_score) AS sum_top_score, sum(log_loss) AS sum_log_loss,
       sum(has_class) AS log_loss_rows
FROM
(
    SELECT label, actual_label, scores,
           toFloat64(arrayReduce('max', scores)) AS top_score,
           least(toUInt32(greatest(top_score, 0) * {topScoreBins}), {topScoreBinsMax}) AS top_bin,
           indexOf({classNames}, actual_label) AS actual_index,
           actual_index > 0 AND actual_index <= length(scores) AS has_class,
           if(has_class,
              -log(greatest(least(toFloat64(scores[actual_index]), 1 - 1e-15), 1e-15)),
              0) AS log_loss
    FROM {labeled}
    WHERE {where} AND status < 400 AND length(scores) > 0
)
ARRAY JOIN scores AS score, arrayEnumerate(scores) AS class_position
GROUP BY label, actual_label, top_bin, class_index, bin`,

  // What `qualityAggregates` reads: `FINAL` when the window may hold several rows of one id, the
  // plain table (read on every core; `FINAL` is one merge stream on 18.16, 1.3 s for 1M labels)
  // when `qualityDuplicates` found none. See ClickHouseStore.monitoringQualityAggregates.
  qualityFinal: 'labeled_predictions FINAL',
  qualityPlain: 'labeled_predictions',

  // Rows and distinct ids of the window's labels: equal means every id has one row (no re-sent
  // label or retried batch waiting for a merge), so the plain read is already de-duplicated.
  qualityDuplicates: `SELECT count() AS rows, uniqExact(prediction_id) AS ids
FROM labeled_predictions
WHERE {where} AND status < 400 AND length(scores) > 0`,

  labelAggregates: `SELECT label, actual_label, top_bin, count() AS count,
       sum(top_score) AS sum_top_score, sum(log_loss) AS sum_log_loss,
       sum(has_class) AS log_loss_rows
FROM
(
    SELECT label, actual_label,
           toFloat64(arrayReduce('max', scores)) AS top_score,
           least(toUInt32(greatest(top_score, 0) * {topScoreBins}), {topScoreBinsMax}) AS top_bin,
           indexOf({classNames}, actual_label) AS actual_index,
           actual_index > 0 AND actual_index <= length(scores) AS has_class,
           if(has_class,
              -log(greatest(least(toFloat64(scores[actual_index]), 1 - 1e-15), 1e-15)),
              0) AS log_loss
    FROM
    (
        SELECT id, label, scores
        FROM predictions
        WHERE {where} AND status < 400 AND length(scores) > 0
              AND id IN (SELECT prediction_id FROM feedback)
        LIMIT 1 BY id
    )
    ANY INNER JOIN
    (
        SELECT prediction_id AS id, argMax(label, ts_ms) AS actual_label
        FROM feedback
        WHERE prediction_id IN
            (SELECT id FROM predictions WHERE {where} AND id IN (SELECT prediction_id FROM feedback))
        GROUP BY prediction_id
    ) USING id
)
GROUP BY label, actual_label, top_bin`,

  scoreHistogram: `SELECT actual_label, class_position - 1 AS class_index,
       least(toUInt32(greatest(score, 0) * 100), 99) AS bin, count() AS count,
       sum(toFloat64(score)) AS sum_score
FROM
(
    SELECT scores, actual_label
    FROM
    (
        SELECT id, scores
        FROM predictions
        WHERE {where} AND status < 400 AND length(scores) > 0
              AND id IN (SELECT prediction_id FROM feedback)
        LIMIT 1 BY id
    )
    ANY INNER JOIN
    (
        SELECT prediction_id AS id, argMax(label, ts_ms) AS actual_label
        FROM feedback
        WHERE prediction_id IN
            (SELECT id FROM predictions WHERE {where} AND id IN (SELECT prediction_id FROM feedback))
        GROUP BY prediction_id
    ) USING id
)
ARRAY JOIN scores AS score, arrayEnumerate(scores) AS class_position
GROUP BY actual_label, class_index, bin`,

  regressionSums: `SELECT count() AS count,
       toString(sum(abs(y - p))) AS sum_absolute_error,
       toString(sum((y - p) * (y - p))) AS sum_squared_error,
       toString(sum(abs(y - p) / greatest(abs(y), 2.220446049250313e-16))) AS sum_absolute_percentage_error,
       toString(sum(y)) AS sum_target,
       toString(sum(y * y)) AS sum_squared_target,
       toString(if(count() = 0, 0, varPop(y) * count())) AS sum_squared_target_deviation
FROM
(
    SELECT assumeNotNull(value) AS p, assumeNotNull(actual_value) AS y
    FROM
    (
        SELECT id, value
        FROM predictions
        WHERE {where} AND status < 400 AND isNotNull(value)
              AND id IN (SELECT prediction_id FROM feedback)
        LIMIT 1 BY id
    )
    ANY INNER JOIN
    (
        SELECT prediction_id AS id, argMax(value, ts_ms) AS actual_value
        FROM feedback
        WHERE prediction_id IN
            (SELECT id FROM predictions WHERE {where} AND id IN (SELECT prediction_id FROM feedback))
        GROUP BY prediction_id
    ) USING id
    WHERE isNotNull(actual_value)
)
WHERE isFinite(p) AND isFinite(y)`,

  latestRowsWindow: `SELECT min(ts_ms) AS start, count() AS rows
FROM
(
    SELECT ts_ms
    FROM predictions
    WHERE {where} AND status < 400
    ORDER BY ts_ms DESC
    LIMIT 1 BY id
    LIMIT {rows}
)`,

  firstLoggedPredictions: `SELECT arrayMap(x -> toString(x), inputs) AS inputs_text,
       arrayMap(x -> toString(x), scores) AS scores_text,
       label, toString(value) AS value_text
FROM predictions
WHERE {where} AND status < 400 AND length(inputs) > 0
ORDER BY ts_ms, id
LIMIT 1 BY id
LIMIT {limit}`,
} as const;
