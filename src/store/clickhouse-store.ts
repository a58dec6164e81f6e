import { ClickHouseClient, ClickHouseLogLevel, createClient } from '@clickhouse/client';
import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
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
  CLICKHOUSE_MONITORING_SQL as MONITORING_SQL,
  AGGREGATE_COLUMNS,
  CLICKHOUSE_DERIVED_TABLES,
  CLICKHOUSE_REPLACING_TABLES,
  CLICKHOUSE_RETENTION_TABLES,
  CLICKHOUSE_SQL as SQL,
  EVENT_COLUMNS,
  FEEDBACK_COLUMNS,
  LABELED_COLUMNS,
  MONITORING_COLUMNS,
  PREDICTION_COLUMNS,
} from './clickhouse-queries';
import { predictionsRowBinaryChunks } from './clickhouse-rowbinary';
import {
  aggregatePredictionsInSlices,
  binAggregatesFromSums,
  isMinuteAligned,
  qualityFromRows,
} from './prediction-aggregates';
import {
  tsvDateTime,
  tsvFloat,
  tsvFloat32Array,
  tsvIntArray,
  tsvNullableFloat,
  tsvString,
} from './clickhouse-tsv';
import {
  MigrationFile,
  MigrationTarget,
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
  toNumber,
  parseFloat32Texts,
  parseFloatText,
} from './store-values';

/** A migration statement may run this long (ClickHouseStore.migrate). */
export const MIGRATION_STATEMENT_TIMEOUT_MS = 6 * 60 * 60 * 1000;

export interface ClickHouseStoreOptions {
  url: string;
  user: string;
  password: string;
  database: string;
  /** Defaults to `migrations/clickhouse` at the package root; tests point it at a copy. */
  migrationsDir?: string;
  /**
   * Per HTTP request; a store slower than this counts as unavailable. Default 30 s. Migration
   * statements have MIGRATION_STATEMENT_TIMEOUT_MS instead.
   */
  requestTimeoutMs?: number;
}

/**
 * ClickHouse server error codes that mean "try again later", not "this request is wrong".
 * (159 TIMEOUT_EXCEEDED, 202 TOO_MANY_SIMULTANEOUS_QUERIES, 203 NO_FREE_CONNECTION,
 * 209 SOCKET_TIMEOUT, 210 NETWORK_ERROR, 241 MEMORY_LIMIT_EXCEEDED, 242 TABLE_IS_READ_ONLY,
 * 252 TOO_MANY_PARTS, 285 TOO_FEW_LIVE_REPLICAS, 319 UNKNOWN_STATUS_OF_INSERT,
 * 394 QUERY_WAS_CANCELLED, 425 SYSTEM_ERROR, 439 CANNOT_SCHEDULE_TASK, 999 KEEPER_EXCEPTION.)
 * Also 60 UNKNOWN_TABLE and 81 UNKNOWN_DATABASE: at first start Argus may be up before its
 * migrations could run (the server was down); those writes must be spooled, not given up.
 */
const RETRYABLE_SERVER_CODES = new Set([
  60, 81, 159, 202, 203, 209, 210, 241, 242, 252, 285, 319, 394, 425, 439, 999,
]);

/** 18.16 answers `Code: 81, e.displayText() = …`; current releases `Code: 81. DB::Exception: …`. */
const SERVER_ERROR_CODE = /^Code: (\d+)[,.]/;

type Operation = 'read' | 'write';

/** Maps any failure of the client to the store's typed errors. */
export function classifyClickHouseError(err: unknown, action: string, op: Operation): StoreError {
  if (err instanceof StoreError) return err;
  const message = err instanceof Error ? err.message : String(err);
  const codeProperty = (err as { code?: unknown } | null)?.code;
  const match = SERVER_ERROR_CODE.exec(message);
  const serverCode =
    match !== null
      ? Number(match[1])
      : typeof codeProperty === 'string' && /^\d+$/.test(codeProperty)
        ? Number(codeProperty)
        : undefined;
  const text = `ClickHouse ${action} failed: ${message.split('\n')[0]}`;
  // A programming error on our side is not an outage: retrying would loop forever.
  const isBug = err instanceof TypeError || err instanceof RangeError || err instanceof SyntaxError;
  if (isBug && serverCode === undefined) {
    return op === 'write'
      ? new StoreWriteError(text, { cause: err })
      : new StoreQueryError(text, { cause: err });
  }
  if (serverCode === undefined || RETRYABLE_SERVER_CODES.has(serverCode)) {
    // No server error code means the request never got a server answer: connection refused or
    // reset, timeout, DNS. All of those may succeed later.
    return new StoreUnavailableError(text, { cause: err });
  }
  return op === 'write'
    ? new StoreWriteError(text, { cause: err })
    : new StoreQueryError(text, { cause: err });
}

/**
 * Predictions go in as RowBinary (clickhouse-rowbinary.ts): several times cheaper to produce than
 * TabSeparated text for float-heavy rows, and cheaper for the server to parse. The column list
 * is fixed; `ts` is MATERIALIZED from `ts_ms` by the server.
 */
const PREDICTIONS_INSERT = `INSERT INTO predictions (${PREDICTION_COLUMNS.join(', ')}) FORMAT RowBinary`;

export class ClickHouseStore implements AnalyticsStore {
  readonly kind = 'clickhouse' as const;
  private readonly client: ClickHouseClient;
  private readonly migrationsDir: string;
  private closed = false;

  constructor(private readonly options: ClickHouseStoreOptions) {
    this.client = this.createClient(options.database);
    this.migrationsDir = options.migrationsDir ?? migrationsDirFor('clickhouse');
  }

  get database(): string {
    return this.options.database;
  }

  private createClient(
    database: string,
    requestTimeoutMs = this.options.requestTimeoutMs ?? 30_000,
  ): ClickHouseClient {
    return createClient({
      url: this.options.url,
      username: this.options.user,
      password: this.options.password,
      database,
      request_timeout: requestTimeoutMs,
      // Failures reach the caller as typed errors; the client's own console logging would only
      // duplicate them (and fill test output while the fault tests keep the server down).
      log: { level: ClickHouseLogLevel.OFF },
    });
  }

  private bind(template: string, params?: SqlParams): BoundSql {
    return bindSql('clickhouse', template, params);
  }

  private async guard<T>(action: string, op: Operation, fn: () => Promise<T>): Promise<T> {
    if (this.closed) throw new StoreUnavailableError(`ClickHouse ${action}: the store is closed`);
    try {
      return await fn();
    } catch (err) {
      throw classifyClickHouseError(err, action, op);
    }
  }

  private async select<Row>(action: string, sql: BoundSql): Promise<Row[]> {
    return this.guard(action, 'read', async () => {
      const result = await this.client.query({ query: sql.text, format: 'JSONEachRow' });
      return result.json<Row>();
    });
  }

  private async command(action: string, sql: BoundSql, op: Operation = 'write'): Promise<void> {
    await this.guard(action, op, async () => {
      await this.client.command({ query: sql.text });
    });
  }

  private async insertTsv(
    action: string,
    table: string,
    columns: readonly string[],
    body: string,
  ): Promise<void> {
    await this.guard(action, 'write', async () => {
      await this.client.insert({
        table,
        columns: [...columns] as [string, ...string[]],
        format: 'TabSeparated',
        values: Readable.from([Buffer.from(body, 'utf8')], { objectMode: false }),
      });
    });
  }

  async migrate(
    onProgress?: MigrationProgress,
    options?: MigrateOptions,
  ): Promise<MigrationReport> {
    // A statement that copies a large table answers only when it is done, which can take far
    // longer than any request of the write path; under the store's request timeout it would fail
    // as "unavailable" and be retried from the start, again and again.
    const statements = this.createClient(this.database, MIGRATION_STATEMENT_TIMEOUT_MS);
    try {
      return await this.runMigrations(statements, onProgress, options);
    } finally {
      await statements.close();
    }
  }

  private async runMigrations(
    statements: ClickHouseClient,
    onProgress?: MigrationProgress,
    options?: MigrateOptions,
  ): Promise<MigrationReport> {
    const target: MigrationTarget = {
      prepare: async () => {
        // The configured database may not exist yet; create it through a client without it.
        // Checked first, so a user without CREATE DATABASE rights can use a prepared database.
        const bootstrap = this.createClient('default');
        try {
          await this.guard('create database', 'write', async () => {
            const exists = await bootstrap.query({
              query: this.bind(SQL.databaseExists, { name: this.database }).text,
              format: 'JSONEachRow',
            });
            const [row] = await exists.json<{ count: number | string }>();
            if (toNumber(row?.count ?? 0) > 0) return;
            await bootstrap.command({
              query: this.bind(SQL.createDatabase, { database: identifier(this.database) }).text,
            });
          });
        } finally {
          await bootstrap.close();
        }
        await this.command('create schema_migrations', this.bind(SQL.createSchemaMigrations));
      },
      applied: async () => {
        const rows = await this.select<{ name: string; checksum: string }>(
          'read schema_migrations',
          this.bind(SQL.selectAppliedMigrations),
        );
        return new Map(rows.map((r) => [r.name, r.checksum]));
      },
      apply: async (migration: MigrationFile, reporting: ProgressReporting) => {
        // Each statement runs under a query id of its own, which system.processes reports on.
        let queryId = '';
        await runStatements(
          migration,
          (statement) => {
            queryId = randomUUID();
            return this.guard(`migration ${migration.name}`, 'write', () =>
              // Statements come from our own migration files, not from user input.
              statements.command({ query: statement, query_id: queryId }),
            );
          },
          { reporting, read: () => this.statementProgress(queryId) },
        );
        await this.command(
          'record migration',
          this.bind(SQL.recordMigration, {
            name: migration.name,
            checksum: migration.checksum,
            appliedAt: Math.floor(Date.now() / 1000),
          }),
        );
      },
    };
    return runMigrations(target, this.migrationsDir, onProgress, options);
  }

  /** Rows a running query has read, of the server's estimate; null once it is not running. */
  private async statementProgress(queryId: string): Promise<StatementProgress | null> {
    const [row] = await this.select<{
      read_rows: number | string;
      total_rows_approx: number | string;
    }>('statement progress', this.bind(SQL.statementProgress, { queryId }));
    if (!row) return null;
    return { rowsRead: toNumber(row.read_rows), totalRows: toNumber(row.total_rows_approx) };
  }

  async ping(): Promise<void> {
    // A query rather than client.ping(): /ping answers before the database is usable.
    await this.select('ping', this.bind(SQL.ping));
  }

  async insertPredictions(rows: readonly StoredPrediction[]): Promise<void> {
    if (rows.length === 0) return;
    validatePredictions(rows);
    await this.guard('insert predictions', 'write', async () => {
      const result = await this.client.exec({
        query: PREDICTIONS_INSERT,
        // Encoded while it is sent, in chunks that hand the event loop back in between.
        values: Readable.from(predictionsRowBinaryChunks(rows), { objectMode: false }),
      });
      // The answer of an INSERT is empty; read it to the end so the socket is released.
      for await (const chunk of result.stream) void chunk;
    });
    // After the rows: a failure here fails the insert, whose retry collapses both (same ids, same
    // batch keys), so the aggregates never count a unit the predictions table lacks.
    await this.insertAggregates(rows);
  }

  private async insertAggregates(rows: readonly StoredPrediction[]): Promise<void> {
    const body = (await aggregatePredictionsInSlices(rows))
      .map(
        (r) =>
          `${tsvString(r.model)}\t${r.model_version}\t${r.ts_ms}\t${tsvString(r.batch_key)}\t` +
          `${tsvString(r.label)}\t${r.status}\t${r.rows}\t${tsvIntArray(r.bin_keys)}\t` +
          `${tsvIntArray(r.bin_counts)}\t${tsvIntArray(r.score_keys)}\t` +
          `[${r.score_sums.map(tsvFloat).join(',')}]\n`,
      )
      .join('');
    await this.insertTsv(
      'insert prediction aggregates',
      'prediction_aggregates',
      AGGREGATE_COLUMNS,
      body,
    );
  }

  async insertFeedback(rows: readonly FeedbackRecord[]): Promise<void> {
    if (rows.length === 0) return;
    validateFeedback(rows);
    const latest = latestFeedbackPerId(rows);
    const body = latest
      .map(
        (r) =>
          `${r.prediction_id}\t${r.ts}\t${tsvString(r.label)}\t${tsvNullableFloat(r.value)}\t` +
          `${tsvString(r.source)}\n`,
      )
      .join('');
    await this.insertTsv('insert feedback', 'feedback', FEEDBACK_COLUMNS, body);
    // After the feedback: a failure here fails the insert, and its retry adds rows that reads
    // de-duplicate (same prediction_id; ReplacingMergeTree(feedback_ts_ms), read with FINAL).
    await this.insertLabeled(latest);
  }

  /**
   * `labeled_predictions` rows of a feedback batch (migration 0003). Rows that carry their
   * prediction (FeedbackService looked it up) are written as they are; the others get it joined
   * in by the server from `predictions`, for just their ids.
   */
  private async insertLabeled(rows: readonly FeedbackRecord[]): Promise<void> {
    let body = '';
    const missing: string[] = [];
    for (const r of rows) {
      const p = r.prediction;
      if (p === undefined) {
        missing.push(r.prediction_id.toLowerCase());
        continue;
      }
      body +=
        `${r.prediction_id}\t${p.ts_ms}\t${tsvString(p.model)}\t${p.model_version}\t` +
        `${tsvString(p.route)}\t${tsvString(p.label)}\t${tsvNullableFloat(p.value)}\t` +
        `${tsvFloat32Array(labeledScores(p.scores))}\t${p.status}\t${tsvString(r.label)}\t` +
        `${tsvNullableFloat(r.value)}\t${r.ts}\n`;
    }
    if (body !== '') {
      await this.insertTsv(
        'insert labeled predictions',
        'labeled_predictions',
        LABELED_COLUMNS,
        body,
      );
    }
    for (const batch of chunks(missing, LOOKUP_BATCH)) {
      await this.command(
        'insert labeled predictions from predictions',
        this.bind(SQL.insertLabeledFromPredictions, { ids: sqlList(batch, 'clickhouse') }),
      );
    }
  }

  async lookupPredictions(ids: readonly string[]): Promise<Map<string, PredictionSummary>> {
    const found = new Map<string, PredictionSummary>();
    // Only UUIDs can be stored, and ClickHouse refuses a non-UUID literal compared with a UUID.
    const originalsByKey = new Map<string, string[]>();
    for (const id of ids) {
      if (!isUuid(id)) continue;
      const key = id.toLowerCase();
      const list = originalsByKey.get(key);
      if (list === undefined) originalsByKey.set(key, [id]);
      else list.push(id);
    }
    for (const batch of chunks([...originalsByKey.keys()], LOOKUP_BATCH)) {
      const rows = await this.select<{
        id: string;
        ts_ms: number | string;
        model: string;
        model_version: number | string;
        route: string;
        label: string;
        value_text: string | null;
        scores_text: string[];
        status: number | string;
      }>(
        'lookup predictions',
        this.bind(SQL.lookupPredictions, { ids: sqlList(batch, 'clickhouse') }),
      );
      for (const row of rows) {
        const summary: PredictionSummary = {
          ts_ms: toNumber(row.ts_ms),
          model: row.model,
          model_version: toNumber(row.model_version),
          route: row.route,
          label: row.label,
          value: parseFloatText(row.value_text),
          scores: parseFloat32Texts(row.scores_text),
          status: toNumber(row.status),
        };
        for (const original of originalsByKey.get(row.id.toLowerCase()) ?? []) {
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
    if (filter.from !== undefined) {
      conditions.push(
        this.bind(SQL.whereFrom, {
          from: filter.from,
          fromSeconds: Math.max(0, Math.floor(filter.from / 1000)),
        }),
      );
    }
    if (filter.to !== undefined) {
      conditions.push(
        this.bind(SQL.whereTo, {
          to: filter.to,
          // Smallest whole second strictly after every ms < to.
          toSecondsCeil: Math.max(0, Math.floor((filter.to - 1) / 1000) + 1),
        }),
      );
    }
    return joinSql(conditions, ' AND ');
  }

  async countPredictions(filter: PredictionCountFilter = {}): Promise<PredictionCount[]> {
    const rows = await this.select<{
      model: string;
      model_version: number | string;
      route: string;
      status: number | string;
      count: number | string;
    }>('count predictions', this.bind(SQL.countPredictions, { where: this.where(filter) }));
    return rows.map((r) => ({
      model: r.model,
      model_version: toNumber(r.model_version),
      route: r.route,
      status: toNumber(r.status),
      count: toNumber(r.count),
    }));
  }

  async labeledPredictions(query: LabeledPredictionQuery): Promise<LabeledPrediction[]> {
    const rows = await this.select<{
      id: string;
      ts_ms: number | string;
      model: string;
      model_version: number | string;
      route: string;
      inputs_text: string[];
      scores_text: string[];
      label: string;
      value_text: string | null;
      actual_label: string;
      actual_value_text: string | null;
      feedback_ts: number | string;
    }>(
      'labeled predictions',
      this.bind(SQL.labeledPredictions, {
        where: this.where(query),
        limit: query.limit ?? DEFAULT_LABELED_LIMIT,
      }),
    );
    return rows.map((r) => ({
      id: r.id,
      ts: toNumber(r.ts_ms),
      model: r.model,
      model_version: toNumber(r.model_version),
      route: r.route,
      inputs: parseFloat32Texts(r.inputs_text),
      scores: parseFloat32Texts(r.scores_text),
      label: r.label,
      value: parseFloatText(r.value_text),
      actual_label: r.actual_label,
      actual_value: parseFloatText(r.actual_value_text),
      feedback_ts: toNumber(r.feedback_ts),
    }));
  }

  async labelPairCounts(query: WindowQuery): Promise<LabelPairCount[]> {
    const rows = await this.select<{ label: string; actual_label: string; count: number | string }>(
      'label pair counts',
      this.bind(SQL.labelPairCounts, { where: this.where(query) }),
    );
    return rows.map((r) => ({
      label: r.label,
      actual_label: r.actual_label,
      count: toNumber(r.count),
    }));
  }

  async featureBinCounts(query: WindowQuery): Promise<FeatureBinCount[]> {
    const rows = await this.select<{
      feature: number | string;
      bin: number | string;
      count: number | string;
    }>('feature bin counts', this.bind(SQL.featureBinCounts, { where: this.where(query) }));
    return rows.map((r) => ({
      feature: toNumber(r.feature),
      bin: toNumber(r.bin),
      count: toNumber(r.count),
    }));
  }

  async predictionTimeSeries(query: TimeSeriesQuery): Promise<PredictionTimeBucket[]> {
    if (!Number.isInteger(query.bucketSeconds) || query.bucketSeconds < 1) {
      throw new RangeError(`bucketSeconds must be a positive integer, got ${query.bucketSeconds}`);
    }
    const rows = await this.select<{
      bucket: number | string;
      predictions: number | string;
      errors: number | string;
    }>(
      'prediction time series',
      this.bind(SQL.predictionTimeSeries, {
        where: this.where(query),
        bucketSeconds: query.bucketSeconds,
      }),
    );
    return rows.map((r) => ({
      bucket: toNumber(r.bucket) * 1000,
      predictions: toNumber(r.predictions),
      errors: toNumber(r.errors),
    }));
  }

  async insertMonitoringResults(rows: readonly MonitoringResult[]): Promise<void> {
    if (rows.length === 0) return;
    validateMonitoringResults(rows);
    const body = rows
      .map(
        (r) =>
          `${tsvString(r.model)}\t${r.model_version}\t${tsvDateTime(r.window_start)}\t` +
          `${tsvDateTime(r.window_end)}\t${tsvString(r.metric)}\t${tsvString(r.feature)}\t` +
          `${tsvFloat(r.value)}\t${tsvNullableFloat(r.threshold)}\t${tsvString(r.status)}\t${r.ts}\n`,
      )
      .join('');
    await this.insertTsv(
      'insert monitoring results',
      'monitoring_results',
      MONITORING_COLUMNS,
      body,
    );
  }

  async listMonitoringResults(query: MonitoringResultQuery): Promise<MonitoringResult[]> {
    const conditions: BoundSql[] = [this.where({ model: query.model, version: query.version })];
    if (query.metric !== undefined) {
      conditions.push(this.bind(SQL.whereMetric, { metric: query.metric }));
    }
    if (query.from !== undefined) {
      conditions.push(
        this.bind(SQL.whereWindowFrom, { fromSeconds: Math.max(0, Math.floor(query.from / 1000)) }),
      );
    }
    const rows = await this.select<{
      model: string;
      model_version: number | string;
      window_start: number | string;
      window_end: number | string;
      metric: string;
      feature: string;
      value_text: string;
      threshold_text: string | null;
      status: string;
      ts_ms: number | string;
    }>(
      'list monitoring results',
      this.bind(SQL.listMonitoringResults, {
        where: joinSql(conditions, ' AND '),
        limit: query.limit ?? DEFAULT_MONITORING_LIMIT,
      }),
    );
    return rows.map((r) => ({
      model: r.model,
      model_version: toNumber(r.model_version),
      window_start: toNumber(r.window_start) * 1000,
      window_end: toNumber(r.window_end) * 1000,
      metric: r.metric,
      feature: r.feature,
      value: parseFloatText(r.value_text),
      threshold: parseFloatText(r.threshold_text),
      status: r.status as MonitoringStatus,
      ts: toNumber(r.ts_ms),
    }));
  }

  async insertEvents(rows: readonly StoreEvent[]): Promise<void> {
    if (rows.length === 0) return;
    validateEvents(rows);
    const body = rows
      .map(
        (r) =>
          `${r.ts}\t${tsvString(r.type)}\t${tsvString(r.model)}\t${r.model_version}\t` +
          `${tsvString(r.severity)}\t${tsvString(JSON.stringify(r.details))}\n`,
      )
      .join('');
    await this.insertTsv('insert events', 'events', EVENT_COLUMNS, body);
  }

  async listEvents(query: EventQuery = {}): Promise<StoreEvent[]> {
    const rows = await this.select<{
      ts_ms: number | string;
      type: string;
      model: string;
      model_version: number | string;
      severity: string;
      details: string;
    }>(
      'list events',
      this.bind(SQL.listEvents, {
        where: this.where({ type: query.type, model: query.model, from: query.from }),
        limit: query.limit ?? DEFAULT_EVENT_LIMIT,
      }),
    );
    return rows.map((r) => ({
      ts: toNumber(r.ts_ms),
      type: r.type,
      model: r.model,
      model_version: toNumber(r.model_version),
      severity: r.severity as StoreEvent['severity'],
      details: parseEventDetails(r.details),
    }));
  }

  private async partitions(
    tables: readonly string[],
  ): Promise<{ table: string; partition: string; parts: number; rows: number }[]> {
    const rows = await this.select<{
      table: string;
      partition: string;
      parts: number | string;
      rows: number | string;
    }>(
      'list partitions',
      this.bind(SQL.partitionsOf, {
        database: this.database,
        tables: sqlList(tables, 'clickhouse'),
      }),
    );
    return rows.map((r) => ({
      table: r.table,
      partition: r.partition,
      parts: toNumber(r.parts),
      rows: toNumber(r.rows),
    }));
  }

  async dropPartitionsOlderThan(days: number): Promise<RetentionReport> {
    const cutoff = new Date(retentionCutoffMs(days));
    // Partitions are toYYYYMMDD(ts) in UTC: keep those on or after the cutoff day.
    const cutoffDay =
      cutoff.getUTCFullYear() * 10000 + (cutoff.getUTCMonth() + 1) * 100 + cutoff.getUTCDate();
    const report: RetentionReport = { dropped: [], rows: 0 };
    for (const p of await this.partitions(CLICKHOUSE_RETENTION_TABLES)) {
      if (!/^\d{8}$/.test(p.partition) || Number(p.partition) >= cutoffDay) continue;
      await this.command(
        `drop partition ${p.table}:${p.partition}`,
        this.bind(SQL.dropPartition, {
          table: identifier(p.table),
          partition: Number(p.partition),
        }),
      );
      report.dropped.push(`${p.table}:${p.partition}`);
      if (!CLICKHOUSE_DERIVED_TABLES.includes(p.table)) report.rows += p.rows;
    }
    return report;
  }

  async compact(): Promise<void> {
    // Per partition: OPTIMIZE … FINAL without PARTITION is not guaranteed to merge every partition
    // on every release. Single-part partitions too: one insert block can itself hold duplicates.
    for (const p of await this.partitions(CLICKHOUSE_REPLACING_TABLES)) {
      if (!/^\d{8}$/.test(p.partition)) continue;
      await this.command(
        `optimize ${p.table}:${p.partition}`,
        this.bind(SQL.optimizePartition, {
          table: identifier(p.table),
          partition: Number(p.partition),
        }),
      );
    }
  }

  async rowCounts(): Promise<Record<StoreTable, number>> {
    const tables: StoreTable[] = ['predictions', 'feedback', 'monitoring_results', 'events'];
    const counts = {} as Record<StoreTable, number>;
    for (const table of tables) {
      const rows = await this.select<{ count: number | string }>(
        `count ${table}`,
        this.bind(SQL.countRows, { table: identifier(table) }),
      );
      counts[table] = toNumber(rows[0]?.count ?? 0);
    }
    return counts;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.client.close();
  }

  // --- Monitoring aggregates (issue 6; SQL in CLICKHOUSE_MONITORING_SQL) -----------------------

  async monitoringBinAggregates(query: MonitoringBinQuery): Promise<MonitoringBinAggregate[]> {
    const rows = await this.select<{
      label: string;
      counts: [Array<number | string>, Array<number | string>];
      score_sums: [Array<number | string>, Array<number | string | null>];
    }>(
      'monitoring bin aggregates',
      this.bind(MONITORING_SQL.binAggregates, {
        where: this.where(query),
        width: query.width,
        scoreOffset: query.scoreOffset,
      }),
    );
    const out: MonitoringBinAggregate[] = [];
    for (const r of rows) {
      const sums = new Map<number, number>();
      r.score_sums[0].forEach((key, i) =>
        sums.set(toNumber(key), finiteNumber(r.score_sums[1][i])),
      );
      r.counts[0].forEach((rawKey, i) => {
        const key = toNumber(rawKey);
        out.push({
          label: r.label,
          position: Math.floor(key / 256),
          bin: key % 256,
          count: toNumber(r.counts[1][i]),
          sum_score: sums.get(key) ?? 0,
        });
      });
    }
    return out;
  }

  async monitoringIngestAggregates(query: MonitoringBinQuery): Promise<MonitoringIngestAggregates> {
    if (!isMinuteAligned(query)) {
      throw new StoreQueryError('monitoring ingest aggregates need a minute-aligned window');
    }
    const rows = await this.select<{
      label: string;
      rows: number | string;
      bins: [Array<number | string>, Array<number | string>];
      sums: [Array<number | string>, Array<number | string | null>];
    }>(
      'monitoring ingest aggregates',
      this.bind(MONITORING_SQL.ingestAggregates, { where: this.where(query) }),
    );
    return {
      rows: rows.reduce((sum, r) => sum + toNumber(r.rows), 0),
      bins: binAggregatesFromSums(
        rows.map((r) => ({
          label: r.label,
          bin_keys: r.bins[0].map(toNumber),
          bin_counts: r.bins[1].map(toNumber),
          score_keys: r.sums[0].map(toNumber),
          score_sums: r.sums[1].map(finiteNumber),
        })),
        query.width,
        query.scoreOffset,
      ),
    };
  }

  async monitoringQualityAggregates(
    query: MonitoringLabelQuery,
  ): Promise<MonitoringQualityAggregates> {
    if (query.classNames.length === 0) return { labels: [], histogram: [] };
    const where = this.where(query);
    const read = (table: string) =>
      this.select<QualityRowJson>(
        'monitoring quality aggregates',
        this.bind(MONITORING_SQL.qualityAggregates, {
          labeled: this.bind(table),
          where,
          classNames: [...query.classNames],
          topScoreBins: query.topScoreBins,
          topScoreBinsMax: query.topScoreBins - 1,
        }),
      );
    // Most windows hold one row per labeled id (copies collapse on merge within minutes), and
    // then the plain, parallel read is exact; `FINAL` is kept for windows that hold copies. The
    // check runs first, and the plain read must then see exactly the rows the check counted:
    // parts are only ever added (rows) or merged (copies removed), so a window without copies at
    // the check whose plain read counts the same rows cannot hold a copy in that read either — a
    // copy inserted after the check adds a row unless a merge already folded it into the latest
    // label, which is what `FINAL` would have returned.
    const [check] = await this.select<{ rows: number | string; ids: number | string }>(
      'monitoring quality duplicate check',
      this.bind(MONITORING_SQL.qualityDuplicates, { where }),
    );
    const checkedRows = toNumber(check?.rows ?? 0);
    let rows: QualityRowJson[] | undefined;
    if (checkedRows === toNumber(check?.ids ?? 0)) {
      const plain = await read(MONITORING_SQL.qualityPlain);
      const plainRows = plain.reduce(
        (sum, r) => sum + (toNumber(r.class_index) === 0 ? toNumber(r.count) : 0),
        0,
      );
      if (plainRows === checkedRows) rows = plain;
    }
    rows ??= await read(MONITORING_SQL.qualityFinal);
    return qualityFromRows(
      rows.map((r) => ({
        label: r.label,
        actual_label: r.actual_label,
        top_bin: toNumber(r.top_bin),
        class_index: toNumber(r.class_index),
        bin: toNumber(r.bin),
        count: toNumber(r.count),
        sum_score: finiteNumber(r.sum_score),
        sum_top_score: finiteNumber(r.sum_top_score),
        sum_log_loss: finiteNumber(r.sum_log_loss),
        log_loss_rows: toNumber(r.log_loss_rows),
      })),
    );
  }

  async monitoringLabelAggregates(
    query: MonitoringLabelQuery,
  ): Promise<MonitoringLabelAggregate[]> {
    if (query.classNames.length === 0) return [];
    const rows = await this.select<{
      label: string;
      actual_label: string;
      top_bin: number | string;
      count: number | string;
      sum_top_score: number | string | null;
      sum_log_loss: number | string | null;
      log_loss_rows: number | string;
    }>(
      'monitoring label aggregates',
      this.bind(MONITORING_SQL.labelAggregates, {
        where: this.where(query),
        classNames: [...query.classNames],
        topScoreBins: query.topScoreBins,
        topScoreBinsMax: query.topScoreBins - 1,
      }),
    );
    return rows.map((r) => ({
      label: r.label,
      actual_label: r.actual_label,
      top_bin: toNumber(r.top_bin),
      count: toNumber(r.count),
      sum_top_score: finiteNumber(r.sum_top_score),
      sum_log_loss: finiteNumber(r.sum_log_loss),
      log_loss_rows: toNumber(r.log_loss_rows),
    }));
  }

  async monitoringScoreHistogram(query: WindowQuery): Promise<MonitoringScoreBin[]> {
    const rows = await this.select<{
      actual_label: string;
      class_index: number | string;
      bin: number | string;
      count: number | string;
      sum_score: number | string | null;
    }>(
      'monitoring score histogram',
      this.bind(MONITORING_SQL.scoreHistogram, { where: this.where(query) }),
    );
    return rows.map((r) => ({
      actual_label: r.actual_label,
      class_index: toNumber(r.class_index),
      bin: toNumber(r.bin),
      count: toNumber(r.count),
      sum_score: finiteNumber(r.sum_score),
    }));
  }

  async monitoringRegressionSums(query: WindowQuery): Promise<MonitoringRegressionSums> {
    const [row] = await this.select<Record<keyof MonitoringRegressionSums, number | string>>(
      'monitoring regression sums',
      this.bind(MONITORING_SQL.regressionSums, { where: this.where(query) }),
    );
    const value = (key: keyof MonitoringRegressionSums): number =>
      row === undefined ? 0 : finiteNumber(parseFloatText(String(row[key])));
    return {
      count: row === undefined ? 0 : toNumber(row.count),
      sum_absolute_error: value('sum_absolute_error'),
      sum_squared_error: value('sum_squared_error'),
      sum_absolute_percentage_error: value('sum_absolute_percentage_error'),
      sum_target: value('sum_target'),
      sum_squared_target: value('sum_squared_target'),
      sum_squared_target_deviation: value('sum_squared_target_deviation'),
    };
  }

  async latestRowsWindow(query: LatestRowsQuery): Promise<{ start: number | null; rows: number }> {
    const [row] = await this.select<{ start: number | string; rows: number | string }>(
      'latest rows window',
      this.bind(MONITORING_SQL.latestRowsWindow, {
        where: this.where({ model: query.model, version: query.version, to: query.to }),
        rows: query.rows,
      }),
    );
    const rows = row === undefined ? 0 : toNumber(row.rows);
    return { start: rows > 0 ? toNumber(row.start) : null, rows };
  }

  async firstLoggedPredictions(query: FirstLoggedQuery): Promise<LoggedPredictionSample[]> {
    const rows = await this.select<{
      inputs_text: string[];
      scores_text: string[];
      label: string;
      value_text: string | null;
    }>(
      'first logged predictions',
      this.bind(MONITORING_SQL.firstLoggedPredictions, {
        where: this.where({ model: query.model, version: query.version }),
        limit: query.limit,
      }),
    );
    return rows.map((r) => ({
      inputs: parseFloat32Texts(r.inputs_text),
      scores: parseFloat32Texts(r.scores_text),
      label: r.label,
      value: parseFloatText(r.value_text),
    }));
  }
}

/** A Float64 aggregate read back from JSON (a number, a string for 64-bit, null for NaN): 0 unless finite. */
function finiteNumber(value: number | string | null | undefined): number {
  const n =
    typeof value === 'number' ? value : value === null || value === undefined ? NaN : Number(value);
  return Number.isFinite(n) ? n : 0;
}

/** A row of `qualityAggregates` as JSONEachRow returns it (64-bit numbers may come as strings). */
interface QualityRowJson {
  label: string;
  actual_label: string;
  top_bin: number | string;
  class_index: number | string;
  bin: number | string;
  count: number | string;
  sum_score: number | string | null;
  sum_top_score: number | string | null;
  sum_log_loss: number | string | null;
  log_loss_rows: number | string;
}
