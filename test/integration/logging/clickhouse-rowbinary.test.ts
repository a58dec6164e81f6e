import { randomUUID } from 'node:crypto';
import { StoredPrediction } from '../../../src/store';
import { ClickHouseStore } from '../../../src/store/clickhouse-store';
import { freshClickHouseDatabase, TestDatabase } from '../../harness/clickhouse';
import { clickhouseJson } from './support';

/**
 * Predictions reach ClickHouse as RowBinary (src/store/clickhouse-rowbinary.ts). Every column
 * kind is written and read back through the real server, at the edges of the encoding: UUIDs,
 * string lengths around the one-byte length limit, multi-byte UTF-8, Float32Array and number[]
 * floats (narrow and wide paths), NaN/±Inf, empty arrays, NULL, 64-bit integers, and a batch
 * large enough to be streamed in several chunks.
 */

function row(overrides: Partial<StoredPrediction>): StoredPrediction {
  return {
    id: randomUUID(),
    request_id: 'r',
    ts: Date.UTC(2024, 0, 15, 12),
    model: 'rb',
    model_version: 1,
    route: 'champion',
    client_id: '',
    trace_id: '',
    span_id: '',
    inputs: [],
    scores: [],
    label: '',
    value: null,
    latency_us: 0,
    batch_size: 1,
    status: 200,
    error: '',
    protocol: 'v1',
    ...overrides,
  };
}

interface StoredRow {
  id: string;
  request_id: string;
  ts_ms: string;
  ts: string;
  model: string;
  model_version: number;
  route: string;
  inputs: string[];
  feature_bins: number[];
  scores: string[];
  label: string;
  value: string | null;
  latency_us: string;
  batch_size: number;
  status: number;
  error: string;
}

/** ClickHouse's text for a float (`toString`), as a number: nan, inf, -inf spelled out. */
const chFloat = (text: string): number =>
  ({ nan: NaN, '-nan': NaN, inf: Infinity, '-inf': -Infinity })[text] ?? Number(text);

describe('ClickHouse RowBinary inserts of predictions', () => {
  let db: TestDatabase;
  let store: ClickHouseStore;

  beforeAll(async () => {
    db = await freshClickHouseDatabase('rowbinary');
    store = new ClickHouseStore({
      url: db.url,
      user: db.user,
      password: db.password,
      database: db.database,
    });
    await store.migrate();
  });

  afterAll(async () => {
    await store?.close();
    await db?.drop();
  });

  it('stores every column exactly, at the edges of the encoding', async () => {
    const wide = Float32Array.from({ length: 784 }, (_, i) => (i % 7) / 7 - 0.5);
    const rows: StoredPrediction[] = [
      row({
        id: 'FFFFFFFF-0000-4001-8002-0123456789AB', // upper case, high bit set in both halves
        request_id: 'x'.repeat(127),
        model: 'y'.repeat(128),
        route: 'pinned',
        client_id: 'é'.repeat(64), // 128 bytes of UTF-8 in 64 characters
        trace_id: 'z'.repeat(300),
        span_id: '模型🚀',
        inputs: wide,
        feature_bins: [0, 1, 255],
        scores: [NaN, Infinity, -Infinity, 0, -0, 1e-40, 3.4e38],
        label: "'); DROP TABLE predictions; --\n\t\\",
        value: 1.5e300,
        latency_us: 2 ** 40 + 3,
        batch_size: 2 ** 32 - 1,
        status: 65535,
        error: '\0nul and \r\n',
        ts: Date.UTC(2100, 0, 1, 23, 59, 59, 999),
      }),
      row({ inputs: Float32Array.from([1.1, 2.2, 3.3]), value: NaN, scores: [0.25, 0.75] }),
      row({ inputs: Array.from({ length: 40 }, (_, i) => i / 3), value: -Infinity }),
    ];
    await store.insertPredictions(rows);

    const stored = await clickhouseJson<StoredRow>(
      db.url,
      `SELECT toString(id) AS id, request_id, toString(ts_ms) AS ts_ms, toString(ts) AS ts, model,
              model_version, route, arrayMap(x -> toString(x), inputs) AS inputs, feature_bins,
              arrayMap(x -> toString(x), scores) AS scores, label, toString(value) AS value,
              toString(latency_us) AS latency_us, batch_size, status, error, client_id, trace_id,
              span_id
       FROM ${db.database}.predictions`,
    );
    const byId = new Map(stored.map((r) => [r.id, r as StoredRow & Record<string, unknown>]));
    expect(byId.size).toBe(3);
    for (const sent of rows) {
      const got = byId.get(sent.id.toLowerCase());
      expect(got).toBeDefined();
      expect(got).toMatchObject({
        request_id: sent.request_id,
        ts_ms: String(sent.ts),
        model: sent.model,
        model_version: sent.model_version,
        route: sent.route,
        client_id: sent.client_id,
        trace_id: sent.trace_id,
        span_id: sent.span_id,
        feature_bins: sent.feature_bins ?? [],
        label: sent.label,
        latency_us: String(sent.latency_us),
        batch_size: sent.batch_size,
        status: sent.status,
        error: sent.error,
      });
      expect(got!.inputs.map((x) => Math.fround(Number(x)))).toEqual(
        Array.from(sent.inputs, (v) => Math.fround(v)),
      );
      expect(got!.scores.map((x) => Math.fround(chFloat(x)))).toEqual(
        Array.from(sent.scores, (v) => Math.fround(v)),
      );
      expect(chFloat(got!.value!)).toBe(sent.value);
    }
    expect(byId.get(rows[0].id.toLowerCase())!.ts).toBe('2100-01-01 23:59:59');
  });

  it('streams a batch of many chunks (wide rows) without losing or mixing rows', async () => {
    // 3000 rows × 784 floats ≈ 9.5 MB: dozens of 256 KB chunks with event-loop turns in between.
    const source = Float32Array.from({ length: 784 * 16 }, (_, i) => Math.sin(i));
    const rows = Array.from({ length: 3000 }, (_, i) =>
      row({
        model: 'chunks',
        inputs: source.subarray((i % 16) * 784, (i % 16) * 784 + 784),
        scores: [i, -i],
        latency_us: i,
      }),
    );
    let turns = 0;
    const ticker = setInterval(() => turns++, 0);
    try {
      await store.insertPredictions(rows);
    } finally {
      clearInterval(ticker);
    }
    const stored = await clickhouseJson<{
      id: string;
      first: string;
      last: string;
      n: string;
      s: string;
    }>(
      db.url,
      `SELECT toString(id) AS id, toString(inputs[1]) AS first, toString(inputs[784]) AS last,
              length(inputs) AS n, toString(scores[1]) AS s
       FROM ${db.database}.predictions WHERE model = 'chunks'`,
    );
    expect(stored).toHaveLength(3000);
    const byId = new Map(stored.map((r) => [r.id, r]));
    rows.forEach((sent, i) => {
      const got = byId.get(sent.id)!;
      expect([Number(got.n), Number(got.s)]).toEqual([784, i]);
      expect(Math.fround(Number(got.first))).toBe(sent.inputs[0]);
      expect(Math.fround(Number(got.last))).toBe(sent.inputs[783]);
    });
    // The encoder handed the event loop back while it worked.
    expect(turns).toBeGreaterThan(5);
  });
});
