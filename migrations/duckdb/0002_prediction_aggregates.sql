-- Insert-time monitoring aggregates: the same rows as migrations/clickhouse/0002, see there and
-- docs/monitoring.md. The primary key makes a unit inserted twice (INSERT OR IGNORE, in the same
-- transaction as its predictions) leave one row per key.
CREATE TABLE IF NOT EXISTS prediction_aggregates
(
    model VARCHAR NOT NULL,
    model_version UINTEGER NOT NULL,
    ts_ms BIGINT NOT NULL,
    batch_key VARCHAR NOT NULL,
    label VARCHAR NOT NULL,
    status USMALLINT NOT NULL,
    rows UBIGINT NOT NULL,
    bin_keys UINTEGER[] NOT NULL,
    bin_counts UBIGINT[] NOT NULL,
    score_keys UINTEGER[] NOT NULL,
    score_sums DOUBLE[] NOT NULL,
    PRIMARY KEY (model, model_version, ts_ms, batch_key, label, status)
);

-- Backfill: predictions logged before this migration get their aggregates now, one row per
-- (model, version, minute, label, status) under the key 'migration-0002'.
INSERT INTO prediction_aggregates
WITH r AS (
    SELECT model, model_version, (ts_ms // 60000) * 60000 AS minute, label, status,
           CASE WHEN len(feature_bins) <= 4095 THEN feature_bins ELSE []::UTINYINT[] END AS bins,
           scores
    FROM predictions
), g AS (
    SELECT model, model_version, minute, label, status, count(*) AS rows
    FROM r GROUP BY ALL
), b AS (
    SELECT model, model_version, minute, label, status,
           list(key ORDER BY key) AS bin_keys, list(n ORDER BY key) AS bin_counts
    FROM (SELECT model, model_version, minute, label, status, key, count(*) AS n
          FROM (SELECT model, model_version, minute, label, status,
                       CAST(len(bins) * 1048576 + p * 256 + bins[p] AS UINTEGER) AS key
                FROM (SELECT *, unnest(range(1, len(bins) + 1)) AS p FROM r))
          GROUP BY ALL)
    GROUP BY ALL
), s AS (
    SELECT model, model_version, minute, label, status,
           list(key ORDER BY key) AS score_keys, list(total ORDER BY key) AS score_sums
    FROM (SELECT model, model_version, minute, label, status,
                 CAST(len(bins) * 1048576 + (len(bins) - len(scores) + c) * 256
                      + bins[len(bins) - len(scores) + c] AS UINTEGER) AS key,
                 sum(CASE WHEN isfinite(scores[c]) THEN CAST(scores[c] AS DOUBLE) ELSE 0 END) AS total
          FROM (SELECT *, unnest(range(1, len(scores) + 1)) AS c FROM r
                WHERE len(scores) > 0 AND len(scores) <= len(bins))
          GROUP BY ALL)
    GROUP BY ALL
)
SELECT g.model, g.model_version, g.minute, 'migration-0002', g.label, g.status, g.rows,
       coalesce(b.bin_keys, []), coalesce(b.bin_counts, []),
       coalesce(s.score_keys, []), coalesce(s.score_sums, [])
FROM g
LEFT JOIN b USING (model, model_version, minute, label, status)
LEFT JOIN s USING (model, model_version, minute, label, status);
