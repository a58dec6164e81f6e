import { createClient } from '@clickhouse/client';
import { DuckDBInstance } from '@duckdb/node-api';
import { mkdtempSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VersionProfile } from '../../../src/monitoring/version-profile';
import { evaluateWindow, WindowReport } from '../../../src/monitoring/window-evaluation';
import { FeedbackRecord } from '../../../src/predictions/prediction-record';
import {
  AnalyticsStore,
  MonitoringQualityAggregates,
  StoredPrediction,
  StoreKind,
} from '../../../src/store';
import { bindSql, joinSql } from '../../../src/store/sql-escape';
import { openStoreFixture, StoreFixture } from '../store/support';
import {
  CLASS_NAMES,
  storedPredictions,
  syntheticRows,
  referenceProfile,
  classifierTarget,
} from './support';

/**
 * Quality from `labeled_predictions` (migration 0003, docs/monitoring.md "Quality"): written at
 * feedback time, read without joining predictions or feedback. Checked against the raw path (the
 * two-query join, `source: 'raw'`) and against labels counted here, however the feedback arrived:
 * with its prediction attached (FeedbackService) or without (older spool frames), sent twice,
 * replaced by a later label, contradicted by an older one; and for feedback given before the
 * migration (its backfill).
 */

const MINUTE = 60_000;
const T0 = Date.UTC(2024, 4, 6, 9, 0, 0);
const WINDOW = { label: 'aligned', from: T0, to: T0 + 5 * MINUTE };

/** 1500 predictions 100 ms apart from T0; every 97th failed (status 503), excluded from quality. */
function predictionsOf(profile: VersionProfile, model: string, seed: number): StoredPrediction[] {
  const rows = syntheticRows(1500, seed, 0.3);
  return storedPredictions(rows, profile, T0, model).map((p, i) => ({
    ...p,
    ts: T0 + i * 100,
    status: i % 97 === 0 ? 503 : 200,
  }));
}

function labelsFor(
  predictions: readonly StoredPrediction[],
  labels: readonly string[],
  ts: number,
): FeedbackRecord[] {
  return predictions.map((p, i) => ({
    prediction_id: p.id,
    ts,
    label: labels[i],
    value: null,
    source: 'test',
  }));
}

function flipped(label: string): string {
  return label === CLASS_NAMES[0] ? CLASS_NAMES[1] : CLASS_NAMES[0];
}

/** Accuracy and labeled rows counted here from the latest label per id (status < 400 only). */
function expectedQuality(
  predictions: readonly StoredPrediction[],
  latest: ReadonlyMap<string, string>,
): { labeled: number; accuracy: number } {
  let labeled = 0;
  let correct = 0;
  for (const p of predictions) {
    const actual = latest.get(p.id);
    if (actual === undefined || p.status >= 400) continue;
    labeled++;
    if (actual === p.label) correct++;
  }
  return { labeled, accuracy: correct / labeled };
}

function sortedQuality(q: MonitoringQualityAggregates) {
  return {
    labels: q.labels
      .map((l) => [l.label, l.actual_label, l.top_bin, l.count, l.log_loss_rows])
      .sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))),
    histogram: q.histogram
      .map((h) => [h.actual_label, h.class_index, h.bin, h.count])
      .sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))),
    sum_log_loss: q.labels.reduce((s, l) => s + l.sum_log_loss, 0),
    sum_top_score: q.labels.reduce((s, l) => s + l.sum_top_score, 0),
    sum_score: q.histogram.reduce((s, h) => s + h.sum_score, 0),
  };
}

/** monitoringQualityAggregates (labeled_predictions) against the two-query join. */
async function expectQualityLikeJoin(store: AnalyticsStore, model: string): Promise<void> {
  const query = { model, version: 1, from: WINDOW.from, to: WINDOW.to };
  const labelQuery = { ...query, classNames: CLASS_NAMES, topScoreBins: 10 };
  const fromLabeled = sortedQuality(await store.monitoringQualityAggregates(labelQuery));
  const fromJoin = sortedQuality({
    labels: await store.monitoringLabelAggregates(labelQuery),
    histogram: await store.monitoringScoreHistogram(query),
  });
  expect(fromLabeled.labels).toEqual(fromJoin.labels);
  expect(fromLabeled.histogram).toEqual(fromJoin.histogram);
  expect(fromLabeled.sum_log_loss).toBeCloseTo(fromJoin.sum_log_loss, 6);
  expect(fromLabeled.sum_top_score).toBeCloseTo(fromJoin.sum_top_score, 6);
  expect(fromLabeled.sum_score).toBeCloseTo(fromJoin.sum_score, 6);
}

function expectSameQuality(auto: WindowReport, raw: WindowReport): void {
  const a = auto.quality?.task === 'classification' ? auto.quality : null;
  const b = raw.quality?.task === 'classification' ? raw.quality : null;
  expect(a).not.toBeNull();
  expect(auto.labeled_rows).toBe(raw.labeled_rows);
  expect(a?.accuracy).toBe(b?.accuracy);
  expect(a?.confusion_matrix).toEqual(b?.confusion_matrix);
  expect(a?.roc_auc).toBe(b?.roc_auc);
  expect(a?.log_loss).toBeCloseTo(b?.log_loss ?? NaN, 9);
  expect(a?.calibration_error).toBeCloseTo(b?.calibration_error ?? NaN, 9);
}

describe.each<StoreKind>(['clickhouse', 'duckdb'])('labeled predictions on %s', (kind) => {
  let fixture: StoreFixture;
  let profile: VersionProfile;

  beforeAll(async () => {
    fixture = await openStoreFixture(kind, 'labeled');
    await fixture.store.migrate();
    profile = referenceProfile(3000, 43);
  });

  afterAll(async () => {
    await fixture?.cleanup();
  });

  it('gives the raw path quality: prediction attached or not, a batch twice, labels replaced', async () => {
    const model = 'labeled';
    const predictions = predictionsOf(profile, model, 5);
    await fixture.store.insertPredictions(predictions);
    const found = await fixture.store.lookupPredictions(predictions.map((p) => p.id));
    expect(found.get(predictions[3].id)).toEqual({
      ts_ms: predictions[3].ts,
      model,
      model_version: 1,
      route: predictions[3].route,
      label: predictions[3].label,
      value: null,
      scores: predictions[3].scores.map((s) => Math.fround(s)),
      status: 200,
    });
    const withPrediction = (records: FeedbackRecord[]): FeedbackRecord[] =>
      records.map((r) => ({ ...r, prediction: found.get(r.prediction_id) }));
    // Ground truth: the predicted label for most rows, the other class for every 4th.
    const truth = predictions.map((p, i) => (i % 4 === 0 ? flipped(p.label) : p.label));
    const latest = new Map<string, { label: string; ts: number }>();
    const send = async (records: FeedbackRecord[]) => {
      await fixture.store.insertFeedback(records);
      for (const r of records) {
        const known = latest.get(r.prediction_id);
        if (known === undefined || known.ts <= r.ts) latest.set(r.prediction_id, r);
      }
    };

    // As FeedbackService sends them (prediction attached), and the same batch again (a retry).
    const attached = withPrediction(labelsFor(predictions.slice(0, 600), truth, T0 + 3600_000));
    await send(attached);
    await send(attached);
    // Without the prediction (a frame spooled by an older version): the store joins it in.
    await send(labelsFor(predictions.slice(600, 1000), truth.slice(600), T0 + 3600_000));
    // Re-sent feedback replacing labels, later: with and without the prediction.
    const replace = (from: number, to: number, ts: number) =>
      predictions.slice(from, to).map((p, i) => ({
        prediction_id: p.id,
        ts,
        label: flipped(truth[from + i]),
        value: null,
        source: 'correction',
      }));
    await send(withPrediction(replace(0, 200, T0 + 7200_000)));
    await send(replace(600, 700, T0 + 7200_000));
    // An older label arriving late does not replace the newer one.
    await send(withPrediction(replace(300, 350, T0 + 1800_000)));

    const expected = expectedQuality(
      predictions,
      new Map([...latest].map(([id, r]) => [id, r.label])),
    );
    const check = async () => {
      await expectQualityLikeJoin(fixture.store, model);
      const auto = await evaluateWindow(fixture.store, classifierTarget(profile, model), WINDOW);
      const raw = await evaluateWindow(fixture.store, classifierTarget(profile, model), WINDOW, {
        source: 'raw',
      });
      expectSameQuality(auto, raw);
      const quality = auto.quality?.task === 'classification' ? auto.quality : null;
      expect(auto.labeled_rows).toBe(expected.labeled);
      expect(quality?.accuracy).toBeCloseTo(expected.accuracy, 12);
    };
    await check();
    // After merges (ClickHouse collapses the duplicates physically): the same figures.
    await fixture.store.compact();
    await check();
  });

  it('labels feedback without its prediction, and skips ids whose prediction is not stored', async () => {
    const model = 'unattached';
    const predictions = predictionsOf(profile, model, 9);
    await fixture.store.insertPredictions(predictions);
    await fixture.store.insertFeedback([
      ...labelsFor(
        predictions,
        predictions.map((p) => flipped(p.label)),
        T0 + 3600_000,
      ),
      {
        prediction_id: '00000000-0000-4000-8000-000000000001',
        ts: T0,
        label: 'positive',
        value: null,
        source: 'test',
      },
    ]);
    const quality = await fixture.store.monitoringQualityAggregates({
      model,
      version: 1,
      from: WINDOW.from,
      to: WINDOW.to,
      classNames: CLASS_NAMES,
      topScoreBins: 10,
    });
    const failed = predictions.filter((p) => p.status >= 400).length;
    expect(quality.labels.reduce((s, l) => s + l.count, 0)).toBe(1500 - failed);
    // Every label is the other class: nothing on the diagonal.
    expect(quality.labels.filter((l) => l.label === l.actual_label)).toEqual([]);
    await expectQualityLikeJoin(fixture.store, model);
  });
});

/**
 * Migration 0003 on a store that already holds predictions and feedback: applied after 0001 and
 * 0002 (the feedback written with SQL, as the version before 0003 wrote it), it backfills
 * `labeled_predictions` with each labeled prediction's latest label.
 */
describe.each<StoreKind>(['clickhouse', 'duckdb'])('migration 0003 backfill on %s', (kind) => {
  let fixture: StoreFixture;
  let heldDir: string;

  beforeAll(async () => {
    fixture = await openStoreFixture(kind, 'backfill');
    heldDir = mkdtempSync(join(tmpdir(), `argus-0003-held-${kind}-`));
  });

  afterAll(async () => {
    await fixture.cleanup();
    rmSync(heldDir, { recursive: true, force: true });
  });

  it('backfills labeled_predictions from the feedback given before it', async () => {
    const { migrationsDir, location } = fixture;
    // The schema as it was before 0003: 0003 and every later migration held back.
    const later = readdirSync(migrationsDir).filter((f) => f >= '0003');
    for (const f of later) renameSync(join(migrationsDir, f), join(heldDir, f));

    const profile = referenceProfile(3000, 43);
    const model = 'before';
    const predictions = predictionsOf(profile, model, 13);
    const truth = predictions.map((p, i) => (i % 3 === 0 ? flipped(p.label) : p.label));
    // 900 labeled; the first 100 labeled twice, the later label (the predicted one) winning.
    const feedback: FeedbackRecord[] = predictions.slice(0, 900).map((p, i) => ({
      prediction_id: p.id,
      ts: T0 + 3600_000,
      label: truth[i],
      value: null,
      source: 'old',
    }));
    const corrections: FeedbackRecord[] = predictions.slice(0, 100).map((p) => ({
      prediction_id: p.id,
      ts: T0 + 7200_000,
      label: p.label,
      value: null,
      source: 'old',
    }));
    const latest = new Map<string, string>();
    for (const r of [...feedback, ...corrections]) latest.set(r.prediction_id, r.label);

    let writeOldFeedback: (rows: FeedbackRecord[]) => Promise<void>;
    if ('database' in location) {
      const db = location.database;
      writeOldFeedback = async (rows) => {
        const client = createClient({
          url: db.url,
          username: db.user,
          password: db.password,
          database: db.database,
        });
        try {
          await client.insert({
            table: 'feedback',
            values: rows.map((r) => ({
              prediction_id: r.prediction_id,
              ts_ms: r.ts,
              label: r.label,
              value: r.value,
              source: r.source,
            })),
            format: 'JSONEachRow',
          });
        } finally {
          await client.close();
        }
      };
    } else {
      const path = location.duckDbPath;
      writeOldFeedback = async (rows) => {
        const instance = await DuckDBInstance.create(path);
        const connection = await instance.connect();
        try {
          const values = rows.map((r) =>
            bindSql('duckdb', '({id}::UUID, {ts}, {label}, NULL, {source})', {
              id: r.prediction_id,
              ts: r.ts,
              label: r.label,
              source: r.source,
            }),
          );
          // The upsert of the version before 0003: one row per id, the latest wins.
          await connection.run(
            bindSql(
              'duckdb',
              `INSERT INTO feedback (prediction_id, ts_ms, label, value, source) VALUES {values}
ON CONFLICT (prediction_id) DO UPDATE SET ts_ms = excluded.ts_ms, label = excluded.label
WHERE excluded.ts_ms >= feedback.ts_ms`,
              { values: joinSql(values, ', ') },
            ).text,
          );
        } finally {
          connection.closeSync();
          instance.closeSync();
        }
      };
    }

    expect((await fixture.store.migrate()).applied).toEqual([
      '0001_init.sql',
      '0002_prediction_aggregates.sql',
    ]);
    await fixture.store.insertPredictions(predictions);
    // Closed while the old version's SQL writes: DuckDB allows one open instance of a file.
    await fixture.store.close();
    await writeOldFeedback(feedback);
    await writeOldFeedback(corrections);

    for (const f of later) renameSync(join(heldDir, f), join(migrationsDir, f));
    const store = await fixture.reopen();
    expect((await store.migrate()).applied).toEqual(later);
    await expectQualityLikeJoin(store, model);
    const auto = await evaluateWindow(store, classifierTarget(profile, model), WINDOW);
    const raw = await evaluateWindow(store, classifierTarget(profile, model), WINDOW, {
      source: 'raw',
    });
    expectSameQuality(auto, raw);
    const expected = expectedQuality(predictions, latest);
    expect(auto.labeled_rows).toBe(expected.labeled);
    const quality = auto.quality?.task === 'classification' ? auto.quality : null;
    expect(quality?.accuracy).toBeCloseTo(expected.accuracy, 12);
  });
});
