import { copyAscii } from '../common/binary-encoding';
import type { StoredPrediction } from '../store/analytics-store';
import type { PredictionRoute } from './prediction-record';

/**
 * A prediction record as bytes in a slab the writer's queue owns (encoded-prediction-queue.ts).
 * The layout is private to this process — it is never written to disk or sent anywhere, so it
 * uses the host's byte order for float arrays and needs no version. Every record starts at a
 * 4-byte boundary and its Float32 inputs are 4-byte aligned within it, so decoding hands them
 * out as a Float32Array view of the slab instead of a copy.
 *
 *   u32 total bytes (padded to 4)   u32 weight
 *   f64 ts, model_version, latency_us, batch_size, status
 *   u8 value present, f64 value
 *   strings (u32 byte length + UTF-8): id, request_id, model, route, client_id, trace_id, span_id,
 *     protocol, label, error, batch_key (length 0xFFFFFFFF = absent)
 *   u32 score count, f64 scores
 *   u32 bins count (0xFFFFFFFF = absent), u8 bins
 *   u32 input count, padding to 4, f32 inputs
 *
 * Numbers are written as float64, so every value comes back exactly as given; inputs come back as
 * a Float32Array, which is what both stores keep of them.
 */

const ABSENT = 0xffffffff;
const HEADER_BYTES = 8;
/** ts, model_version, latency_us, batch_size, status; the value flag and value. */
const SCALAR_BYTES = 5 * 8 + 1 + 8;
const STRING_FIELDS = 11;

/** A region of memory records are encoded into and decoded from. */
export interface RecordSlab {
  bytes: Buffer;
  view: DataView;
}

export function newSlab(size: number): RecordSlab {
  // Its own ArrayBuffer at offset 0 (never a slice of Buffer's shared pool), so 4-byte offsets
  // within the slab are 4-byte aligned for Float32Array views.
  return slabOver(Buffer.allocUnsafeSlow(roundUp4(size)));
}

/** A slab over bytes that already hold records (a block another thread encoded and transferred). */
export function slabOver(bytes: Uint8Array): RecordSlab {
  const buffer = Buffer.isBuffer(bytes)
    ? bytes
    : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return { bytes: buffer, view: new DataView(buffer.buffer, buffer.byteOffset, buffer.byteLength) };
}

function roundUp4(n: number): number {
  return (n + 3) & ~3;
}

/** An upper bound of the bytes `encodePrediction` writes for `r`. */
export function maxEncodedBytes(r: StoredPrediction): number {
  const chars =
    r.id.length +
    r.request_id.length +
    r.model.length +
    r.route.length +
    r.client_id.length +
    r.trace_id.length +
    r.span_id.length +
    r.protocol.length +
    r.label.length +
    r.error.length +
    (r.batch_key?.length ?? 0);
  return (
    HEADER_BYTES +
    SCALAR_BYTES +
    STRING_FIELDS * 4 +
    chars * 3 +
    4 +
    r.scores.length * 8 +
    4 +
    (r.feature_bins?.length ?? 0) +
    4 +
    3 +
    r.inputs.length * 4 +
    3
  );
}

/**
 * Writes `r` at `offset` (a multiple of 4) and returns the offset after it (a multiple of 4). The
 * slab must have `maxEncodedBytes(r)` bytes free there.
 */
export function encodePrediction(
  slab: RecordSlab,
  offset: number,
  r: StoredPrediction,
  weight: number,
): number {
  const { bytes, view } = slab;
  let o = offset + HEADER_BYTES;
  view.setFloat64(o, r.ts, true);
  view.setFloat64(o + 8, r.model_version, true);
  view.setFloat64(o + 16, r.latency_us, true);
  view.setFloat64(o + 24, r.batch_size, true);
  view.setFloat64(o + 32, r.status, true);
  bytes[o + 40] = r.value === null ? 0 : 1;
  view.setFloat64(o + 41, r.value ?? 0, true);
  o += SCALAR_BYTES;
  o = writeString(slab, o, r.id);
  o = writeString(slab, o, r.request_id);
  o = writeString(slab, o, r.model);
  o = writeString(slab, o, r.route);
  o = writeString(slab, o, r.client_id);
  o = writeString(slab, o, r.trace_id);
  o = writeString(slab, o, r.span_id);
  o = writeString(slab, o, r.protocol);
  o = writeString(slab, o, r.label);
  o = writeString(slab, o, r.error);
  if (r.batch_key === undefined) {
    view.setUint32(o, ABSENT, true);
    o += 4;
  } else o = writeString(slab, o, r.batch_key);
  const scores = r.scores;
  view.setUint32(o, scores.length, true);
  o += 4;
  for (let i = 0; i < scores.length; i++, o += 8) view.setFloat64(o, scores[i], true);
  const bins = r.feature_bins;
  view.setUint32(o, bins === undefined ? ABSENT : bins.length, true);
  o += 4;
  if (bins !== undefined) for (let i = 0; i < bins.length; i++) bytes[o++] = bins[i];
  const inputs = r.inputs;
  view.setUint32(o, inputs.length, true);
  o = roundUp4(o + 4);
  if (inputs instanceof Float32Array) {
    bytes.set(new Uint8Array(inputs.buffer, inputs.byteOffset, inputs.byteLength), o);
  } else if (inputs.length > 0) {
    new Float32Array(bytes.buffer, bytes.byteOffset + o, inputs.length).set(inputs);
  }
  o = roundUp4(o + inputs.length * 4);
  view.setUint32(offset, o - offset, true);
  view.setUint32(offset + 4, weight, true);
  return o;
}

function writeString(slab: RecordSlab, offset: number, value: string): number {
  const start = offset + 4;
  const length = value.length;
  if (length < 64 && copyAscii(slab.bytes, start, value)) {
    slab.view.setUint32(offset, length, true);
    return start + length;
  }
  const written = slab.bytes.write(value, start, 'utf8');
  slab.view.setUint32(offset, written, true);
  return start + written;
}

/** The encoded size of the record at `offset` (a multiple of 4). */
export function encodedBytesAt(slab: RecordSlab, offset: number): number {
  return slab.view.getUint32(offset, true);
}

/** The weight the record at `offset` was encoded with. */
export function encodedWeightAt(slab: RecordSlab, offset: number): number {
  return slab.view.getUint32(offset + 4, true);
}

/** The `count` records written back to back from offset 0, in order. */
export function decodePredictions(slab: RecordSlab, count: number): StoredPrediction[] {
  const rows = new Array<StoredPrediction>(count);
  let offset = 0;
  for (let i = 0; i < count; i++) {
    rows[i] = decodePrediction(slab, offset);
    offset += encodedBytesAt(slab, offset);
  }
  return rows;
}

/** The record at `offset`; its inputs are a view of the slab (the slab lives as long as they do). */
export function decodePrediction(slab: RecordSlab, offset: number): StoredPrediction {
  const { bytes, view } = slab;
  let o = offset + HEADER_BYTES;
  const ts = view.getFloat64(o, true);
  const model_version = view.getFloat64(o + 8, true);
  const latency_us = view.getFloat64(o + 16, true);
  const batch_size = view.getFloat64(o + 24, true);
  const status = view.getFloat64(o + 32, true);
  const value = bytes[o + 40] === 0 ? null : view.getFloat64(o + 41, true);
  o += SCALAR_BYTES;
  const read = (): string => {
    const length = view.getUint32(o, true);
    const start = o + 4;
    o = start + length;
    return length === 0 ? '' : bytes.toString('utf8', start, o);
  };
  const id = read();
  const request_id = read();
  const model = read();
  const route = read() as PredictionRoute;
  const client_id = read();
  const trace_id = read();
  const span_id = read();
  const protocol = read();
  const label = read();
  const error = read();
  let batch_key: string | undefined;
  if (view.getUint32(o, true) === ABSENT) o += 4;
  else batch_key = read();
  const scoreCount = view.getUint32(o, true);
  o += 4;
  const scores = new Array<number>(scoreCount);
  for (let i = 0; i < scoreCount; i++, o += 8) scores[i] = view.getFloat64(o, true);
  const binCount = view.getUint32(o, true);
  o += 4;
  let feature_bins: number[] | undefined;
  if (binCount !== ABSENT) {
    feature_bins = new Array<number>(binCount);
    for (let i = 0; i < binCount; i++) feature_bins[i] = bytes[o++];
  }
  const inputCount = view.getUint32(o, true);
  o = roundUp4(o + 4);
  const inputs = new Float32Array(bytes.buffer, bytes.byteOffset + o, inputCount);
  const record: StoredPrediction = {
    id,
    request_id,
    ts,
    model,
    model_version,
    route,
    client_id,
    trace_id,
    span_id,
    inputs,
    scores,
    label,
    value,
    latency_us,
    batch_size,
    status,
    error,
    protocol,
  };
  if (batch_key !== undefined) record.batch_key = batch_key;
  if (feature_bins !== undefined) record.feature_bins = feature_bins;
  return record;
}
