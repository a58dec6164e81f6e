import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PredictionRecord } from '../../../src/predictions/prediction-record';
import { PredictionWriter } from '../../../src/predictions/prediction-writer';
import { StoredPrediction } from '../../../src/store';
import { FLUSH_BYTES, FLUSH_ROWS } from '../../../src/store/duckdb-chunks';
import { DuckDbStore } from '../../../src/store/duckdb-store';
import { duckDbRows } from './support';
import { countingLoopTurns } from '../../harness/event-loop';

/**
 * DuckDB predictions are appended column-wise in data chunks, a ~1 ms slice at a time with the
 * event loop handed back in between, and the appender is flushed every FLUSH_BYTES or FLUSH_ROWS
 * (src/store/duckdb-chunks.ts). These tests check, against a real DuckDB file, that a batch cut
 * into many slices and flushes still stores every row exactly once with every column exact, that
 * the loop really runs between slices, and that a writer's shutdown delivers everything through
 * that path.
 */

const WIDE = 784;

function row(i: number, overrides: Partial<StoredPrediction> = {}): StoredPrediction {
  const inputs = new Float32Array(i % 3 === 0 ? WIDE : 8);
  for (let k = 0; k < inputs.length; k++) inputs[k] = (i * 31 + k) / 7;
  return {
    id: randomUUID(),
    request_id: `req-${i >> 4}`,
    ts: Date.UTC(2024, 0, 15, 12) + i,
    model: 'chunks',
    model_version: 1 + (i % 2),
    route: 'champion',
    client_id: '',
    trace_id: i % 5 === 0 ? 'a'.repeat(32) : '',
    span_id: '',
    inputs,
    scores: Array.from({ length: 10 }, (_, k) => Math.fround((i + k) / 97)),
    label: String(i % 10),
    value: null,
    latency_us: 700 + i,
    batch_size: 16,
    status: 200,
    error: '',
    protocol: 'v1',
    ...overrides,
  };
}

interface Stored {
  id: string;
  request_id: string;
  client_id: string;
  trace_id: string;
  ts_ms: bigint | number;
  model_version: number;
  inputs: Uint8Array | { bytes: Uint8Array } | null;
  feature_bins: number[];
  scores: number[];
  label: string;
  value: number | null;
  latency_us: bigint | number;
  status: number;
  error: string;
}

function blobBytes(blob: Stored['inputs']): Uint8Array {
  if (blob === null) return new Uint8Array(0);
  return blob instanceof Uint8Array ? blob : blob.bytes;
}

function floats(blob: Stored['inputs']): number[] {
  const bytes = blobBytes(blob);
  const aligned = new Uint8Array(bytes.byteLength);
  aligned.set(bytes);
  return Array.from(new Float32Array(aligned.buffer, 0, bytes.byteLength / 4));
}

describe('DuckDB chunked prediction inserts', () => {
  let dir: string;
  let path: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'argus-duckdb-chunks-'));
    path = join(dir, 'argus.duckdb');
  });

  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('stores every row of a batch cut into many slices and flushes exactly once, values exact', async () => {
    const store = await DuckDbStore.open({ path });
    await store.migrate();
    const rows: StoredPrediction[] = Array.from({ length: 6000 }, (_, i) => row(i));
    // Edge values among the wide rows: NaN/±Inf scores, a regressor value, bins, a failure.
    rows[3] = row(3, { scores: [NaN, Infinity, -Infinity, 0, -0.5] });
    rows[6] = row(6, { value: 2.5, label: '', scores: [2.5] });
    rows[9] = row(9, { feature_bins: [0, 255, 7] });
    rows[12] = row(12, {
      inputs: [],
      scores: [],
      label: '',
      status: 400,
      error: 'ünïcödé\ttab\nnewline',
    });
    rows[15] = row(15, { inputs: [1.5, -2, 3.25] }); // number[] inputs
    // Text that a text format would have to escape, stored verbatim through the appender.
    rows[18] = row(18, {
      label: '"quoted", comma',
      error: '""\r\nCRLF',
      request_id: 'NULL',
      client_id: 'a\\b\\"c',
      trace_id: '[1,2]',
    });
    rows[21] = row(21, { label: "'; DROP TABLE predictions; --", error: '\\N' });
    rows[24] = row(24, { value: NaN, label: '' });
    const bytes = rows.reduce((sum, r) => sum + 200 + 4 * (r.inputs.length + r.scores.length), 0);
    // Several flushes, each ending a slice, whatever the machine's speed.
    const flushes = Math.max(Math.floor(bytes / FLUSH_BYTES), Math.floor(rows.length / FLUSH_ROWS));
    expect(flushes).toBeGreaterThanOrEqual(5);

    // The event loop runs between slices: count its turns while the insert is in progress.
    const { turns } = await countingLoopTurns(() => store.insertPredictions(rows));
    expect(turns).toBeGreaterThanOrEqual(flushes);

    // At-least-once delivery: the same batch again adds nothing.
    await store.insertPredictions(rows.slice(0, 100));
    await store.close();

    const counts = await duckDbRows(
      path,
      'SELECT count(*) AS n, count(DISTINCT id) AS ids FROM predictions',
    );
    expect(Number(counts[0].n)).toBe(6000);
    expect(Number(counts[0].ids)).toBe(6000);

    const stored = (await duckDbRows(
      path,
      `SELECT id::VARCHAR AS id, request_id, client_id, trace_id, ts_ms, model_version, inputs, feature_bins, scores,
              label, value, latency_us, status, error FROM predictions`,
    )) as unknown as Stored[];
    const byId = new Map(stored.map((s) => [s.id, s]));
    for (const r of rows) {
      const s = byId.get(r.id);
      expect(s).toBeDefined();
      if (!s) continue;
      expect(s.request_id).toBe(r.request_id);
      expect(s.client_id).toBe(r.client_id);
      expect(s.trace_id).toBe(r.trace_id);
      expect(Number(s.ts_ms)).toBe(r.ts);
      expect(s.model_version).toBe(r.model_version);
      expect(s.label).toBe(r.label);
      expect(s.value).toBe(r.value);
      expect(Number(s.latency_us)).toBe(r.latency_us);
      expect(s.status).toBe(r.status);
      expect(s.error).toBe(r.error);
      expect(s.feature_bins).toEqual(r.feature_bins ?? []);
      expect(s.scores.map(Number)).toEqual(Array.from(r.scores));
      expect(floats(s.inputs)).toEqual(Array.from(r.inputs, (v) => Math.fround(v)));
    }
  }, 120_000);

  it('a writer shutdown delivers every queued row through the chunked insert', async () => {
    const store = await DuckDbStore.open({ path });
    await store.migrate();
    const writer = new PredictionWriter({
      store,
      home: dir,
      flushRows: 5000,
      maxBatchRows: 50_000,
      flushIntervalMs: 60_000,
      // Generous: a loaded machine must not turn this into a test of the shutdown deadline.
      shutdownTimeoutMs: 60_000,
      storeTimeoutMs: 60_000,
      logger: { log: () => undefined, warn: () => undefined, error: () => undefined },
    });
    await writer.start();
    const records: PredictionRecord[] = Array.from({ length: 12_345 }, (_, i) => row(i));
    // Requests of 15 rows, as the inference path appends them.
    for (let i = 0; i < records.length; i += 15)
      writer.predictions.append(records.slice(i, i + 15));
    await writer.close();
    const metrics = writer.metrics().tables.predictions;
    expect(metrics.recordsWritten).toBe(records.length);
    expect(metrics.recordsSpooled).toBe(0);
    expect(metrics.recordsDropped).toBe(0);
    await store.close();
    const counts = await duckDbRows(
      path,
      'SELECT count(*) AS n, count(DISTINCT id) AS ids, min(ts_ms) AS lo, max(ts_ms) AS hi FROM predictions',
    );
    expect(Number(counts[0].n)).toBe(records.length);
    expect(Number(counts[0].ids)).toBe(records.length);
    expect(Number(counts[0].lo)).toBe(records[0].ts);
    expect(Number(counts[0].hi)).toBe(records[records.length - 1].ts);
  }, 120_000);
});
