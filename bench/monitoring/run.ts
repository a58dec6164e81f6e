import { createClient } from '@clickhouse/client';
import { DuckDBInstance } from '@duckdb/node-api';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { compileLayout, monitoringLayout } from '../../src/monitoring/monitoring-layout';
import { buildVersionProfile, VersionProfile } from '../../src/monitoring/version-profile';
import {
  evaluateWindow,
  EvaluationTarget,
  WindowReport,
} from '../../src/monitoring/window-evaluation';
import { ModelManifest } from '../../src/registry/manifest';
import { AnalyticsStore } from '../../src/store/analytics-store';
import { ClickHouseStore } from '../../src/store/clickhouse-store';
import { DuckDbStore } from '../../src/store/duckdb-store';
import { bindSql, SqlDialect, SqlParams } from '../../src/store/sql-escape';
import { ClickHouseServer } from '../../test/harness/clickhouse-server';

/**
 * The monitoring benchmark (issue 6, DESIGN.md §7). In one run, against one private
 * clickhouse-server started here and one DuckDB file:
 *
 *   - N logged predictions of a 20-feature binary classifier are generated server-side
 *     (`INSERT … SELECT … FROM numbers(N)`, `feature_bins` included, 10 % with feedback and their
 *     `labeled_predictions` rows, as insertFeedback writes them);
 *   - ONE full evaluation of the window holding them (`evaluateWindow`: every feature's drift,
 *     output drift, quality with ROC AUC / log loss / calibration, CBPE, coverage) is timed against
 *     a raw scan of the same columns (`SELECT sum(…)`) of the same rows;
 *   - at 1M and 10M rows on ClickHouse (linearity), and 1M on DuckDB.
 *
 * Also the ingest cost of computing `feature_bins` (µs per row) for this layout and a wide
 * (784-pixel, PCA) one. Prints a table with ratios against the target (evaluation ≤ 2 × raw scan)
 * and writes bench/results/monitoring.json.
 *
 *   node -r ts-node/register/transpile-only bench/monitoring/run.ts [--sizes 1000000,10000000]
 */

const ROOT = resolve(__dirname, '..', '..');
const TARGET_RATIO = 2;
const FEATURES = 20;
const CATEGORICAL = 4;
const DAY_MS = 86_400_000;
const BASE_TS = Date.UTC(2024, 5, 1);

const HELP = `usage: node -r ts-node/register/transpile-only bench/monitoring/run.ts [options]

  --sizes LIST     ClickHouse row counts (default 1000000,10000000)
  --duckdb N       DuckDB row count (default 1000000; 0 skips DuckDB)
  --repeats N      timed repetitions per measurement, median reported (default 3)
  --unit-rows N    predictions per delivery unit (writer flush) in the insert-time aggregates
                   (default 5000, a full flush; a 1 s flush at R rows/s makes units of R rows)
  --out FILE       results file (default bench/results/monitoring.json)
  --help
`;

function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function manifest(name: string): ModelManifest {
  return {
    name,
    version: 1,
    created_at: new Date(BASE_TS).toISOString(),
    sha256: '0'.repeat(64),
    size_bytes: 1,
    task: 'classification',
    inputs: [{ name: 'input', datatype: 'FP32', shape: [-1, FEATURES] }],
    outputs: [{ name: 'probabilities', datatype: 'FP32', shape: [-1, 2] }],
    feature_names: Array.from({ length: FEATURES }, (_, j) => `f${j}`),
    class_names: ['negative', 'positive'],
    primary_output: 'probabilities',
    label_output: null,
    batching: null,
    description: '',
    metadata: {},
    training: null,
    lineage: {
      parent_version: null,
      training_job_id: null,
      dataset: null,
      metrics: null,
      gate: null,
    },
  };
}

/** Reference: 16 uniform numerical features, 4 categorical codes 0..4; P(positive) uniform. */
function referenceProfile(): VersionProfile {
  const random = seeded(7);
  const rows: number[][] = [];
  const outputs: number[][] = [];
  const labels: string[] = [];
  for (let i = 0; i < 5000; i++) {
    rows.push(
      Array.from({ length: FEATURES }, (_, j) =>
        j < FEATURES - CATEGORICAL ? Math.fround(random()) : Math.floor(random() * 5),
      ),
    );
    const p = Math.fround(Math.floor(random() * 10000) / 10000);
    outputs.push([Math.fround(1 - p), p]);
    labels.push(random() < p ? 'positive' : 'negative');
  }
  return buildVersionProfile(manifest('reference'), { rows, outputs, labels }, 'registration');
}

/**
 * SQL expression of the bin index of `x` for numerical edges (the layout of
 * src/monitoring/stats/feature-bins.ts), used to generate `feature_bins` server-side.
 */
function binExpression(edges: readonly number[], x: string, dialect: SqlDialect): string {
  const k = edges.length - 1;
  const flag = (condition: string) =>
    dialect === 'clickhouse' ? `(${condition})` : `CAST(${condition} AS INTEGER)`;
  const interior = edges
    .slice(1, k)
    .map((e) => flag(`${x} >= ${String(e)}`))
    .join(' + ');
  const inRange = `1${interior ? ' + ' + interior : ''}`;
  return `(CASE WHEN ${x} < ${String(edges[0])} THEN ${k + 1} WHEN ${x} > ${String(edges[k])} THEN ${k + 2} ELSE ${inRange} END)`;
}

/** Per-row generated values: uniform u_j from a hash of (row, j), p from (row, 50). */
function generationSql(profile: VersionProfile, dialect: SqlDialect, model: string, rows: number) {
  const layout = monitoringLayout(profile);
  const u = (j: number) =>
    dialect === 'clickhouse'
      ? `(intHash32(number * 64 + ${j}) / 4294967296.0)`
      : `((hash(i * 64 + ${j}) % 4294967296) / 4294967296.0)`;
  const p =
    dialect === 'clickhouse'
      ? `toFloat32(floor(${u(50)} * 10000) / 10000)`
      : `CAST(floor(${u(50)} * 10000) / 10000 AS FLOAT)`;
  const bins: string[] = [];
  layout.features.forEach((f, j) => {
    if (f.type === 'numerical') bins.push(binExpression(f.edges, u(j), dialect));
    else {
      // categories are codes 0..4 in frequency order: the bin of code c is its index + 1.
      const code = `floor(${u(j)} * 5)`;
      const index = f.categories
        .map((c, i) => `if(${code} = ${String(c)}, ${i + 1}, 0)`)
        .join(' + ');
      bins.push(`(${index})`);
    }
  });
  bins.push(binExpression(layout.scores[0].edges, `(1 - ${p})`, dialect));
  bins.push(binExpression(layout.scores[1].edges, p, dialect));
  for (const calibrator of layout.cbpe?.calibrators ?? []) {
    const score = bins.length === layout.segmentOffset ? `(1 - ${p})` : p;
    const flag = (c: string) => (dialect === 'clickhouse' ? `(${c})` : `CAST(${c} AS INTEGER)`);
    bins.push(`(${calibrator.knots.map((k) => flag(`${score} >= ${String(k)}`)).join(' + ')})`);
  }
  const step = DAY_MS / rows;
  const params: SqlParams = { model, rows, base: BASE_TS };
  if (dialect === 'clickhouse') {
    return bindSql(
      dialect,
      `INSERT INTO predictions (id, request_id, ts_ms, model, model_version, route, client_id, trace_id, span_id, protocol, inputs, feature_bins, scores, label, value, latency_us, batch_size, status, error)
SELECT generateUUIDv4(), '', {base} + toUInt64(number * ${String(step)}), {model}, 1, 'champion', '', '', '', 'v2', [],
       [${bins.map((b) => `toUInt8(${b})`).join(', ')}],
       [toFloat32(1 - ${p}), ${p}], if(${p} >= 0.5, 'positive', 'negative'), NULL, 100, 1, 200, ''
FROM numbers({rows})`,
      params,
    ).text;
  }
  return bindSql(
    dialect,
    `INSERT INTO predictions (id, request_id, ts_ms, model, model_version, route, client_id, trace_id, span_id, protocol, inputs, feature_bins, scores, label, value, latency_us, batch_size, status, error)
SELECT gen_random_uuid(), '', {base} + CAST(floor(i * ${String(step)}) AS BIGINT), {model}, 1, 'champion', '', '', '', 'v2', ''::BLOB,
       [${bins.map((b) => `CAST(${b} AS UTINYINT)`).join(', ')}],
       [CAST(1 - ${p} AS FLOAT), ${p}], CASE WHEN ${p} >= 0.5 THEN 'positive' ELSE 'negative' END, NULL, 100, 1, 200, ''
FROM range({rows}) AS t(i)`,
    params,
  ).text;
}

/**
 * The insert-time aggregates of the generated rows (`prediction_aggregates`, what
 * src/store/prediction-aggregates.ts computes in every real insert), with the rows cut into
 * delivery units of `unitRows` consecutive predictions, as the prediction writer's flushes would.
 */
function aggregatesSql(
  profile: VersionProfile,
  dialect: SqlDialect,
  model: string,
  rows: number,
  unitRows: number,
): string {
  const layout = monitoringLayout(profile);
  const width = layout.width;
  const classes = layout.scores.length;
  const params: SqlParams = {
    model,
    base: BASE_TS,
    rows,
    unitSpan: DAY_MS * unitRows,
    widthKey: width * 1048576,
    offset: width - classes,
    sliceFrom: width - classes + 1,
  };
  const { sliceFrom: _unused, ...duckParams } = params;
  void _unused;
  if (dialect === 'clickhouse') {
    return bindSql(
      dialect,
      `INSERT INTO prediction_aggregates (model, model_version, ts_ms, batch_key, label, status, rows, bin_keys, bin_counts, score_keys, score_sums)
SELECT model, model_version, intDiv(ts_ms, 60000) * 60000 AS minute,
       toString(intDiv((ts_ms - {base}) * {rows}, {unitSpan})) AS batch_key, label, status, count() AS rows,
       tupleElement(sumMap(bk, bc), 1), tupleElement(sumMap(bk, bc), 2),
       tupleElement(sumMap(sk, sv), 1), tupleElement(sumMap(sk, sv), 2)
FROM
(
    SELECT model, model_version, ts_ms, label, status,
           arrayMap((b, i) -> toUInt32({widthKey} + i * 256 + b), feature_bins, arrayEnumerate(feature_bins)) AS bk,
           arrayMap(b -> toUInt64(1), feature_bins) AS bc,
           arrayMap((b, i) -> toUInt32({widthKey} + ({offset} + i) * 256 + b), arraySlice(feature_bins, {sliceFrom}), arrayEnumerate(scores)) AS sk,
           arrayMap(x -> toFloat64(x), scores) AS sv
    FROM predictions WHERE model = {model}
)
GROUP BY model, model_version, minute, batch_key, label, status`,
      params,
    ).text;
  }
  return bindSql(
    dialect,
    `INSERT INTO prediction_aggregates
WITH r AS (
    SELECT model, model_version, (ts_ms // 60000) * 60000 AS minute,
           CAST((ts_ms - {base}) * {rows} // {unitSpan} AS VARCHAR) AS batch_key, label, status,
           feature_bins, scores
    FROM predictions WHERE model = {model}
), g AS (
    SELECT model, model_version, minute, batch_key, label, status, count(*) AS rows
    FROM r GROUP BY ALL
), b AS (
    SELECT model, model_version, minute, batch_key, label, status,
           list(key ORDER BY key) AS bin_keys, list(n ORDER BY key) AS bin_counts
    FROM (SELECT model, model_version, minute, batch_key, label, status, key, count(*) AS n
          FROM (SELECT *, CAST({widthKey} + p * 256 + bin AS UINTEGER) AS key
                FROM (SELECT model, model_version, minute, batch_key, label, status,
                             unnest(range(1, len(feature_bins) + 1)) AS p, unnest(feature_bins) AS bin
                      FROM r))
          GROUP BY ALL)
    GROUP BY ALL
), s AS (
    SELECT model, model_version, minute, batch_key, label, status,
           list(key ORDER BY key) AS score_keys, list(total ORDER BY key) AS score_sums
    FROM (SELECT model, model_version, minute, batch_key, label, status,
                 CAST({widthKey} + ({offset} + c) * 256 + feature_bins[{offset} + c] AS UINTEGER) AS key,
                 sum(CAST(scores[c] AS DOUBLE)) AS total
          FROM (SELECT *, unnest(range(1, len(scores) + 1)) AS c FROM r)
          GROUP BY ALL)
    GROUP BY ALL
)
SELECT g.model, g.model_version, g.minute, g.batch_key, g.label, g.status, g.rows,
       coalesce(b.bin_keys, []), coalesce(b.bin_counts, []),
       coalesce(s.score_keys, []), coalesce(s.score_sums, [])
FROM g
LEFT JOIN b USING (model, model_version, minute, batch_key, label, status)
LEFT JOIN s USING (model, model_version, minute, batch_key, label, status)`,
    duckParams,
  ).text;
}

function feedbackSql(dialect: SqlDialect, model: string): string {
  if (dialect === 'clickhouse') {
    return bindSql(
      dialect,
      `INSERT INTO feedback (prediction_id, ts_ms, label, value, source)
SELECT id, ts_ms + 1000, if(intHash32(ts_ms) % 100 < 80, label, if(label = 'positive', 'negative', 'positive')), NULL, 'bench'
FROM predictions WHERE model = {model} AND intHash32(ts_ms + 7) % 10 = 0`,
      { model },
    ).text;
  }
  return bindSql(
    dialect,
    `INSERT INTO feedback (prediction_id, ts_ms, label, value, source)
SELECT id, ts_ms + 1000, CASE WHEN hash(ts_ms) % 100 < 80 THEN label WHEN label = 'positive' THEN 'negative' ELSE 'positive' END, NULL, 'bench'
FROM predictions WHERE model = {model} AND hash(ts_ms + 7) % 10 = 0`,
    { model },
  ).text;
}

/**
 * `labeled_predictions` of the generated feedback, as insertFeedback writes them at feedback time:
 * each labeled prediction with its latest label, the shape of migration 0003's backfill (restricted
 * to the model).
 */
function labeledSql(dialect: SqlDialect, model: string): string {
  if (dialect === 'clickhouse') {
    return bindSql(
      dialect,
      `INSERT INTO labeled_predictions (prediction_id, ts_ms, model, model_version, route, label, value, scores, status, actual_label, actual_value, feedback_ts_ms)
SELECT id, ts_ms, model, model_version, route, label, value, scores, status, actual_label, actual_value, feedback_ts_ms
FROM
(
    SELECT id, ts_ms, model, model_version, route, label, value, scores, status
    FROM predictions
    WHERE model = {model} AND id IN (SELECT prediction_id FROM feedback)
    LIMIT 1 BY id
)
ANY INNER JOIN
(
    SELECT prediction_id AS id, argMax(label, ts_ms) AS actual_label,
           argMax(value, ts_ms) AS actual_value, max(ts_ms) AS feedback_ts_ms
    FROM feedback
    GROUP BY prediction_id
) USING id`,
      { model },
    ).text;
  }
  return bindSql(
    dialect,
    `INSERT INTO labeled_predictions (prediction_id, ts_ms, model, model_version, route, label, value, scores, status, actual_label, actual_value, feedback_ts_ms)
SELECT p.id, p.ts_ms, p.model, p.model_version, p.route, p.label, p.value, p.scores, p.status, f.label, f.value, f.ts_ms
FROM feedback AS f
JOIN predictions AS p ON p.id = f.prediction_id
WHERE p.model = {model}`,
    { model },
  ).text;
}

/** The raw scan: the same columns of the same rows, summed. */
function rawScanSql(dialect: SqlDialect, model: string): string {
  const where = 'model = {model} AND model_version = 1 AND ts_ms >= {from} AND ts_ms < {to}';
  const params = { model, from: BASE_TS, to: BASE_TS + DAY_MS };
  return dialect === 'clickhouse'
    ? bindSql(
        dialect,
        `SELECT sum(arraySum(feature_bins)) AS bins, sum(arraySum(scores)) AS scores, sum(length(label)) AS labels, count() AS rows, max(id) AS id, sum(status) AS status FROM predictions WHERE ${where}`,
        params,
      ).text
    : bindSql(
        dialect,
        `SELECT sum(list_sum(feature_bins)) AS bins, sum(list_sum(scores)) AS scores, sum(length(label)) AS labels, count(*) AS rows, max(id) AS id, sum(status) AS status FROM predictions WHERE ${where}`,
        params,
      ).text;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

async function timed(repeats: number, fn: () => Promise<unknown>): Promise<number[]> {
  await fn(); // warm-up (caches, first-query compilation), not recorded
  const seconds: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const started = performance.now();
    await fn();
    seconds.push((performance.now() - started) / 1000);
  }
  return seconds;
}

/** Wraps a store so every call's wall time is recorded by method. */
function instrumented(store: AnalyticsStore, times: Map<string, number>): AnalyticsStore {
  return new Proxy(store, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver);
      if (typeof value !== 'function') return value;
      return async (...args: unknown[]) => {
        const started = performance.now();
        try {
          const method = value as (...a: unknown[]) => Promise<unknown>;
          return await method.apply(target, args);
        } finally {
          const name = String(property);
          times.set(name, (times.get(name) ?? 0) + (performance.now() - started) / 1000);
        }
      };
    },
  });
}

interface Measurement {
  store: 'clickhouse' | 'duckdb';
  rows: number;
  labeled_rows: number;
  generate_seconds: number;
  raw_scan_seconds: number;
  evaluation_seconds: number;
  ratio: number;
  target_ratio: number;
  within_target: boolean;
  queries_seconds: Record<string, number>;
  raw_path_evaluation_seconds: number;
  check: Check;
  raw_path_check: Check;
}

interface Check {
  rows: number;
  monitored_rows: number | null;
  labeled_rows: number;
  drift_share: number | null;
  accuracy: number | null;
  roc_auc: number | null;
  estimated_accuracy: number | null;
}

/** Equal up to float summation order (1e-9 relative). */
function sameFigures(a: Check, b: Check): boolean {
  return (Object.keys(a) as (keyof Check)[]).every((k) => {
    const x = a[k];
    const y = b[k];
    if (x === null || y === null) return x === y;
    return Math.abs(x - y) <= 1e-9 * Math.max(1, Math.abs(x), Math.abs(y));
  });
}

function checkOf(report: WindowReport): Check {
  const quality = report.quality?.task === 'classification' ? report.quality : null;
  return {
    rows: report.rows,
    monitored_rows: report.drift?.monitored_rows ?? null,
    labeled_rows: report.labeled_rows,
    drift_share: report.drift?.drift_share ?? null,
    accuracy: quality?.accuracy ?? null,
    roc_auc: quality?.roc_auc ?? null,
    estimated_accuracy: report.estimated?.metrics.accuracy?.value ?? null,
  };
}

async function measure(
  kind: 'clickhouse' | 'duckdb',
  store: AnalyticsStore,
  rawScan: () => Promise<unknown>,
  profile: VersionProfile,
  model: string,
  rows: number,
  generateSeconds: number,
  repeats: number,
): Promise<Measurement> {
  const target: EvaluationTarget = {
    model,
    version: 1,
    task: 'classification',
    classNames: profile.class_names,
    profile,
  };
  const window = { label: '1d', from: BASE_TS, to: BASE_TS + DAY_MS };
  const raw = await timed(repeats, rawScan);
  const evaluation = await timed(repeats, () => evaluateWindow(store, target, window));
  const times = new Map<string, number>();
  const report = await evaluateWindow(instrumented(store, times), target, window);
  // The same evaluation from the predictions table alone (the pre-aggregate path), once: its time
  // for comparison, and its figures must match the aggregate path's.
  const rawPathStarted = performance.now();
  const rawPath = await evaluateWindow(store, target, window, { source: 'raw' });
  const rawPathSeconds = (performance.now() - rawPathStarted) / 1000;
  const rawSeconds = median(raw);
  const evaluationSeconds = median(evaluation);
  return {
    store: kind,
    rows,
    labeled_rows: report.labeled_rows,
    generate_seconds: generateSeconds,
    raw_scan_seconds: rawSeconds,
    evaluation_seconds: evaluationSeconds,
    ratio: evaluationSeconds / rawSeconds,
    target_ratio: TARGET_RATIO,
    within_target: evaluationSeconds / rawSeconds <= TARGET_RATIO,
    queries_seconds: Object.fromEntries(times),
    raw_path_evaluation_seconds: rawPathSeconds,
    check: checkOf(report),
    raw_path_check: checkOf(rawPath),
  };
}

function ingestCost(profile: VersionProfile): Record<string, number> {
  const random = seeded(3);
  const narrow = compileLayout(profile);
  const rows = Array.from({ length: 20_000 }, () =>
    Array.from({ length: FEATURES }, () => random()),
  );
  const scores = [0.3, 0.7];
  const started = performance.now();
  for (const row of rows) narrow.binsOf(row, scores);
  const narrowUs = ((performance.now() - started) * 1000) / rows.length;
  // Wide: 784 values from a few patterns (digit-like, low rank), PCA reconstruction error per row.
  const patterns = Array.from({ length: 4 }, () => Array.from({ length: 784 }, () => random()));
  const image = () => {
    const w = patterns.map(() => random());
    return patterns[0].map((_, j) =>
      Math.min(1, w.reduce((s, wk, k) => s + wk * patterns[k][j], 0) / 2),
    );
  };
  const reference = Array.from({ length: 500 }, image);
  const wide = compileLayout(
    buildVersionProfile(
      {
        ...manifest('wide'),
        feature_names: null,
        inputs: [{ name: 'input', datatype: 'FP32', shape: [-1, 784] }],
      },
      { rows: reference, outputs: reference.map(() => scores) },
      'reference_sample',
    ),
  );
  const wideRows = Array.from({ length: 2000 }, image);
  const wideStarted = performance.now();
  for (const row of wideRows) wide.binsOf(row, scores);
  const wideUs = ((performance.now() - wideStarted) * 1000) / wideRows.length;
  return { narrow_20_features_us_per_row: narrowUs, wide_784_pca_us_per_row: wideUs };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      sizes: { type: 'string', default: '1000000,10000000' },
      duckdb: { type: 'string', default: '1000000' },
      repeats: { type: 'string', default: '3' },
      'unit-rows': { type: 'string', default: '5000' },
      out: { type: 'string', default: join(ROOT, 'bench', 'results', 'monitoring.json') },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return;
  }
  const sizes = values.sizes.split(',').map(Number);
  const duckRows = Number(values.duckdb);
  const repeats = Number(values.repeats);
  const unitRows = Number(values['unit-rows']);
  const profile = referenceProfile();
  const layout = monitoringLayout(profile);
  process.stderr.write(
    `layout: ${layout.width} bins per row (20 features, 2 scores, 2 CBPE segments)\n`,
  );
  const measurements: Measurement[] = [];

  const server = await ClickHouseServer.start();
  const database = 'bench_monitoring';
  const client = createClient({ url: server.url, database: 'default', request_timeout: 3_600_000 });
  try {
    const store = new ClickHouseStore({
      url: server.url,
      user: 'default',
      password: '',
      database,
      requestTimeoutMs: 3_600_000,
    });
    await store.migrate();
    const db = createClient({ url: server.url, database, request_timeout: 3_600_000 });
    for (const rows of sizes) {
      const model = `bench_${rows}`;
      process.stderr.write(`clickhouse: generating ${rows} predictions…\n`);
      const started = performance.now();
      await db.command({ query: generationSql(profile, 'clickhouse', model, rows) });
      await db.command({ query: feedbackSql('clickhouse', model) });
      await db.command({ query: labeledSql('clickhouse', model) });
      await db.command({
        query: aggregatesSql(profile, 'clickhouse', model, rows, unitRows),
      });
      const generateSeconds = (performance.now() - started) / 1000;
      const rawScan = async () => {
        const result = await db.query({
          query: rawScanSql('clickhouse', model),
          format: 'JSONEachRow',
        });
        return result.json();
      };
      const m = await measure(
        'clickhouse',
        store,
        rawScan,
        profile,
        model,
        rows,
        generateSeconds,
        repeats,
      );
      measurements.push(m);
      process.stderr.write(
        `clickhouse ${rows}: raw ${m.raw_scan_seconds.toFixed(3)} s, evaluation ${m.evaluation_seconds.toFixed(3)} s\n`,
      );
    }
    const disk = await client.query({
      query: bindSql(
        'clickhouse',
        'SELECT sum(bytes_on_disk) AS bytes FROM system.parts WHERE active AND database = {database}',
        { database },
      ).text,
      format: 'JSONEachRow',
    });
    process.stderr.write(`clickhouse data on disk: ${JSON.stringify(await disk.json())}\n`);
    await store.close();
    await db.close();
  } finally {
    await client.close();
    await server.dispose();
  }

  if (duckRows > 0) {
    const dir = mkdtempSync(join(tmpdir(), 'argus-bench-duckdb-'));
    try {
      const path = join(dir, 'argus.duckdb');
      const store = await DuckDbStore.open({ path });
      await store.migrate();
      await store.close();
      const model = `bench_${duckRows}`;
      const instance = await DuckDBInstance.create(path);
      const connection = await instance.connect();
      process.stderr.write(`duckdb: generating ${duckRows} predictions…\n`);
      const started = performance.now();
      await connection.run(generationSql(profile, 'duckdb', model, duckRows));
      await connection.run(feedbackSql('duckdb', model));
      await connection.run(labeledSql('duckdb', model));
      await connection.run(aggregatesSql(profile, 'duckdb', model, duckRows, unitRows));
      await connection.run('CHECKPOINT');
      const generateSeconds = (performance.now() - started) / 1000;
      const raw = await timed(repeats, () => connection.runAndReadAll(rawScanSql('duckdb', model)));
      connection.closeSync();
      instance.closeSync();
      const reopened = await DuckDbStore.open({ path });
      const m = await measure(
        'duckdb',
        reopened,
        // Raw scan timed above on a direct connection (the store holds the file's only instance).
        () => Promise.resolve(undefined),
        profile,
        model,
        duckRows,
        generateSeconds,
        repeats,
      );
      m.raw_scan_seconds = median(raw);
      m.ratio = m.evaluation_seconds / m.raw_scan_seconds;
      m.within_target = m.ratio <= TARGET_RATIO;
      measurements.push(m);
      await reopened.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  const ingest = ingestCost(profile);
  const line = (cells: string[]) =>
    cells.map((c, i) => (i < 2 ? c.padEnd(11) : c.padStart(12))).join(' ');
  process.stdout.write(
    '\n' +
      line(['store', 'rows', 'raw scan s', 'evaluation s', 'ratio', 'target', 'verdict']) +
      '\n',
  );
  for (const m of measurements) {
    process.stdout.write(
      line([
        m.store,
        String(m.rows),
        m.raw_scan_seconds.toFixed(3),
        m.evaluation_seconds.toFixed(3),
        `${m.ratio.toFixed(2)}x`,
        `<= ${TARGET_RATIO}x`,
        m.within_target ? 'ok' : 'OVER',
      ]) +
        `   (raw path ${m.raw_path_evaluation_seconds.toFixed(3)} s; figures ${sameFigures(m.check, m.raw_path_check) ? 'equal' : 'DIFFER'})\n`,
    );
  }
  const ch = measurements.filter((m) => m.store === 'clickhouse');
  if (ch.length >= 2) {
    const a = ch[0];
    const b = ch[ch.length - 1];
    process.stdout.write(
      `linearity (clickhouse): rows x${(b.rows / a.rows).toFixed(0)} -> evaluation x${(b.evaluation_seconds / a.evaluation_seconds).toFixed(2)}, raw scan x${(b.raw_scan_seconds / a.raw_scan_seconds).toFixed(2)}\n`,
    );
  }
  process.stdout.write(
    `ingest: feature_bins ${ingest.narrow_20_features_us_per_row.toFixed(2)} us/row (20 features), ${ingest.wide_784_pca_us_per_row.toFixed(1)} us/row (784 pixels, PCA)\n`,
  );
  const out = values.out;
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(
    out,
    JSON.stringify(
      {
        date: new Date().toISOString(),
        cpus: cpus().length,
        target_ratio: TARGET_RATIO,
        measurements,
        ingest,
      },
      null,
      2,
    ) + '\n',
  );
  process.stderr.write(`wrote ${out}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
