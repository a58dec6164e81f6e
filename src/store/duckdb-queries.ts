/**
 * Every DuckDB statement the embedded store runs, by name; `{name}` placeholders are filled by
 * `bindSql` (sql-escape.ts). The same shapes as clickhouse-queries.ts, in DuckDB SQL.
 *
 * Duplicates: `feedback.prediction_id` and `labeled_predictions.prediction_id` are primary keys
 * written with ON CONFLICT; `predictions.id` is kept unique by the insert itself (a duplicate check
 * in the batch's transaction, an anti-join for a repeated batch; migration 0004). Every row is
 * already unique and plain counts are exact.
 */
export const DUCKDB_SQL = {
  ping: 'SELECT 1 AS ok',

  createSchemaMigrations: `CREATE TABLE IF NOT EXISTS schema_migrations
(
    name VARCHAR PRIMARY KEY,
    checksum VARCHAR NOT NULL,
    applied_at TIMESTAMP NOT NULL
)`,

  selectAppliedMigrations: 'SELECT name, checksum FROM schema_migrations ORDER BY name',

  recordMigration:
    'INSERT INTO schema_migrations (name, checksum, applied_at) VALUES ({name}, {checksum}, now()::TIMESTAMP)',

  // Per-connection staging tables the appender fills; rows then move into the real tables in one
  // statement that applies the duplicate rules. TEMP: never persisted, never seen by other readers.
  createPredictionsIncoming: `CREATE TEMP TABLE IF NOT EXISTS predictions_incoming
(
    id VARCHAR, request_id VARCHAR, ts_ms BIGINT, model VARCHAR, model_version UINTEGER,
    route VARCHAR, client_id VARCHAR, trace_id VARCHAR, span_id VARCHAR, protocol VARCHAR,
    inputs BLOB, feature_bins UTINYINT[], scores FLOAT[], label VARCHAR, value DOUBLE,
    latency_us UBIGINT, batch_size UINTEGER, status USMALLINT, error VARCHAR
)`,

  // The p_* columns are the row's `prediction` (FeedbackRecord), NULL when it came without one.
  createFeedbackIncoming: `CREATE TEMP TABLE IF NOT EXISTS feedback_incoming
(
    prediction_id VARCHAR, ts_ms BIGINT, label VARCHAR, value DOUBLE, source VARCHAR,
    has_prediction BOOLEAN, p_ts_ms BIGINT, p_model VARCHAR, p_model_version UINTEGER,
    p_route VARCHAR, p_label VARCHAR, p_value DOUBLE, p_scores FLOAT[], p_status USMALLINT
)`,

  clearPredictionsIncoming: 'DELETE FROM predictions_incoming',
  clearFeedbackIncoming: 'DELETE FROM feedback_incoming',

  // A batch whose direct append failed the duplicate check (migration 0004: no primary key): the
  // staged rows whose id is not stored yet in the batch's time range (a copy of a row has its
  // row's ts_ms), each id once.
  movePredictions: `INSERT INTO predictions
    (id, request_id, ts_ms, model, model_version, route, client_id, trace_id, span_id, protocol,
     inputs, feature_bins, scores, label, value, latency_us, batch_size, status, error)
SELECT DISTINCT ON (id) id::UUID, request_id, ts_ms, model, model_version, route, client_id,
       trace_id, span_id, protocol, inputs, coalesce(feature_bins, []::UTINYINT[]), scores, label,
       value, latency_us, batch_size, status, error
FROM predictions_incoming
WHERE id::UUID NOT IN (SELECT id FROM predictions WHERE ts_ms BETWEEN {from} AND {to})`,

  // After a batch is appended, in its transaction: ids of [from, to] stored more than once. Zero
  // unless the batch repeated a stored id (or itself); row groups outside the range are skipped.
  duplicateIds: `SELECT count(*) - count(DISTINCT id) AS duplicates
FROM predictions
WHERE ts_ms BETWEEN {from} AND {to}`,

  // Insert-time monitoring aggregates (migration 0002), in the transaction of their predictions;
  // the primary key (…, batch_key, label, status) keeps one row when a unit is inserted twice.
  insertAggregates: `INSERT OR IGNORE INTO prediction_aggregates
    (model, model_version, ts_ms, batch_key, label, status, rows, bin_keys, bin_counts,
     score_keys, score_sums)
VALUES {values}`,

  aggregateValues: `({model}, {modelVersion}, {ts}, {batchKey}, {label}, {status}, {rows},
 {binKeys}::UINTEGER[], {binCounts}::UBIGINT[], {scoreKeys}::UINTEGER[], {scoreSums}::DOUBLE[])`,

  // The batch holds one row per id (deduplicated before); an older label never replaces a newer one.
  moveFeedback: `INSERT INTO feedback (prediction_id, ts_ms, label, value, source)
SELECT prediction_id::UUID, ts_ms, label, value, source FROM feedback_incoming
ON CONFLICT (prediction_id) DO UPDATE SET
    ts_ms = excluded.ts_ms, label = excluded.label, value = excluded.value, source = excluded.source
WHERE excluded.ts_ms >= feedback.ts_ms`,

  // `labeled_predictions` (migration 0003), in the transaction of the feedback: one row per
  // prediction id, the latest feedback wins (the rule of moveFeedback). Rows that carry their
  // prediction are taken as they are.
  moveLabeled: `INSERT INTO labeled_predictions
    (prediction_id, ts_ms, model, model_version, route, label, value, scores, status,
     actual_label, actual_value, feedback_ts_ms)
SELECT prediction_id::UUID, p_ts_ms, p_model, p_model_version, p_route, p_label, p_value,
       p_scores, p_status, label, value, ts_ms
FROM feedback_incoming
WHERE has_prediction
ON CONFLICT (prediction_id) DO UPDATE SET
    actual_label = excluded.actual_label, actual_value = excluded.actual_value,
    feedback_ts_ms = excluded.feedback_ts_ms
WHERE excluded.feedback_ts_ms >= labeled_predictions.feedback_ts_ms`,

  // Rows that came without their prediction (older spool frames, rows built by hand): migration
  // 0003's backfill for just {ids}, after moveFeedback (so `feedback` holds their latest label).
  // Both sides filtered by the id list, so both primary-key indexes can serve it.
  moveLabeledFromPredictions: `INSERT INTO labeled_predictions
    (prediction_id, ts_ms, model, model_version, route, label, value, scores, status,
     actual_label, actual_value, feedback_ts_ms)
SELECT p.id, p.ts_ms, p.model, p.model_version, p.route, p.label, p.value, p.scores, p.status,
       f.label, f.value, f.ts_ms
FROM (SELECT * FROM feedback WHERE prediction_id IN {ids}) AS f
JOIN (SELECT * FROM predictions WHERE id IN {ids}) AS p ON p.id = f.prediction_id
ON CONFLICT (prediction_id) DO UPDATE SET
    actual_label = excluded.actual_label, actual_value = excluded.actual_value,
    feedback_ts_ms = excluded.feedback_ts_ms
WHERE excluded.feedback_ts_ms >= labeled_predictions.feedback_ts_ms`,

  begin: 'BEGIN TRANSACTION',
  commit: 'COMMIT',
  rollback: 'ROLLBACK',

  whereFrom: 'ts_ms >= {from}',
  whereTo: 'ts_ms < {to}',
  whereModel: 'model = {model}',
  whereVersion: 'model_version = {version}',
  whereRoute: 'route = {route}',
  whereType: 'type = {type}',
  whereAll: 'TRUE',

  lookupPredictions: `SELECT id::VARCHAR AS id, ts_ms, model, model_version, route, label, value,
       scores, status
FROM predictions
WHERE id IN {ids}`,

  countPredictions: `SELECT model, model_version, route, status, count(*) AS count
FROM predictions
WHERE {where}
GROUP BY model, model_version, route, status
ORDER BY model, model_version, route, status`,

  labeledPredictions: `SELECT p.id::VARCHAR AS id, p.ts_ms, p.model, p.model_version, p.route, p.inputs,
       p.scores, p.label, p.value, f.label AS actual_label, f.value AS actual_value,
       f.ts_ms AS feedback_ts
FROM (SELECT * FROM predictions WHERE {where}) AS p
JOIN feedback AS f ON f.prediction_id = p.id
ORDER BY p.ts_ms, p.id
LIMIT {limit}`,

  labelPairCounts: `SELECT p.label AS label, f.label AS actual_label, count(*) AS count
FROM (SELECT id, label FROM predictions WHERE {where}) AS p
JOIN feedback AS f ON f.prediction_id = p.id
GROUP BY p.label, f.label
ORDER BY p.label, f.label`,

  // Two unnests in one SELECT advance together: (position, bin) pairs.
  featureBinCounts: `SELECT feature, bin, count(*) AS count
FROM
(
    SELECT unnest(range(len(feature_bins))) AS feature, unnest(feature_bins) AS bin
    FROM predictions
    WHERE {where}
)
GROUP BY feature, bin
ORDER BY feature, bin`,

  predictionTimeSeries: `SELECT (ts_ms // ({bucketSeconds} * 1000)) * {bucketSeconds} * 1000 AS bucket,
       count(*) AS predictions,
       count(*) FILTER (WHERE status >= 400) AS errors
FROM predictions
WHERE {where}
GROUP BY bucket
ORDER BY bucket`,

  insertMonitoringResults: `INSERT INTO monitoring_results
    (model, model_version, window_start, window_end, metric, feature, value, threshold, status, ts_ms)
VALUES {rows}`,

  monitoringResultRow:
    '({model}, {model_version}, make_timestamp({window_start_us}), make_timestamp({window_end_us}), {metric}, {feature}, {value}, {threshold}, {status}, {ts_ms})',

  insertEvents: `INSERT INTO events (ts_ms, type, model, model_version, severity, details)
VALUES {rows}`,

  eventRow: '({ts_ms}, {type}, {model}, {model_version}, {severity}, {details})',

  whereMetric: 'metric = {metric}',
  whereWindowFrom: 'window_start >= make_timestamp({fromMicros})',

  listMonitoringResults: `SELECT model, model_version, epoch_ms(window_start) AS window_start,
       epoch_ms(window_end) AS window_end, metric, feature, value, threshold, status, ts_ms
FROM monitoring_results
WHERE {where}
ORDER BY window_start DESC, metric, feature
LIMIT {limit}`,

  listEvents: `SELECT ts_ms, type, model, model_version, severity, details
FROM events
WHERE {where}
ORDER BY ts_ms DESC
LIMIT {limit}`,

  deleteOlderThan: 'DELETE FROM {table} WHERE ts_ms < {cutoff}',

  checkpoint: 'CHECKPOINT',

  // Around migrations (DuckDbStore.migrate): DuckDB keeps a query's progress (connection.progress)
  // only while its progress bar is on. Never printed: the runner writes its own progress lines.
  trackProgress: 'SET enable_progress_bar = true; SET enable_progress_bar_print = false',
  stopTrackingProgress: 'SET enable_progress_bar = false',

  // DuckDB checkpoints (writes the WAL's rows into the file, re-compressing the row groups they
  // touch) every 16 MB of WAL by default: every ~5000 logged MNIST rows, with a multi-second
  // checkpoint about every 40k rows. At 256 MB, 180k MNIST rows took 10.7 s of CPU instead of
  // 25.2 s. The price: up to 256 MB of logged rows held in memory and replayed from the WAL after
  // a crash (seconds), which an embedded default can afford.
  checkpointThreshold: "SET checkpoint_threshold = '256MB'",

  countRows: 'SELECT count(*) AS count FROM {table}',
} as const;

/** Tables retention deletes from; `events` is an audit trail and is kept. */
export const DUCKDB_RETENTION_TABLES = [
  'predictions',
  'prediction_aggregates',
  'feedback',
  'labeled_predictions',
  'monitoring_results',
] as const;

/** Copies of other tables' rows: retention deletes from them but does not count their rows. */
export const DUCKDB_DERIVED_TABLES: readonly string[] = ['labeled_predictions'];

/** Monitoring aggregates: the shapes of CLICKHOUSE_MONITORING_SQL in DuckDB SQL. */
export const DUCKDB_MONITORING_SQL = {
  binAggregates: `SELECT label, position, bin, count(*) AS count,
       coalesce(sum(CASE WHEN position > {scoreOffset} THEN scores[position - {scoreOffset}] ELSE 0 END), 0)::DOUBLE AS sum_score
FROM
(
    SELECT label, scores,
           unnest(range(1, len(feature_bins) + 1)) AS position,
           unnest(feature_bins) AS bin
    FROM predictions
    WHERE {where} AND status < 400 AND len(feature_bins) = {width}
)
GROUP BY label, position, bin`,

  // Minute-aligned windows: the insert-time aggregates, summed per label (kind 'r': rows; 'b':
  // count per bin key; 's': Σ score per bin key). One row per unit and key already (primary key).
  ingestAggregates: `SELECT label, 'r' AS kind, 0 AS key, sum(rows)::DOUBLE AS value
FROM prediction_aggregates
WHERE {where} AND status < 400
GROUP BY label
UNION ALL
SELECT label, 'b' AS kind, key, sum(count)::DOUBLE AS value
FROM (SELECT label, unnest(bin_keys) AS key, unnest(bin_counts) AS count
      FROM prediction_aggregates WHERE {where} AND status < 400)
GROUP BY label, key
UNION ALL
SELECT label, 's' AS kind, key, sum(score)::DOUBLE AS value
FROM (SELECT label, unnest(score_keys) AS key, unnest(score_sums) AS score
      FROM prediction_aggregates WHERE {where} AND status < 400)
GROUP BY label, key`,

  // labelAggregates and scoreHistogram in one pass over `labeled_predictions` (one row per
  // prediction id: the primary key), no join: see CLICKHOUSE_MONITORING_SQL.qualityAggregates.
  qualityAggregates: `SELECT label, actual_label, top_bin, class_index,
       least(CAST(floor(greatest(score, 0) * 100) AS INTEGER), 99) AS bin,
       count(*) AS count, sum(score)::DOUBLE AS sum_score,
       sum(top_score)::DOUBLE AS sum_top_score, sum(log_loss)::DOUBLE AS sum_log_loss,
       sum(has_class::INTEGER) AS log_loss_rows
FROM
(
    SELECT label, actual_label, top_score,
           least(CAST(floor(greatest(top_score, 0) * {topScoreBins}) AS INTEGER), {topScoreBinsMax}) AS top_bin,
           has_class,
           CASE WHEN has_class
                THEN -ln(greatest(least(scores[actual_index]::DOUBLE, 1 - 1e-15), 1e-15))
                ELSE 0 END AS log_loss,
           unnest(range(0, len(scores))) AS class_index,
           unnest(scores)::DOUBLE AS score
    FROM
    (
        SELECT label, actual_label, scores,
               list_max(scores)::DOUBLE AS top_score,
               coalesce(list_position({classNames}, actual_label), 0) AS actual_index,
               coalesce(list_position({classNames}, actual_label), 0) BETWEEN 1 AND len(scores) AS has_class
        FROM labeled_predictions
        WHERE {where} AND status < 400 AND len(scores) > 0
    )
)
GROUP BY label, actual_label, top_bin, class_index, bin`,

  labelAggregates: `SELECT label, actual_label, top_bin, count(*) AS count,
       sum(top_score)::DOUBLE AS sum_top_score, sum(log_loss)::DOUBLE AS sum_log_loss,
       sum(has_class::INTEGER) AS log_loss_rows
FROM
(
    SELECT label, actual_label, top_score,
           least(CAST(floor(greatest(top_score, 0) * {topScoreBins}) AS INTEGER), {topScoreBinsMax}) AS top_bin,
           has_class,
           CASE WHEN has_class
                THEN -ln(greatest(least(scores[actual_index]::DOUBLE, 1 - 1e-15), 1e-15))
                ELSE 0 END AS log_loss
    FROM
    (
        SELECT p.label AS label, f.label AS actual_label, p.scores AS scores,
               list_max(p.scores)::DOUBLE AS top_score,
               coalesce(list_position({classNames}, f.label), 0) AS actual_index,
               coalesce(list_position({classNames}, f.label), 0) BETWEEN 1 AND len(p.scores) AS has_class
        FROM (SELECT id, label, scores FROM predictions
              WHERE {where} AND status < 400 AND len(scores) > 0) AS p
        JOIN feedback AS f ON f.prediction_id = p.id
    )
)
GROUP BY label, actual_label, top_bin`,

  scoreHistogram: `SELECT actual_label, class_index, least(CAST(floor(greatest(score, 0) * 100) AS INTEGER), 99) AS bin,
       count(*) AS count, sum(score)::DOUBLE AS sum_score
FROM
(
    SELECT f.label AS actual_label,
           unnest(range(0, len(p.scores))) AS class_index,
           unnest(p.scores)::DOUBLE AS score
    FROM (SELECT id, scores FROM predictions
          WHERE {where} AND status < 400 AND len(scores) > 0) AS p
    JOIN feedback AS f ON f.prediction_id = p.id
)
GROUP BY actual_label, class_index, bin`,

  regressionSums: `SELECT count(*) AS count,
       coalesce(sum(abs(y - p)), 0) AS sum_absolute_error,
       coalesce(sum((y - p) * (y - p)), 0) AS sum_squared_error,
       coalesce(sum(abs(y - p) / greatest(abs(y), 2.220446049250313e-16)), 0) AS sum_absolute_percentage_error,
       coalesce(sum(y), 0) AS sum_target,
       coalesce(sum(y * y), 0) AS sum_squared_target,
       coalesce(var_pop(y) * count(*), 0) AS sum_squared_target_deviation
FROM
(
    SELECT p.value AS p, f.value AS y
    FROM (SELECT id, value FROM predictions
          WHERE {where} AND status < 400 AND value IS NOT NULL) AS p
    JOIN feedback AS f ON f.prediction_id = p.id
    WHERE f.value IS NOT NULL AND isfinite(p.value) AND isfinite(f.value)
)`,

  latestRowsWindow: `SELECT min(ts_ms) AS start, count(*) AS rows
FROM
(
    SELECT ts_ms FROM predictions
    WHERE {where} AND status < 400
    ORDER BY ts_ms DESC
    LIMIT {rows}
)`,

  firstLoggedPredictions: `SELECT inputs, scores, label, value
FROM predictions
WHERE {where} AND status < 400 AND octet_length(inputs) > 0
ORDER BY ts_ms, id
LIMIT {limit}`,
} as const;
