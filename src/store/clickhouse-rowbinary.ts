import type { StoredPrediction } from './analytics-store';
import { copyAscii, HOST_IS_LITTLE_ENDIAN } from '../common/binary-encoding';

/**
 * Rows → ClickHouse `RowBinary`: the insert path of the `predictions` table.
 *
 * Why binary rather than TabSeparated: the float arrays dominate a prediction row (8 inputs and 10
 * scores in the benchmark, up to 1024 inputs in production), and printing each Float32 as decimal
 * text cost about four fifths of the writer's time; ClickHouse then spent most of its insert
 * time parsing that text back. Binary floats cost a 4-byte copy on both sides, and NaN/±Inf need no
 * spelling. The layout is the one ClickHouse has used since before 18.16 and still uses:
 *
 * - integers little-endian at their width; Float32/Float64 IEEE-754 little-endian;
 * - String: LEB128 length in bytes, then the UTF-8 bytes;
 * - Array(T): LEB128 element count, then the elements;
 * - Nullable(T): one byte (1 = NULL, then nothing; 0 = a value follows);
 * - UUID: the 128-bit value as two UInt64 little-endian, high half first: the bytes of the first
 *   16 hex digits reversed, then the bytes of the last 16 reversed.
 *
 * This is data encoding for an INSERT body, not SQL: values never become query text here. The
 * caller has validated the rows (`validatePredictions`): UUID ids, integer counters in range.
 */

/** Reused by float32Array for wide rows. */
let SCRATCH = new Float32Array(1024);

const HEX = new Int8Array(128).fill(-1);
for (let i = 0; i < 10; i++) HEX[48 + i] = i;
for (let i = 0; i < 6; i++) {
  HEX[65 + i] = 10 + i;
  HEX[97 + i] = 10 + i;
}

/** A growing output buffer with the few primitive writes RowBinary needs. */
export class RowBinaryWriter {
  private buffer: Buffer;
  private view: DataView;
  private offset = 0;

  constructor(initialBytes = 64 * 1024) {
    this.buffer = Buffer.allocUnsafe(initialBytes);
    this.view = new DataView(this.buffer.buffer, this.buffer.byteOffset, this.buffer.byteLength);
  }

  get length(): number {
    return this.offset;
  }

  /** The bytes written so far (a view, not a copy). */
  finish(): Buffer {
    return this.buffer.subarray(0, this.offset);
  }

  private ensure(bytes: number): void {
    const needed = this.offset + bytes;
    if (needed <= this.buffer.length) return;
    let size = this.buffer.length * 2;
    while (size < needed) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buffer.copy(next, 0, 0, this.offset);
    this.buffer = next;
    this.view = new DataView(next.buffer, next.byteOffset, next.byteLength);
  }

  varUInt(value: number): void {
    this.ensure(10);
    let v = value;
    while (v >= 0x80) {
      this.buffer[this.offset++] = (v & 0x7f) | 0x80;
      v = Math.floor(v / 128);
    }
    this.buffer[this.offset++] = v;
  }

  uint8(value: number): void {
    this.ensure(1);
    this.buffer[this.offset++] = value;
  }

  uint16(value: number): void {
    this.ensure(2);
    this.view.setUint16(this.offset, value, true);
    this.offset += 2;
  }

  uint32(value: number): void {
    this.ensure(4);
    this.view.setUint32(this.offset, value, true);
    this.offset += 4;
  }

  /** A UInt64 from a non-negative safe integer. */
  uint64(value: number): void {
    this.ensure(8);
    this.view.setUint32(this.offset, value >>> 0, true);
    this.view.setUint32(this.offset + 4, Math.floor(value / 4294967296) >>> 0, true);
    this.offset += 8;
  }

  float64(value: number): void {
    this.ensure(8);
    this.view.setFloat64(this.offset, value, true);
    this.offset += 8;
  }

  string(value: string): void {
    // Short ASCII strings (names, ids, routes) are the common case: copy char codes directly.
    const length = value.length;
    if (length < 128) {
      this.ensure(1 + length * 3);
      const start = this.offset + 1;
      if (copyAscii(this.buffer, start, value)) {
        this.buffer[this.offset] = length;
        this.offset = start + length;
        return;
      }
    }
    const bytes = Buffer.byteLength(value, 'utf8');
    this.varUInt(bytes);
    this.ensure(bytes);
    this.buffer.write(value, this.offset, bytes, 'utf8');
    this.offset += bytes;
  }

  nullableFloat64(value: number | null): void {
    if (value === null) {
      this.uint8(1);
      return;
    }
    this.uint8(0);
    this.float64(value);
  }

  float32Array(values: ArrayLike<number>): void {
    const n = values.length;
    this.varUInt(n);
    this.ensure(n * 4);
    if (values instanceof Float32Array && HOST_IS_LITTLE_ENDIAN) {
      // Already the bytes RowBinary wants.
      this.buffer.set(new Uint8Array(values.buffer, values.byteOffset, n * 4), this.offset);
      this.offset += n * 4;
      return;
    }
    if (n <= 16 || !HOST_IS_LITTLE_ENDIAN) {
      const view = this.view;
      let o = this.offset;
      for (let i = 0; i < n; i++) {
        view.setFloat32(o, values[i], true);
        o += 4;
      }
      this.offset = o;
      return;
    }
    // Wide rows: convert into an aligned Float32Array (a tight loop V8 vectorises), then copy the
    // bytes; DataView writes at unaligned offsets cost several times more per value.
    if (SCRATCH.length < n) SCRATCH = new Float32Array(Math.max(n, SCRATCH.length * 2));
    const scratch = SCRATCH;
    for (let i = 0; i < n; i++) scratch[i] = values[i];
    this.buffer.set(new Uint8Array(scratch.buffer, 0, n * 4), this.offset);
    this.offset += n * 4;
  }

  uint8Array(values: readonly number[]): void {
    const n = values.length;
    this.varUInt(n);
    this.ensure(n);
    for (let i = 0; i < n; i++) this.buffer[this.offset + i] = values[i];
    this.offset += n;
  }

  /** A UUID in its canonical text form (validated by the caller). */
  uuid(text: string): void {
    this.ensure(16);
    // Hex digit positions of the two 64-bit halves, skipping the dashes (8-4-4-4-12).
    const o = this.offset;
    for (let half = 0; half < 2; half++) {
      const positions = half === 0 ? HIGH_HALF : LOW_HALF;
      for (let b = 0; b < 8; b++) {
        const p = positions[b];
        const byte = (HEX[text.charCodeAt(p)] << 4) | HEX[text.charCodeAt(p + 1)];
        // Little-endian: the most significant byte (first in the text) goes last.
        this.buffer[o + half * 8 + 7 - b] = byte;
      }
    }
    this.offset = o + 16;
  }
}

/** Text offsets of the 8 bytes of each 64-bit half of `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`. */
const HIGH_HALF = [0, 2, 4, 6, 9, 11, 14, 16];
const LOW_HALF = [19, 21, 24, 26, 28, 30, 32, 34];

function rowBytesEstimate(r: StoredPrediction): number {
  return 256 + 4 * (r.inputs.length + r.scores.length);
}

/**
 * The `RowBinary` body of a `predictions` insert, columns in `PREDICTION_COLUMNS` order (the
 * MATERIALIZED `ts` is computed by the server), in one buffer.
 */
export function predictionsRowBinary(rows: readonly StoredPrediction[]): Buffer {
  // ~200 bytes of fixed columns and strings plus 4 bytes per float: one allocation in most cases.
  let estimate = 0;
  for (const r of rows) estimate += rowBytesEstimate(r);
  const w = new RowBinaryWriter(estimate);
  for (const r of rows) writePrediction(w, r);
  return w.finish();
}

/** Lets timers and I/O (the requests being served) run. */
const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * The same body as `predictionsRowBinary`, as chunks of about `chunkBytes`, handing the event loop
 * back between chunks. A batch of wide rows (5000 rows × 784 inputs is 16 MB) would otherwise
 * hold the loop for tens of milliseconds, and every request waiting on it would see that in its
 * latency. The caller streams the chunks into the HTTP request as they come.
 */
export async function* predictionsRowBinaryChunks(
  rows: readonly StoredPrediction[],
  chunkBytes = 256 * 1024,
): AsyncGenerator<Buffer> {
  let w = new RowBinaryWriter(chunkBytes + 64 * 1024);
  for (let i = 0; i < rows.length; i++) {
    writePrediction(w, rows[i]);
    if (w.length >= chunkBytes && i < rows.length - 1) {
      yield w.finish();
      w = new RowBinaryWriter(chunkBytes + rowBytesEstimate(rows[i + 1]));
      await yieldToEventLoop();
    }
  }
  if (w.length > 0) yield w.finish();
}

function writePrediction(w: RowBinaryWriter, r: StoredPrediction): void {
  w.uuid(r.id);
  w.string(r.request_id);
  w.uint64(r.ts);
  w.string(r.model);
  w.uint32(r.model_version);
  w.string(r.route);
  w.string(r.client_id);
  w.string(r.trace_id);
  w.string(r.span_id);
  w.string(r.protocol);
  w.float32Array(r.inputs);
  w.uint8Array(r.feature_bins ?? []);
  w.float32Array(r.scores);
  w.string(r.label);
  w.nullableFloat64(r.value);
  w.uint64(Math.round(r.latency_us));
  w.uint32(r.batch_size);
  w.uint16(r.status);
  w.string(r.error);
}
