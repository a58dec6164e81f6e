import { appendFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { mnistRows } from '../../../bench/serving/payloads';
import { duckDbRows } from '../logging/support';
import {
  MigrationChecksumError,
  MonitoringResult,
  StoreEvent,
  StoreWriteError,
} from '../../../src/store';
import {
  BASE_TS,
  feedback,
  float32,
  HOSTILE_STRINGS,
  openStoreFixture,
  prediction,
  StoreFixture,
  StoreVariant,
  variantKind,
} from './support';

const MINUTE = 60_000;
const DAY = 86_400_000;

const VARIANTS: StoreVariant[] = ['clickhouse', 'duckdb', 'duckdb-thread'];

/**
 * The same behaviour from both stores: every test here runs against ClickHouse and DuckDB, and
 * against DuckDB on its own thread (what the server uses), whose calls cross a thread boundary.
 */
describe.each(VARIANTS)('%s store contract', (variant) => {
  const kind = variantKind(variant);
  describe('migrations', () => {
    let fixture: StoreFixture;
    beforeAll(async () => {
      fixture = await openStoreFixture(variant, 'migrations');
    });
    afterAll(async () => {
      await fixture.cleanup();
    });

    it('applies every migration once, reporting one line per migration', async () => {
      const files = readdirSync(fixture.migrationsDir)
        .filter((f) => f.endsWith('.sql'))
        .sort();
      const lines: string[] = [];
      const first = await fixture.store.migrate((line) => lines.push(line));
      expect(first.applied).toEqual(files);
      expect(first.alreadyApplied).toEqual([]);
      expect(lines).toHaveLength(files.length);
      expect(lines[0]).toMatch(new RegExp(`^migration ${files[0]}: applied`));

      const again: string[] = [];
      const second = await fixture.store.migrate((line) => again.push(line));
      expect(second.applied).toEqual([]);
      expect(second.alreadyApplied).toEqual(files);
      expect(again).toEqual(files.map((f) => `migration ${f}: already applied`));
    });

    it('is idempotent across a restart and applies only new migrations', async () => {
      const store = await fixture.reopen();
      writeFileSync(
        join(fixture.migrationsDir, '0900_contract_extra.sql'),
        '-- added by the contract test\nCREATE TABLE IF NOT EXISTS contract_extra (x ' +
          (kind === 'clickhouse' ? 'UInt8) ENGINE = MergeTree() ORDER BY x' : 'INTEGER)') +
          ';\n',
      );
      const report = await store.migrate();
      expect(report.applied).toEqual(['0900_contract_extra.sql']);
      expect((await store.migrate()).applied).toEqual([]);
    });

    it('refuses an edited, already-applied migration, naming the file', async () => {
      const file = readdirSync(fixture.migrationsDir)
        .filter((f) => f.endsWith('.sql'))
        .sort()[0];
      appendFileSync(join(fixture.migrationsDir, file), '\n-- an edit after the fact\n');
      const attempt = fixture.store.migrate();
      await expect(attempt).rejects.toBeInstanceOf(MigrationChecksumError);
      await expect(fixture.store.migrate()).rejects.toThrow(
        new RegExp(`migration ${file} was edited after it was applied`),
      );
    });
  });

  describe('data', () => {
    let fixture: StoreFixture;
    beforeAll(async () => {
      fixture = await openStoreFixture(variant, 'contract');
      await fixture.store.migrate();
    });
    afterAll(async () => {
      await fixture.cleanup();
    });

    it('answers ping', async () => {
      await expect(fixture.store.ping()).resolves.toBeUndefined();
    });

    it('appends predictions and reads every field back', async () => {
      const p = prediction({
        model: 'roundtrip',
        model_version: 7,
        route: 'canary',
        ts: BASE_TS + 123,
        inputs: [0.1, -2.5, 1e-7, 3.4028234663852886e38],
        scores: [0.25, 0.75],
        label: 'yes',
        latency_us: 987654,
        batch_size: 32,
        protocol: 'v1',
        feature_bins: [0, 4, 255],
      });
      await fixture.store.insertPredictions([p]);

      const found = await fixture.store.lookupPredictions([p.id]);
      expect(found.get(p.id)).toEqual({
        ts_ms: BASE_TS + 123,
        model: 'roundtrip',
        model_version: 7,
        route: 'canary',
        label: 'yes',
        value: null,
        scores: float32(p.scores),
        status: 200,
      });

      await fixture.store.insertFeedback([feedback(p.id, 'no', BASE_TS + 5000)]);
      const rows = await fixture.store.labeledPredictions({
        model: 'roundtrip',
        from: BASE_TS,
        to: BASE_TS + 1000,
      });
      expect(rows).toEqual([
        {
          id: p.id,
          ts: BASE_TS + 123,
          model: 'roundtrip',
          model_version: 7,
          route: 'canary',
          inputs: float32(p.inputs),
          scores: float32(p.scores),
          label: 'yes',
          value: null,
          actual_label: 'no',
          actual_value: null,
          feedback_ts: BASE_TS + 5000,
        },
      ]);
      expect(
        await fixture.store.featureBinCounts({ model: 'roundtrip', from: 0, to: BASE_TS + DAY }),
      ).toEqual([
        { feature: 0, bin: 0, count: 1 },
        { feature: 1, bin: 4, count: 1 },
        { feature: 2, bin: 255, count: 1 },
      ]);
    });

    it('reads wide, mostly-zero inputs and dense ones back bit for bit', async () => {
      // A real MNIST digit (81 % zeros; DuckDB keeps it in its sparse layout), the same with a -0
      // and a NaN among its pixels, and a dense row of the same width.
      const digit = Float32Array.from(mnistRows(1)[0]);
      const marked = digit.slice();
      marked[0] = -0;
      marked[1] = NaN;
      const dense = Float32Array.from({ length: 784 }, (_, i) => 1 + i / 1024);
      const rows = [digit, marked, dense].map((inputs, i) =>
        prediction({
          model: 'wide',
          model_version: 3,
          ts: BASE_TS + i,
          inputs,
          scores: [0.25, 0.5 + i, 0.125],
          label: `digit "${i}"`,
          value: i === 1 ? null : i - 0.5,
        }),
      );
      await fixture.store.insertPredictions(rows);
      const stored = await fixture.store.firstLoggedPredictions({
        model: 'wide',
        version: 3,
        limit: 10,
      });
      const bits = (values: ArrayLike<number>) =>
        Array.from(new Uint32Array(Float32Array.from(values).buffer));
      expect(stored.map((s) => bits(s.inputs))).toEqual(
        [digit, marked, dense].map((inputs) => bits(inputs)),
      );
      expect(stored.map((s) => [s.scores, s.label, s.value])).toEqual(
        rows.map((r) => [r.scores, r.label, r.value]),
      );
      if ('duckDbPath' in fixture.location) {
        // DuckDB: the digits take their sparse layout (src/store/input-blob.ts), the dense row
        // its 4 bytes a value.
        await fixture.store.close();
        const sizes = await duckDbRows(
          fixture.location.duckDbPath,
          `SELECT octet_length(inputs)::INTEGER AS bytes FROM predictions
           WHERE model = 'wide' ORDER BY ts_ms`,
        );
        await fixture.reopen();
        const [digitBytes, markedBytes, denseBytes] = sizes.map((r) => Number(r.bytes));
        expect(digitBytes % 4).toBe(1);
        expect(digitBytes).toBeLessThan((784 * 4) / 3);
        expect(markedBytes).toBe(digitBytes + 8);
        expect(denseBytes).toBe(784 * 4);
      }
    });

    it('stores regression values and non-finite scores', async () => {
      const p = prediction({
        model: 'regressor',
        label: '',
        value: -12.5,
        scores: [NaN, 1.5, Infinity, -Infinity],
      });
      await fixture.store.insertPredictions([p]);
      await fixture.store.insertFeedback([
        feedback(p.id, '', BASE_TS + 1, { value: 3.25, source: 'csv' }),
      ]);
      const [row] = await fixture.store.labeledPredictions({
        model: 'regressor',
        from: BASE_TS,
        to: BASE_TS + 1,
      });
      expect(row.value).toBe(-12.5);
      expect(row.actual_value).toBe(3.25);

      const odd = prediction({ model: 'regressor', value: Infinity, ts: BASE_TS + 2 });
      await fixture.store.insertPredictions([odd]);
      await fixture.store.insertFeedback([feedback(odd.id, '', BASE_TS + 3, { value: NaN })]);
      const [oddRow] = await fixture.store.labeledPredictions({
        model: 'regressor',
        from: BASE_TS + 2,
        to: BASE_TS + 3,
      });
      expect([oddRow.value, oddRow.actual_value]).toEqual([Infinity, NaN]);
      expect((await fixture.store.lookupPredictions([odd.id])).get(odd.id)?.value).toBe(Infinity);
      expect(row.scores).toEqual([NaN, 1.5, Infinity, -Infinity]);
    });

    it('looks up many ids, batched, keyed as given; unknown and non-UUID ids are absent', async () => {
      const rows = Array.from({ length: 2500 }, (_, i) =>
        prediction({ model: 'lookup', model_version: (i % 3) + 1 }),
      );
      await fixture.store.insertPredictions(rows);
      const upper = rows[0].id.toUpperCase();
      const unknown = '00000000-0000-4000-8000-000000000000';
      const found = await fixture.store.lookupPredictions([
        ...rows.map((r) => r.id),
        upper,
        unknown,
        "not-a-uuid'; DROP TABLE predictions; --",
      ]);
      expect(found.size).toBe(2501);
      expect(found.get(rows[5].id)?.model_version).toBe(3);
      expect(found.get(upper)?.model).toBe('lookup');
      expect(found.has(unknown)).toBe(false);
      expect(await fixture.store.lookupPredictions([])).toEqual(new Map());
    });

    it('does not let a batch inserted twice inflate any count', async () => {
      const model = 'duplicates';
      const batch = Array.from({ length: 300 }, (_, i) =>
        prediction({
          model,
          ts: BASE_TS + (i % 3) * MINUTE,
          status: i % 10 === 0 ? 500 : 200,
          label: i % 2 === 0 ? 'a' : 'b',
          feature_bins: [i % 4],
        }),
      );
      await fixture.store.insertPredictions(batch);
      await fixture.store.insertPredictions(batch); // the retry whose acknowledgement was lost
      await fixture.store.insertPredictions(batch.slice(0, 100)); // and a partial one
      await fixture.store.insertFeedback(batch.map((p) => feedback(p.id, 'a', BASE_TS + DAY / 2)));
      await fixture.store.insertFeedback(batch.map((p) => feedback(p.id, 'a', BASE_TS + DAY / 2)));

      const window = { model, from: BASE_TS, to: BASE_TS + DAY };
      const counts = await fixture.store.countPredictions({ model });
      expect(counts).toEqual([
        { model, model_version: 1, route: 'champion', status: 200, count: 270 },
        { model, model_version: 1, route: 'champion', status: 500, count: 30 },
      ]);
      expect(await fixture.store.predictionTimeSeries({ ...window, bucketSeconds: 60 })).toEqual([
        { bucket: BASE_TS, predictions: 100, errors: 10 },
        { bucket: BASE_TS + MINUTE, predictions: 100, errors: 10 },
        { bucket: BASE_TS + 2 * MINUTE, predictions: 100, errors: 10 },
      ]);
      expect(await fixture.store.labeledPredictions(window)).toHaveLength(300);
      expect(await fixture.store.labelPairCounts(window)).toEqual([
        { label: 'a', actual_label: 'a', count: 150 },
        { label: 'b', actual_label: 'a', count: 150 },
      ]);
      expect(await fixture.store.featureBinCounts(window)).toEqual(
        [0, 1, 2, 3].map((bin) => ({ feature: 0, bin, count: 75 })),
      );

      // After the physical collapse, plain row counts equal the distinct ids too.
      await fixture.store.compact();
      const before = await fixture.store.countPredictions({});
      const physical = await fixture.store.rowCounts();
      const distinct = before.reduce((sum, c) => sum + c.count, 0);
      expect(physical.predictions).toBe(distinct);
    });

    it('stores the new rows of a batch that also holds already-stored ids, each id once', async () => {
      const model = 'overlap';
      // Past the appender's 1024-row flush, so the duplicate fails a flush in the middle.
      const first = Array.from({ length: 1500 }, (_, i) =>
        prediction({ model, ts: BASE_TS + i, feature_bins: [i % 2] }),
      );
      const fresh = Array.from({ length: 1300 }, (_, i) =>
        prediction({ model, ts: BASE_TS + 2000 + i, feature_bins: [i % 2] }),
      );
      await fixture.store.insertPredictions(first);
      // A re-sent unit with new rows behind it: the stored ids must neither fail the batch nor
      // count twice, and the new ids must all land.
      await fixture.store.insertPredictions([...fresh.slice(0, 600), ...first.slice(200, 1400)]);
      await fixture.store.insertPredictions(fresh.slice(600));
      const counts = await fixture.store.countPredictions({ model });
      expect(counts).toEqual([
        { model, model_version: 1, route: 'champion', status: 200, count: 2800 },
      ]);
      const found = await fixture.store.lookupPredictions([...first, ...fresh].map((p) => p.id));
      expect(found.size).toBe(2800);
      await fixture.store.compact();
      const physical = await fixture.store.rowCounts();
      const all = await fixture.store.countPredictions({});
      expect(physical.predictions).toBe(all.reduce((sum, c) => sum + c.count, 0));
    });

    it('replaces a label when feedback for the same id is sent again; the latest ts wins', async () => {
      const p = prediction({ model: 'upsert' });
      const q = prediction({ model: 'upsert', ts: BASE_TS + 1 });
      await fixture.store.insertPredictions([p, q]);
      const window = { model: 'upsert', from: BASE_TS, to: BASE_TS + DAY };

      await fixture.store.insertFeedback([feedback(p.id, 'first', BASE_TS + 1000)]);
      await fixture.store.insertFeedback([feedback(p.id, 'second', BASE_TS + 2000)]);
      let rows = await fixture.store.labeledPredictions(window);
      expect(rows.map((r) => [r.id, r.actual_label, r.feedback_ts])).toEqual([
        [p.id, 'second', BASE_TS + 2000],
      ]);

      // A late-arriving older label does not overwrite a newer one.
      await fixture.store.insertFeedback([feedback(p.id, 'stale', BASE_TS + 1500)]);
      // Within one batch, the latest by ts wins whatever the order.
      await fixture.store.insertFeedback([
        feedback(q.id, 'q-new', BASE_TS + 9000),
        feedback(q.id, 'q-old', BASE_TS + 8000),
      ]);
      rows = await fixture.store.labeledPredictions(window);
      expect(rows.map((r) => [r.id, r.actual_label])).toEqual([
        [p.id, 'second'],
        [q.id, 'q-new'],
      ]);

      await fixture.store.compact();
      expect((await fixture.store.labeledPredictions(window)).map((r) => r.actual_label)).toEqual([
        'second',
        'q-new',
      ]);
    });

    it('joins labels over a time window: [from, to), labeled rows only, oldest first', async () => {
      const model = 'window';
      const rows = [0, 1, 2, 3, 4].map((i) =>
        prediction({ model, ts: BASE_TS + i * 10 * MINUTE + 7, label: `p${i}` }),
      );
      await fixture.store.insertPredictions(rows);
      // rows[2] never gets a label.
      await fixture.store.insertFeedback(
        [0, 1, 3, 4].map((i) => feedback(rows[i].id, `t${i}`, BASE_TS + DAY)),
      );
      const result = await fixture.store.labeledPredictions({
        model,
        from: rows[1].ts,
        to: rows[4].ts, // exclusive
      });
      expect(result.map((r) => [r.label, r.actual_label])).toEqual([
        ['p1', 't1'],
        ['p3', 't3'],
      ]);
      const limited = await fixture.store.labeledPredictions({
        model,
        from: 0,
        to: BASE_TS + DAY,
        limit: 2,
      });
      expect(limited.map((r) => r.label)).toEqual(['p0', 'p1']);
    });

    it('counts per model, version and route, with filters', async () => {
      const rows = [
        ...Array.from({ length: 3 }, () => prediction({ model: 'cnt-a', model_version: 1 })),
        ...Array.from({ length: 2 }, () =>
          prediction({ model: 'cnt-a', model_version: 2, route: 'shadow' }),
        ),
        prediction({
          model: 'cnt-a',
          model_version: 2,
          route: 'shadow',
          status: 400,
          error: 'bad',
        }),
        prediction({ model: 'cnt-b', model_version: 1, ts: BASE_TS + DAY }),
      ];
      await fixture.store.insertPredictions(rows);
      expect(await fixture.store.countPredictions({ model: 'cnt-a' })).toEqual([
        { model: 'cnt-a', model_version: 1, route: 'champion', status: 200, count: 3 },
        { model: 'cnt-a', model_version: 2, route: 'shadow', status: 200, count: 2 },
        { model: 'cnt-a', model_version: 2, route: 'shadow', status: 400, count: 1 },
      ]);
      expect(
        await fixture.store.countPredictions({ model: 'cnt-a', version: 2, route: 'shadow' }),
      ).toHaveLength(2);
      expect(
        await fixture.store.countPredictions({
          model: 'cnt-b',
          from: BASE_TS,
          to: BASE_TS + DAY,
        }),
      ).toEqual([]);
      expect(
        await fixture.store.countPredictions({
          model: 'cnt-b',
          from: BASE_TS + DAY,
          to: BASE_TS + DAY + 1,
        }),
      ).toHaveLength(1);
    });

    it('stores hostile model names, labels, feature names and event fields verbatim', async () => {
      for (const [i, name] of HOSTILE_STRINGS.entries()) {
        const p = prediction({
          model: name,
          label: name,
          error: name,
          route: 'champion',
          ts: BASE_TS + i,
        });
        await fixture.store.insertPredictions([p]);
        await fixture.store.insertFeedback([feedback(p.id, name, BASE_TS + DAY, { source: name })]);

        expect(await fixture.store.countPredictions({ model: name })).toEqual([
          { model: name, model_version: 1, route: 'champion', status: 200, count: 1 },
        ]);
        const [row] = await fixture.store.labeledPredictions({
          model: name,
          from: 0,
          to: BASE_TS + DAY,
        });
        expect([row.model, row.label, row.actual_label]).toEqual([name, name, name]);
        expect((await fixture.store.lookupPredictions([p.id])).get(p.id)?.model).toBe(name);
        expect(
          await fixture.store.labelPairCounts({ model: name, from: 0, to: BASE_TS + DAY }),
        ).toEqual([{ label: name, actual_label: name, count: 1 }]);
      }

      const results: MonitoringResult[] = HOSTILE_STRINGS.map((name, i) => ({
        model: 'hostile-monitoring',
        model_version: 1,
        window_start: BASE_TS + i * MINUTE,
        window_end: BASE_TS + (i + 1) * MINUTE,
        metric: 'psi',
        feature: name,
        value: i / 10,
        threshold: 0.2,
        status: 'ok',
        ts: BASE_TS + DAY,
      }));
      await fixture.store.insertMonitoringResults(results);
      const stored = await fixture.store.listMonitoringResults({ model: 'hostile-monitoring' });
      expect(stored.map((r) => r.feature).sort()).toEqual([...HOSTILE_STRINGS].sort());

      const events: StoreEvent[] = HOSTILE_STRINGS.map((name, i) => ({
        ts: BASE_TS + i,
        type: name,
        model: name,
        model_version: 0,
        severity: 'warning',
        details: { name, nested: { list: [name, 1, null] } },
      }));
      await fixture.store.insertEvents(events);
      for (const event of events) {
        expect(await fixture.store.listEvents({ type: event.type })).toEqual([event]);
      }
    });

    it('lists monitoring results and events with their filters', async () => {
      const result = (metric: string, minute: number, value: number): MonitoringResult => ({
        model: 'mon',
        model_version: 2,
        window_start: BASE_TS + minute * MINUTE,
        window_end: BASE_TS + (minute + 5) * MINUTE,
        metric,
        feature: '',
        value,
        threshold: null,
        status: value > 0.5 ? 'alert' : 'ok',
        ts: BASE_TS + (minute + 5) * MINUTE + 250,
      });
      await fixture.store.insertMonitoringResults([
        result('accuracy', 0, 0.9),
        result('accuracy', 5, 0.4),
        result('error_rate', 5, NaN),
      ]);
      expect(
        await fixture.store.listMonitoringResults({ model: 'mon', metric: 'accuracy' }),
      ).toEqual([result('accuracy', 5, 0.4), result('accuracy', 0, 0.9)]);
      await fixture.store.insertMonitoringResults([
        { ...result('error_rate', 10, 0), value: -Infinity, threshold: Infinity },
      ]);
      const nonFinite = await fixture.store.listMonitoringResults({
        model: 'mon',
        metric: 'error_rate',
      });
      expect(nonFinite.map((r) => [r.value, r.threshold])).toEqual([
        [-Infinity, Infinity],
        [NaN, null],
      ]);
      expect(
        await fixture.store.listMonitoringResults({ model: 'mon', from: BASE_TS + 5 * MINUTE }),
      ).toHaveLength(3);

      const event = (type: string, ts: number): StoreEvent => ({
        ts,
        type,
        model: 'mon',
        model_version: 2,
        severity: 'info',
        details: {},
      });
      await fixture.store.insertEvents([
        event('lifecycle.promoted', BASE_TS + 1),
        event('lifecycle.promoted', BASE_TS + 3),
        event('training.finished', BASE_TS + 2),
      ]);
      expect((await fixture.store.listEvents({ model: 'mon' })).map((e) => e.ts)).toEqual([
        BASE_TS + 3,
        BASE_TS + 2,
        BASE_TS + 1,
      ]);
      expect(
        await fixture.store.listEvents({ model: 'mon', type: 'lifecycle.promoted', limit: 1 }),
      ).toEqual([event('lifecycle.promoted', BASE_TS + 3)]);
      expect(await fixture.store.listEvents({ model: 'mon', from: BASE_TS + 2 })).toHaveLength(2);
    });

    it('refuses malformed rows with a StoreWriteError naming them, writing nothing', async () => {
      const good = prediction({ model: 'refused' });
      const bad = prediction({ model: 'refused', id: 'not-a-uuid', status: 70000 });
      const attempt = fixture.store.insertPredictions([good, bad]);
      await expect(attempt).rejects.toBeInstanceOf(StoreWriteError);
      await expect(fixture.store.insertPredictions([good, bad])).rejects.toThrow(
        /row 1 .*id is not a UUID.*status must be an integer/,
      );
      expect(await fixture.store.countPredictions({ model: 'refused' })).toEqual([]);
      await expect(
        fixture.store.insertFeedback([feedback('nope', 'x', BASE_TS)]),
      ).rejects.toBeInstanceOf(StoreWriteError);
    });
  });

  describe('retention', () => {
    let fixture: StoreFixture;
    beforeAll(async () => {
      fixture = await openStoreFixture(variant, 'retention');
      await fixture.store.migrate();
    });
    afterAll(async () => {
      await fixture.cleanup();
    });

    it('drops data older than the retention period and keeps recent data and events', async () => {
      const now = Date.now();
      const old = prediction({ model: 'ret', ts: now - 10 * DAY });
      const edge = prediction({ model: 'ret', ts: now - 2 * DAY });
      const recent = prediction({ model: 'ret', ts: now });
      await fixture.store.insertPredictions([old, edge, recent]);
      await fixture.store.insertFeedback([
        feedback(old.id, 'x', now - 10 * DAY),
        feedback(recent.id, 'y', now),
      ]);
      const monitoring = (ts: number): MonitoringResult => ({
        model: 'ret',
        model_version: 1,
        window_start: ts - MINUTE,
        window_end: ts,
        metric: 'accuracy',
        feature: '',
        value: 1,
        threshold: null,
        status: 'ok',
        ts,
      });
      await fixture.store.insertMonitoringResults([monitoring(now - 10 * DAY), monitoring(now)]);
      await fixture.store.insertEvents([
        {
          ts: now - 10 * DAY,
          type: 'audit',
          model: 'ret',
          model_version: 1,
          severity: 'info',
          details: {},
        },
      ]);

      const report = await fixture.store.dropPartitionsOlderThan(3);
      expect(report.rows).toBeGreaterThanOrEqual(3);
      expect(report.dropped.length).toBeGreaterThan(0);

      const counts = await fixture.store.countPredictions({ model: 'ret' });
      expect(counts.reduce((sum, c) => sum + c.count, 0)).toBe(2);
      const found = await fixture.store.lookupPredictions([old.id, edge.id, recent.id]);
      expect([...found.keys()].sort()).toEqual([edge.id, recent.id].sort());
      const labeled = await fixture.store.labeledPredictions({
        model: 'ret',
        from: 0,
        to: now + DAY,
      });
      expect(labeled.map((r) => r.id)).toEqual([recent.id]);
      expect(await fixture.store.listMonitoringResults({ model: 'ret' })).toHaveLength(1);
      expect(await fixture.store.listEvents({ model: 'ret' })).toHaveLength(1);

      // Nothing left to drop: a second run is a no-op.
      expect(await fixture.store.dropPartitionsOlderThan(3)).toEqual({ dropped: [], rows: 0 });
    });

    it('refuses a retention of less than one day', async () => {
      await expect(fixture.store.dropPartitionsOlderThan(0)).rejects.toThrow(RangeError);
    });
  });
});
