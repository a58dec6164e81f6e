import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OnnxRuntime } from '../../../src/onnx/onnx-runtime';
import { ModelRegistry } from '../../../src/registry/model-registry';
import type { FeedbackRecord } from '../../../src/predictions/prediction-record';
import type { StoredPrediction } from '../../../src/store';
import { classCounts, loadLogDataset, TrainingJobService } from '../../../src/training';
import { CLASSIFIER_META, irisLikeClassifier } from '../../fixtures/models';
import { BASE_TS, feedback, openStoreFixture, prediction, StoreFixture } from '../store/support';
import { CLASSES, irisLikeRows } from './support';

/**
 * Data sets from the prediction log against both real stores: predictions with logged inputs and
 * later ground truth are written, `loadLogDataset` builds the rows (latest label wins, unusable
 * rows skipped and counted), and a training job trains on them and records its lineage and events.
 */

const HOUR = 3_600_000;
const WINDOW = { from: BASE_TS, to: BASE_TS + HOUR };
const JOB = { kind: 'mlp', hidden: [16], epochs: 40, seed: 2, options: { learningRate: 0.01 } };

describe.each(['duckdb', 'clickhouse'] as const)(
  'training from the prediction log (%s)',
  (kind) => {
    let fixture: StoreFixture;
    let home: string;
    let registry: ModelRegistry;
    let runtime: OnnxRuntime;
    let service: TrainingJobService;
    const rows = irisLikeRows(300, 21);

    beforeAll(async () => {
      fixture = await openStoreFixture(kind, 'training_log');
      await fixture.store.migrate();
      home = mkdtempSync(join(tmpdir(), `argus-training-log-${kind}-`));
      runtime = new OnnxRuntime();
      registry = new ModelRegistry({ home }, runtime);
      await registry.register('iris', irisLikeClassifier(), CLASSIFIER_META, { alias: 'champion' });

      const predictions: StoredPrediction[] = [];
      const labels: FeedbackRecord[] = [];
      rows.forEach((row, i) => {
        const p = prediction({ ts: BASE_TS + i * 1000, inputs: row.features, label: 'setosa' });
        predictions.push(p);
        // A wrong label first, corrected later: the data set must hold the latest one.
        if (i % 10 === 0) labels.push(feedback(p.id, 'virginica', p.ts + 100));
        labels.push(feedback(p.id, row.species, p.ts + 500));
      });
      for (let i = 0; i < 10; i++) {
        const p = prediction({ ts: BASE_TS + i * 777, inputs: [] }); // inputs not logged
        predictions.push(p);
        labels.push(feedback(p.id, 'setosa', p.ts + 1));
      }
      for (let i = 0; i < 5; i++) {
        const p = prediction({ ts: BASE_TS + i * 555, inputs: [5, 3, 1, 0.2] });
        predictions.push(p);
        labels.push(feedback(p.id, 'rose', p.ts + 1)); // not a class of the model
      }
      for (let i = 0; i < 5; i++) {
        const p = prediction({ ts: BASE_TS - HOUR + i }); // before the window
        predictions.push(p);
        labels.push(feedback(p.id, 'setosa', p.ts + 1));
      }
      for (let i = 0; i < 20; i++)
        predictions.push(prediction({ id: randomUUID(), ts: BASE_TS + i })); // no ground truth
      await fixture.store.insertPredictions(predictions);
      await fixture.store.insertFeedback(labels);
      service = new TrainingJobService({ home, registry, runtime, store: fixture.store });
      await service.start();
    });

    afterAll(async () => {
      await service?.close();
      await fixture?.cleanup();
      if (home) rmSync(home, { recursive: true, force: true });
    });

    it('builds the data set from labeled predictions in the window, latest label first, skipped rows counted', async () => {
      const loaded = await loadLogDataset({
        store: fixture.store,
        registry,
        model: 'iris',
        version: null,
        ...WINDOW,
      });
      expect(loaded.labeledPredictions).toBe(315);
      expect(loaded.usedPredictions).toBe(300);
      expect(loaded.classNames).toEqual(CLASSES);
      expect(loaded.featureNames).toEqual(CLASSIFIER_META.feature_names);
      expect(loaded.firstRowTs).toBe(BASE_TS);
      expect(loaded.lastRowTs).toBe(BASE_TS + 299_000);
      const { dataset } = loaded;
      if (dataset.task !== 'classification') throw new Error('expected classification data');
      expect(classCounts(dataset)).toEqual([100, 100, 100]);
      // Rows come in time order: row i is the i-th logged prediction, with its own label.
      for (const i of [0, 10, 157, 299]) {
        expect(Array.from(dataset.features.subarray(i * 4, i * 4 + 4))).toEqual(
          rows[i].features.map((v) => Math.fround(v)),
        );
        expect(CLASSES[dataset.labels[i]]).toBe(rows[i].species);
      }
      expect(loaded.notes).toEqual(
        expect.arrayContaining([
          expect.stringMatching(/^10 labeled predictions skipped: had no logged inputs/),
          expect.stringMatching(
            /^5 labeled predictions skipped: had a label that is not one of the model's classes/,
          ),
        ]),
      );
      expect(loaded.reference).toBeNull();
    });

    it('trains a job on it, compares with the champion, records lineage and training events', async () => {
      const submitted = await service.submit('iris', {
        ...JOB,
        data: { source: 'log', from: WINDOW.from, to: WINDOW.to },
      });
      const job = await service.wait(submitted.id);
      expect(job.error).toBeNull();
      expect(job.status).toBe('succeeded');
      expect(job.candidate_version).toBe(2);
      expect(job.dataset).toMatchObject({
        source: {
          type: 'log',
          model: 'iris',
          version: null,
          labeled_predictions: 315,
          used_predictions: 300,
          reference: null,
        },
        rows: 300,
        time_range: {
          from: new Date(WINDOW.from).toISOString(),
          to: new Date(WINDOW.to).toISOString(),
          first_row: new Date(BASE_TS).toISOString(),
          last_row: new Date(BASE_TS + 299_000).toISOString(),
        },
        class_balance: { setosa: 100, versicolor: 100, virginica: 100 },
        target: 'label',
      });
      const candidate = job.metrics?.candidate;
      if (candidate?.task !== 'classification') throw new Error('expected classification metrics');
      expect(candidate.accuracy).toBeGreaterThan(0.9);
      expect(job.metrics?.champion?.rows).toBe(candidate.rows);
      expect(job.gate?.passed).toBe(true);
      expect(job.logs.some((l) => /10 labeled predictions skipped/.test(l))).toBe(true);

      const manifest = await registry.getManifest('iris', 2);
      expect(manifest.lineage.dataset).toEqual(job.dataset);
      expect(manifest.training).toMatchObject({ data: { source: 'log', from: WINDOW.from } });
      expect(await registry.resolveAlias('iris', 'champion')).toBe(1);

      const events = await fixture.store.listEvents({ model: 'iris' });
      const mine = events.filter((e) => e.details.job_id === job.id);
      expect(mine.map((e) => e.type).sort()).toEqual(['training.finished', 'training.started']);
      expect(mine.find((e) => e.type === 'training.finished')).toMatchObject({
        model_version: 2,
        severity: 'info',
        details: { candidate_version: 2, gate_passed: true },
      });
    });

    it("mixes in a trained version's labeled reference sample; a hand-registered version has none", async () => {
      const handRegistered = await loadLogDataset({
        store: fixture.store,
        registry,
        model: 'iris',
        version: 1,
        ...WINDOW,
        includeReference: true,
      });
      expect(handRegistered.reference).toBeNull();
      expect(handRegistered.notes).toEqual(
        expect.arrayContaining([
          expect.stringMatching(/version 1 of 'iris' has no reference-sample\.json/),
        ]),
      );

      await registry.setAlias('iris', 'champion', 2);
      const submitted = await service.submit('iris', {
        ...JOB,
        data: { source: 'log', from: WINDOW.from, to: WINDOW.to, include_reference: true },
      });
      const job = await service.wait(submitted.id);
      expect(job.status).toBe('succeeded');
      expect(job.parent_version).toBe(2);
      // Version 2 kept every one of its 210 training rows (fewer than the 500 a sample may hold).
      expect(job.dataset?.source).toMatchObject({
        type: 'log',
        reference: { version: 2, rows: 210 },
      });
      expect(job.dataset?.rows).toBe(510);
      expect(job.dataset?.class_balance).toEqual({ setosa: 170, versicolor: 170, virginica: 170 });
    });

    it('refuses a window without usable rows, naming it', async () => {
      await expect(
        service.submit('iris', {
          ...JOB,
          data: { source: 'log', from: BASE_TS + 2 * HOUR, to: BASE_TS + 3 * HOUR },
        }),
      ).rejects.toThrow(
        /the data set is empty: no usable labeled predictions of 'iris' between 2024-01-15T14:00:00\.000Z and 2024-01-15T15:00:00\.000Z \(0 labeled predictions found\)/,
      );
    });
  },
);
