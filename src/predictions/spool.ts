import * as fsp from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { AdaptiveSlices, yieldToEventLoop } from '../common/event-loop-slices';
import { crc32, CRC32_INITIAL, crc32Final, crc32Update } from './crc32';

/**
 * The on-disk spool of one table: where batches wait while the analytical store is down, slow or
 * refusing, and (in `sync` durability) where every record is made durable before the request is
 * answered.
 *
 * Layout: `<directory>/<seq>.spool`, `seq` a zero-padded 16-digit counter, so lexical order is
 * write order. Segments are append-only. The newest one is "active" (open for appending); it is
 * sealed once it reaches `segmentBytes` (the write that crosses the limit completes, so a segment
 * is at most one group larger than the limit). A process never appends to a segment it did not
 * create: segments found at start-up are sealed, so a torn tail left by a crash can only be the
 * last thing in its segment.
 *
 * Frame (little-endian):
 *
 *     [payload length u32][crc32(payload) u32][payload]
 *
 * The payload is UTF-8 JSON of one batch: `{"v":1,"ts":<oldest record ts, ms>,"rows":[...]}`.
 * One frame per batch rather than per record: a flush of 5000 rows costs one frame, one CRC pass
 * and one write. Non-finite numbers do not survive JSON (they come back as null); the codecs
 * refuse NaN/Inf inputs before they reach the log. A Float32Array field of a row (the logged
 * inputs) is written as `{"f32":"<base64 of its little-endian bytes>"}` in a frame marked `"v":2`:
 * exact, 5.3 characters a value instead of up to 20 for its decimal form, and it comes back as a
 * Float32Array. Frames without such fields stay `"v":1`.
 *
 * Reading: a header or payload that runs past the end of the segment is a torn tail (a crash
 * mid-write): it and the rest of the segment are skipped and counted. A corrupt length field
 * looks the same and is handled the same way, because without a trustworthy length there is no
 * next frame to resynchronise on. A frame whose CRC does not match is skipped and counted, and
 * reading continues with the next frame. A segment that disappears (deleted by hand) is counted
 * and skipped. Segments are deleted only once every frame in them has been acknowledged.
 *
 * One consumer: `read()` / `acknowledge()` must be called by a single replay loop, one batch at a
 * time. `append()` may be called by anyone, any time; concurrent appends share one write and, when
 * any of them asked for durability, one fsync (group commit).
 */

/** The file operations the spool needs. Injectable so tests can simulate ENOSPC and count fsyncs. */
export interface SpoolFileHandle {
  write(
    buffer: Uint8Array,
    offset: number,
    length: number,
    position: number,
  ): Promise<{ bytesWritten: number }>;
  read(
    buffer: Uint8Array,
    offset: number,
    length: number,
    position: number,
  ): Promise<{ bytesRead: number }>;
  sync(): Promise<void>;
  truncate(length: number): Promise<void>;
  close(): Promise<void>;
}

export interface SpoolFileSystem {
  /** Creates the directory and its parents; succeeds if it exists. */
  mkdir(path: string): Promise<void>;
  readdir(path: string): Promise<string[]>;
  /** `r` to read, `wx` to create a new segment (never clobbering an existing one). */
  open(path: string, flags: 'r' | 'wx'): Promise<SpoolFileHandle>;
  stat(path: string): Promise<{ size: number; mtimeMs: number }>;
  unlink(path: string): Promise<void>;
  /** fsync of a directory, so a newly created segment's name survives a power loss. */
  syncDirectory(path: string): Promise<void>;
}

export const nodeSpoolFileSystem: SpoolFileSystem = {
  mkdir: async (path) => {
    await fsp.mkdir(path, { recursive: true });
  },
  readdir: (path) => fsp.readdir(path),
  open: (path, flags) => fsp.open(path, flags),
  stat: (path) => fsp.stat(path),
  unlink: (path) => fsp.unlink(path),
  syncDirectory: async (path) => {
    const handle = await fsp.open(path, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  },
};

/** What the spool needs of a record: its timestamp (ms), for the replay-lag metric. */
export interface SpooledRecord {
  ts: number;
}

export const FRAME_HEADER_BYTES = 8;
/** Frames larger than this are treated as a corrupt length field (and V8 strings stop near 512 MiB). */
export const MAX_FRAME_BYTES = 256 * 1024 * 1024;
export const DEFAULT_SEGMENT_BYTES = 16 * 1024 * 1024;
const READ_CHUNK_BYTES = 4 * 1024 * 1024;
const SEGMENT_NAME = /^(\d{16})\.spool$/;

export function segmentFileName(seq: number): string {
  return `${String(seq).padStart(16, '0')}.spool`;
}

/** Typed arrays use the platform's byte order; the spool stores little-endian bytes. */
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** A Float32Array field in a frame. */
interface EncodedFloat32 {
  f32: string;
}

function encodeFloat32(values: Float32Array): EncodedFloat32 | number[] {
  // Big-endian hosts (none Node supports in practice) write plain numbers instead.
  if (!LITTLE_ENDIAN) return Array.from(values);
  return {
    f32: Buffer.from(values.buffer, values.byteOffset, values.byteLength).toString('base64'),
  };
}

function isEncodedFloat32(value: unknown): value is EncodedFloat32 {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { f32?: unknown }).f32 === 'string' &&
    Object.keys(value).length === 1
  );
}

function decodeFloat32(value: EncodedFloat32): Float32Array {
  const bytes = Buffer.from(value.f32, 'base64');
  // Copied into a fresh, aligned buffer: the decoded bytes may start at any offset.
  const out = new Float32Array(Math.floor(bytes.length / 4));
  new Uint8Array(out.buffer).set(bytes.subarray(0, out.length * 4));
  return out;
}

/** The row as JSON sees it: its Float32Array fields (logged inputs) encoded, the rest as is. */
function frameRow(row: SpooledRecord): unknown {
  let copy: Record<string, unknown> | undefined;
  for (const [key, value] of Object.entries(row)) {
    if (value instanceof Float32Array) {
      copy ??= { ...row };
      copy[key] = encodeFloat32(value);
    }
  }
  return copy ?? row;
}

/** The inverse of `frameRow`, in place (the row was just parsed). */
function reviveRow(row: unknown): void {
  if (typeof row !== 'object' || row === null) return;
  const fields = row as Record<string, unknown>;
  for (const key of Object.keys(fields)) {
    const value = fields[key];
    if (isEncodedFloat32(value)) fields[key] = decodeFloat32(value);
  }
}

/** Encodes one batch as one frame. */
export function encodeSpoolFrame(rows: readonly SpooledRecord[]): Buffer {
  let oldest = Number.POSITIVE_INFINITY;
  for (const row of rows) if (row.ts < oldest) oldest = row.ts;
  let encoded = false;
  const framed = rows.map((row) => {
    const out = frameRow(row);
    if (out !== row) encoded = true;
    return out;
  });
  // Version 2 only when it matters: frames of plain rows stay readable by older versions.
  const json = JSON.stringify({
    v: encoded ? 2 : 1,
    ts: Number.isFinite(oldest) ? oldest : 0,
    rows: framed,
  });
  const length = Buffer.byteLength(json, 'utf8');
  const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + length);
  frame.write(json, FRAME_HEADER_BYTES, 'utf8');
  frame.writeUInt32LE(length, 0);
  frame.writeUInt32LE(crc32(frame, FRAME_HEADER_BYTES), 4);
  return frame;
}

/** The payload is assembled in pieces of this size, then copied into the frame a piece per turn. */
const FRAME_PIECE_BYTES = 1024 * 1024;

/**
 * `encodeSpoolFrame`, byte for byte, with the event loop handed back about every millisecond of
 * work. A frame is JSON: one 5000-row frame of 784-value inputs is 24 MB, and encoding it in one
 * go (JSON.stringify, then the CRC) held the loop for 200-400 ms, which every request in flight
 * paid for in latency whenever the store was slow or down and batches went to the spool.
 *
 * JSON.stringify of the frame object is its parts concatenated, so rows are stringified one at a
 * time, each written at once into 1 MB payload pieces and checksummed there (keeping the row
 * strings until the end made every scavenge copy megabytes of them: 20-120 ms GC pauses); the
 * pieces are copied into the frame one per turn of the event loop.
 */
export async function encodeSpoolFrameSliced(
  rows: readonly SpooledRecord[],
  slices: AdaptiveSlices = new AdaptiveSlices({ firstUnits: 32, maxUnits: 8192 }),
): Promise<Buffer> {
  let oldest = Number.POSITIVE_INFINITY;
  let encoded = false;
  for (const row of rows) {
    if (row.ts < oldest) oldest = row.ts;
    // The version depends on every row: decided before any row is written.
    if (!encoded)
      for (const value of Object.values(row)) if (value instanceof Float32Array) encoded = true;
  }
  const pieces: Buffer[] = [];
  let piece = Buffer.allocUnsafe(FRAME_PIECE_BYTES);
  let used = 0;
  let length = 0;
  let crc = CRC32_INITIAL;
  const put = (text: string): void => {
    const bytes = Buffer.byteLength(text, 'utf8');
    if (used + bytes > piece.length) {
      if (used > 0) {
        crc = crc32Update(crc, piece, 0, used);
        pieces.push(piece.subarray(0, used));
      }
      piece = Buffer.allocUnsafe(Math.max(FRAME_PIECE_BYTES, bytes));
      used = 0;
    }
    used += piece.write(text, used, 'utf8');
    length += bytes;
  };
  // Version 2 only when it matters: frames of plain rows stay readable by older versions.
  const ts = JSON.stringify(Number.isFinite(oldest) ? oldest : 0);
  put(`{"v":${encoded ? 2 : 1},"ts":${ts},"rows":[`);
  for (let start = 0; start < rows.length;) {
    const end = Math.min(rows.length, start + slices.next());
    const began = performance.now();
    for (let i = start; i < end; i++) {
      const json = JSON.stringify(frameRow(rows[i]));
      put(i > 0 ? `,${json}` : json);
    }
    slices.record(end - start, performance.now() - began);
    start = end;
    if (start < rows.length) await yieldToEventLoop();
  }
  put(']}');
  crc = crc32Update(crc, piece, 0, used);
  pieces.push(piece.subarray(0, used));
  const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + length);
  frame.writeUInt32LE(length, 0);
  frame.writeUInt32LE(crc32Final(crc), 4);
  let offset = FRAME_HEADER_BYTES;
  for (let p = 0; p < pieces.length; p++) {
    offset += pieces[p].copy(frame, offset);
    pieces[p] = EMPTY_PIECE; // let the piece go
    if (p < pieces.length - 1) await yieldToEventLoop();
  }
  return frame;
}

const EMPTY_PIECE = Buffer.alloc(0);

interface DecodedFrame<T> {
  ts: number;
  rows: T[];
}

export function decodeFramePayload<T>(payload: Buffer): DecodedFrame<T> | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(payload.toString('utf8'));
  } catch {
    return undefined;
  }
  if (parsed === null || typeof parsed !== 'object') return undefined;
  const frame = parsed as { v?: unknown; ts?: unknown; rows?: unknown };
  if (
    (frame.v !== 1 && frame.v !== 2) ||
    typeof frame.ts !== 'number' ||
    !Array.isArray(frame.rows)
  )
    return undefined;
  if (frame.v === 2) for (const row of frame.rows) reviveRow(row);
  // The rows are what this spool wrote, under a matching CRC: their shape is trusted.
  return { ts: frame.ts, rows: frame.rows as T[] };
}

/** Bytes checksummed per turn of the event loop while a frame is read back (~1 ms of CRC). */
const CRC_SLICE_BYTES = 512 * 1024;

/** `crc32(payload)`, a slice per turn of the event loop: a 24 MB MNIST frame took ~60 ms in one go. */
export async function crc32Sliced(payload: Uint8Array): Promise<number> {
  let crc = CRC32_INITIAL;
  for (let start = 0; start < payload.length; start += CRC_SLICE_BYTES) {
    const end = Math.min(payload.length, start + CRC_SLICE_BYTES);
    crc = crc32Update(crc, payload, start, end);
    if (end < payload.length) await yieldToEventLoop();
  }
  return crc32Final(crc);
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
/** `{"v":1|2,"ts":<number>,"rows":[` — how both encoders begin a frame (JSON.stringify's order). */
const FRAME_PREFIX = /^\{"v":([12]),"ts":(-?[0-9][0-9.eE+-]*),"rows":\[/;

/**
 * `decodeFramePayload` in slices: a 5000-row MNIST frame is 24 MB of JSON, and one `JSON.parse` of
 * it held the event loop for 150-300 ms per frame while a replay drained the spool — with new
 * requests arriving the whole time. The rows array is cut at its top-level commas (a scan of the
 * bytes that tracks strings and nesting; UTF-8 continuation bytes are never ASCII, so structural
 * characters cannot be mistaken) and each row parsed on its own, a ~1 ms slice of rows per turn.
 * Anything not shaped exactly as the encoders write it goes to the one-piece decoder, so the
 * result is always what `decodeFramePayload` gives.
 */
export async function decodeFramePayloadSliced<T>(
  payload: Buffer,
  slices: AdaptiveSlices = new AdaptiveSlices({ firstUnits: 16, maxUnits: 4096 }),
): Promise<DecodedFrame<T> | undefined> {
  const head = FRAME_PREFIX.exec(payload.toString('latin1', 0, Math.min(payload.length, 64)));
  const last = payload.length - 1;
  if (!head || payload[last] !== CLOSE_BRACE || payload[last - 1] !== CLOSE_BRACKET) {
    return decodeFramePayload<T>(payload);
  }
  const version = Number(head[1]);
  const ts = Number(head[2]);
  if (!Number.isFinite(ts)) return decodeFramePayload<T>(payload);
  const rows: T[] = [];
  const end = last - 1; // the closing bracket of `rows`
  let position = head[0].length;
  while (position < end) {
    const began = performance.now();
    const budget = slices.next();
    let parsed = 0;
    while (parsed < budget && position < end) {
      const rowEnd = endOfValue(payload, position, end);
      if (rowEnd < 0) return decodeFramePayload<T>(payload);
      let row: unknown;
      try {
        row = JSON.parse(payload.toString('utf8', position, rowEnd));
      } catch {
        return decodeFramePayload<T>(payload);
      }
      if (version === 2) reviveRow(row);
      rows.push(row as T);
      parsed++;
      if (rowEnd < end && payload[rowEnd] !== COMMA) return decodeFramePayload<T>(payload);
      position = rowEnd + 1;
    }
    slices.record(parsed, performance.now() - began);
    if (position < end) await yieldToEventLoop();
  }
  return { ts, rows };
}

/**
 * Index just past the JSON value that starts at `start` (an object or array, as the encoders
 * write rows): the first top-level `,` or `limit` after it; -1 when the brackets do not balance.
 */
function endOfValue(bytes: Buffer, start: number, limit: number): number {
  let depth = 0;
  let inString = false;
  for (let i = start; i < limit; i++) {
    const b = bytes[i];
    if (inString) {
      if (b === BACKSLASH) i++;
      else if (b === QUOTE) inString = false;
    } else if (b === QUOTE) inString = true;
    else if (b === OPEN_BRACE || b === OPEN_BRACKET) depth++;
    else if (b === CLOSE_BRACE || b === CLOSE_BRACKET) {
      depth--;
      if (depth < 0) return -1;
    } else if (b === COMMA && depth === 0) return i;
  }
  return depth === 0 && !inString ? limit : -1;
}

export class SpoolClosedError extends Error {
  constructor() {
    super('spool is closed');
    this.name = 'SpoolClosedError';
  }
}

/** One segment file. `bytes` counts only complete, committed frames (or the file size, if found). */
export class SpoolSegment {
  handle: SpoolFileHandle | undefined;
  /** The directory entry was fsynced (needed once before a durable write is acknowledged). */
  directorySynced = false;
  /** Torn tails and corrupt frames are counted once even when a range is read again. */
  scannedTo = 0;

  constructor(
    readonly seq: number,
    readonly path: string,
    public bytes: number,
    public sealed: boolean,
    /** Timestamp of the oldest unacknowledged record in it, when known (else file mtime). */
    public oldestTs: number | undefined,
  ) {}
}

/** Rows read from the head of the spool, to be acknowledged once the store has them. */
export interface SpoolBatch<T> {
  readonly rows: T[];
  readonly segment: number;
  readonly start: number;
  readonly end: number;
  readonly frames: number;
  /**
   * Rows per frame, in order (they add up to `rows.length`). A frame is written once and read
   * whole, so it is a stable unit across re-reads (the writer keys monitoring aggregates by it).
   */
  readonly frameRows: readonly number[];
  readonly oldestTs: number;
  readonly newestTs: number;
}

export interface SpoolStats {
  /** Bytes of all segment files (acknowledged-but-not-yet-deleted head bytes included). */
  bytes: number;
  /** Bytes not yet acknowledged. */
  unacknowledgedBytes: number;
  segments: number;
  corruptFrames: number;
  tornTails: number;
  missingSegments: number;
  fsyncs: number;
}

/** Problems the spool survives but someone should hear about (logged and counted by the owner). */
export type SpoolProblem =
  | { kind: 'corrupt_frame'; segment: string; offset: number }
  | { kind: 'torn_tail'; segment: string; offset: number; bytes: number }
  | { kind: 'missing_segment'; segment: string }
  | { kind: 'io_error'; operation: string; segment: string; error: unknown };

export interface SpoolOptions {
  directory: string;
  /** Seal the active segment once it reaches this size. Default 16 MiB. */
  segmentBytes?: number;
  /** Concurrent appends are merged into frames of at most this many rows. Default 5000. */
  maxFrameRows?: number;
  fs?: SpoolFileSystem;
  onProblem?: (problem: SpoolProblem) => void;
}

interface PendingAppend<T> {
  rows: readonly T[];
  durable: boolean;
  resolve: () => void;
  reject: (err: unknown) => void;
}

interface FrameScan<T> {
  rows: T[];
  end: number;
  frames: number;
  frameRows: number[];
  oldestTs: number;
  newestTs: number;
}

/** Duck-typed: errors from `fs` may come from another realm (vm contexts, jest). */
export function errnoCode(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null || !('code' in err)) return undefined;
  return typeof err.code === 'string' ? err.code : undefined;
}

function isErrnoException(err: unknown, code: string): boolean {
  return errnoCode(err) === code;
}

/** Reads byte ranges of one segment through a chunk buffer, so small frames cost no syscall each. */
class SegmentRangeReader {
  private chunk: Buffer = Buffer.alloc(0);
  private chunkStart = 0;

  constructor(
    private readonly handle: SpoolFileHandle,
    private readonly end: number,
  ) {}

  /** `length` bytes at `position`, or undefined when the file ends first. */
  async bytes(position: number, length: number): Promise<Buffer | undefined> {
    const offset = position - this.chunkStart;
    if (offset >= 0 && offset + length <= this.chunk.length) {
      return this.chunk.subarray(offset, offset + length);
    }
    const want = Math.min(this.end - position, Math.max(length, READ_CHUNK_BYTES));
    if (want < length) return undefined;
    const buffer = Buffer.allocUnsafe(want);
    let filled = 0;
    while (filled < want) {
      const { bytesRead } = await this.handle.read(
        buffer,
        filled,
        want - filled,
        position + filled,
      );
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    this.chunk = buffer.subarray(0, filled);
    this.chunkStart = position;
    return filled >= length ? this.chunk.subarray(0, length) : undefined;
  }
}

export class Spool<T extends SpooledRecord> {
  readonly directory: string;
  private readonly segmentBytes: number;
  private readonly maxFrameRows: number;
  private readonly fs: SpoolFileSystem;
  private readonly onProblem: (problem: SpoolProblem) => void;

  private segments: SpoolSegment[] = [];
  /** Bytes of segments[0] already acknowledged. */
  private headOffset = 0;
  private totalBytes = 0;
  private nextSeq = 1;
  private opening: Promise<void> | undefined;
  private pending: PendingAppend<T>[] = [];
  private pendingRowCount = 0;
  private writing = false;
  private closed = false;
  private idleWaiters: Array<() => void> = [];
  private readonly counts = { corruptFrames: 0, tornTails: 0, missingSegments: 0, fsyncs: 0 };

  constructor(options: SpoolOptions) {
    this.directory = options.directory;
    this.segmentBytes = options.segmentBytes ?? DEFAULT_SEGMENT_BYTES;
    this.maxFrameRows = options.maxFrameRows ?? 5000;
    this.fs = options.fs ?? nodeSpoolFileSystem;
    this.onProblem = options.onProblem ?? (() => undefined);
  }

  /**
   * Creates the directory and finds the segments a previous run left. Idempotent; a failure
   * (EACCES, say) is thrown and the next call tries again.
   */
  open(): Promise<void> {
    if (!this.opening) {
      this.opening = this.load().catch((err: unknown) => {
        this.opening = undefined;
        throw err;
      });
    }
    return this.opening;
  }

  private async load(): Promise<void> {
    await this.fs.mkdir(this.directory);
    const found: SpoolSegment[] = [];
    let maxSeq = 0;
    for (const name of await this.fs.readdir(this.directory)) {
      const match = SEGMENT_NAME.exec(name);
      if (!match) continue;
      const seq = Number(match[1]);
      maxSeq = Math.max(maxSeq, seq);
      const path = join(this.directory, name);
      try {
        const stat = await this.fs.stat(path);
        found.push(new SpoolSegment(seq, path, stat.size, true, stat.mtimeMs));
      } catch (err) {
        if (!isErrnoException(err, 'ENOENT')) throw err;
      }
    }
    found.sort((a, b) => a.seq - b.seq);
    this.segments = found;
    this.totalBytes = found.reduce((sum, s) => sum + s.bytes, 0);
    this.nextSeq = maxSeq + 1;
  }

  /**
   * Appends rows as one or more frames. Resolves once written (and fsynced when `durable`);
   * rejects with the I/O error otherwise (the segment is then cut back to its last whole frame).
   */
  append(rows: readonly T[], durable: boolean): Promise<void> {
    if (this.closed) return Promise.reject(new SpoolClosedError());
    if (rows.length === 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ rows, durable, resolve, reject });
      this.pendingRowCount += rows.length;
      if (!this.writing) {
        this.writing = true;
        // A microtask, not an immediate write: appends made in the same tick share the write.
        queueMicrotask(() => void this.writeLoop());
      }
    });
  }

  /** Rows accepted by `append()` but not yet written. */
  get pendingRows(): number {
    return this.pendingRowCount;
  }

  /** True while anything is spooled and not yet acknowledged, or being written. */
  get hasBacklog(): boolean {
    return this.writing || this.pending.length > 0 || this.totalBytes - this.headOffset > 0;
  }

  stats(): SpoolStats {
    return {
      bytes: this.totalBytes,
      unacknowledgedBytes: this.totalBytes - this.headOffset,
      segments: this.segments.length,
      ...this.counts,
    };
  }

  /** Timestamp (ms) of the oldest record not yet acknowledged, or undefined when there is none. */
  oldestUnacknowledgedTs(): number | undefined {
    for (let i = 0; i < this.segments.length; i++) {
      const segment = this.segments[i];
      const unacknowledged = i === 0 ? segment.bytes - this.headOffset : segment.bytes;
      if (unacknowledged > 0) return segment.oldestTs;
    }
    return undefined;
  }

  private async writeLoop(): Promise<void> {
    while (this.pending.length > 0) {
      const group = this.pending;
      this.pending = [];
      let rows = 0;
      for (const append of group) rows += append.rows.length;
      try {
        await this.writeGroup(group);
        for (const append of group) append.resolve();
      } catch (err) {
        for (const append of group) append.reject(err);
      } finally {
        this.pendingRowCount -= rows;
      }
    }
    this.writing = false;
    for (const wake of this.idleWaiters.splice(0)) wake();
  }

  private async encodeGroup(
    group: PendingAppend<T>[],
  ): Promise<{ data: Buffer; oldestTs: number }> {
    const frames: Buffer[] = [];
    let oldestTs = Number.POSITIVE_INFINITY;
    let current: T[] = [];
    const cut: T[][] = [];
    const emit = () => {
      if (current.length === 0) return;
      cut.push(current);
      current = [];
    };
    for (const append of group) {
      // Keep one append in one frame when it fits, so a request's rows are replayed together; a
      // longer one starts a frame and is cut at multiples of maxFrameRows from its start. The
      // writer's delivery units (chunks of flushRows = maxFrameRows, docs/monitoring.md) rely on
      // never being split across frames.
      if (current.length + append.rows.length > this.maxFrameRows) emit();
      for (const row of append.rows) {
        if (row.ts < oldestTs) oldestTs = row.ts;
        current.push(row);
        if (current.length >= this.maxFrameRows) emit();
      }
    }
    emit();
    // Encoded a slice at a time (encodeSpoolFrameSliced): appends arriving meanwhile queue up
    // for the next group, as they do while a write is in flight.
    for (const rows of cut) frames.push(await encodeSpoolFrameSliced(rows));
    return { data: frames.length === 1 ? frames[0] : Buffer.concat(frames), oldestTs };
  }

  private async writeGroup(group: PendingAppend<T>[]): Promise<void> {
    await this.open();
    const { data, oldestTs } = await this.encodeGroup(group);
    const durable = group.some((append) => append.durable);
    const segment = await this.activeSegment();
    const handle = segment.handle!;
    try {
      let written = 0;
      while (written < data.length) {
        const { bytesWritten } = await handle.write(
          data,
          written,
          data.length - written,
          segment.bytes + written,
        );
        written += bytesWritten;
      }
      if (durable) {
        await handle.sync();
        this.counts.fsyncs++;
        if (!segment.directorySynced) {
          await this.fs.syncDirectory(this.directory);
          this.counts.fsyncs++;
          segment.directorySynced = true;
        }
      }
    } catch (err) {
      await this.cutBack(segment);
      throw err;
    }
    if (segment.oldestTs === undefined || segment.bytes === 0) segment.oldestTs = oldestTs;
    segment.bytes += data.length;
    segment.scannedTo = segment.bytes;
    this.totalBytes += data.length;
    if (segment.sealed || segment.bytes >= this.segmentBytes) await this.seal(segment);
  }

  /**
   * After a failed write, cut the segment back to its last whole frame so later frames are
   * readable. If even that fails the segment is sealed (its readable prefix is still replayed;
   * the garbage after `bytes` is never read) and the next append starts a new one.
   */
  private async cutBack(segment: SpoolSegment): Promise<void> {
    try {
      await segment.handle?.truncate(segment.bytes);
    } catch (err) {
      this.onProblem({
        kind: 'io_error',
        operation: 'truncate',
        segment: segment.path,
        error: err,
      });
      await this.seal(segment);
    }
  }

  private async activeSegment(): Promise<SpoolSegment> {
    const last = this.segments[this.segments.length - 1];
    if (last && !last.sealed && last.handle) return last;
    const seq = this.nextSeq++;
    const path = join(this.directory, segmentFileName(seq));
    const handle = await this.fs.open(path, 'wx');
    const segment = new SpoolSegment(seq, path, 0, false, undefined);
    segment.handle = handle;
    if (this.segments.length === 0) this.headOffset = 0;
    this.segments.push(segment);
    return segment;
  }

  /** No more appends to this segment: flush it to disk and close it. Never throws. */
  private async seal(segment: SpoolSegment): Promise<void> {
    segment.sealed = true;
    const handle = segment.handle;
    segment.handle = undefined;
    if (!handle) return;
    try {
      await handle.sync();
      this.counts.fsyncs++;
    } catch (err) {
      this.onProblem({ kind: 'io_error', operation: 'fsync', segment: segment.path, error: err });
    }
    await handle.close().catch((err: unknown) => {
      this.onProblem({ kind: 'io_error', operation: 'close', segment: segment.path, error: err });
    });
  }

  /** Whether the head segment may be deleted once fully acknowledged. */
  private headIsRemovable(segment: SpoolSegment): boolean {
    // The active segment is removable only when nothing is queued to be written into it.
    return segment.sealed || (!this.writing && this.pending.length === 0);
  }

  /** Drops segments[0] from the spool and deletes its file. State changes happen before any await. */
  private async removeHead(deleteFile: boolean): Promise<void> {
    const segment = this.segments.shift();
    if (!segment) return;
    this.totalBytes -= segment.bytes;
    this.headOffset = 0;
    await this.seal(segment);
    if (!deleteFile) return;
    try {
      await this.fs.unlink(segment.path);
    } catch (err) {
      if (!isErrnoException(err, 'ENOENT')) {
        this.onProblem({
          kind: 'io_error',
          operation: 'unlink',
          segment: segment.path,
          error: err,
        });
      }
    }
  }

  /**
   * The next rows after the acknowledged position, oldest first: whole frames from one segment,
   * stopping once `maxRows` is reached. Undefined when nothing unread is committed yet.
   */
  async read(maxRows: number): Promise<SpoolBatch<T> | undefined> {
    await this.open();
    for (;;) {
      const segment = this.segments[0];
      if (!segment) return undefined;
      if (this.headOffset >= segment.bytes) {
        if (!this.headIsRemovable(segment)) return undefined;
        await this.removeHead(true);
        continue;
      }
      const start = this.headOffset;
      const scan = await this.scanFrames(segment, start, maxRows);
      if (segment !== this.segments[0]) continue; // removed while we read; look again
      if (scan === 'missing') {
        this.counts.missingSegments++;
        this.onProblem({ kind: 'missing_segment', segment: segment.path });
        await this.removeHead(false);
        continue;
      }
      if (scan.rows.length === 0) {
        // Only damaged frames: nothing to deliver, so they count as acknowledged.
        this.headOffset = Math.max(this.headOffset, scan.end);
        continue;
      }
      segment.oldestTs = scan.oldestTs;
      return {
        rows: scan.rows,
        segment: segment.seq,
        start,
        end: scan.end,
        frames: scan.frames,
        frameRows: scan.frameRows,
        oldestTs: scan.oldestTs,
        newestTs: scan.newestTs,
      };
    }
  }

  private async scanFrames(
    segment: SpoolSegment,
    start: number,
    maxRows: number,
  ): Promise<FrameScan<T> | 'missing'> {
    let handle: SpoolFileHandle;
    try {
      handle = await this.fs.open(segment.path, 'r');
    } catch (err) {
      if (isErrnoException(err, 'ENOENT')) return 'missing';
      throw err;
    }
    try {
      const end = segment.bytes;
      const reader = new SegmentRangeReader(handle, end);
      const scan: FrameScan<T> = {
        rows: [],
        end: start,
        frames: 0,
        frameRows: [],
        oldestTs: Number.POSITIVE_INFINITY,
        newestTs: Number.NEGATIVE_INFINITY,
      };
      let position = start;
      while (position < end && scan.rows.length < maxRows) {
        const header = await reader.bytes(position, FRAME_HEADER_BYTES);
        const length = header ? header.readUInt32LE(0) : 0;
        const frameEnd = position + FRAME_HEADER_BYTES + length;
        const payload =
          header && length <= MAX_FRAME_BYTES && frameEnd <= end
            ? await reader.bytes(position + FRAME_HEADER_BYTES, length)
            : undefined;
        if (!header || !payload) {
          this.noteTornTail(segment, position, end);
          position = end;
          break;
        }
        // Both in slices: a replay reads whole segments of such frames while requests keep coming.
        const frame =
          (await crc32Sliced(payload)) === header.readUInt32LE(4)
            ? await decodeFramePayloadSliced<T>(payload)
            : undefined;
        if (!frame) {
          this.noteCorruptFrame(segment, position, frameEnd);
        } else {
          for (const row of frame.rows) scan.rows.push(row);
          scan.frames++;
          scan.frameRows.push(frame.rows.length);
          if (frame.ts < scan.oldestTs) scan.oldestTs = frame.ts;
          if (frame.ts > scan.newestTs) scan.newestTs = frame.ts;
        }
        position = frameEnd;
      }
      scan.end = position;
      return scan;
    } finally {
      await handle.close().catch(() => undefined);
    }
  }

  private noteTornTail(segment: SpoolSegment, position: number, end: number): void {
    if (position < segment.scannedTo) return;
    segment.scannedTo = end;
    this.counts.tornTails++;
    this.onProblem({
      kind: 'torn_tail',
      segment: segment.path,
      offset: position,
      bytes: end - position,
    });
  }

  private noteCorruptFrame(segment: SpoolSegment, position: number, frameEnd: number): void {
    if (position < segment.scannedTo) return;
    segment.scannedTo = frameEnd;
    this.counts.corruptFrames++;
    this.onProblem({ kind: 'corrupt_frame', segment: segment.path, offset: position });
  }

  /**
   * The store has `batch`: move the acknowledged position past it, deleting segments whose every
   * frame is now acknowledged.
   */
  async acknowledge(batch: SpoolBatch<T>): Promise<void> {
    const segment = this.segments[0];
    if (!segment || segment.seq !== batch.segment) return; // it vanished meanwhile
    this.headOffset = Math.max(this.headOffset, batch.end);
    // Later frames are at least as new as the newest acknowledged one: a close lower bound.
    segment.oldestTs = batch.newestTs;
    if (this.headOffset >= segment.bytes && this.headIsRemovable(segment)) {
      await this.removeHead(true);
    }
  }

  /** Rejects further appends, waits for the ones accepted, fsyncs and closes the active segment. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.writing) await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
    for (const segment of this.segments) if (segment.handle) await this.seal(segment);
  }
}
