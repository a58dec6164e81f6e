import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { AdaptiveSlices, forEachInSlices } from '../common/event-loop-slices';
import { workerEntry } from '../common/worker-threads';
import { FeedbackRecord } from '../predictions/prediction-record';
import { encodePrediction, maxEncodedBytes, newSlab } from '../predictions/prediction-record-codec';
import {
  AnalyticsStore,
  EventQuery,
  FeatureBinCount,
  FirstLoggedQuery,
  LabeledPrediction,
  LabeledPredictionQuery,
  LabelPairCount,
  LatestRowsQuery,
  LoggedPredictionSample,
  MigrateOptions,
  MigrationProgress,
  MigrationReport,
  MonitoringBinAggregate,
  MonitoringBinQuery,
  MonitoringIngestAggregates,
  MonitoringLabelAggregate,
  MonitoringLabelQuery,
  MonitoringQualityAggregates,
  MonitoringRegressionSums,
  MonitoringResult,
  MonitoringResultQuery,
  MonitoringScoreBin,
  PredictionCount,
  PredictionCountFilter,
  PredictionSummary,
  PredictionTimeBucket,
  RetentionReport,
  StoredPrediction,
  StoreEvent,
  StoreTable,
  StoreUnavailableError,
  TimeSeriesQuery,
  WindowQuery,
} from './analytics-store';
import type { DuckDbStoreOptions } from './duckdb-store';
import {
  DuckDbThreadData,
  EncodedPredictions,
  reviveStoreError,
  StoreCall,
  StoreThreadReply,
} from './duckdb-thread-protocol';
import { validatePredictions } from './store-rows';

interface PendingCall {
  resolve(value: unknown): void;
  reject(err: Error): void;
  onProgress?: MigrationProgress;
}

/**
 * The embedded DuckDB store on a thread of its own (`duckdb-store-thread.ts` runs `DuckDbStore`
 * there); this class forwards every `AnalyticsStore` call to it.
 *
 * Why: DuckDB's appender is synchronous. In the serving process it filled data chunks and flushed
 * them on the event loop (`flushSync`, ~4 ms per 1024 narrow rows), so a 2000-row flush held the
 * loop in stretches of 4-10 ms and every request behind one waited. At 2000 tabular requests/s
 * the p99 was 10.5-13.3 ms with the insert and 2.9-5.1 ms with the same log dropped just before
 * it (logging off: 2.5-5.6 ms); docs/prediction-log.md, session 10. Here the serving thread only
 * encodes a batch into one block (~1 µs a row, in ~1 ms slices) and transfers it.
 *
 * Calls keep their order: DuckDbStore runs its operations one after another in arrival order, as
 * it did on the serving thread. Errors come back as the classes callers match on
 * (`reviveStoreError`). If the thread dies, every call in flight and every later call fails with
 * `StoreUnavailableError`, so the prediction writer spools instead of losing rows.
 */
export class DuckDbThreadStore implements AnalyticsStore {
  readonly kind = 'duckdb' as const;
  private nextId = 1;
  private readonly pending = new Map<number, PendingCall>();
  private failure: string | undefined;
  private closing: Promise<void> | undefined;
  private readonly encodeSlices = new AdaptiveSlices({ firstUnits: 256, maxUnits: 8192 });

  private constructor(private readonly worker: Worker) {
    // Like an open DuckDbStore, an idle thread does not keep the process alive; a call in flight
    // does (`send` refs it, `forget` unrefs it), or a CLI awaiting one would exit early.
    worker.unref();
    worker.on('message', (reply: StoreThreadReply) => this.onReply(reply));
    worker.on('error', (err) => this.fail(`the DuckDB store thread failed: ${err.message}`));
    worker.on('exit', (code) => this.fail(`the DuckDB store thread exited (code ${code})`));
  }

  /** Starts the thread and opens the file there; throws `StoreUnavailableError` as `DuckDbStore.open` does. */
  static async open(options: DuckDbStoreOptions): Promise<DuckDbThreadStore> {
    const entry = workerEntry(__dirname, 'duckdb-store-thread', path.extname(__filename));
    const data: DuckDbThreadData = { path: options.path, migrationsDir: options.migrationsDir };
    const worker = new Worker(entry.filename, {
      workerData: data,
      execArgv: entry.execArgv,
      env: entry.env,
    });
    const opened = await new Promise<StoreThreadReply>((resolve) => {
      worker.once('message', resolve);
      worker.once('error', (err) =>
        resolve({
          type: 'failed',
          error: { name: 'StoreUnavailableError', message: err.message, kind: null, details: null },
        }),
      );
    });
    if (opened.type !== 'ready') {
      await worker.terminate();
      throw opened.type === 'failed'
        ? reviveStoreError(opened.error)
        : new StoreUnavailableError('the DuckDB store thread did not start');
    }
    return new DuckDbThreadStore(worker);
  }

  private onReply(reply: StoreThreadReply): void {
    if (reply.type === 'ready' || reply.type === 'failed') return;
    const call = this.pending.get(reply.id);
    if (!call) return;
    if (reply.type === 'progress') {
      call.onProgress?.(reply.line);
      return;
    }
    this.forget(reply.id);
    if (reply.type === 'result') call.resolve(reply.value);
    else call.reject(reviveStoreError(reply.error));
  }

  private fail(reason: string): void {
    this.failure ??= reason;
    for (const call of this.pending.values()) call.reject(new StoreUnavailableError(reason));
    this.pending.clear();
  }

  private send<T>(
    request: Omit<StoreCall, 'id'> | Omit<EncodedPredictions, 'id'>,
    transfer?: ArrayBuffer[],
    onProgress?: MigrationProgress,
  ): Promise<T> {
    if (this.failure !== undefined) return Promise.reject(new StoreUnavailableError(this.failure));
    const id = this.nextId++;
    if (this.pending.size === 0) this.worker.ref();
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve, reject, onProgress });
      try {
        this.worker.postMessage({ ...request, id }, transfer);
      } catch (err) {
        // A value the structured clone cannot copy: this call fails, the store goes on.
        this.forget(id);
        reject(err instanceof Error ? err : new Error(String(err)));
      }
    });
  }

  /** The call `id` is answered: while none is in flight, the thread does not hold the process. */
  private forget(id: number): void {
    this.pending.delete(id);
    if (this.pending.size === 0) this.worker.unref();
  }

  private call<T>(method: keyof AnalyticsStore, ...args: unknown[]): Promise<T> {
    return this.send<T>({ method, args });
  }

  migrate(onProgress?: MigrationProgress, options?: MigrateOptions): Promise<MigrationReport> {
    // The callback stays here; the thread posts its lines back (`progress` replies).
    return this.send({ method: 'migrate', args: [null, options] }, undefined, onProgress);
  }

  ping(): Promise<void> {
    return this.call('ping');
  }

  /**
   * Validated here first, so a refused batch fails exactly as in `DuckDbStore` (the encoding keeps
   * bins as bytes and would hide an out-of-range bin). Then encoded a slice at a time into one
   * block, which is transferred, not copied.
   */
  async insertPredictions(rows: readonly StoredPrediction[]): Promise<void> {
    if (rows.length === 0) return;
    validatePredictions(rows);
    let size = 0;
    for (const row of rows) size += maxEncodedBytes(row);
    const slab = newSlab(size);
    let end = 0;
    await forEachInSlices(
      rows.length,
      (i) => (end = encodePrediction(slab, end, rows[i], 0)),
      this.encodeSlices,
    );
    const bytes = new Uint8Array(slab.bytes.buffer, slab.bytes.byteOffset, end);
    // newSlab allocates an ArrayBuffer of its own (never pooled), so it can be given away.
    return this.send({ method: 'insertPredictions', bytes, count: rows.length }, [
      slab.bytes.buffer as ArrayBuffer,
    ]);
  }

  insertFeedback(rows: readonly FeedbackRecord[]): Promise<void> {
    return this.call('insertFeedback', rows);
  }

  lookupPredictions(ids: readonly string[]): Promise<Map<string, PredictionSummary>> {
    return this.call('lookupPredictions', ids);
  }

  countPredictions(filter?: PredictionCountFilter): Promise<PredictionCount[]> {
    return this.call('countPredictions', filter);
  }

  labeledPredictions(query: LabeledPredictionQuery): Promise<LabeledPrediction[]> {
    return this.call('labeledPredictions', query);
  }

  labelPairCounts(query: WindowQuery): Promise<LabelPairCount[]> {
    return this.call('labelPairCounts', query);
  }

  featureBinCounts(query: WindowQuery): Promise<FeatureBinCount[]> {
    return this.call('featureBinCounts', query);
  }

  predictionTimeSeries(query: TimeSeriesQuery): Promise<PredictionTimeBucket[]> {
    return this.call('predictionTimeSeries', query);
  }

  insertMonitoringResults(rows: readonly MonitoringResult[]): Promise<void> {
    return this.call('insertMonitoringResults', rows);
  }

  listMonitoringResults(query: MonitoringResultQuery): Promise<MonitoringResult[]> {
    return this.call('listMonitoringResults', query);
  }

  insertEvents(rows: readonly StoreEvent[]): Promise<void> {
    return this.call('insertEvents', rows);
  }

  listEvents(query?: EventQuery): Promise<StoreEvent[]> {
    return this.call('listEvents', query);
  }

  dropPartitionsOlderThan(days: number): Promise<RetentionReport> {
    return this.call('dropPartitionsOlderThan', days);
  }

  compact(): Promise<void> {
    return this.call('compact');
  }

  rowCounts(): Promise<Record<StoreTable, number>> {
    return this.call('rowCounts');
  }

  monitoringBinAggregates(query: MonitoringBinQuery): Promise<MonitoringBinAggregate[]> {
    return this.call('monitoringBinAggregates', query);
  }

  monitoringLabelAggregates(query: MonitoringLabelQuery): Promise<MonitoringLabelAggregate[]> {
    return this.call('monitoringLabelAggregates', query);
  }

  monitoringScoreHistogram(query: WindowQuery): Promise<MonitoringScoreBin[]> {
    return this.call('monitoringScoreHistogram', query);
  }

  monitoringIngestAggregates(query: MonitoringBinQuery): Promise<MonitoringIngestAggregates> {
    return this.call('monitoringIngestAggregates', query);
  }

  monitoringQualityAggregates(query: MonitoringLabelQuery): Promise<MonitoringQualityAggregates> {
    return this.call('monitoringQualityAggregates', query);
  }

  monitoringRegressionSums(query: WindowQuery): Promise<MonitoringRegressionSums> {
    return this.call('monitoringRegressionSums', query);
  }

  latestRowsWindow(query: LatestRowsQuery): Promise<{ start: number | null; rows: number }> {
    return this.call('latestRowsWindow', query);
  }

  firstLoggedPredictions(query: FirstLoggedQuery): Promise<LoggedPredictionSample[]> {
    return this.call('firstLoggedPredictions', query);
  }

  /** Closes the database on its thread, then ends the thread. Safe to call twice. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      if (this.failure === undefined) await this.call('close');
      this.failure ??= 'the DuckDB store is closed';
      await this.worker.terminate();
    })();
    return this.closing;
  }
}
