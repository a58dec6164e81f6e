-- Labeled predictions: the same rows as migrations/clickhouse/0003, see there and
-- docs/monitoring.md. One row per prediction id (primary key): the store upserts, keeping the
-- latest feedback (feedback_ts_ms), exactly as it does for `feedback`.
CREATE TABLE IF NOT EXISTS labeled_predictions
(
    prediction_id UUID PRIMARY KEY,
    ts_ms BIGINT NOT NULL,
    ts TIMESTAMP GENERATED ALWAYS AS (make_timestamp(ts_ms * 1000)) VIRTUAL,
    model VARCHAR NOT NULL,
    model_version UINTEGER NOT NULL,
    route VARCHAR NOT NULL,
    label VARCHAR NOT NULL,
    value DOUBLE,
    scores FLOAT[] NOT NULL,
    status USMALLINT NOT NULL,
    actual_label VARCHAR NOT NULL,
    actual_value DOUBLE,
    feedback_ts_ms BIGINT NOT NULL
);

-- Backfill: feedback given before this migration (already one row per id, the latest), joined
-- with its prediction.
INSERT INTO labeled_predictions
    (prediction_id, ts_ms, model, model_version, route, label, value, scores, status,
     actual_label, actual_value, feedback_ts_ms)
SELECT p.id, p.ts_ms, p.model, p.model_version, p.route, p.label, p.value, p.scores, p.status,
       f.label, f.value, f.ts_ms
FROM feedback AS f
JOIN predictions AS p ON p.id = f.prediction_id;
