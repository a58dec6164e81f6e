import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VersionProfile } from '../../../src/monitoring/version-profile';
import { monitoringLayout } from '../../../src/monitoring/monitoring-layout';
import {
  evaluateWindow,
  EvaluationTarget,
  EvaluationWindow,
  WindowReport,
} from '../../../src/monitoring/window-evaluation';
import { PredictionRecord } from '../../../src/predictions/prediction-record';
import { PredictionWriter } from '../../../src/predictions/prediction-writer';
import {
  AnalyticsStore,
  MonitoringBinAggregate,
  StoredPrediction,
  StoreKind,
  StoreUnavailableError,
} from '../../../src/store';
import { assignBatchKeys } from '../../../src/store/prediction-aggregates';
import { pollUntil } from '../../harness/polling';
import { openStoreFixture, StoreFixture } from '../store/support';
import {
  CLASS_NAMES,
  feedbackFor,
  storedPredictions,
  syntheticRows,
  referenceProfile,
} from './support';

/**
 * Insert-time aggregates (docs/monitoring.md "Aggregates at ingest") on real stores: a
 * minute-aligned window read from `prediction_aggregates` gives the figures the raw path computes
 * from the predictions table, however the rows were delivered: the same batch twice, units
 * re-chunked into different inserts, or the prediction writer retrying after a lost
 * acknowledgement (async flush and sync-mode spool replay).
 */

const MINUTE = 60_000;
const T0 = Date.UTC(2024, 3, 2, 8, 0, 0);
const quiet = { log: () => undefined, warn: () => undefined, error: () => undefined };

function sortedBins(bins: readonly MonitoringBinAggregate[]): MonitoringBinAggregate[] {
  return [...bins].sort(
    (a, b) => a.label.localeCompare(b.label) || a.position - b.position || a.bin - b.bin,
  );
}

/** The figures of a report that both paths must agree on (floating sums up to rounding). */
function figures(report: WindowReport) {
  const quality = report.quality?.task === 'classification' ? report.quality : null;
  return {
    rows: report.rows,
    labeled_rows: report.labeled_rows,
    monitored_rows: report.drift?.monitored_rows,
    drift: report.drift?.features.map((f) => [f.name, f.method, f.score, f.drift]),
    outputs: report.drift?.outputs.map((f) => [f.name, f.score]),
    accuracy: quality?.accuracy,
    confusion: quality?.confusion_matrix,
    roc_auc: quality?.roc_auc,
    log_loss: quality?.log_loss,
    calibration_error: quality?.calibration_error,
    estimated: report.estimated?.metrics.accuracy?.value,
  };
}

function expectSameFigures(a: WindowReport, b: WindowReport): void {
  const x = figures(a);
  const y = figures(b);
  expect(x.rows).toBe(y.rows);
  expect(x.labeled_rows).toBe(y.labeled_rows);
  expect(x.monitored_rows).toBe(y.monitored_rows);
  expect(x.drift).toEqual(y.drift);
  expect(x.outputs).toEqual(y.outputs);
  expect(x.accuracy).toBe(y.accuracy);
  expect(x.confusion).toEqual(y.confusion);
  expect(x.roc_auc).toBe(y.roc_auc);
  for (const key of ['log_loss', 'calibration_error', 'estimated'] as const) {
    const a = x[key];
    const b = y[key];
    if (a === null || a === undefined || b === null || b === undefined) expect(a).toEqual(b);
    else expect(a).toBeCloseTo(b, 9);
  }
}

describe.each<StoreKind>(['clickhouse', 'duckdb'])('insert-time aggregates on %s', (kind) => {
  let fixture: StoreFixture;
  let profile: VersionProfile;

  const target = (model: string): EvaluationTarget => ({
    model,
    version: 1,
    task: 'classification',
    classNames: CLASS_NAMES,
    profile,
  });

  const binQuery = (model: string, window: EvaluationWindow) => {
    const layout = monitoringLayout(profile);
    return {
      model,
      version: 1,
      from: window.from,
      to: window.to,
      width: layout.width,
      scoreOffset: layout.segmentOffset,
    };
  };

  beforeAll(async () => {
    fixture = await openStoreFixture(kind, 'aggregates');
    await fixture.store.migrate();
    profile = referenceProfile(3000, 41);
  });

  afterAll(async () => {
    await fixture?.cleanup();
  });

  it('gives the raw path figures; the same batch inserted twice counts once', async () => {
    const model = 'twice';
    const rows = syntheticRows(2400, 5, 0.4);
    // 2400 rows 100 ms apart: four minutes, units crossing minute boundaries.
    const predictions = storedPredictions(rows, profile, T0, model).map((p, i) => ({
      ...p,
      ts: T0 + i * 100,
    }));
    // Two flushes of the writer, keyed as it keys them; a third, keyless insert.
    assignBatchKeys(predictions.slice(0, 1600), [1000, 600]);
    await fixture.store.insertPredictions(predictions.slice(0, 1000));
    await fixture.store.insertPredictions(predictions.slice(1000, 1600));
    await fixture.store.insertPredictions(predictions.slice(1600));
    // Retries: each delivery again.
    await fixture.store.insertPredictions(predictions.slice(0, 1000));
    await fixture.store.insertPredictions(predictions.slice(1600));
    await fixture.store.insertFeedback(feedbackFor(predictions.slice(0, 900), rows, T0 + 3600_000));

    const window = { label: 'aligned', from: T0, to: T0 + 5 * MINUTE };
    const aggregates = await fixture.store.monitoringIngestAggregates(binQuery(model, window));
    expect(aggregates.rows).toBe(2400);
    const raw = await fixture.store.monitoringBinAggregates(binQuery(model, window));
    expect(sortedBins(aggregates.bins).map((b) => [b.label, b.position, b.bin, b.count])).toEqual(
      sortedBins(raw).map((b) => [b.label, b.position, b.bin, b.count]),
    );
    sortedBins(aggregates.bins).forEach((b, i) =>
      expect(b.sum_score).toBeCloseTo(sortedBins(raw)[i].sum_score, 6),
    );

    const auto = await evaluateWindow(fixture.store, target(model), window);
    const reference = await evaluateWindow(fixture.store, target(model), window, {
      source: 'raw',
    });
    expect(auto.rows).toBe(2400);
    expect(auto.labeled_rows).toBe(900);
    expectSameFigures(auto, reference);

    // A window that is not minute-aligned takes the raw path and still counts each id once.
    const unaligned = await evaluateWindow(fixture.store, target(model), {
      label: 'unaligned',
      from: T0 + 30_000,
      to: T0 + 150_000,
    });
    expect(unaligned.rows).toBe(1200);
  });

  it('counts a unit once whichever inserts carried it (re-chunked delivery)', async () => {
    const model = 'rechunked';
    const rows = syntheticRows(3000, 6);
    const predictions = storedPredictions(rows, profile, T0, model).map((p, i) => ({
      ...p,
      ts: T0 + i * 50,
    }));
    assignBatchKeys(predictions, [1000, 1000, 1000]);
    // First as one insert of three units, then unit by unit, then two units together.
    await fixture.store.insertPredictions(predictions);
    await fixture.store.insertPredictions(predictions.slice(1000, 2000));
    await fixture.store.insertPredictions(predictions.slice(0, 1000));
    await fixture.store.insertPredictions(predictions.slice(1000));
    const window = { label: 'aligned', from: T0, to: T0 + 3 * MINUTE };
    const aggregates = await fixture.store.monitoringIngestAggregates(binQuery(model, window));
    expect(aggregates.rows).toBe(3000);
    const raw = await fixture.store.monitoringBinAggregates(binQuery(model, window));
    expect(sortedBins(aggregates.bins).map((b) => [b.label, b.position, b.bin, b.count])).toEqual(
      sortedBins(raw).map((b) => [b.label, b.position, b.bin, b.count]),
    );
  });

  it('refuses a window that is not minute-aligned', async () => {
    await expect(
      fixture.store.monitoringIngestAggregates(
        binQuery('twice', { label: 'x', from: T0 + 1, to: T0 + MINUTE }),
      ),
    ).rejects.toThrow(/minute-aligned/);
  });

  /**
   * The real store behind a wrapper that loses the acknowledgement of the first `lose` inserts:
   * the rows are stored, the writer is told the insert failed and retries (spool, replay).
   */
  function losingAcks(store: AnalyticsStore, lose: number) {
    let lost = 0;
    const calls: number[] = [];
    return {
      calls,
      store: {
        insertPredictions: async (rows: PredictionRecord[]) => {
          calls.push(rows.length);
          await store.insertPredictions(rows);
          if (lost < lose) {
            lost++;
            throw new StoreUnavailableError('acknowledgement lost');
          }
        },
        insertFeedback: (rows: Parameters<AnalyticsStore['insertFeedback']>[0]) =>
          store.insertFeedback(rows),
      },
    };
  }

  it.each(['async', 'sync'] as const)(
    'replays a spool left after lost acknowledgements without counting twice (%s mode)',
    async (durability) => {
      const model = `replay_${durability}`;
      const rows = syntheticRows(1500, durability === 'async' ? 7 : 8);
      const records: StoredPrediction[] = storedPredictions(rows, profile, T0, model).map(
        (p, i) => ({ ...p, ts: T0 + i * 60 }),
      );
      const home = mkdtempSync(join(tmpdir(), 'argus-aggregates-writer-'));
      const options = {
        home,
        flushRows: 400,
        flushIntervalMs: 20,
        durability,
        retryInitialMs: 10,
        retryMaxMs: 20,
        shutdownTimeoutMs: 30_000,
        storeTimeoutMs: 30_000,
        logger: quiet,
      };
      try {
        // First run: every insert reaches the store but its acknowledgement is lost, so the writer
        // spools (async: flushes of 400 rows) or keeps (sync: 100-row durable appends) everything.
        const wrapped = losingAcks(fixture.store, Number.POSITIVE_INFINITY);
        const first = new PredictionWriter({ ...options, store: wrapped.store, maxBatchRows: 400 });
        await first.start();
        if (durability === 'sync') {
          for (let i = 0; i < records.length; i += 100) {
            await first.record(records.slice(i, i + 100));
          }
          // Let the replay loop deliver (and lose the acknowledgement of) some spooled frames.
          await pollUntil(
            'a replay attempt',
            async () => (wrapped.calls.length > 0 ? true : undefined),
            10_000,
            10,
          );
        } else {
          first.predictions.append(records);
          await first.flush();
        }
        await first.close();
        expect(wrapped.calls.length).toBeGreaterThan(0);
        // Next start: the spool is replayed in larger batches than the first attempts were.
        const second = new PredictionWriter({
          ...options,
          store: fixture.store,
          maxBatchRows: 4000,
        });
        await second.start();
        await pollUntil(
          'the spool to drain',
          async () =>
            second.predictions.spool.stats().unacknowledgedBytes === 0 ? true : undefined,
          30_000,
          20,
        );
        await second.close();
      } finally {
        rmSync(home, { recursive: true, force: true });
      }
      const window = { label: 'aligned', from: T0, to: T0 + 2 * MINUTE };
      const aggregates = await fixture.store.monitoringIngestAggregates(binQuery(model, window));
      expect(aggregates.rows).toBe(1500);
      const raw = await fixture.store.monitoringBinAggregates(binQuery(model, window));
      expect(sortedBins(aggregates.bins).map((b) => [b.label, b.position, b.bin, b.count])).toEqual(
        sortedBins(raw).map((b) => [b.label, b.position, b.bin, b.count]),
      );
      const auto = await evaluateWindow(fixture.store, target(model), window);
      const reference = await evaluateWindow(fixture.store, target(model), window, {
        source: 'raw',
      });
      expect(auto.rows).toBe(1500);
      expectSameFigures(auto, reference);
    },
  );

  // Last: it empties the fixture's old days.
  it('drops the aggregates with their predictions (retention)', async () => {
    const model = 'retained';
    await fixture.store.insertPredictions(
      storedPredictions(syntheticRows(300, 9), profile, T0, model),
    );
    const window = { label: 'aligned', from: T0, to: T0 + MINUTE };
    const before = await fixture.store.monitoringIngestAggregates(binQuery(model, window));
    expect(before.rows).toBe(300);
    const report = await fixture.store.dropPartitionsOlderThan(1);
    expect(report.dropped.some((d) => d.startsWith('prediction_aggregates'))).toBe(true);
    const after = await fixture.store.monitoringIngestAggregates(binQuery(model, window));
    expect(after.rows).toBe(0);
    expect(after.bins).toEqual([]);
  });
});
