import { randomUUID } from 'node:crypto';
import { windowResults } from '../../../src/monitoring/monitoring-results';
import { VersionProfile } from '../../../src/monitoring/version-profile';
import { evaluateWindow, EvaluationTarget } from '../../../src/monitoring/window-evaluation';
import {
  calibrationBins,
  classificationQuality,
  confusionMatrix,
  expectedCalibrationError,
  logLoss,
  regressionQuality,
  regressionSums,
  rocAuc,
} from '../../../src/monitoring/stats';
import { StoredPrediction, StoreKind } from '../../../src/store';
import { openStoreFixture, StoreFixture } from '../store/support';
import {
  feedbackFor,
  storedPredictions,
  syntheticRows,
  SyntheticRow,
  referenceProfile,
  classifierTarget,
} from './support';

/**
 * The monitoring aggregates on real stores: predictions with known distributions are logged with
 * their feature bins, and what the store's queries + the statistics engine report is compared with
 * values computed directly from the generated rows.
 */

const HOUR = 3_600_000;
const T0 = Date.UTC(2024, 2, 1, 10, 0, 0);
const STEADY = { label: 'steady', from: T0, to: T0 + HOUR };
const DRIFTED = { label: 'drifted', from: T0 + HOUR, to: T0 + 2 * HOUR };
const EMPTY = { label: 'empty', from: T0 + 5 * HOUR, to: T0 + 6 * HOUR };

describe.each<StoreKind>(['clickhouse', 'duckdb'])('monitoring windows on %s', (kind) => {
  let fixture: StoreFixture;
  let profile: VersionProfile;
  let target: EvaluationTarget;
  let steadyRows: SyntheticRow[];
  let steady: StoredPrediction[];

  beforeAll(async () => {
    fixture = await openStoreFixture(kind, 'monitoring');
    await fixture.store.migrate();
    profile = referenceProfile(4000, 11);
    target = classifierTarget(profile);
    steadyRows = syntheticRows(3000, 2);
    steady = storedPredictions(steadyRows, profile, STEADY.from);
    const driftedRows = syntheticRows(3000, 3, 1.5);
    const drifted = storedPredictions(driftedRows, profile, DRIFTED.from);
    await fixture.store.insertPredictions(steady);
    // The same batch again (a retried insert): counts must not change.
    await fixture.store.insertPredictions(steady);
    await fixture.store.insertPredictions(drifted);
    await fixture.store.insertFeedback(feedbackFor(steady, steadyRows, T0 + 3 * HOUR));
    await fixture.store.insertFeedback(
      feedbackFor(drifted.slice(0, 1000), driftedRows.slice(0, 1000), T0 + 3 * HOUR),
    );
  });

  afterAll(async () => {
    await fixture?.cleanup();
  });

  it('finds no drift on a window from the reference distribution, and counts duplicates once', async () => {
    const report = await evaluateWindow(fixture.store, target, STEADY);
    expect(report.rows).toBe(3000);
    expect(report.drift?.monitored_rows).toBe(3000);
    expect(report.drift?.status).toBe('ok');
    expect(report.drift?.features.map((f) => [f.name, f.drift])).toEqual([
      ['signal', false],
      ['uniform', false],
      ['code', false],
    ]);
    expect(report.drift?.drift_share).toBe(0);
    expect(report.drift?.dataset_drift).toBe(false);
    const prediction = report.drift?.outputs.find((o) => o.name === 'prediction');
    expect(prediction?.drift).toBe(false);
  });

  it('flags the shifted feature and the prediction distribution on a drifted window', async () => {
    const report = await evaluateWindow(fixture.store, target, DRIFTED);
    const byName = new Map(report.drift?.features.map((f) => [f.name, f]));
    expect(byName.get('signal')?.drift).toBe(true);
    expect(byName.get('signal')?.method).toBe('wasserstein');
    expect(byName.get('uniform')?.drift).toBe(false);
    expect(byName.get('code')?.drift).toBe(false);
    expect(report.drift?.drift_share).toBeCloseTo(1 / 3, 10);
    expect(report.drift?.outputs.find((o) => o.name === 'prediction')?.drift).toBe(true);
    expect(report.label_coverage).toBeCloseTo(1000 / 3000, 10);
  });

  it('computes quality metrics equal to the ones computed from the rows', async () => {
    const report = await evaluateWindow(fixture.store, target, STEADY);
    const quality = report.quality;
    if (quality?.task !== 'classification') throw new Error('expected classification quality');
    const actual = steadyRows.map((r) => r.actual);
    const predicted = steadyRows.map((r) => r.predicted);
    const direct = classificationQuality(confusionMatrix(actual, predicted, 2));
    expect(quality.status).toBe('ok');
    expect(quality.labeled_rows).toBe(3000);
    expect(quality.label_coverage).toBe(1);
    expect(quality.accuracy).toBeCloseTo(direct.accuracy!, 12);
    expect(quality.macro_f1).toBeCloseTo(direct.macro_f1!, 12);
    expect(quality.macro_precision).toBeCloseTo(direct.macro_precision!, 12);
    expect(quality.confusion_matrix).toEqual(direct.confusion_matrix);
    const scores = steadyRows.map((r) => r.scores);
    expect(quality.log_loss).toBeCloseTo(logLoss(scores, actual)!, 9);
    // Binned ROC AUC (100 score bins) against the exact one.
    expect(
      Math.abs(
        quality.roc_auc! -
          rocAuc(
            scores.map((s) => s[1]),
            actual,
          )!,
      ),
    ).toBeLessThan(0.005);
    const top = scores.map((s) => Math.max(...s));
    const correct = steadyRows.map((r) => (r.actual === r.predicted ? 1 : 0));
    expect(quality.calibration_error).toBeCloseTo(
      expectedCalibrationError(calibrationBins(top, correct))!,
      9,
    );
  });

  it('estimates accuracy without labels (CBPE) close to the true accuracy', async () => {
    const report = await evaluateWindow(fixture.store, target, STEADY);
    const estimated = report.estimated;
    expect(estimated?.status).toBe('ok');
    expect(estimated?.calibration).toBe('fitted_on_labeled_reference');
    const trueAccuracy =
      steadyRows.filter((r) => r.actual === r.predicted).length / steadyRows.length;
    expect(Math.abs(estimated!.metrics.accuracy!.value - trueAccuracy)).toBeLessThan(0.03);
    expect(estimated!.rows).toBe(3000);
  });

  it('reports insufficient data, never NaN, on an empty window', async () => {
    const report = await evaluateWindow(fixture.store, target, EMPTY);
    expect(report.rows).toBe(0);
    expect(report.label_coverage).toBeNull();
    expect(report.drift?.status).toBe('insufficient_data');
    expect(report.drift?.features.every((f) => f.status === 'insufficient_data')).toBe(true);
    expect(report.quality?.status).toBe('insufficient_data');
    expect(report.estimated?.status).toBe('insufficient_data');
    const rows = windowResults(report, { qualityThreshold: 0.8, now: EMPTY.to });
    expect(rows.length).toBeGreaterThan(0);
    expect(rows.every((r) => Number.isFinite(r.value))).toBe(true);
    expect(rows.every((r) => r.status === 'insufficient_data')).toBe(true);
    expect(JSON.stringify(report)).not.toMatch(/NaN/);
  });

  it('compares two windows with each other', async () => {
    const report = await evaluateWindow(fixture.store, target, DRIFTED, { baseline: STEADY });
    expect(report.drift?.compared_with).toBe('window');
    const signal = report.drift?.features.find((f) => f.name === 'signal');
    expect(signal?.drift).toBe(true);
    const same = await evaluateWindow(fixture.store, target, STEADY, { baseline: STEADY });
    expect(same.drift?.features.every((f) => !f.drift && f.score === 0)).toBe(true);
  });

  it('finds the window of the latest N predictions', async () => {
    const latest = await fixture.store.latestRowsWindow({
      model: 'credit',
      version: 1,
      rows: 1000,
      to: T0 + 10 * HOUR,
    });
    expect(latest.rows).toBe(1000);
    expect(latest.start).toBe(DRIFTED.from + 2000);
  });

  it('computes regression quality equal to the one computed from the rows', async () => {
    const random = Array.from({ length: 200 }, (_, i) => ({
      predicted: 10 + Math.sin(i) * 5,
      actual: 10 + Math.sin(i) * 5 + ((i % 7) - 3) * 0.25,
    }));
    const predictions: StoredPrediction[] = random.map((r, i) => ({
      ...steady[0],
      id: randomUUID(),
      model: 'price',
      ts: T0 + i,
      inputs: [],
      scores: [r.predicted],
      label: '',
      value: r.predicted,
      feature_bins: [],
    }));
    await fixture.store.insertPredictions(predictions);
    await fixture.store.insertFeedback(
      predictions.map((p, i) => ({
        prediction_id: p.id,
        ts: T0 + HOUR,
        label: '',
        value: random[i].actual,
        source: 'test',
      })),
    );
    const report = await evaluateWindow(
      fixture.store,
      { model: 'price', version: 1, task: 'regression', classNames: null, profile: null },
      STEADY,
    );
    const direct = regressionQuality(
      regressionSums(
        random.map((r) => r.actual),
        random.map((r) => r.predicted),
      ),
    );
    const quality = report.quality;
    if (quality?.task !== 'regression') throw new Error('expected regression quality');
    expect(quality.rows).toBe(200);
    expect(quality.mae).toBeCloseTo(direct.mae!, 9);
    expect(quality.rmse).toBeCloseTo(direct.rmse!, 9);
    expect(quality.mape).toBeCloseTo(direct.mape!, 9);
    expect(quality.r2).toBeCloseTo(direct.r2!, 9);
    expect(report.drift).toBeNull();
  });
});
