-- `predictions` without its primary key. DuckDB keeps a primary key as an ART index over every
-- id, rebuilt into the file at each checkpoint (one about every 16 MB of WAL, so every few
-- thousand logged MNIST rows): the cost of an insert grew with the table (a 5000-row insert
-- ~210 ms of CPU at 200k rows, ~410 ms at 1M). Ids stay unique by the insert instead
-- (DuckDbStore.insertPredictions: a batch is appended, the id counts of its time range are
-- checked in the same transaction, and a batch that would duplicate an id is rolled back and
-- inserted with an anti-join). Same columns, same order.
CREATE TABLE predictions_unkeyed
(
    id UUID NOT NULL,
    request_id VARCHAR NOT NULL,
    ts_ms BIGINT NOT NULL,
    ts TIMESTAMP GENERATED ALWAYS AS (make_timestamp(ts_ms * 1000)) VIRTUAL,
    model VARCHAR NOT NULL,
    model_version UINTEGER NOT NULL,
    route VARCHAR NOT NULL,
    client_id VARCHAR NOT NULL,
    trace_id VARCHAR NOT NULL,
    span_id VARCHAR NOT NULL,
    protocol VARCHAR NOT NULL,
    inputs BLOB NOT NULL,
    feature_bins UTINYINT[] NOT NULL,
    scores FLOAT[] NOT NULL,
    label VARCHAR NOT NULL,
    value DOUBLE,
    latency_us UBIGINT NOT NULL,
    batch_size UINTEGER NOT NULL,
    status USMALLINT NOT NULL,
    error VARCHAR NOT NULL
);

-- In time order: row groups then cover narrow ts_ms ranges, which the insert's duplicate check
-- and every window query prune by.
INSERT INTO predictions_unkeyed
    (id, request_id, ts_ms, model, model_version, route, client_id, trace_id, span_id, protocol,
     inputs, feature_bins, scores, label, value, latency_us, batch_size, status, error)
SELECT id, request_id, ts_ms, model, model_version, route, client_id, trace_id, span_id, protocol,
       inputs, feature_bins, scores, label, value, latency_us, batch_size, status, error
FROM predictions
ORDER BY ts_ms;

DROP TABLE predictions;

ALTER TABLE predictions_unkeyed RENAME TO predictions;
