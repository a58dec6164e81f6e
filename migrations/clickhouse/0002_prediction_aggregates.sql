-- Insert-time monitoring aggregates (docs/monitoring.md "Aggregates at ingest"). Every insert of
-- predictions also inserts, per (model, version, minute, batch key, predicted label, status), the
-- row count and the (position, bin) counts and CBPE score sums of its rows' `feature_bins`. A
-- minute-aligned window then sums a few thousand of these rows instead of scanning predictions.
--
-- `batch_key` names a unit of predictions that is always delivered whole (the prediction writer
-- assigns it once per record, before the first attempt, and the spool keeps it). A unit inserted
-- twice (retry after a lost acknowledgement, spool replay) gives identical rows with the same key:
-- they collapse on merge, and reads take `LIMIT 1 BY` the key columns, so they are exact before.
--
-- bin_keys: width * 2^20 + position * 256 + bin (1-based position in `feature_bins`, whose length is
-- `width`); score_keys: the same keys for the last length(scores) positions (the CBPE segments of a
-- classifier's layout), summing scores[position - (width - length(scores))].
-- `ts_ms` is the minute start (ms since the epoch), `ts` as in 0001 for partitions and retention.
CREATE TABLE IF NOT EXISTS prediction_aggregates
(
    model String,
    model_version UInt32,
    ts_ms UInt64,
    ts DateTime('UTC') MATERIALIZED toDateTime(intDiv(ts_ms, 1000), 'UTC'),
    batch_key String,
    label String,
    status UInt16,
    rows UInt64,
    bin_keys Array(UInt32),
    bin_counts Array(UInt64),
    score_keys Array(UInt32),
    score_sums Array(Float64)
)
ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMMDD(ts)
ORDER BY (model, model_version, ts_ms, batch_key, label, status);

-- Backfill: predictions logged before this migration get their aggregates now, one row per
-- (model, version, minute, label, status) under the key 'migration-0002' (FINAL: one row per id,
-- streaming, so memory stays flat; a one-time full read of the table). Lambdas on 18.16 cannot
-- read outer columns, so per-row constants go in as arrays (`replicate`).
INSERT INTO prediction_aggregates
    (model, model_version, ts_ms, batch_key, label, status, rows, bin_keys, bin_counts, score_keys, score_sums)
SELECT model, model_version, minute, 'migration-0002', label, status, count() AS rows,
       tupleElement(sumMap(bk, bc), 1), tupleElement(sumMap(bk, bc), 2),
       tupleElement(sumMap(sk, sv), 1), tupleElement(sumMap(sk, sv), 2)
FROM
(
    SELECT model, model_version, intDiv(ts_ms, 60000) * 60000 AS minute, label, status,
           if(length(feature_bins) <= 4095, feature_bins, emptyArrayUInt8()) AS bins,
           length(bins) AS w,
           arrayMap((b, i, ww) -> toUInt32(ww * 1048576 + i * 256 + b),
                    bins, arrayEnumerate(bins), replicate(w, bins)) AS bk,
           arrayMap(b -> toUInt64(1), bins) AS bc,
           length(scores) > 0 AND length(scores) <= w AS has_segments,
           if(has_segments, w - length(scores), 0) AS off,
           if(has_segments, arraySlice(bins, off + 1), emptyArrayUInt8()) AS segs,
           arrayMap((b, i, ww, o) -> toUInt32(ww * 1048576 + (o + i) * 256 + b),
                    segs, arrayEnumerate(segs), replicate(w, segs), replicate(off, segs)) AS sk,
           arrayMap(x -> if(isFinite(x), toFloat64(x), 0), arraySlice(scores, 1, length(segs))) AS sv
    FROM predictions FINAL
)
GROUP BY model, model_version, minute, label, status;
