import { DuckDBDataChunk } from '@duckdb/node-api';
import { randomUUID } from 'node:crypto';
import {
  AdaptiveSlices,
  forEachInSlices,
  yieldToEventLoop,
} from '../../../src/common/event-loop-slices';
import { StoredPrediction } from '../../../src/store';
import {
  appendPredictionChunks,
  GROUP_ROWS,
  FLUSH_BYTES,
  INCOMING_PREDICTION_TYPES,
  predictionChunk,
} from '../../../src/store/duckdb-chunks';
import { countingLoopTurns } from '../../harness/event-loop';

/**
 * The slicing of DuckDB prediction appends (src/store/duckdb-chunks.ts) and the slice sizing it
 * uses (src/common/event-loop-slices.ts), without a database: a fake appender records what it is
 * given. Real round trips are in test/integration/logging/duckdb-chunked-insert.test.ts.
 */

function row(i: number, width = 8): StoredPrediction {
  return {
    id: randomUUID(),
    request_id: `r${i}`,
    ts: 1_700_000_000_000 + i,
    model: 'm',
    model_version: 1,
    route: 'champion',
    client_id: '',
    trace_id: '',
    span_id: '',
    inputs: new Float32Array(width).fill(i),
    scores: [0.25, 0.75],
    label: '1',
    value: null,
    latency_us: i,
    batch_size: 1,
    status: 200,
    error: '',
    protocol: 'v1',
  };
}

class FakeAppender {
  /** Ids of each appended chunk, in order. */
  readonly chunks: string[][] = [];
  /** Rows appended before each flush (cumulative). */
  readonly flushes: number[] = [];
  private rows = 0;

  appendDataChunk(chunk: DuckDBDataChunk): void {
    const ids = chunk.getColumnValues(0).map(String);
    this.chunks.push(ids);
    this.rows += ids.length;
  }

  flushSync(): void {
    this.flushes.push(this.rows);
  }
}

describe('AdaptiveSlices', () => {
  it('starts at firstUnits and sizes each slice to the budget from the last one', () => {
    const slices = new AdaptiveSlices({ budgetMs: 1, firstUnits: 64, maxUnits: 2048 });
    expect(slices.next()).toBe(64);
    slices.record(64, 2); // 31.25 µs a unit: 32 fit in 1 ms
    expect(slices.next()).toBe(32);
    slices.record(32, 0.5); // faster: 64 fit, within the 4× growth cap
    expect(slices.next()).toBe(64);
  });

  it('grows at most 4× per slice and stays within its bounds', () => {
    const slices = new AdaptiveSlices({ budgetMs: 1, firstUnits: 10, minUnits: 2, maxUnits: 100 });
    slices.record(10, 0); // "free": capped at 4×
    expect(slices.next()).toBe(40);
    slices.record(40, 0);
    expect(slices.next()).toBe(100); // maxUnits
    slices.record(100, 1000); // very slow: minUnits
    expect(slices.next()).toBe(2);
    slices.record(0, 5); // nothing done: unchanged
    expect(slices.next()).toBe(2);
  });

  it('forEachInSlices visits every index once, in order, handing the loop back between slices', async () => {
    const seen: number[] = [];
    const slices = new AdaptiveSlices({ budgetMs: 1e9, firstUnits: 10, maxUnits: 10 });
    const { turns } = await countingLoopTurns(() =>
      forEachInSlices(95, (i) => seen.push(i), slices),
    );
    expect(seen).toEqual(Array.from({ length: 95 }, (_, i) => i));
    expect(turns).toBeGreaterThanOrEqual(9);
    await forEachInSlices(0, () => {
      throw new Error('no items: never called');
    });
  });

  it('yieldToEventLoop lets due immediates run first', async () => {
    const order: string[] = [];
    setImmediate(() => order.push('immediate'));
    await yieldToEventLoop();
    order.push('after yield');
    expect(order).toEqual(['immediate', 'after yield']);
  });
});

describe('appendPredictionChunks', () => {
  it('appends every row once, in order, in slices, flushing at FLUSH_BYTES and at the end', async () => {
    const rows = Array.from({ length: 1000 }, (_, i) => row(i, 784));
    const appender = new FakeAppender();
    // Fixed slices of 7 rows (budget never reached by the clamp) to make the cut deterministic.
    const slices = new AdaptiveSlices({ budgetMs: 1e9, firstUnits: 7, maxUnits: 7 });
    const count = await appendPredictionChunks(appender, rows, slices, 64 * 1024);
    expect(appender.chunks.flat()).toEqual(rows.map((r) => r.id));
    expect(count).toBe(appender.chunks.length);
    for (const chunk of appender.chunks) expect(chunk.length).toBeLessThanOrEqual(7);
    // 784-value rows are ~3.3 KB: a flush every ~20 rows, and one after the last row.
    expect(appender.flushes.length).toBeGreaterThan(40);
    expect(appender.flushes[appender.flushes.length - 1]).toBe(rows.length);
    for (let i = 1; i < appender.flushes.length; i++) {
      expect(appender.flushes[i]).toBeGreaterThan(appender.flushes[i - 1]);
    }
  });

  it('appends whole groups of GROUP_ROWS through one reused chunk, a short chunk for the rest', async () => {
    const rows = Array.from({ length: 1000 }, (_, i) => row(i));
    const appender = new FakeAppender();
    const seen = new Set<DuckDBDataChunk>();
    const append = appender.appendDataChunk.bind(appender);
    appender.appendDataChunk = (chunk: DuckDBDataChunk): void => {
      if (chunk.rowCount === GROUP_ROWS) seen.add(chunk);
      append(chunk);
    };
    const slices = new AdaptiveSlices({ budgetMs: 1e9, firstUnits: 200, maxUnits: 200 });
    await appendPredictionChunks(appender, rows, slices);
    expect(appender.chunks.flat()).toEqual(rows.map((r) => r.id));
    // Five 200-row slices: three groups and an 8-row rest each.
    expect(appender.chunks.map((c) => c.length)).toEqual([
      ...[64, 64, 64, 8, 64, 64, 64, 8, 64, 64, 64, 8, 64, 64, 64, 8],
      ...[64, 64, 64, 8],
    ]);
    expect(seen.size).toBe(1);
  });

  it('hands the event loop back between slices', async () => {
    const rows = Array.from({ length: 300 }, (_, i) => row(i));
    const appender = new FakeAppender();
    const slices = new AdaptiveSlices({ budgetMs: 1e9, firstUnits: 10, maxUnits: 10 });
    const { result: count, turns } = await countingLoopTurns(() =>
      appendPredictionChunks(appender, rows, slices),
    );
    expect(count).toBe(30);
    expect(turns).toBeGreaterThanOrEqual(29);
    expect(appender.flushes).toEqual([300]); // 8-feature rows: far below FLUSH_BYTES
    expect(FLUSH_BYTES).toBeGreaterThan(300 * 300);
  });

  it('an empty batch appends and flushes nothing', async () => {
    const appender = new FakeAppender();
    expect(await appendPredictionChunks(appender, [])).toBe(0);
    expect(appender.chunks).toEqual([]);
    expect(appender.flushes).toEqual([]);
  });

  it('a reused chunk keeps its column vectors and takes each fill whole, nulls included', () => {
    // The bindings drop a chunk's cached vectors whenever its row count is set, even to the same
    // value; building 19 vectors again per group cost ~2 µs a row (8-feature rows).
    const first = Array.from({ length: GROUP_ROWS }, (_, i) => ({ ...row(i), value: i + 0.5 }));
    const second = Array.from({ length: GROUP_ROWS }, (_, i) => ({
      ...row(100 + i),
      value: i % 2 === 0 ? null : -i,
      label: `l${i}`,
      feature_bins: i % 3 === 0 ? [i % 7] : undefined,
    }));
    const group = DuckDBDataChunk.create(INCOMING_PREDICTION_TYPES, GROUP_ROWS);
    predictionChunk(first, 0, GROUP_ROWS, group);
    const vectors = INCOMING_PREDICTION_TYPES.map((_, c) => group.getColumnVector(c));
    expect(predictionChunk(second, 0, GROUP_ROWS, group)).toBe(group);
    INCOMING_PREDICTION_TYPES.forEach((_, c) => expect(group.getColumnVector(c)).toBe(vectors[c]));
    expect(group.rowCount).toBe(GROUP_ROWS);
    expect(group.getColumnValues(0).map(String)).toEqual(second.map((r) => r.id));
    expect(group.getColumnValues(13)).toEqual(second.map((r) => r.label));
    expect(group.getColumnValues(14)).toEqual(second.map((r) => r.value));
    const bins = group.getColumnValues(11) as Array<{ items: unknown[] }>;
    expect(bins.map((b) => b.items)).toEqual(second.map((r) => r.feature_bins ?? []));
  });

  it('predictionChunk fills every column of the staging table, empty bins as []', () => {
    const rows = [row(0), { ...row(1), feature_bins: [1, 2] }, { ...row(2), inputs: [] }];
    const chunk = predictionChunk(rows, 0, 3);
    expect(chunk.columnCount).toBe(INCOMING_PREDICTION_TYPES.length);
    expect(chunk.rowCount).toBe(3);
    const bins = chunk.getColumnValues(11) as Array<{ items: unknown[] }>;
    expect(bins[0].items).toEqual([]);
    expect(bins[1].items).toEqual([1, 2]);
    expect(chunk.getColumnValues(18)).toEqual(['', '', '']);
  });
});
