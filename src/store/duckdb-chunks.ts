import {
  BIGINT,
  BLOB,
  blobValue,
  DOUBLE,
  DuckDBAppender,
  DuckDBDataChunk,
  DuckDBType,
  DuckDBValue,
  FLOAT,
  LIST,
  listValue,
  UBIGINT,
  UINTEGER,
  USMALLINT,
  UTINYINT,
  VARCHAR,
} from '@duckdb/node-api';
import { performance } from 'node:perf_hooks';
import { AdaptiveSlices, yieldToEventLoop } from '../common/event-loop-slices';
import type { StoredPrediction } from './analytics-store';
import { encodeInputBlob } from './input-blob';

/**
 * Predictions → the DuckDB appender of the `predictions_incoming` staging table, column by column
 * in data chunks, a slice of rows at a time.
 *
 * Why chunks rather than `appendVarchar(...)`/`appendList(...)` per value: a list value through the
 * row appender becomes one native DuckDB value per element plus one for the list (11 native
 * objects with finalizers for 10 scores), which made the row appender cost about 40 µs a row on
 * the event loop and gave the garbage collector tens of thousands of finalizers per flush. A data
 * chunk's vectors are written through typed arrays and copied in once per column, about 5× less.
 *
 * Why slices: appending is synchronous native work. A 5000-row flush appended in one go held the
 * event loop for 90 ms (8 features) to 200 ms (784-value MNIST inputs); every request arriving
 * meanwhile waited for it. Each slice is sized to take about `AdaptiveSlices.budgetMs` (1 ms) from
 * the time the previous one took, and the event loop is handed back between slices.
 *
 * The appender is flushed every FLUSH_BYTES or FLUSH_ROWS (and after the last slice): every
 * `flushSync` costs about a millisecond however few rows it holds, so flushing every slice would
 * cost more than it spreads, and flushing once would hold the loop for the copy of the whole batch.
 */

/**
 * Column types of a prediction chunk, in order: the columns of `predictions_incoming`
 * (DUCKDB_SQL.createPredictionsIncoming), which are also the stored (non-generated) columns of
 * `predictions` in the same order, so the same chunk appends to either. The appender casts the id
 * VARCHAR to `predictions.id UUID` (ids are validated as UUIDs before any append).
 */
export const INCOMING_PREDICTION_TYPES: readonly DuckDBType[] = [
  VARCHAR, // id
  VARCHAR, // request_id
  BIGINT, // ts_ms
  VARCHAR, // model
  UINTEGER, // model_version
  VARCHAR, // route
  VARCHAR, // client_id
  VARCHAR, // trace_id
  VARCHAR, // span_id
  VARCHAR, // protocol
  BLOB, // inputs: dense or sparse float32 (input-blob.ts)
  LIST(UTINYINT), // feature_bins: [] when empty (`predictions.feature_bins` is NOT NULL)
  LIST(FLOAT), // scores
  VARCHAR, // label
  DOUBLE, // value
  UBIGINT, // latency_us
  UINTEGER, // batch_size
  USMALLINT, // status
  VARCHAR, // error
];

/** DuckDB's vector size: a data chunk holds at most this many rows. */
const MAX_CHUNK_ROWS = 2048;

/** Shared by every row without bins: list values are immutable. */
const NO_BINS = listValue([]);

/**
 * Rows per reused data chunk. Getting a chunk's 19 column vectors costs ~25 µs each in the
 * bindings (an external buffer per vector), about 1 ms per chunk whatever its size: a chunk built
 * per 1 ms slice ended up holding ~16 MNIST rows at ~75 µs a row. One chunk of GROUP_ROWS rows is
 * filled again and again instead (its vectors stay cached as long as nothing sets its row count:
 * `predictionChunk` fills it column by column), and slices are whole groups.
 */
export const GROUP_ROWS = 64;

/**
 * One data chunk of `rows[start, end)`, `end - start` ≤ MAX_CHUNK_ROWS; written into `into` (whose
 * row count must be `end - start`) when given, so its vectors are reused.
 */
export function predictionChunk(
  rows: readonly StoredPrediction[],
  start: number,
  end: number,
  into?: DuckDBDataChunk,
): DuckDBDataChunk {
  const count = end - start;
  const columns: DuckDBValue[][] = INCOMING_PREDICTION_TYPES.map(
    () => new Array<DuckDBValue>(count),
  );
  for (let i = 0; i < count; i++) {
    const r = rows[start + i];
    columns[0][i] = r.id;
    columns[1][i] = r.request_id;
    columns[2][i] = BigInt(r.ts);
    columns[3][i] = r.model;
    columns[4][i] = r.model_version;
    columns[5][i] = r.route;
    columns[6][i] = r.client_id;
    columns[7][i] = r.trace_id;
    columns[8][i] = r.span_id;
    columns[9][i] = r.protocol;
    columns[10][i] = blobValue(encodeInputBlob(r.inputs));
    const bins = r.feature_bins;
    columns[11][i] = bins === undefined || bins.length === 0 ? NO_BINS : listValue(bins);
    columns[12][i] = listValue(r.scores);
    columns[13][i] = r.label;
    columns[14][i] = r.value;
    columns[15][i] = BigInt(Math.round(r.latency_us));
    columns[16][i] = r.batch_size;
    columns[17][i] = r.status;
    columns[18][i] = r.error;
  }
  const chunk = into ?? DuckDBDataChunk.create(INCOMING_PREDICTION_TYPES, count);
  // Column by column, not `setColumns`: that sets the chunk's row count, and setting it (even to
  // the same value) makes the bindings drop every cached column vector, so a reused chunk would
  // build its 19 vectors again for every group.
  for (let c = 0; c < columns.length; c++) chunk.setColumnValues(c, columns[c]);
  return chunk;
}

/**
 * Appended bytes (or rows) after which the appender is flushed into the staging table before the
 * next slice. A flush is synchronous too: about 1 ms whatever it holds, plus the copy of its rows
 * (the blobs of wide inputs dominate: a 5000-row MNIST batch flushed at once held the loop for
 * 25-100 ms). 1 MB is about 320 MNIST rows, a flush of about 2.5 ms; rows of a few features reach
 * FLUSH_ROWS first (a 3-4 ms flush). Smaller flushes would bound the pause a little lower but pay
 * the fixed cost more often (every 256 KB cost about 12 µs more per MNIST row).
 */
export const FLUSH_BYTES = 1024 * 1024;
export const FLUSH_ROWS = 1024;

/** Approximate bytes a row adds to the staging table (strings and counters ~200, 4 per float). */
function rowBytes(r: StoredPrediction): number {
  return 200 + 4 * (r.inputs.length + r.scores.length);
}

/**
 * Appends every row, in order, exactly once: slices of `slices.next()` rows (at most a chunk),
 * the appender flushed whenever FLUSH_BYTES or FLUSH_ROWS were appended since the last flush, and
 * the event loop handed back between slices. Flushes what is left at the end. Returns the number
 * of slices.
 */
export async function appendPredictionChunks(
  appender: Pick<DuckDBAppender, 'appendDataChunk' | 'flushSync'>,
  rows: readonly StoredPrediction[],
  slices: AdaptiveSlices = new AdaptiveSlices({
    minUnits: GROUP_ROWS,
    firstUnits: GROUP_ROWS,
    maxUnits: MAX_CHUNK_ROWS,
  }),
  flushBytes = FLUSH_BYTES,
  flushRows = FLUSH_ROWS,
): Promise<number> {
  let start = 0;
  let count = 0;
  let unflushed = 0;
  let unflushedRows = 0;
  let group: DuckDBDataChunk | undefined;
  while (start < rows.length) {
    const began = performance.now();
    // A slice ends at its row budget, or where the flush threshold is reached.
    const limit = Math.min(rows.length, start + Math.min(slices.next(), MAX_CHUNK_ROWS));
    let end = start;
    while (end < limit && unflushed < flushBytes && unflushedRows < flushRows) {
      unflushed += rowBytes(rows[end++]);
      unflushedRows++;
    }
    // Whole groups through the reused chunk, the rest (the batch's tail, or a slice shorter than a
    // group) in a chunk of its own.
    let at = start;
    for (; at + GROUP_ROWS <= end; at += GROUP_ROWS) {
      group ??= DuckDBDataChunk.create(INCOMING_PREDICTION_TYPES, GROUP_ROWS);
      appender.appendDataChunk(predictionChunk(rows, at, at + GROUP_ROWS, group));
    }
    if (at < end) appender.appendDataChunk(predictionChunk(rows, at, end));
    if (unflushed >= flushBytes || unflushedRows >= flushRows || end === rows.length) {
      appender.flushSync();
      unflushed = 0;
      unflushedRows = 0;
    }
    slices.record(end - start, performance.now() - began);
    count++;
    start = end;
    if (start < rows.length) await yieldToEventLoop();
  }
  return count;
}
