-- Labeled predictions (docs/monitoring.md "Quality"): one row per accepted feedback row, carrying
-- what quality needs of its prediction (time, model, version, route, predicted label / value,
-- scores, status) next to the ground truth. Written by the store's insertFeedback with the
-- prediction that FeedbackService already looked up to validate the id, so quality reads the
-- window's labels alone instead of joining every prediction of the window with all feedback.
--
-- Prediction time (`ts_ms`, `ts` as in 0001) partitions it: retention drops a day's labels with the
-- day's predictions. The sorting key matches `predictions` (model, version, hour, id), so window
-- reads prune the same way. Several rows of one prediction (re-sent feedback, a retried batch)
-- share the key: ReplacingMergeTree(feedback_ts_ms) keeps the latest feedback on merge, and reads
-- use FINAL (the same rule applied at read time), exact before merges too.
CREATE TABLE IF NOT EXISTS labeled_predictions
(
    prediction_id UUID,
    ts_ms UInt64,
    ts DateTime('UTC') MATERIALIZED toDateTime(intDiv(ts_ms, 1000), 'UTC'),
    model String,
    model_version UInt32,
    route String,
    label String,
    value Nullable(Float64),
    scores Array(Float32),
    status UInt16,
    actual_label String,
    actual_value Nullable(Float64),
    feedback_ts_ms UInt64
)
ENGINE = ReplacingMergeTree(feedback_ts_ms)
PARTITION BY toYYYYMMDD(ts)
ORDER BY (model, model_version, toStartOfHour(ts), prediction_id);

-- Backfill: feedback given before this migration, each labeled prediction once with its latest
-- label (argMax by feedback ts, as every feedback read), joined with its prediction (one row per
-- id among the labeled ones: the semi-join keeps the hash table and LIMIT BY to labeled ids).
-- A one-time read of the predictions table. Re-running it (a failure after this statement) only
-- adds rows that reads de-duplicate.
INSERT INTO labeled_predictions
    (prediction_id, ts_ms, model, model_version, route, label, value, scores, status,
     actual_label, actual_value, feedback_ts_ms)
SELECT id, ts_ms, model, model_version, route, label, value, scores, status,
       actual_label, actual_value, feedback_ts_ms
FROM
(
    SELECT id, ts_ms, model, model_version, route, label, value, scores, status
    FROM predictions
    WHERE id IN (SELECT prediction_id FROM feedback)
    LIMIT 1 BY id
)
ANY INNER JOIN
(
    SELECT prediction_id AS id, argMax(label, ts_ms) AS actual_label,
           argMax(value, ts_ms) AS actual_value, max(ts_ms) AS feedback_ts_ms
    FROM feedback
    GROUP BY prediction_id
) USING id;
