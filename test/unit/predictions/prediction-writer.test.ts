import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { PredictionRecord } from '../../../src/predictions/prediction-record';
import {
  PredictionLogUnavailableError,
  PredictionWriter,
  PredictionWriterOptions,
} from '../../../src/predictions/prediction-writer';
import { Spool } from '../../../src/predictions/spool';
import { labeledScores } from '../../../src/store/store-rows';
import {
  CapturingLogger,
  FaultyFileSystem,
  feedback,
  InMemoryStore,
  prediction,
  predictions,
  segmentFiles,
  sleep,
  tempHome,
  waitFor,
} from './support';

const ids = (records: PredictionRecord[]) => records.map((r) => r.id);
const unique = <T>(values: T[]) => [...new Set(values)];

describe('PredictionWriter', () => {
  let home: string;
  let cleanup: () => void;
  let store: InMemoryStore;
  let logger: CapturingLogger;
  let writers: PredictionWriter[];
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);

  const spoolDir = (table = 'predictions') => join(home, 'spool', table);

  function writer(options: Partial<PredictionWriterOptions> = {}): PredictionWriter {
    const w = new PredictionWriter({
      store,
      home,
      flushRows: 100,
      flushIntervalMs: 60_000,
      queueRows: 10_000,
      retryInitialMs: 10,
      retryMaxMs: 50,
      logger,
      ...options,
    });
    writers.push(w);
    return w;
  }

  beforeAll(() => process.on('unhandledRejection', onUnhandled));
  afterAll(() => process.off('unhandledRejection', onUnhandled));

  beforeEach(() => {
    ({ home, cleanup } = tempHome());
    store = new InMemoryStore();
    logger = new CapturingLogger();
    writers = [];
    unhandled.length = 0;
  });

  afterEach(async () => {
    store.mode = 'up';
    await Promise.all(writers.map((w) => w.close()));
    cleanup();
    expect(unhandled).toEqual([]);
  });

  describe('batching', () => {
    it('flushes full batches by size, outside the appending call', async () => {
      const w = writer({ flushRows: 100 });
      for (let i = 0; i < 250; i++) w.predictions.append([prediction(i)]);
      // append() only queues: the store is not called within the request.
      expect(store.calls).toBe(0);
      await waitFor(() => store.predictions.length === 200, 'two size-triggered batches');
      expect(store.acceptedBatches).toEqual([100, 100]);
      expect(w.metrics().queueRows).toBe(50);
      await w.flush();
      expect(store.acceptedBatches).toEqual([100, 100, 50]);
      expect(store.predictionIds()).toEqual(ids(predictions(0, 250)));
    });

    it('flushes a partial batch once it is flushIntervalMs old', async () => {
      const w = writer({ flushRows: 1000, flushIntervalMs: 80 });
      const started = Date.now();
      w.predictions.append(predictions(0, 10));
      await sleep(30);
      expect(store.calls).toBe(0);
      await waitFor(() => store.predictions.length === 10, 'the age-triggered batch');
      expect(Date.now() - started).toBeGreaterThanOrEqual(70);
      expect(store.acceptedBatches).toEqual([10]);
      expect(w.metrics().tables.predictions).toMatchObject({
        recordsWritten: 10,
        batches: { written: 1 },
      });
    });

    it('writes feedback to its own table through the same pipeline', async () => {
      const w = writer({ flushIntervalMs: 20 });
      w.feedback.append([feedback(1), feedback(2)]);
      await waitFor(() => store.feedback.length === 2, 'feedback rows');
      expect(store.predictions).toHaveLength(0);
      expect(w.metrics().tables.feedback.recordsWritten).toBe(2);
    });
  });

  describe('store outage', () => {
    it('spools while the store is down for several flushes, then replays everything in order and empties the spool', async () => {
      const w = writer({ flushRows: 50, flushIntervalMs: 20 });
      store.mode = 'down';
      for (let chunk = 0; chunk < 10; chunk++) {
        w.predictions.append(predictions(chunk * 50, 50));
        await sleep(15);
      }
      await waitFor(
        () => w.metrics().tables.predictions.recordsSpooled === 500,
        'every record spooled',
      );
      expect(store.predictions).toHaveLength(0);
      expect(segmentFiles(spoolDir()).length).toBeGreaterThan(0);
      const during = w.metrics();
      expect(during.spoolBytes).toBeGreaterThan(0);
      expect(during.spoolSegments).toBeGreaterThan(0);
      expect(during.tables.predictions.writeErrors).toBeGreaterThan(1);
      expect(logger.matching('warn', /store write failed/).length).toBeGreaterThan(0);

      store.mode = 'up';
      await waitFor(() => unique(store.predictionIds()).length === 500, 'replay of all 500');
      await waitFor(() => segmentFiles(spoolDir()).length === 0, 'segments deleted');
      // Every record at least once, and in the order it was appended.
      expect(unique(store.predictionIds())).toEqual(ids(predictions(0, 500)));
      const after = w.metrics();
      expect(after).toMatchObject({ spoolBytes: 0, spoolSegments: 0, replayLagSeconds: 0 });
      expect(after.tables.predictions.recordsDropped).toBe(0);
      expect(after.tables.predictions.batches.replayed).toBeGreaterThan(0);

      // Back to direct writes once the backlog is gone.
      const spooledBefore = after.tables.predictions.recordsSpooled;
      w.predictions.append(predictions(500, 50));
      await waitFor(() => store.predictions.length >= 550, 'a direct write');
      expect(w.metrics().tables.predictions.recordsSpooled).toBe(spooledBefore);
    });

    it('treats a store that does not answer as down (flush timeout) and delivers once it answers', async () => {
      const w = writer({ flushRows: 20, storeTimeoutMs: 50 });
      store.mode = 'hang';
      w.predictions.append(predictions(0, 20));
      await waitFor(
        () => w.metrics().tables.predictions.recordsSpooled === 20,
        'the timed-out batch spooled',
      );
      expect(w.metrics().tables.predictions.writeErrors).toBeGreaterThanOrEqual(1);
      store.mode = 'up';
      await waitFor(() => unique(store.predictionIds()).length === 20, 'replay after the hang');
      await waitFor(() => segmentFiles(spoolDir()).length === 0, 'segments deleted');
    });

    it('reports replay lag while a backlog waits and logs replay progress', async () => {
      const w = writer({ flushRows: 10, progressIntervalMs: 1 });
      store.mode = 'down';
      const old = Date.now() - 60_000;
      w.predictions.append(Array.from({ length: 30 }, (_, i) => prediction(i, old)));
      await waitFor(() => w.metrics().tables.predictions.recordsSpooled === 30, 'spooled');
      expect(w.metrics().replayLagSeconds).toBeGreaterThanOrEqual(59);
      store.mode = 'up';
      await waitFor(
        () => logger.matching('log', /replay caught up: 30 rows/).length === 1,
        'the caught-up line',
      );
      expect(w.metrics()).toMatchObject({ spoolSegments: 0, replayLagSeconds: 0 });
      expect(
        logger.matching('log', /replay: \d+ rows replayed, ~\d+ remaining/).length,
      ).toBeGreaterThan(0);
    });

    it('sets aside a batch the store refuses as invalid instead of retrying it forever', async () => {
      const w = writer({ flushRows: 10 });
      store.mode = 'refuse';
      w.predictions.append(predictions(0, 10));
      await waitFor(() => w.metrics().tables.predictions.recordsRejected === 10, 'set aside');
      expect(segmentFiles(join(home, 'spool', 'rejected', 'predictions'))).toHaveLength(1);
      expect(logger.matching('error', /refused a batch of 10 rows/)).toHaveLength(1);
      store.mode = 'up';
      w.predictions.append(predictions(10, 10));
      await waitFor(() => store.predictions.length === 10, 'later batches flow');
      expect(store.predictionIds()).toEqual(ids(predictions(10, 10)));
    });
  });

  describe('queue bound', () => {
    it('sends records that do not fit in the queue to the spool, never dropping them', async () => {
      const w = writer({ queueRows: 100, flushRows: 1000 });
      store.mode = 'down';
      w.predictions.append(predictions(0, 100));
      w.predictions.append(predictions(100, 30)); // does not fit
      expect(w.metrics().queueRows).toBe(100);
      await waitFor(
        () => w.metrics().tables.predictions.recordsSpooled === 30,
        'the overflow spooled',
      );
      store.mode = 'up';
      await waitFor(() => store.predictions.length === 30, 'the overflow replayed');
      expect(store.predictionIds()).toEqual(ids(predictions(100, 30)));
      await w.flush();
      expect(unique(store.predictionIds()).sort()).toEqual(ids(predictions(0, 130)).sort());
      expect(w.metrics().tables.predictions.recordsDropped).toBe(0);
    });
  });

  describe('queue', () => {
    it('drops and counts a record it cannot queue, keeps the others, and never throws', async () => {
      const w = writer({ flushRows: 100 });
      const broken = { ...prediction(1), model: undefined } as unknown as PredictionRecord;
      expect(() => w.predictions.append([prediction(0), broken, prediction(2)])).not.toThrow();
      await w.flush();
      expect(store.predictionIds()).toEqual([prediction(0).id, prediction(2).id]);
      expect(w.metrics().tables.predictions.recordsDropped).toBe(1);
      expect(logger.matching('error', /dropped 1 record.*could not be queued/)).toHaveLength(1);
    });
  });

  describe('disk errors', () => {
    it('counts and logs ENOSPC once per interval, drops only what neither store nor disk took, never crashes', async () => {
      const fs = new FaultyFileSystem();
      const w = writer({ fs, flushRows: 10, logIntervalMs: 60_000 });
      await w.start();
      store.mode = 'down';
      fs.failWrites = 'ENOSPC';
      for (let i = 0; i < 5; i++) {
        w.predictions.append(predictions(i * 10, 10));
        await w.flush();
      }
      const m = w.metrics().tables.predictions;
      expect(m.spoolErrors).toBe(5);
      expect(m.recordsDropped).toBe(50);
      expect(m.batches.dropped).toBe(5);
      const diskErrors = logger.matching('error', /spool append failed.*ENOSPC/);
      expect(diskErrors).toHaveLength(1);
      expect(logger.matching('error', /dropped 10 record/)).toHaveLength(1);

      // The disk and the store recover: the pipeline carries on.
      fs.failWrites = undefined;
      store.mode = 'up';
      w.predictions.append(predictions(100, 10));
      await w.flush();
      expect(store.predictionIds()).toEqual(ids(predictions(100, 10)));
    });

    it('writes to the store when the disk fails but the store is up', async () => {
      const fs = new FaultyFileSystem();
      fs.failOpen = 'EACCES';
      const w = writer({ fs, flushRows: 10 });
      w.predictions.append(predictions(0, 10));
      await w.flush();
      expect(store.predictionIds()).toEqual(ids(predictions(0, 10)));
      expect(w.metrics().tables.predictions.recordsDropped).toBe(0);
    });

    it('in sync mode falls back to the store on a disk error, and rejects (503) when both fail', async () => {
      const fs = new FaultyFileSystem();
      fs.failWrites = 'ENOSPC';
      const w = writer({ fs, durability: 'sync' });
      await w.predictions.appendDurable([prediction(1)]);
      expect(store.predictionIds()).toEqual([prediction(1).id]);
      store.mode = 'down';
      const failed = w.predictions.appendDurable([prediction(2)]);
      await expect(failed).rejects.toBeInstanceOf(PredictionLogUnavailableError);
      await expect(failed).rejects.toMatchObject({ kind: 'unavailable' });
      expect(w.metrics().tables.predictions).toMatchObject({ spoolErrors: 2, recordsDropped: 1 });
    });
  });

  describe('restart', () => {
    it('replays the segments a previous run left', async () => {
      const first = writer({ flushRows: 25 });
      store.mode = 'down';
      first.predictions.append(predictions(0, 100));
      // Feedback carries its looked-up prediction through the spool (labeled_predictions).
      const labeled = {
        ...feedback(1),
        prediction: {
          ts_ms: 1_700_000_000_123,
          model: 'iris',
          model_version: 2,
          route: 'canary',
          label: 'setosa',
          value: null,
          scores: [0.25, NaN, 0.75],
          status: 200,
        },
      };
      first.feedback.append([labeled]);
      await first.close();
      expect(segmentFiles(spoolDir()).length).toBeGreaterThan(0);
      expect(segmentFiles(spoolDir('feedback')).length).toBe(1);
      expect(store.predictions).toHaveLength(0);

      store = new InMemoryStore();
      const second = writer();
      await second.start();
      await waitFor(() => unique(store.predictionIds()).length === 100, 'replay after restart');
      await waitFor(() => store.feedback.length === 1, 'feedback replay after restart');
      const replayed = store.feedback[0].prediction;
      expect({ ...replayed, scores: undefined }).toEqual({
        ...labeled.prediction,
        scores: undefined,
      });
      // JSON frames turn the NaN into null; the store reads it back as NaN.
      expect(labeledScores(replayed?.scores ?? [])).toEqual([0.25, NaN, 0.75]);
      expect(unique(store.predictionIds())).toEqual(ids(predictions(0, 100)));
      await waitFor(() => segmentFiles(spoolDir()).length === 0, 'segments deleted');
      expect(logger.matching('log', /left by a previous run; replaying/).length).toBe(2);
    });
  });

  describe('sync durability', () => {
    it('keeps a record whose append resolved through a crash of the writer', async () => {
      const deadStore = new InMemoryStore();
      deadStore.mode = 'down';
      const crashed = new PredictionWriter({
        store: deadStore,
        home,
        durability: 'sync',
        retryInitialMs: 10,
        retryMaxMs: 20,
        logger,
      });
      const record = prediction(42);
      await crashed.predictions.appendDurable([record]);
      // Resolved means on disk: the frame is in the segment right now.
      const [segment] = segmentFiles(spoolDir());
      expect(readFileSync(join(spoolDir(), segment)).includes(Buffer.from(record.id))).toBe(true);

      // "Crash": the writer is abandoned without close(); a new process starts on the same home.
      const restarted = writer({ durability: 'sync' });
      await restarted.start();
      await waitFor(() => store.predictionIds().includes(record.id), 'the durable record');
      await crashed.close(0); // only to stop its timers in this test process
    });

    it('group-commits 1000 concurrent appends into a handful of fsyncs', async () => {
      const fs = new FaultyFileSystem();
      const w = writer({ fs, durability: 'sync', flushRows: 5000, flushIntervalMs: 20 });
      store.mode = 'down'; // keep replay from deleting segments while we count
      const all = predictions(0, 1000);
      await Promise.all(all.map((r) => w.predictions.appendDurable([r])));
      expect(fs.fileSyncs + fs.directorySyncs).toBeLessThanOrEqual(4);
      expect(fs.fileSyncs).toBeGreaterThanOrEqual(1);
      expect(w.metrics().tables.predictions.recordsSpooled).toBe(1000);

      store.mode = 'up';
      await waitFor(() => unique(store.predictionIds()).length === 1000, 'delivery from the spool');
      expect(unique(store.predictionIds())).toEqual(ids(all));
    });

    it('delivers from the spool once flushRows rows are waiting', async () => {
      const w = writer({ durability: 'sync', flushRows: 20, flushIntervalMs: 60_000 });
      const pending = w.predictions.record([prediction(0)]);
      expect(pending).toBeInstanceOf(Promise); // sync mode: the caller awaits durability
      await pending;
      for (let i = 1; i < 19; i++) await w.predictions.record([prediction(i)]);
      await sleep(50);
      expect(store.calls).toBe(0); // 19 rows: the batch is not full yet
      await w.predictions.record([prediction(19)]);
      await waitFor(() => store.predictions.length === 20, 'the full batch');
      expect(store.acceptedBatches).toEqual([20]);
      await waitFor(() => segmentFiles(spoolDir()).length === 0, 'spool emptied');
    });

    it('delivers a partial batch from the spool once it is flushIntervalMs old', async () => {
      const w = writer({ durability: 'sync', flushRows: 1000, flushIntervalMs: 100 });
      await Promise.all([0, 1, 2].map((i) => w.predictions.appendDurable([prediction(i)])));
      const durableAt = Date.now();
      await waitFor(() => store.predictions.length === 3, 'the aged batch');
      expect(Date.now() - durableAt).toBeGreaterThanOrEqual(80);
      expect(store.acceptedBatches).toEqual([3]);
    });
  });

  describe('shutdown', () => {
    it('flushes the queue to the store', async () => {
      const w = writer({ flushRows: 1000 });
      w.predictions.append(predictions(0, 30));
      w.feedback.append([feedback(0)]);
      await w.close();
      expect(store.predictionIds()).toEqual(ids(predictions(0, 30)));
      expect(store.feedback).toHaveLength(1);
      expect(segmentFiles(spoolDir())).toEqual([]);
    });

    it('spools what a hanging store has not taken by the deadline, for the next start', async () => {
      const w = writer({ flushRows: 1000, storeTimeoutMs: 60_000 });
      store.mode = 'hang';
      w.predictions.append(predictions(0, 30));
      const started = Date.now();
      await w.close(100);
      expect(Date.now() - started).toBeLessThan(2000);
      expect(w.metrics().tables.predictions.recordsSpooled).toBe(30);

      store = new InMemoryStore();
      const next = writer();
      await next.start();
      await waitFor(() => store.predictions.length === 30, 'replay at the next start');
    });

    it('in sync mode delivers the spooled rows still waiting for a batch to a healthy store', async () => {
      const w = writer({ durability: 'sync', flushRows: 1000, flushIntervalMs: 60_000 });
      await w.predictions.appendDurable(predictions(0, 5));
      expect(store.predictions).toHaveLength(0); // lingering until the batch fills
      await w.close();
      expect(store.predictionIds()).toEqual(ids(predictions(0, 5)));
      expect(segmentFiles(spoolDir())).toEqual([]);
    });

    it('does not wait on a store that is down: the spool keeps the rows for the next start', async () => {
      const w = writer({
        durability: 'sync',
        flushIntervalMs: 20,
        retryInitialMs: 5000,
        retryMaxMs: 5000,
      });
      store.mode = 'down';
      await w.predictions.appendDurable(predictions(0, 5));
      await waitFor(() => w.metrics().tables.predictions.writeErrors > 0, 'a failed replay');
      const started = Date.now();
      await w.close();
      expect(Date.now() - started).toBeLessThan(1000);
      expect(segmentFiles(spoolDir())).toHaveLength(1);
    });

    it('counts records appended after close as dropped', async () => {
      const w = writer();
      await w.close();
      w.predictions.append([prediction(1)]);
      expect(w.metrics().tables.predictions.recordsDropped).toBe(1);
      await expect(w.predictions.appendDurable([prediction(2)])).rejects.toBeInstanceOf(
        PredictionLogUnavailableError,
      );
    });
  });

  describe('metrics', () => {
    it('registers the argus_prediction_log_* series on a prom-client registry', async () => {
      const registry = new Registry();
      const w = writer({ registry, flushRows: 10 });
      w.predictions.append(predictions(0, 10));
      await w.flush();
      store.mode = 'down';
      w.predictions.append(predictions(10, 10));
      await w.flush();
      const text = await registry.metrics();
      expect(text).toContain('argus_prediction_log_records_written_total{table="predictions"} 10');
      expect(text).toContain(
        'argus_prediction_log_batches_total{table="predictions",outcome="written"} 1',
      );
      expect(text).toContain(
        'argus_prediction_log_batches_total{table="predictions",outcome="spooled"} 1',
      );
      expect(text).toMatch(/argus_prediction_log_write_errors_total\{table="predictions"\} [1-9]/);
      expect(text).toContain('argus_prediction_log_dropped_total{table="predictions"} 0');
      expect(text).toContain('argus_prediction_log_queue_rows 0');
      expect(text).toMatch(/argus_prediction_log_spool_bytes [1-9]\d*/);
      expect(text).toContain('argus_prediction_log_spool_segments 1');
      expect(text).toMatch(/argus_prediction_log_replay_lag_seconds \d/);
      // Registering again (a second writer in the same process) replaces, never throws.
      expect(() => w.registerMetrics(registry)).not.toThrow();
    });
  });

  it('a spool shared by one segment format: a writer reads what Spool wrote', async () => {
    const spool = new Spool<PredictionRecord>({ directory: spoolDir() });
    await spool.append(predictions(0, 5), true);
    await spool.close();
    const w = writer();
    await w.start();
    await waitFor(() => store.predictions.length === 5, 'replay');
  });
});
