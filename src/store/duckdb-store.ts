import {
  BIGINT,
  BOOLEAN,
  DOUBLE,
  DuckDBAppender,
  DuckDBConnection,
  DuckDBDataChunk,
  DuckDBInstance,
  DuckDBListValue,
  DuckDBType,
  DuckDBValue,
  FLOAT,
  LIST,
  listValue,
  UINTEGER,
  USMALLINT,
  VARCHAR,
} from '@duckdb/node-api';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { forEachInSlices } from '../common/event-loop-slices';
import { FeedbackRecord } from '../predictions/prediction-record';
import {
  AnalyticsStore,
  EventQuery,
  FirstLoggedQuery,
  LatestRowsQuery,
  LoggedPredictionSample,
  MonitoringBinAggregate,
  MonitoringBinQuery,
  MonitoringIngestAggregates,
  MonitoringLabelAggregate,
  MonitoringLabelQuery,
  MonitoringQualityAggregates,
  MonitoringRegressionSums,
  MonitoringScoreBin,
  FeatureBinCount,
  LabeledPrediction,
  LabeledPredictionQuery,
  LabelPairCount,
  MigrateOptions,
  MigrationProgress,
  MigrationReport,
  MonitoringResult,
  MonitoringResultQuery,
  MonitoringStatus,
  PredictionCount,
  PredictionCountFilter,
  PredictionSummary,
  PredictionTimeBucket,
  RetentionReport,
  StoreError,
  StoreEvent,
  StoredPrediction,
  StoreQueryError,
  StoreTable,
  StoreUnavailableError,
  StoreWriteError,
  TimeSeriesQuery,
  WindowQuery,
} from './analytics-store';
import {
  DUCKDB_DERIVED_TABLES,
  DUCKDB_MONITORING_SQL as MONITORING_SQL,
  DUCKDB_RETENTION_TABLES,
  DUCKDB_SQL as SQL,
} from './duckdb-queries';
import { appendPredictionChunks } from './duckdb-chunks';
import { decodeInputBlob } from './input-blob';
import {
  AggregateLabelSums,
  aggregatePredictionsInSlices,
  binAggregatesFromSums,
  isMinuteAligned,
  qualityFromRows,
} from './prediction-aggregates';
import {
  MigrationFile,
  migrationsDirFor,
  ProgressReporting,
  runMigrations,
  runStatements,
  StatementProgress,
} from './migrations';
import { BoundSql, bindSql, identifier, joinSql, sqlList, SqlParams } from './sql-escape';
import {
  chunks,
  isUuid,
  labeledScores,
  latestFeedbackPerId,
  retentionCutoffMs,
  validateEvents,
  validateFeedback,
  validateMonitoringResults,
  validatePredictions,
} from './store-rows';
import {
  DEFAULT_EVENT_LIMIT,
  DEFAULT_LABELED_LIMIT,
  DEFAULT_MONITORING_LIMIT,
  LOOKUP_BATCH,
  parseEventDetails,
  toNullableNumber,
  toNumber,
} from './store-values';

export interface DuckDbStoreOptions {
  /** Database file (`${ARGUS_HOME}/argus.duckdb`), or ':memory:'. */
  path: string;
  /** Defaults to `migrations/duckdb` at the package root; tests point it at a copy. */
  migrationsDir?: string;
}

type Operation = 'read' | 'write';

/** Rows per multi-row VALUES statement for the low-volume tables. */
const VALUES_BATCH = 500;

/** A DOUBLE literal; NaN/±Inf have no numeric literal, so they are cast from text. */
function duckDouble(value: number): number | BoundSql {
  if (Number.isFinite(value)) return value;
  const text = Number.isNaN(value) ? 'NaN' : value > 0 ? 'Infinity' : '-Infinity';
  return bindSql('duckdb', 'CAST({text} AS DOUBLE)', { text });
}

function classifyDuckDbError(err: unknown, action: string, op: Operation): StoreError {
  if (err instanceof StoreError) return err;
  const message = err instanceof Error ? err.message : String(err);
  const text = `DuckDB ${action} failed: ${message.split('\n')[0]}`;
  // I/O errors (disk full, file locked by another process) may clear; anything else is our input.
  if (/^IO Error/i.test(message)) return new StoreUnavailableError(text, { cause: err });
  return op === 'write'
    ? new StoreWriteError(text, { cause: err })
    : new StoreQueryError(text, { cause: err });
}

/**
 * The embedded store: one DuckDB file, one connection. Operations run one at a time through
 * `exclusive`, because an insert is several statements (append to staging, move, clear) that must
 * not interleave with another insert on the same connection.
 */
export class DuckDbStore implements AnalyticsStore {
  readonly kind = 'duckdb' as const;
  private tail: Promise<unknown> = Promise.resolve();
  private closed = false;

  private constructor(
    private readonly instance: DuckDBInstance,
    private readonly connection: DuckDBConnection,
    private readonly migrationsDir: string,
  ) {}

  static async open(options: DuckDbStoreOptions): Promise<DuckDbStore> {
    try {
      if (options.path !== ':memory:') mkdirSync(dirname(options.path), { recursive: true });
      const instance = await DuckDBInstance.create(options.path);
      const connection = await instance.connect();
      await connection.run(SQL.checkpointThreshold);
      await connection.run(SQL.createPredictionsIncoming);
      await connection.run(SQL.createFeedbackIncoming);
      return new DuckDbStore(
        instance,
        connection,
        options.migrationsDir ?? migrationsDirFor('duckdb'),
      );
    } catch (err) {
      throw new StoreUnavailableError(
        `cannot open DuckDB database ${options.path}: ${err instanceof Error ? err.message : String(err)}`,
        { cause: err },
      );
    }
  }

  private exclusive<T>(action: string, op: Operation, fn: () => Promise<T>): Promise<T> {
    const run = async (): Promise<T> => {
      if (this.closed) throw new StoreUnavailableError(`DuckDB ${action}: the store is closed`);
      try {
        return await fn();
      } catch (err) {
        throw classifyDuckDbError(err, action, op);
      }
    };
    const result = this.tail.then(run, run);
    // The chain only orders operations; each caller sees its own result or error.
    this.tail = result.catch(() => undefined);
    return result;
  }

  private bind(template: string, params?: SqlParams): BoundSql {
    return bindSql('duckdb', template, params);
  }

  private async rows(sql: BoundSql): Promise<Record<string, unknown>[]> {
    const reader = await this.connection.runAndReadAll(sql.text);
    return reader.getRowObjectsJS();
  }

  private async select(action: string, sql: BoundSql): Promise<Record<string, unknown>[]> {
    return this.exclusive(action, 'read', () => this.rows(sql));
  }

  /** Runs `body` in a transaction, rolling back on failure. Caller holds `exclusive`. */
  private async transaction(body: () => Promise<void>): Promise<void> {
    await this.connection.run(SQL.begin);
    try {
      await body();
      await this.connection.run(SQL.commit);
    } catch (err) {
      await this.connection.run(SQL.rollback).catch(() => undefined);
      throw err;
    }
  }

  async migrate(
    onProgress?: MigrationProgress,
    options?: MigrateOptions,
  ): Promise<MigrationReport> {
    return runMigrations(
      {
        prepare: () =>
          this.exclusive('create schema_migrations', 'write', async () => {
            await this.connection.run(SQL.createSchemaMigrations);
          }),
        applied: async () => {
          const rows = await this.select(
            'read schema_migrations',
            this.bind(SQL.selectAppliedMigrations),
          );
          return new Map(rows.map((r) => [String(r.name), String(r.checksum)]));
        },
        apply: (migration: MigrationFile, reporting: ProgressReporting) =>
          this.exclusive(`migration ${migration.name}`, 'write', async () => {
            // DuckDB tracks a query's progress only with its progress bar on; it is not printed.
            await this.connection.run(SQL.trackProgress);
            try {
              // DuckDB DDL is transactional: a migration applies completely or not at all.
              await this.transaction(async () => {
                await runStatements(migration, (statement) => this.connection.run(statement), {
                  reporting,
                  read: async () => this.statementProgress(),
                });
                await this.connection.run(
                  this.bind(SQL.recordMigration, {
                    name: migration.name,
                    checksum: migration.checksum,
                  }).text,
                );
              });
            } finally {
              await this.connection.run(SQL.stopTrackingProgress);
            }
          }),
      },
      this.migrationsDir,
      onProgress,
      options,
    );
  }

  /** The running query's progress: rows its scans have read of their estimated total. */
  private statementProgress(): StatementProgress | null {
    const progress = this.connection.progress;
    if (progress.percentage < 0) return null;
    return {
      rowsRead: Number(progress.rows_processed),
      totalRows: Number(progress.total_rows_to_process),
    };
  }

  async ping(): Promise<void> {
    await this.select('ping', this.bind(SQL.ping));
  }

  async insertPredictions(rows: readonly StoredPrediction[]): Promise<void> {
    if (rows.length === 0) return;
    validatePredictions(rows);
    const range = tsRange(rows);
    await this.exclusive('insert predictions', 'write', async () => {
      // Almost every batch is new: append it straight into `predictions`, inside the transaction
      // of its aggregates, then count the ids of its time range. A batch that repeats a stored id
      // (a retry whose first attempt committed) shows up as a duplicate there; it is rolled back
      // and goes the staged way, whose anti-join keeps the stored rows. Appending straight in
      // saves the staging table's copy of every row, and `predictions` has no primary key
      // (migration 0004): its index was rewritten at every checkpoint and made inserts slower as
      // the table grew (docs/prediction-log.md).
      try {
        await this.transaction(async () => {
          await this.appendChunks(await this.connection.createAppender('predictions'), rows);
          const [check] = await this.rows(this.bind(SQL.duplicateIds, range));
          if (Number(check?.duplicates ?? 0) > 0) throw new RepeatedBatch();
          await this.insertAggregates(rows);
        });
        return;
      } catch (err) {
        if (!(err instanceof RepeatedBatch)) throw err;
      }
      await this.insertPredictionsStaged(rows, range);
    });
  }

  /**
   * Column-wise data chunks, a ~1 ms slice of rows at a time with the event loop handed back in
   * between, flushed every 1 MB / 1024 rows and at the end (duckdb-chunks.ts).
   */
  private async appendChunks(
    appender: DuckDBAppender,
    rows: readonly StoredPrediction[],
  ): Promise<void> {
    try {
      await appendPredictionChunks(appender, rows);
    } catch (err) {
      // A failed flush leaves its rows buffered in the appender, and closing (or the garbage
      // collector destroying) an appender flushes what it buffers — into whatever transaction the
      // connection is in by then. Drop them now so nothing of this batch can land later.
      try {
        appender.clear();
        appender.closeSync();
      } catch {
        // Closing an appender whose transaction is aborted fails too; the append's own error
        // is the one that says why.
      }
      throw err;
    }
    appender.closeSync();
  }

  /** Through the staging table: rows whose id is already stored are skipped, the rest inserted. */
  private async insertPredictionsStaged(
    rows: readonly StoredPrediction[],
    range: { from: number; to: number },
  ): Promise<void> {
    await this.connection.run(SQL.clearPredictionsIncoming);
    await this.appendChunks(
      await this.connection.createAppender('predictions_incoming', 'main', 'temp'),
      rows,
    );
    try {
      await this.transaction(async () => {
        await this.connection.run(this.bind(SQL.movePredictions, range).text);
        await this.insertAggregates(rows);
      });
    } finally {
      await this.connection.run(SQL.clearPredictionsIncoming);
    }
  }

  /** Insert-time monitoring aggregates of `rows` (prediction-aggregates.ts). Caller holds the transaction. */
  private async insertAggregates(rows: readonly StoredPrediction[]): Promise<void> {
    const values = (await aggregatePredictionsInSlices(rows)).map((r) =>
      this.bind(SQL.aggregateValues, {
        model: r.model,
        modelVersion: r.model_version,
        ts: r.ts_ms,
        batchKey: r.batch_key,
        label: r.label,
        status: r.status,
        rows: r.rows,
        binKeys: r.bin_keys,
        binCounts: r.bin_counts,
        scoreKeys: r.score_keys,
        scoreSums: r.score_sums,
      }),
    );
    if (values.length === 0) return;
    await this.connection.run(
      this.bind(SQL.insertAggregates, { values: joinSql(values, ', ') }).text,
    );
  }

  async insertFeedback(rows: readonly FeedbackRecord[]): Promise<void> {
    if (rows.length === 0) return;
    validateFeedback(rows);
    const latest = latestFeedbackPerId(rows);
    const missing = latest
      .filter((r) => r.prediction === undefined)
      .map((r) => r.prediction_id.toLowerCase());
    await this.exclusive('insert feedback', 'write', async () => {
      await this.connection.run(SQL.clearFeedbackIncoming);
      const appender = await this.connection.createAppender('feedback_incoming', 'main', 'temp');
      try {
        // Data chunks, not the row appender: a list value (scores) through the row appender costs
        // one native value per element (see duckdb-chunks.ts).
        for (let start = 0; start < latest.length; start += FEEDBACK_CHUNK_ROWS) {
          appender.appendDataChunk(
            feedbackChunk(latest, start, Math.min(latest.length, start + FEEDBACK_CHUNK_ROWS)),
          );
        }
        appender.flushSync();
      } finally {
        appender.closeSync();
      }
      try {
        await this.transaction(async () => {
          await this.connection.run(SQL.moveFeedback);
          await this.connection.run(SQL.moveLabeled);
          for (const batch of chunks(missing, LOOKUP_BATCH)) {
            await this.connection.run(
              this.bind(SQL.moveLabeledFromPredictions, { ids: sqlList(batch, 'duckdb') }).text,
            );
          }
        });
      } finally {
        await this.connection.run(SQL.clearFeedbackIncoming);
      }
    });
  }

  async lookupPredictions(ids: readonly string[]): Promise<Map<string, PredictionSummary>> {
    const found = new Map<string, PredictionSummary>();
    const originalsByKey = new Map<string, string[]>();
    for (const id of ids) {
      if (!isUuid(id)) continue;
      const key = id.toLowerCase();
      const list = originalsByKey.get(key);
      if (list === undefined) originalsByKey.set(key, [id]);
      else list.push(id);
    }
    for (const batch of chunks([...originalsByKey.keys()], LOOKUP_BATCH)) {
      const rows = await this.select(
        'lookup predictions',
        this.bind(SQL.lookupPredictions, { ids: sqlList(batch, 'duckdb') }),
      );
      for (const row of rows) {
        const summary: PredictionSummary = {
          ts_ms: toNumber(row.ts_ms as bigint),
          model: String(row.model),
          model_version: toNumber(row.model_version as number),
          route: String(row.route),
          label: String(row.label),
          value: toNullableNumber(row.value as number | null),
          scores: (row.scores as number[]).map(Number),
          status: toNumber(row.status as number),
        };
        for (const original of originalsByKey.get(String(row.id).toLowerCase()) ?? []) {
          found.set(original, summary);
        }
      }
    }
    return found;
  }

  private where(filter: PredictionCountFilter & { type?: string }): BoundSql {
    const conditions: BoundSql[] = [this.bind(SQL.whereAll)];
    if (filter.model !== undefined)
      conditions.push(this.bind(SQL.whereModel, { model: filter.model }));
    if (filter.version !== undefined) {
      conditions.push(this.bind(SQL.whereVersion, { version: filter.version }));
    }
    if (filter.route !== undefined)
      conditions.push(this.bind(SQL.whereRoute, { route: filter.route }));
    if (filter.type !== undefined) conditions.push(this.bind(SQL.whereType, { type: filter.type }));
    if (filter.from !== undefined) conditions.push(this.bind(SQL.whereFrom, { from: filter.from }));
    if (filter.to !== undefined) conditions.push(this.bind(SQL.whereTo, { to: filter.to }));
    return joinSql(conditions, ' AND ');
  }

  async countPredictions(filter: PredictionCountFilter = {}): Promise<PredictionCount[]> {
    const rows = await this.select(
      'count predictions',
      this.bind(SQL.countPredictions, { where: this.where(filter) }),
    );
    return rows.map((r) => ({
      model: String(r.model),
      model_version: toNumber(r.model_version as number),
      route: String(r.route),
      status: toNumber(r.status as number),
      count: toNumber(r.count as bigint),
    }));
  }

  async labeledPredictions(query: LabeledPredictionQuery): Promise<LabeledPrediction[]> {
    const rows = await this.select(
      'labeled predictions',
      this.bind(SQL.labeledPredictions, {
        where: this.where(query),
        limit: query.limit ?? DEFAULT_LABELED_LIMIT,
      }),
    );
    return rows.map((r) => ({
      id: String(r.id),
      ts: toNumber(r.ts_ms as bigint),
      model: String(r.model),
      model_version: toNumber(r.model_version as number),
      route: String(r.route),
      inputs: float32Values(r.inputs),
      scores: r.scores as number[],
      label: String(r.label),
      value: toNullableNumber(r.value as number | null),
      actual_label: String(r.actual_label),
      actual_value: toNullableNumber(r.actual_value as number | null),
      feedback_ts: toNumber(r.feedback_ts as bigint),
    }));
  }

  async labelPairCounts(query: WindowQuery): Promise<LabelPairCount[]> {
    const rows = await this.select(
      'label pair counts',
      this.bind(SQL.labelPairCounts, { where: this.where(query) }),
    );
    return rows.map((r) => ({
      label: String(r.label),
      actual_label: String(r.actual_label),
      count: toNumber(r.count as bigint),
    }));
  }

  async featureBinCounts(query: WindowQuery): Promise<FeatureBinCount[]> {
    const rows = await this.select(
      'feature bin counts',
      this.bind(SQL.featureBinCounts, { where: this.where(query) }),
    );
    return rows.map((r) => ({
      feature: toNumber(r.feature as bigint),
      bin: toNumber(r.bin as number),
      count: toNumber(r.count as bigint),
    }));
  }

  async predictionTimeSeries(query: TimeSeriesQuery): Promise<PredictionTimeBucket[]> {
    if (!Number.isInteger(query.bucketSeconds) || query.bucketSeconds < 1) {
      throw new RangeError(`bucketSeconds must be a positive integer, got ${query.bucketSeconds}`);
    }
    const rows = await this.select(
      'prediction time series',
      this.bind(SQL.predictionTimeSeries, {
        where: this.where(query),
        bucketSeconds: query.bucketSeconds,
      }),
    );
    return rows.map((r) => ({
      bucket: toNumber(r.bucket as bigint),
      predictions: toNumber(r.predictions as bigint),
      errors: toNumber(r.errors as bigint),
    }));
  }

  async insertMonitoringResults(rows: readonly MonitoringResult[]): Promise<void> {
    if (rows.length === 0) return;
    validateMonitoringResults(rows);
    // Stored with second precision, like ClickHouse's DateTime columns.
    const seconds = (ms: number) => Math.floor(ms / 1000) * 1_000_000;
    await this.exclusive('insert monitoring results', 'write', async () => {
      for (const batch of chunks(rows, VALUES_BATCH)) {
        const values = batch.map((r) =>
          this.bind(SQL.monitoringResultRow, {
            model: r.model,
            model_version: r.model_version,
            window_start_us: seconds(r.window_start),
            window_end_us: seconds(r.window_end),
            metric: r.metric,
            feature: r.feature,
            value: duckDouble(r.value),
            threshold: r.threshold === null ? null : duckDouble(r.threshold),
            status: r.status,
            ts_ms: r.ts,
          }),
        );
        await this.connection.run(
          this.bind(SQL.insertMonitoringResults, { rows: joinSql(values, ', ') }).text,
        );
      }
    });
  }

  async listMonitoringResults(query: MonitoringResultQuery): Promise<MonitoringResult[]> {
    const conditions: BoundSql[] = [this.where({ model: query.model, version: query.version })];
    if (query.metric !== undefined) {
      conditions.push(this.bind(SQL.whereMetric, { metric: query.metric }));
    }
    if (query.from !== undefined) {
      conditions.push(
        this.bind(SQL.whereWindowFrom, {
          fromMicros: Math.max(0, Math.floor(query.from / 1000)) * 1_000_000,
        }),
      );
    }
    const rows = await this.select(
      'list monitoring results',
      this.bind(SQL.listMonitoringResults, {
        where: joinSql(conditions, ' AND '),
        limit: query.limit ?? DEFAULT_MONITORING_LIMIT,
      }),
    );
    return rows.map((r) => ({
      model: String(r.model),
      model_version: toNumber(r.model_version as number),
      window_start: toNumber(r.window_start as bigint),
      window_end: toNumber(r.window_end as bigint),
      metric: String(r.metric),
      feature: String(r.feature),
      value: toNumber(r.value as number),
      threshold: toNullableNumber(r.threshold as number | null),
      status: String(r.status) as MonitoringStatus,
      ts: toNumber(r.ts_ms as bigint),
    }));
  }

  async insertEvents(rows: readonly StoreEvent[]): Promise<void> {
    if (rows.length === 0) return;
    validateEvents(rows);
    await this.exclusive('insert events', 'write', async () => {
      for (const batch of chunks(rows, VALUES_BATCH)) {
        const values = batch.map((r) =>
          this.bind(SQL.eventRow, {
            ts_ms: r.ts,
            type: r.type,
            model: r.model,
            model_version: r.model_version,
            severity: r.severity,
            details: JSON.stringify(r.details),
          }),
        );
        await this.connection.run(
          this.bind(SQL.insertEvents, { rows: joinSql(values, ', ') }).text,
        );
      }
    });
  }

  async listEvents(query: EventQuery = {}): Promise<StoreEvent[]> {
    const rows = await this.select(
      'list events',
      this.bind(SQL.listEvents, {
        where: this.where({ type: query.type, model: query.model, from: query.from }),
        limit: query.limit ?? DEFAULT_EVENT_LIMIT,
      }),
    );
    return rows.map((r) => ({
      ts: toNumber(r.ts_ms as bigint),
      type: String(r.type),
      model: String(r.model),
      model_version: toNumber(r.model_version as number),
      severity: String(r.severity) as StoreEvent['severity'],
      details: parseEventDetails(String(r.details)),
    }));
  }

  async dropPartitionsOlderThan(days: number): Promise<RetentionReport> {
    const cutoff = retentionCutoffMs(days);
    return this.exclusive('retention', 'write', async () => {
      const report: RetentionReport = { dropped: [], rows: 0 };
      for (const table of DUCKDB_RETENTION_TABLES) {
        const result = await this.connection.run(
          this.bind(SQL.deleteOlderThan, { table: identifier(table), cutoff }).text,
        );
        const deleted = result.rowsChanged;
        if (deleted > 0) {
          report.dropped.push(table);
          if (!DUCKDB_DERIVED_TABLES.includes(table)) report.rows += deleted;
        }
      }
      return report;
    });
  }

  async compact(): Promise<void> {
    // Rows are unique on insert already; a checkpoint writes the WAL into the file.
    await this.exclusive('checkpoint', 'write', async () => {
      await this.connection.run(SQL.checkpoint);
    });
  }

  async rowCounts(): Promise<Record<StoreTable, number>> {
    const tables: StoreTable[] = ['predictions', 'feedback', 'monitoring_results', 'events'];
    const counts = {} as Record<StoreTable, number>;
    for (const table of tables) {
      const rows = await this.select(
        `count ${table}`,
        this.bind(SQL.countRows, { table: identifier(table) }),
      );
      counts[table] = toNumber((rows[0]?.count as bigint | undefined) ?? 0);
    }
    return counts;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    // Wait for queued operations, then refuse new ones.
    await this.tail;
    this.closed = true;
    this.connection.closeSync();
    this.instance.closeSync();
  }

  // --- Monitoring aggregates (issue 6; SQL in DUCKDB_MONITORING_SQL) ---------------------------

  async monitoringBinAggregates(query: MonitoringBinQuery): Promise<MonitoringBinAggregate[]> {
    const rows = await this.select(
      'monitoring bin aggregates',
      this.bind(MONITORING_SQL.binAggregates, {
        where: this.where(query),
        width: query.width,
        scoreOffset: query.scoreOffset,
      }),
    );
    return rows.map((r) => ({
      label: String(r.label),
      position: toNumber(r.position as bigint),
      bin: toNumber(r.bin as number),
      count: toNumber(r.count as bigint),
      sum_score: finiteOrZero(r.sum_score),
    }));
  }

  async monitoringIngestAggregates(query: MonitoringBinQuery): Promise<MonitoringIngestAggregates> {
    if (!isMinuteAligned(query)) {
      throw new StoreQueryError('monitoring ingest aggregates need a minute-aligned window');
    }
    const rows = await this.select(
      'monitoring ingest aggregates',
      this.bind(MONITORING_SQL.ingestAggregates, { where: this.where(query) }),
    );
    let total = 0;
    const perLabel = new Map<string, AggregateLabelSums>();
    for (const r of rows) {
      const label = String(r.label);
      const value = finiteOrZero(r.value);
      if (r.kind === 'r') {
        total += value;
        continue;
      }
      let sums = perLabel.get(label);
      if (!sums) {
        sums = { label, bin_keys: [], bin_counts: [], score_keys: [], score_sums: [] };
        perLabel.set(label, sums);
      }
      const key = toNumber(r.key as number | bigint);
      if (r.kind === 'b') {
        sums.bin_keys.push(key);
        sums.bin_counts.push(value);
      } else {
        sums.score_keys.push(key);
        sums.score_sums.push(value);
      }
    }
    return {
      rows: total,
      bins: binAggregatesFromSums([...perLabel.values()], query.width, query.scoreOffset),
    };
  }

  async monitoringQualityAggregates(
    query: MonitoringLabelQuery,
  ): Promise<MonitoringQualityAggregates> {
    if (query.classNames.length === 0) return { labels: [], histogram: [] };
    const rows = await this.select(
      'monitoring quality aggregates',
      this.bind(MONITORING_SQL.qualityAggregates, {
        where: this.where(query),
        classNames: [...query.classNames],
        topScoreBins: query.topScoreBins,
        topScoreBinsMax: query.topScoreBins - 1,
      }),
    );
    return qualityFromRows(
      rows.map((r) => ({
        label: String(r.label),
        actual_label: String(r.actual_label),
        top_bin: toNumber(r.top_bin as number),
        class_index: toNumber(r.class_index as bigint),
        bin: toNumber(r.bin as number),
        count: toNumber(r.count as bigint),
        sum_score: finiteOrZero(r.sum_score),
        sum_top_score: finiteOrZero(r.sum_top_score),
        sum_log_loss: finiteOrZero(r.sum_log_loss),
        log_loss_rows: toNumber((r.log_loss_rows as bigint | null) ?? 0),
      })),
    );
  }

  async monitoringLabelAggregates(
    query: MonitoringLabelQuery,
  ): Promise<MonitoringLabelAggregate[]> {
    if (query.classNames.length === 0) return [];
    const rows = await this.select(
      'monitoring label aggregates',
      this.bind(MONITORING_SQL.labelAggregates, {
        where: this.where(query),
        classNames: [...query.classNames],
        topScoreBins: query.topScoreBins,
        topScoreBinsMax: query.topScoreBins - 1,
      }),
    );
    return rows.map((r) => ({
      label: String(r.label),
      actual_label: String(r.actual_label),
      top_bin: toNumber(r.top_bin as number),
      count: toNumber(r.count as bigint),
      sum_top_score: finiteOrZero(r.sum_top_score),
      sum_log_loss: finiteOrZero(r.sum_log_loss),
      log_loss_rows: toNumber((r.log_loss_rows as bigint | null) ?? 0),
    }));
  }

  async monitoringScoreHistogram(query: WindowQuery): Promise<MonitoringScoreBin[]> {
    const rows = await this.select(
      'monitoring score histogram',
      this.bind(MONITORING_SQL.scoreHistogram, { where: this.where(query) }),
    );
    return rows.map((r) => ({
      actual_label: String(r.actual_label),
      class_index: toNumber(r.class_index as bigint),
      bin: toNumber(r.bin as number),
      count: toNumber(r.count as bigint),
      sum_score: finiteOrZero(r.sum_score),
    }));
  }

  async monitoringRegressionSums(query: WindowQuery): Promise<MonitoringRegressionSums> {
    const [r] = await this.select(
      'monitoring regression sums',
      this.bind(MONITORING_SQL.regressionSums, { where: this.where(query) }),
    );
    return {
      count: toNumber((r?.count as bigint | undefined) ?? 0),
      sum_absolute_error: finiteOrZero(r?.sum_absolute_error),
      sum_squared_error: finiteOrZero(r?.sum_squared_error),
      sum_absolute_percentage_error: finiteOrZero(r?.sum_absolute_percentage_error),
      sum_target: finiteOrZero(r?.sum_target),
      sum_squared_target: finiteOrZero(r?.sum_squared_target),
      sum_squared_target_deviation: finiteOrZero(r?.sum_squared_target_deviation),
    };
  }

  async latestRowsWindow(query: LatestRowsQuery): Promise<{ start: number | null; rows: number }> {
    const [r] = await this.select(
      'latest rows window',
      this.bind(MONITORING_SQL.latestRowsWindow, {
        where: this.where({ model: query.model, version: query.version, to: query.to }),
        rows: query.rows,
      }),
    );
    const rows = toNumber((r?.rows as bigint | undefined) ?? 0);
    return { start: rows > 0 ? toNumber(r.start as bigint) : null, rows };
  }

  async firstLoggedPredictions(query: FirstLoggedQuery): Promise<LoggedPredictionSample[]> {
    const sql = this.bind(MONITORING_SQL.firstLoggedPredictions, {
      where: this.where({ model: query.model, version: query.version }),
      limit: query.limit,
    });
    const reader = await this.exclusive('first logged predictions', 'read', () =>
      this.connection.runAndReadAll(sql.text),
    );
    // Converted a slice of rows at a time: the profile of a new MNIST version reads 1000 rows of
    // 784 inputs, and converting them in one go held the serving thread for 55-70 ms. The longest
    // turn left is the first, where the bindings build the chunk's column vectors (9-15 ms).
    const samples = new Array<LoggedPredictionSample>(reader.currentRowCount);
    await forEachInSlices(samples.length, (r) => {
      const scores = reader.value(1, r) as DuckDBListValue | null;
      samples[r] = {
        inputs: float32Values(reader.value(0, r)),
        scores: scores ? scores.items.map(Number) : [],
        label: String(reader.value(2, r)),
        value: toNullableNumber(reader.value(3, r) as number | null),
      };
    });
    return samples;
  }
}

/** A DOUBLE / HUGEINT aggregate read back from DuckDB: 0 unless it is a finite number. */
function finiteOrZero(value: unknown): number {
  const n = typeof value === 'bigint' ? Number(value) : typeof value === 'number' ? value : NaN;
  return Number.isFinite(n) ? n : 0;
}

/** Column types of `feedback_incoming`, in order (DUCKDB_SQL.createFeedbackIncoming). */
const INCOMING_FEEDBACK_TYPES: readonly DuckDBType[] = [
  VARCHAR, // prediction_id
  BIGINT, // ts_ms
  VARCHAR, // label
  DOUBLE, // value
  VARCHAR, // source
  BOOLEAN, // has_prediction
  BIGINT, // p_ts_ms
  VARCHAR, // p_model
  UINTEGER, // p_model_version
  VARCHAR, // p_route
  VARCHAR, // p_label
  DOUBLE, // p_value
  LIST(FLOAT), // p_scores
  USMALLINT, // p_status
];

/** DuckDB's vector size: a data chunk holds at most this many rows. */
const FEEDBACK_CHUNK_ROWS = 2048;

/** One data chunk of `rows[start, end)` for `feedback_incoming`. */
function feedbackChunk(
  rows: readonly FeedbackRecord[],
  start: number,
  end: number,
): DuckDBDataChunk {
  const count = end - start;
  const columns: DuckDBValue[][] = INCOMING_FEEDBACK_TYPES.map(() => new Array<DuckDBValue>(count));
  for (let i = 0; i < count; i++) {
    const r = rows[start + i];
    const p = r.prediction;
    columns[0][i] = r.prediction_id;
    columns[1][i] = BigInt(r.ts);
    columns[2][i] = r.label;
    columns[3][i] = r.value;
    columns[4][i] = r.source;
    columns[5][i] = p !== undefined;
    columns[6][i] = p === undefined ? null : BigInt(p.ts_ms);
    columns[7][i] = p?.model ?? null;
    columns[8][i] = p?.model_version ?? null;
    columns[9][i] = p?.route ?? null;
    columns[10][i] = p?.label ?? null;
    columns[11][i] = p?.value ?? null;
    columns[12][i] = p === undefined ? null : listValue(labeledScores(p.scores));
    columns[13][i] = p?.status ?? null;
  }
  const chunk = DuckDBDataChunk.create(INCOMING_FEEDBACK_TYPES, count);
  chunk.setColumns(columns);
  return chunk;
}

function float32Values(blob: unknown): number[] {
  const bytes = blob instanceof Uint8Array ? blob : (blob as { bytes?: Uint8Array } | null)?.bytes;
  if (!bytes || bytes.byteLength === 0) return [];
  return Array.from(decodeInputBlob(bytes));
}

/** Thrown inside the insert's transaction to roll back a batch that repeats a stored id. */
class RepeatedBatch extends Error {
  constructor() {
    super('the batch repeats stored prediction ids');
    this.name = 'RepeatedBatch';
  }
}

/** [oldest, newest] `ts` of the rows: a stored copy of one of them lies in this range. */
function tsRange(rows: readonly StoredPrediction[]): { from: number; to: number } {
  let from = Number.POSITIVE_INFINITY;
  let to = Number.NEGATIVE_INFINITY;
  for (const r of rows) {
    if (r.ts < from) from = r.ts;
    if (r.ts > to) to = r.ts;
  }
  return { from, to };
}
