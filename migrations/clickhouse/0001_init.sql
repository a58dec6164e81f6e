-- Argus analytical schema, ClickHouse. Every statement runs on 18.16 and on current releases
-- (DESIGN.md §4): no DateTime64, no LowCardinality, no TTL.
--
-- Time: `ts_ms UInt64` is the exact event time in ms since the epoch (what the application writes);
-- `ts DateTime('UTC')` is MATERIALIZED from it (whole seconds) for partitioning, primary-key
-- pruning, the toStartOf* functions and Grafana time filters. Writers never send `ts`.

-- One row per predicted row. ReplacingMergeTree + `id` last in the sorting key: a batch inserted
-- twice (retry after a lost acknowledgement) holds identical rows, which share the whole key and
-- collapse on merge; reads count `uniqExact(id)` so they are exact before any merge too.
-- The hour bucket before `id` keeps time-range scans within a model cheap.
CREATE TABLE IF NOT EXISTS predictions
(
    id UUID,
    request_id String,
    ts_ms UInt64,
    ts DateTime('UTC') MATERIALIZED toDateTime(intDiv(ts_ms, 1000), 'UTC'),
    model String,
    model_version UInt32,
    route String,
    client_id String,
    trace_id String,
    span_id String,
    protocol String,
    inputs Array(Float32),
    feature_bins Array(UInt8),
    scores Array(Float32),
    label String,
    value Nullable(Float64),
    latency_us UInt64,
    batch_size UInt32,
    status UInt16,
    error String
)
ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMMDD(ts)
ORDER BY (model, model_version, toStartOfHour(ts), id);

-- Ground truth. The latest label per prediction id wins: ReplacingMergeTree(ts_ms) keeps the newest
-- row on merge, and reads take argMax(label, ts_ms) per id so they are right before merges too.
CREATE TABLE IF NOT EXISTS feedback
(
    prediction_id UUID,
    ts_ms UInt64,
    ts DateTime('UTC') MATERIALIZED toDateTime(intDiv(ts_ms, 1000), 'UTC'),
    label String,
    value Nullable(Float64),
    source String
)
ENGINE = ReplacingMergeTree(ts_ms)
PARTITION BY toYYYYMMDD(ts)
ORDER BY prediction_id;

-- One row per (model, version, window, metric, feature) evaluation.
CREATE TABLE IF NOT EXISTS monitoring_results
(
    model String,
    model_version UInt32,
    window_start DateTime('UTC'),
    window_end DateTime('UTC'),
    metric String,
    feature String,
    value Float64,
    threshold Nullable(Float64),
    status String,
    ts_ms UInt64,
    ts DateTime('UTC') MATERIALIZED toDateTime(intDiv(ts_ms, 1000), 'UTC')
)
ENGINE = MergeTree()
PARTITION BY toYYYYMMDD(ts)
ORDER BY (model, model_version, metric, feature, window_start);

-- Lifecycle, training, alert and security events; `details` is a JSON string. Few rows, kept as an
-- audit trail (retention does not touch them), so monthly partitions.
CREATE TABLE IF NOT EXISTS events
(
    ts_ms UInt64,
    ts DateTime('UTC') MATERIALIZED toDateTime(intDiv(ts_ms, 1000), 'UTC'),
    type String,
    model String,
    model_version UInt32,
    severity String,
    details String
)
ENGINE = MergeTree()
PARTITION BY toYYYYMM(ts)
ORDER BY (type, ts_ms);

-- Feedback validation looks predictions up by id alone, which the sorting key of `predictions`
-- (model first) cannot serve without a full scan. This narrow copy is sorted by id and filled by a
-- materialized view at insert time; duplicates collapse the same way, reads use GROUP BY id.
-- `ts` is a plain column here: 18.16 cannot push into a MATERIALIZED column from a view.
CREATE TABLE IF NOT EXISTS prediction_lookup
(
    id UUID,
    ts DateTime('UTC'),
    model String,
    model_version UInt32,
    label String,
    value Nullable(Float64)
)
ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMMDD(ts)
ORDER BY id;

CREATE MATERIALIZED VIEW IF NOT EXISTS prediction_lookup_mv TO prediction_lookup
AS SELECT id, ts, model, model_version, label, value FROM predictions;
