/**
 * Every ClickHouse statement the store runs, by name. `{name}` placeholders are filled by `bindSql`
 * (sql-escape.ts) with escaped literals; `{where}`-style placeholders take conditions that were
 * themselves bound from the templates below. All of it runs on 18.16 (DESIGN.md §4): no
 * `WITH name AS (subquery)`, no query parameters, JOINs as `ANY … JOIN … USING`.
 *
 * Duplicates: `predictions` may hold a row twice until a merge. Every read either counts
 * `uniqExact(id)` or takes one row per id with `LIMIT 1 BY id`, so duplicates never inflate.
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

  lookupPredictions: `SELECT id, any(model) AS model, any(model_version) AS model_version,
       any(label) AS label, toString(any(value)) AS value_text
FROM prediction_lookup
WHERE id IN {ids}
GROUP BY id`,

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
  'feedback',
  'monitoring_results',
] as const;

/** Tables where duplicates collapse on merge; `compact()` forces that merge. */
export const CLICKHOUSE_REPLACING_TABLES = [
  'predictions',
  'prediction_lookup',
  'feedback',
] as const;

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

export const FEEDBACK_COLUMNS = ['prediction_id', 'ts_ms', 'label', 'value', 'source'] as const;

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
