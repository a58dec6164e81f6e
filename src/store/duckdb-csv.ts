import type { StoredPrediction } from './analytics-store';

/**
 * Predictions → CSV lines that DuckDB's own reader turns back into rows (DUCKDB_SQL
 * `insertPredictionsCsv`), so the work of an insert runs on DuckDB's threads instead of the event
 * loop.
 *
 * Why: the appender is synchronous. Filling its data chunks and flushing them cost about 45 µs of
 * event-loop time per MNIST row (bench/serving, DuckDB log on): a third of what the server spends
 * on a single-row request, taken from the thread that answers requests. A query is asynchronous
 * in the bindings; what stays on the event loop is writing these lines, about a tenth of that.
 *
 * Format, chosen so that nothing in a value can end a field or a line early:
 * - every text value is quoted, with `"` doubled (RFC 4180; newlines and tabs stay inside the
 *   quotes, backslashes are plain characters). Read with `allow_quoted_nulls=false`, `""` is the
 *   empty string;
 * - the one NULL-able column (`value`) is an unquoted empty field when null;
 * - inputs are the float32 bytes in base64 (`from_base64`), the exact blob the appender wrote;
 * - lists are DuckDB list literals (`[1,2,3]`), quoted, cast by the query. A JS number prints
 *   the shortest text that parses back to the same double, so a float32 score round-trips;
 *   NaN and ±Infinity print as `NaN` / `Infinity`, which DuckDB's casts read.
 */

const QUOTE = /"/g;

const EMPTY_BYTES = new Uint8Array(0);

/** Inputs are stored as little-endian float32 bytes (see migrations/duckdb/0001_init.sql). */
export function float32Bytes(values: ArrayLike<number>): Uint8Array {
  if (values.length === 0) return EMPTY_BYTES;
  // The server logs inputs as a Float32Array already: its bytes are the blob, no copy.
  const floats = values instanceof Float32Array ? values : Float32Array.from(values);
  return new Uint8Array(floats.buffer, floats.byteOffset, floats.byteLength);
}

export function csvText(value: string): string {
  return value.includes('"') ? `"${value.replace(QUOTE, '""')}"` : `"${value}"`;
}

/** A list literal, quoted: `"[1,2.5,NaN]"`. */
export function csvList(values: ArrayLike<number> | undefined): string {
  if (values === undefined || values.length === 0) return '"[]"';
  return `"[${Array.prototype.join.call(values, ',')}]"`;
}

export function csvNullableNumber(value: number | null): string {
  return value === null ? '' : String(value);
}

/**
 * Grows as lines are written. Pieces are written into the buffer one by one: concatenating a
 * batch's lines into one string first and encoding that cost 4-6× the writing (V8 flattens the
 * string of thousands of pieces, then copies it again).
 */
class ByteSink {
  private buffer: Buffer;
  length = 0;
  private lineStart = 0;
  private longest = 0;

  constructor(capacity: number) {
    this.buffer = Buffer.allocUnsafe(Math.max(1024, capacity));
  }

  /** `text` as UTF-8 (`latin1` for text known to be ASCII, such as base64: a plain copy). */
  write(text: string, encoding: 'utf8' | 'latin1' = 'utf8'): void {
    const most = encoding === 'utf8' ? text.length * 3 : text.length;
    if (this.length + most > this.buffer.length) this.grow(this.length + most);
    this.length += this.buffer.write(text, this.length, encoding);
  }

  bytes(): Buffer {
    return this.buffer.subarray(0, this.length);
  }

  get longestLine(): number {
    return this.longest;
  }

  /** Marks the end of a line: its length counts towards `longestLine`. */
  endLine(): void {
    this.longest = Math.max(this.longest, this.length - this.lineStart);
    this.lineStart = this.length;
  }

  private grow(needed: number): void {
    const next = Buffer.allocUnsafe(Math.max(needed, this.buffer.length * 2));
    this.buffer.copy(next, 0, 0, this.length);
    this.buffer = next;
  }
}

/** Approximate bytes of a row's line: base64 inputs plus ~300 for the rest. */
function lineBytes(r: StoredPrediction): number {
  // base64 of 4 bytes a value: 4 characters per 3 bytes.
  return 300 + 4 * Math.ceil((4 * r.inputs.length) / 3) + 8 * r.scores.length;
}

export interface CsvLines {
  /** UTF-8, one line (with its newline) per row. */
  bytes: Buffer;
  /** Bytes of the longest line: DuckDB's reader must be told about lines over 2 MB. */
  longestLine: number;
}

/** The lines of `rows[start, end)`, columns in PREDICTION_COLUMNS order. */
export function predictionsCsv(
  rows: readonly StoredPrediction[],
  start = 0,
  end = rows.length,
): CsvLines {
  let capacity = 0;
  for (let i = start; i < end; i++) capacity += lineBytes(rows[i]);
  const sink = new ByteSink(capacity);
  for (let i = start; i < end; i++) {
    const r = rows[i];
    sink.write(
      `${csvText(r.id)},${csvText(r.request_id)},${r.ts},${csvText(r.model)},${r.model_version},` +
        `${csvText(r.route)},${csvText(r.client_id)},${csvText(r.trace_id)},${csvText(r.span_id)},` +
        `${csvText(r.protocol)},"`,
    );
    const bytes = float32Bytes(r.inputs);
    if (bytes.length > 0) {
      sink.write(
        Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64'),
        'latin1',
      );
    }
    sink.write(
      `",${csvList(r.feature_bins)},${csvList(r.scores)},${csvText(r.label)},` +
        `${csvNullableNumber(r.value)},${Math.round(r.latency_us)},${r.batch_size},${r.status},` +
        `${csvText(r.error)}\n`,
    );
    sink.endLine();
  }
  return { bytes: sink.bytes(), longestLine: sink.longestLine };
}
