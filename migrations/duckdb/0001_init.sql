-- Argus analytical schema, embedded DuckDB: the same tables and columns as
-- migrations/clickhouse/0001_init.sql, with DuckDB types.
--
-- Time: `ts_ms` is the exact event time in ms since the epoch (what the application writes);
-- `ts` is a generated TIMESTAMP for humans and time functions.

-- Duplicates: `id` is the primary key and the store inserts with INSERT OR IGNORE, so a batch
-- inserted twice leaves one row per id.
CREATE TABLE IF NOT EXISTS predictions
(
    id UUID PRIMARY KEY,
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
    -- Little-endian float32 bytes: appending a 784-value list element by element costs ~4 ms a row
    -- through the DuckDB appender, a BLOB one call. Monitoring reads feature_bins, not inputs.
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

-- One row per prediction id: the store upserts, keeping the row with the latest ts_ms.
CREATE TABLE IF NOT EXISTS feedback
(
    prediction_id UUID PRIMARY KEY,
    ts_ms BIGINT NOT NULL,
    ts TIMESTAMP GENERATED ALWAYS AS (make_timestamp(ts_ms * 1000)) VIRTUAL,
    label VARCHAR NOT NULL,
    value DOUBLE,
    source VARCHAR NOT NULL
);

CREATE TABLE IF NOT EXISTS monitoring_results
(
    model VARCHAR NOT NULL,
    model_version UINTEGER NOT NULL,
    window_start TIMESTAMP NOT NULL,
    window_end TIMESTAMP NOT NULL,
    metric VARCHAR NOT NULL,
    feature VARCHAR NOT NULL,
    value DOUBLE NOT NULL,
    threshold DOUBLE,
    status VARCHAR NOT NULL,
    ts_ms BIGINT NOT NULL,
    ts TIMESTAMP GENERATED ALWAYS AS (make_timestamp(ts_ms * 1000)) VIRTUAL
);

CREATE TABLE IF NOT EXISTS events
(
    ts_ms BIGINT NOT NULL,
    ts TIMESTAMP GENERATED ALWAYS AS (make_timestamp(ts_ms * 1000)) VIRTUAL,
    type VARCHAR NOT NULL,
    model VARCHAR NOT NULL,
    model_version UINTEGER NOT NULL,
    severity VARCHAR NOT NULL,
    details VARCHAR NOT NULL
);
