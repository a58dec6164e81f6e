import { Logger } from '@nestjs/common';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { ArgusError, errorMessage } from '../common/errors';
import { ArgusConfig, InputLogging } from '../config/config';
import { PredictionSink } from '../inference/prediction-sink';
import { StoreError } from '../store/analytics-store';
import { assignBatchKeys, chunkSizes } from '../store/prediction-aggregates';
import { EncodedPredictionQueue } from './encoded-prediction-queue';
import { InputSampler, inputSamplingPolicy } from './input-sampling';
import { FeedbackRecord, PredictionRecord } from './prediction-record';
import {
  PREDICTION_LOG_TABLES,
  PredictionLogGauges,
  PredictionLogMetrics,
  PredictionLogMetricsSnapshot,
  PredictionLogTable,
} from './prediction-log-metrics';
import { ArrayRecordQueue, RecordQueue } from './record-queue';
import {
  errnoCode,
  Spool,
  SpoolBatch,
  SpooledRecord,
  SpoolFileSystem,
  SpoolProblem,
} from './spool';

/**
 * The prediction write pipeline: request path → bounded in-memory queue → batches → store, with
 * an on-disk spool whenever the store is down, slow or refusing, and replay from it.
 *
 * Modelled on OpenTelemetry's BatchSpanProcessor (bounded queue, size/age-triggered export, one
 * export in flight, an export timeout, flush on shutdown) with two differences: overflow goes to
 * the spool instead of being dropped, and a failed export is spooled and retried instead of lost.
 *
 * Durability (ARGUS_LOG_DURABILITY):
 *
 * - `async` (default): `append()` returns at once. Records live in memory until the next flush
 *   (at most `flushIntervalMs`, default 1 s, or `flushRows` rows), so a crash of the Argus process
 *   loses at most the records of the last flush interval, plus a batch in flight to the store.
 *   Spooled batches are written (not fsynced) in this mode: they survive a process crash, not
 *   necessarily a power loss.
 * - `sync`: `appendDurable()` resolves only once the records are in the fsynced spool (or, if the
 *   disk fails, acknowledged by the store). Concurrent appends share one write and one fsync
 *   (group commit), so the mode costs latency, not throughput. The spool is then the log: the
 *   replay loop delivers it to the store in batches of up to `flushRows` rows, waiting up to
 *   `flushIntervalMs` for a batch to fill.
 *
 * Order: while anything is spooled and not yet acknowledged, new batches are spooled behind it
 * rather than sent to the store, so the store receives batches in the order they were flushed.
 * (Exceptions, both rare: queue-overflow records are spooled ahead of older queued rows; and when
 * the disk fails while a backlog exists, the batch goes to the store out of order rather than
 * being lost.) The store's `ts` column, not arrival order, decides "latest" for feedback.
 *
 * Delivery is at-least-once: a batch whose acknowledgement was lost (a timeout that later
 * succeeded, a crash between insert and segment deletion) is inserted again; the schema collapses
 * duplicates by id.
 */

/** What the writer needs of the analytical store. Errors are thrown, never returned. */
export interface PredictionLogStore {
  insertPredictions(rows: PredictionRecord[]): Promise<void>;
  insertFeedback(rows: FeedbackRecord[]): Promise<void>;
}

export interface PredictionLogLogger {
  log(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export type LogDurability = 'async' | 'sync';

export interface PredictionWriterOptions {
  store: PredictionLogStore;
  /** ARGUS_HOME: spools live in `${home}/spool/predictions` and `${home}/spool/feedback`. */
  home: string;
  flushRows?: number;
  /**
   * A backlog — rows that queued up while the previous insert was in flight, or a spool being
   * replayed — goes to the store in inserts of up to this many rows (at least `flushRows`).
   * ClickHouse pays per insert (a new part, a merge later), so fewer, larger inserts keep up with
   * a far higher row rate. Default `flushRows` (every insert at most one flush); `fromConfig`, the
   * production path, uses 10 × `flushRows` (50 000 rows at the default).
   */
  maxBatchRows?: number;
  flushIntervalMs?: number;
  /** Bound of each table's in-memory queue, in rows. */
  queueRows?: number;
  durability?: LogDurability;
  inputs?: InputLogging;
  /** Rows wider than this are logged without inputs (default 1024). */
  maxLoggedInputValues?: number;
  /** A store insert taking longer counts as failed and its batch is spooled. Default 10 s. */
  storeTimeoutMs?: number;
  /** First retry delay of a spooled batch while the store is down; doubles up to `retryMaxMs`. */
  retryInitialMs?: number;
  retryMaxMs?: number;
  /** `close()` gives the store this long before spooling what is left. Default 5 s. */
  shutdownTimeoutMs?: number;
  segmentBytes?: number;
  /** Replay of a backlog logs progress this often. Default 10 s. */
  progressIntervalMs?: number;
  /** Repeated warnings of one kind are logged at most once per this interval. Default 10 s. */
  logIntervalMs?: number;
  fs?: SpoolFileSystem;
  logger?: PredictionLogLogger;
  registry?: Registry;
  random?: () => number;
  /** Errors for which retrying cannot help; such batches are set aside. Default: isPermanentStoreError. */
  isPermanentStoreError?: (err: unknown) => boolean;
}

/**
 * A backlog batch stops growing past `flushRows` rows once its rows weigh this much: with
 * `weigh` = float values + PREDICTION_FIXED_WEIGHT per prediction, about 32 MB of insert body.
 */
export const MAX_BATCH_WEIGHT = 8_000_000;
/** The columns of a prediction other than its float arrays, in 4-byte units (ids, names, counters). */
const PREDICTION_FIXED_WEIGHT = 60;

/** Neither the spool nor the store took records that had to be made durable. */
export class PredictionLogUnavailableError extends ArgusError {
  constructor(message: string) {
    super('unavailable', message);
  }
}

export class StoreWriteTimeoutError extends ArgusError {
  constructor(table: PredictionLogTable, ms: number) {
    super('unavailable', `store insert into ${table} did not finish within ${ms} ms`);
  }
}

class ShutdownDeadlineError extends ArgusError {
  constructor(table: PredictionLogTable) {
    super('unavailable', `shutdown deadline reached while writing ${table}`);
  }
}

/**
 * Retrying cannot help when the store answered and refused the rows (`StoreWriteError`, any
 * `StoreError` that is not retryable) or the rows are invalid. Such a batch is set aside instead
 * of blocking the replay of everything behind it.
 */
export function isPermanentStoreError(err: unknown): boolean {
  if (err instanceof StoreError) return !err.retryable;
  return err instanceof ArgusError && err.kind === 'invalid';
}

/** Logs a repeated condition at most once per interval, saying how many repeats it held back. */
export class ThrottledLog {
  private readonly last = new Map<string, { at: number; suppressed: number }>();

  constructor(
    private readonly logger: PredictionLogLogger,
    private readonly intervalMs: number,
  ) {}

  emit(level: 'warn' | 'error', key: string, message: string): void {
    const now = Date.now();
    const entry = this.last.get(key);
    if (entry && now - entry.at < this.intervalMs) {
      entry.suppressed++;
      return;
    }
    const suffix = entry?.suppressed ? ` (${entry.suppressed} more since last report)` : '';
    this.last.set(key, { at: now, suppressed: 0 });
    this.logger[level](message + suffix);
  }
}

interface TableWriterSettings {
  flushRows: number;
  maxBatchRows: number;
  flushIntervalMs: number;
  queueRows: number;
  durability: LogDurability;
  storeTimeoutMs: number;
  retryInitialMs: number;
  retryMaxMs: number;
  shutdownTimeoutMs: number;
  progressIntervalMs: number;
}

interface TableWriterParts<T extends SpooledRecord> {
  table: PredictionLogTable;
  insert: (rows: T[]) => Promise<void>;
  /**
   * The in-memory queue. Its weights (about 4 bytes per unit) bound a backlog batch beyond
   * `flushRows` rows at MAX_BATCH_WEIGHT.
   */
  queue: RecordQueue<T>;
  /**
   * Gives records their delivery unit (`batch_key`) before they first leave the queue: `units`
   * are consecutive slice sizes of `rows` that are always delivered whole (flush chunks of at most
   * `flushRows`, which the spool's frames never split; or the frames a replay read).
   */
  keyUnits?: (rows: T[], units: readonly number[]) => void;
  spool: Spool<T>;
  /** Where batches the store refuses as invalid are set aside for a human. */
  rejected: Spool<T>;
  settings: TableWriterSettings;
  metrics: PredictionLogMetrics;
  logger: PredictionLogLogger;
  throttled: ThrottledLog;
  isPermanentStoreError: (err: unknown) => boolean;
}

interface StoreFailure {
  error: unknown;
  permanent: boolean;
}

/** The pipeline of one table: its queue, flushes, spool and replay loop. */
export class TableWriter<T extends SpooledRecord> {
  readonly table: PredictionLogTable;
  readonly spool: Spool<T>;
  private readonly settings: TableWriterSettings;
  private readonly metrics: PredictionLogMetrics;
  private readonly logger: PredictionLogLogger;
  private readonly throttled: ThrottledLog;
  /** In sync mode the replay loop waits this long for a batch to fill (the flush interval). */
  private readonly lingerMs: number;

  private readonly queue: RecordQueue<T>;
  private flushTimer: NodeJS.Timeout | undefined;
  private flushKicked = false;
  private flushInFlight: Promise<void> | undefined;

  private replaying = false;
  private replayDone: Promise<void> = Promise.resolve();
  private lingerTimer: NodeJS.Timeout | undefined;
  /** Rows spooled since the replay loop last looked. */
  private unreadRows = 0;
  private readonly replayProgress = { behind: false, rows: 0, bytes: 0, since: 0, loggedAt: 0 };

  private closing = false;
  private closed = false;
  /** The last store insert failed (or timed out). */
  private storeFailing = false;
  private pastDeadline = false;
  private closePromise: Promise<void> | undefined;
  private readonly inFlightInserts = new Set<(err: Error) => void>();
  private readonly sleepers = new Set<() => void>();

  constructor(private readonly parts: TableWriterParts<T>) {
    this.table = parts.table;
    this.spool = parts.spool;
    this.settings = parts.settings;
    this.metrics = parts.metrics;
    this.logger = parts.logger;
    this.throttled = parts.throttled;
    this.queue = parts.queue;
    this.lingerMs = parts.settings.durability === 'sync' ? parts.settings.flushIntervalMs : 0;
  }

  /** Rows waiting in memory. */
  get queuedRows(): number {
    return this.queue.length;
  }

  /** Finds what a previous run left in the spool and starts replaying it. Never throws. */
  async start(): Promise<void> {
    try {
      await this.spool.open();
    } catch (err) {
      this.spoolError('open', err);
      return;
    }
    const stats = this.spool.stats();
    if (stats.segments > 0) {
      this.logger.log(
        `prediction log (${this.table}): ${stats.segments} spool segment(s), ` +
          `${stats.bytes} bytes left by a previous run; replaying`,
      );
      this.startReplay();
    }
  }

  /**
   * The request path in `async` mode: O(records), synchronous, never throws. Records go to the
   * queue, or when it is full straight to the spool; only if the spool also fails are they
   * dropped (counted in `argus_prediction_log_dropped_total`). The writer keeps `records`' elements:
   * do not mutate them afterwards.
   */
  append(records: readonly T[]): void {
    if (records.length === 0) return;
    if (this.closed) {
      this.drop(records.length, 'the prediction log is closed');
      return;
    }
    if (this.queue.length + records.length > this.settings.queueRows) {
      this.overflow(records);
      return;
    }
    const wasEmpty = this.queue.length === 0;
    for (const record of records) {
      try {
        this.queue.push(record);
      } catch (err) {
        // The predictions queue encodes each record; one it cannot encode (a caller's bug, such
        // as a missing field) is dropped and counted rather than failing the request it came with.
        this.drop(1, `a record could not be queued: ${errorMessage(err)}`);
      }
    }
    if (this.queue.length >= this.settings.flushRows) this.kickFlush();
    else if (wasEmpty) this.armFlushTimer();
  }

  /**
   * The request path in `sync` mode: resolves once the records are in the fsynced spool, or, when
   * the disk fails, acknowledged by the store. Rejects with PredictionLogUnavailableError (503)
   * when neither took them.
   */
  async appendDurable(records: readonly T[]): Promise<void> {
    if (records.length === 0) return;
    if (this.closed) {
      this.drop(records.length, 'the prediction log is closed');
      throw new PredictionLogUnavailableError('the prediction log is closed');
    }
    try {
      await this.spool.append(records, true);
      this.noteSpooled(records.length);
      return;
    } catch (err) {
      this.spoolError('append', err);
    }
    const rows = records.slice();
    const failure = await this.tryStore(rows);
    if (!failure) {
      this.metrics.batch(this.table, 'written');
      return;
    }
    this.drop(rows.length, 'neither the spool nor the store accepted a durable append');
    throw new PredictionLogUnavailableError(
      `prediction log (${this.table}): neither the spool nor the store accepted the records: ` +
        errorMessage(failure.error),
    );
  }

  /** `append` or `appendDurable`, by the configured durability. */
  record(records: readonly T[]): void | Promise<void> {
    if (this.settings.durability === 'sync') return this.appendDurable(records);
    this.append(records);
  }

  /** Sends everything queued now (to the store, or the spool). Resolves when the queue is empty. */
  async flush(): Promise<void> {
    while (this.queue.length > 0 || this.flushInFlight) await this.runFlush(true);
  }

  /**
   * Graceful shutdown: flush the queue to the store, spooling (fsynced) whatever the store has not
   * taken when `deadlineMs` runs out; keep replaying the spool to a healthy store until the
   * deadline; stop the replay loop and timers; close the spool.
   * Idempotent, never rejects. Spooled data left behind is replayed by the next start.
   */
  close(deadlineMs = this.settings.shutdownTimeoutMs): Promise<void> {
    this.closePromise ??= this.shutdown(deadlineMs);
    return this.closePromise;
  }

  private async shutdown(deadlineMs: number): Promise<void> {
    this.closing = true;
    this.clearFlushTimer();
    if (this.lingerTimer) clearTimeout(this.lingerTimer);
    this.lingerTimer = undefined;
    for (const wake of [...this.sleepers]) wake();
    const deadline = setTimeout(() => {
      this.pastDeadline = true;
      for (const abort of [...this.inFlightInserts]) abort(new ShutdownDeadlineError(this.table));
    }, deadlineMs);
    deadline.unref();
    try {
      await this.flush();
      this.closed = true;
      // Deliver what is spooled (in sync mode: the rows of the last linger interval) while the store
      // answers and the deadline allows. The replay loop gives up at the first store failure
      // during shutdown; whatever is left is replayed at the next start.
      await this.replayDone;
      if (!this.pastDeadline && !this.storeFailing && this.spool.hasBacklog) {
        this.replaying = true;
        this.replayDone = this.replayLoop();
        await this.replayDone;
      }
      await this.spool.close();
      await this.parts.rejected.close();
    } catch (err) {
      this.logger.error(`prediction log (${this.table}): shutdown: ${errorMessage(err)}`);
    } finally {
      this.closed = true;
      clearTimeout(deadline);
    }
    const left = this.spool.stats();
    if (left.unacknowledgedBytes > 0) {
      this.logger.log(
        `prediction log (${this.table}): ${left.unacknowledgedBytes} spooled bytes in ` +
          `${left.segments} segment(s) will be replayed at the next start`,
      );
    }
  }

  // ---- queue and flushes --------------------------------------------------------------------

  /** Size-triggered flushes run on the next turn of the event loop, not inside the request. */
  private kickFlush(): void {
    if (this.flushKicked || this.flushInFlight) return;
    this.flushKicked = true;
    setImmediate(() => {
      this.flushKicked = false;
      void this.runFlush(false);
    }).unref();
  }

  private armFlushTimer(): void {
    if (this.flushTimer || this.closing) return;
    this.flushTimer = setTimeout(() => {
      this.flushTimer = undefined;
      void this.runFlush(false);
    }, this.settings.flushIntervalMs);
    this.flushTimer.unref();
  }

  private clearFlushTimer(): void {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
  }

  /** At most one flush per table in flight: a slow store makes the queue grow, not the flushes. */
  private runFlush(drainAll: boolean): Promise<void> {
    if (this.flushInFlight) return this.flushInFlight;
    this.clearFlushTimer();
    const run = this.flushLoop(drainAll).finally(() => {
      this.flushInFlight = undefined;
      this.afterFlush();
    });
    this.flushInFlight = run;
    return run;
  }

  private async flushLoop(drainAll: boolean): Promise<void> {
    try {
      do {
        const batch = await this.takeBatch();
        if (batch.length === 0) return;
        await this.deliver(batch);
      } while (drainAll ? this.queue.length > 0 : this.queue.length >= this.settings.flushRows);
    } catch (err) {
      // deliver() handles every failure it knows; this is a bug guard, not a code path.
      this.logger.error(`prediction log (${this.table}): flush failed: ${errorMessage(err)}`);
    }
  }

  private afterFlush(): void {
    if (this.queue.length === 0 || this.closing) return;
    if (this.queue.length >= this.settings.flushRows) this.kickFlush();
    else this.armFlushTimer();
  }

  private takeBatch(): Promise<T[]> {
    const { flushRows, maxBatchRows } = this.settings;
    // A backlog goes in one larger insert, bounded in rows and (for wide rows) in weight.
    return this.queue.take(flushRows, maxBatchRows, MAX_BATCH_WEIGHT);
  }

  /** Store if it is healthy and nothing is waiting ahead; else (or on failure) the spool. */
  private async deliver(rows: T[]): Promise<void> {
    // Before the first attempt, so a retry (spooled, replayed) carries the same keys. Chunks of
    // flushRows from the batch start: the spool splits an append into frames exactly there.
    this.parts.keyUnits?.(rows, chunkSizes(rows.length, this.settings.flushRows));
    const behindBacklog = this.spool.hasBacklog || this.pastDeadline;
    if (!behindBacklog) {
      const failure = await this.tryStore(rows);
      if (!failure) {
        this.metrics.batch(this.table, 'written');
        return;
      }
      if (failure.permanent) {
        await this.setAside(rows, failure.error);
        return;
      }
    }
    // Durable while shutting down: these are the last copies once the process exits.
    if (await this.trySpool(rows, this.closing)) return;
    // The disk failed too. If the store was skipped because of the backlog, try it now: out of
    // order beats lost.
    if (behindBacklog && !this.pastDeadline && !(await this.tryStore(rows))) {
      this.metrics.batch(this.table, 'written');
      return;
    }
    this.drop(rows.length, 'neither the store nor the spool accepted a batch');
  }

  private overflow(records: readonly T[]): void {
    if (this.spool.pendingRows + records.length > this.settings.queueRows) {
      // The disk is not keeping up either; holding more in memory would only move the problem.
      this.drop(records.length, 'queue full and spool writes backed up');
      return;
    }
    const rows = records.slice();
    this.spool.append(rows, false).then(
      () => this.noteSpooled(rows.length),
      (err: unknown) => {
        this.spoolError('append', err);
        this.drop(rows.length, 'queue full and the spool failed');
      },
    );
  }

  private async trySpool(rows: T[], durable: boolean): Promise<boolean> {
    try {
      await this.spool.append(rows, durable);
      this.noteSpooled(rows.length);
      return true;
    } catch (err) {
      this.spoolError('append', err);
      return false;
    }
  }

  private noteSpooled(rows: number): void {
    this.metrics.add(this.table, 'recordsSpooled', rows);
    this.metrics.batch(this.table, 'spooled');
    this.notifySpooled(rows);
  }

  /** Inserts into the store; on failure counts, logs (throttled) and describes it. */
  private async tryStore(rows: T[]): Promise<StoreFailure | undefined> {
    try {
      await this.insertWithTimeout(rows);
      this.storeFailing = false;
      this.metrics.add(this.table, 'recordsWritten', rows.length);
      return undefined;
    } catch (err) {
      this.storeFailing = true;
      this.metrics.add(this.table, 'writeErrors');
      const permanent =
        !(err instanceof ShutdownDeadlineError) && this.parts.isPermanentStoreError(err);
      if (!permanent) {
        this.throttled.emit(
          'warn',
          `${this.table}:store`,
          `prediction log (${this.table}): store write failed, spooling and retrying: ${errorMessage(err)}`,
        );
      }
      return { error: err, permanent };
    }
  }

  /**
   * The store call, bounded by `storeTimeoutMs` and by the shutdown deadline. A timed-out insert
   * may still succeed later; its batch is then delivered twice (at-least-once).
   */
  private insertWithTimeout(rows: T[]): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      const fail = (err: unknown): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.inFlightInserts.delete(fail);
        reject(err instanceof Error ? err : new Error(errorMessage(err), { cause: err }));
      };
      const succeed = (): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.inFlightInserts.delete(fail);
        resolve();
      };
      const timer = setTimeout(
        () => fail(new StoreWriteTimeoutError(this.table, this.settings.storeTimeoutMs)),
        this.settings.storeTimeoutMs,
      );
      timer.unref();
      if (this.pastDeadline) {
        fail(new ShutdownDeadlineError(this.table));
        return;
      }
      this.inFlightInserts.add(fail);
      try {
        this.parts.insert(rows).then(succeed, fail);
      } catch (err) {
        fail(err);
      }
    });
  }

  /** Parks a batch the store refuses as invalid, so it cannot block the replay forever. */
  private async setAside(rows: T[], error: unknown): Promise<void> {
    this.logger.error(
      `prediction log (${this.table}): store refused a batch of ${rows.length} rows as invalid; ` +
        `set aside in ${this.parts.rejected.directory}: ${errorMessage(error)}`,
    );
    try {
      await this.parts.rejected.append(rows, true);
      this.metrics.add(this.table, 'recordsRejected', rows.length);
      this.metrics.batch(this.table, 'rejected');
    } catch (err) {
      this.spoolError('set-aside', err);
      this.drop(rows.length, 'refused by the store and could not be set aside');
    }
  }

  private drop(rows: number, reason: string): void {
    this.metrics.add(this.table, 'recordsDropped', rows);
    this.metrics.batch(this.table, 'dropped');
    this.throttled.emit(
      'error',
      `${this.table}:drop`,
      `prediction log (${this.table}): dropped ${rows} record(s): ${reason}`,
    );
  }

  private spoolError(operation: string, err: unknown): void {
    this.metrics.add(this.table, 'spoolErrors');
    this.throttled.emit(
      'error',
      `${this.table}:spool:${operation}:${errnoCode(err) ?? 'error'}`,
      `prediction log (${this.table}): spool ${operation} failed in ${this.spool.directory}: ${errorMessage(err)}`,
    );
  }

  /** Spool damage and I/O trouble reported by the spool itself. */
  onSpoolProblem(problem: SpoolProblem): void {
    switch (problem.kind) {
      case 'corrupt_frame':
        this.metrics.damage(this.table, 'crc_mismatch');
        this.logger.warn(
          `prediction log (${this.table}): skipped a corrupt frame (CRC mismatch) at ` +
            `${problem.segment}:${problem.offset}`,
        );
        return;
      case 'torn_tail':
        this.metrics.damage(this.table, 'torn_tail');
        this.logger.warn(
          `prediction log (${this.table}): skipped a torn tail of ${problem.bytes} bytes at ` +
            `${problem.segment}:${problem.offset} (interrupted write)`,
        );
        return;
      case 'missing_segment':
        this.metrics.damage(this.table, 'missing_segment');
        this.logger.warn(
          `prediction log (${this.table}): spool segment ${problem.segment} disappeared; skipped`,
        );
        return;
      case 'io_error':
        this.spoolError(problem.operation, problem.error);
        return;
    }
  }

  // ---- replay -------------------------------------------------------------------------------

  private notifySpooled(rows: number): void {
    this.unreadRows += rows;
    if (this.replaying || this.closing) return;
    if (this.lingerMs === 0 || this.unreadRows >= this.settings.flushRows) {
      this.startReplay();
      return;
    }
    if (!this.lingerTimer) {
      this.lingerTimer = setTimeout(() => {
        this.lingerTimer = undefined;
        this.startReplay();
      }, this.lingerMs);
      this.lingerTimer.unref();
    }
  }

  private startReplay(): void {
    if (this.lingerTimer) clearTimeout(this.lingerTimer);
    this.lingerTimer = undefined;
    if (this.replaying || this.closing) return;
    this.replaying = true;
    this.replayDone = this.replayLoop();
  }

  /**
   * Delivers the spool to the store, oldest first, one batch in flight. While the store fails,
   * the oldest batch is retried with exponential backoff (retryInitialMs doubling up to
   * retryMaxMs): that retry is the probe that notices the store is back. Ends when the spool is
   * empty (the next spooled batch starts it again) or at shutdown.
   */
  private async replayLoop(): Promise<void> {
    let backoff = this.settings.retryInitialMs;
    const nextBackoff = () => {
      const current = backoff;
      backoff = Math.min(backoff * 2, this.settings.retryMaxMs);
      return current;
    };
    try {
      while (!this.pastDeadline) {
        this.unreadRows = 0;
        let batch: SpoolBatch<T> | undefined;
        try {
          batch = await this.spool.read(this.settings.maxBatchRows);
        } catch (err) {
          this.spoolError('read', err);
          await this.sleep(nextBackoff());
          continue;
        }
        if (!batch) {
          // Rows spooled while we were reading are read next; otherwise stop (synchronously with
          // the check, so a concurrent append's notifySpooled() restarts the loop).
          if (this.unreadRows > 0) continue;
          this.noteReplayCaughtUp();
          return;
        }
        // Records spooled without a key (sync mode, queue overflow) are keyed per frame, by content:
        // the same frame read again gets the same key.
        this.parts.keyUnits?.(batch.rows, batch.frameRows);
        let delivered = false;
        while (!delivered) {
          const failure = await this.tryStore(batch.rows);
          if (!failure) {
            this.metrics.batch(this.table, 'replayed');
            delivered = true;
          } else if (failure.permanent) {
            await this.setAside(batch.rows, failure.error);
            delivered = true;
          } else if (this.closing) {
            return; // still in the spool; the next start replays it
          } else {
            await this.sleep(nextBackoff());
            if (this.closing) return;
          }
        }
        backoff = this.settings.retryInitialMs;
        try {
          await this.spool.acknowledge(batch);
        } catch (err) {
          this.spoolError('acknowledge', err);
        }
        this.noteReplayProgress(batch);
      }
    } finally {
      this.replaying = false;
    }
  }

  private noteReplayProgress(batch: SpoolBatch<T>): void {
    const progress = this.replayProgress;
    const now = Date.now();
    const oldest = this.spool.oldestUnacknowledgedTs();
    // "Behind" = the oldest unacknowledged record is older than one progress interval: a real
    // backlog, not the steady trickle of sync mode.
    if (!progress.behind) {
      if (oldest === undefined || now - oldest < this.settings.progressIntervalMs) return;
      progress.behind = true;
      progress.rows = 0;
      progress.bytes = 0;
      progress.since = now;
      progress.loggedAt = now;
    }
    progress.rows += batch.rows.length;
    progress.bytes += batch.end - batch.start;
    if (now - progress.loggedAt < this.settings.progressIntervalMs) return;
    progress.loggedAt = now;
    const stats = this.spool.stats();
    const bytesPerRow = progress.rows > 0 ? progress.bytes / progress.rows : 0;
    const remainingRows = bytesPerRow > 0 ? Math.round(stats.unacknowledgedBytes / bytesPerRow) : 0;
    this.logger.log(
      `prediction log (${this.table}): replay: ${progress.rows} rows replayed, ` +
        `~${remainingRows} remaining (${stats.unacknowledgedBytes} bytes in ${stats.segments} segment(s))`,
    );
  }

  private noteReplayCaughtUp(): void {
    const progress = this.replayProgress;
    if (!progress.behind) return;
    progress.behind = false;
    const seconds = ((Date.now() - progress.since) / 1000).toFixed(1);
    this.logger.log(
      `prediction log (${this.table}): replay caught up: ${progress.rows} rows in ${seconds} s`,
    );
  }

  private sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        this.sleepers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      timer.unref();
      this.sleepers.add(wake);
    });
  }
}

/**
 * Both tables' pipelines, plus the input-logging policy. This is what the inference path (via
 * the PREDICTION_SINK token) and the feedback endpoint talk to.
 */
/** Fills rows' monitoring fields before the insert; may take its time in slices (async). */
export type PredictionEnricher = (
  rows: PredictionRecord[],
) => PredictionRecord[] | Promise<PredictionRecord[]>;

export class PredictionWriter implements PredictionSink {
  readonly predictions: TableWriter<PredictionRecord>;
  readonly feedback: TableWriter<FeedbackRecord>;
  readonly durability: LogDurability;
  private readonly metricsRecorder: PredictionLogMetrics;
  private readonly inputSampler: InputSampler;
  /**
   * Monitoring hook (issue 6): fills each prediction's `feature_bins` just before the insert, at
   * flush time and in batches, so binning stays off the request path. The identity until the
   * monitoring module installs its enricher (src/monitoring/feature-bin-enricher.ts), which never
   * throws: a row it cannot bin is written without bins.
   */
  private enrichPredictions: PredictionEnricher = (rows) => rows;

  setPredictionEnricher(enrich: PredictionEnricher): void {
    this.enrichPredictions = enrich;
  }

  constructor(options: PredictionWriterOptions) {
    const logger = options.logger ?? new Logger('PredictionLog');
    const settings: TableWriterSettings = {
      flushRows: options.flushRows ?? 5000,
      maxBatchRows: Math.max(options.maxBatchRows ?? 0, options.flushRows ?? 5000),
      flushIntervalMs: options.flushIntervalMs ?? 1000,
      queueRows: options.queueRows ?? 200_000,
      durability: options.durability ?? 'async',
      storeTimeoutMs: options.storeTimeoutMs ?? 10_000,
      retryInitialMs: options.retryInitialMs ?? 250,
      retryMaxMs: options.retryMaxMs ?? 5000,
      shutdownTimeoutMs: options.shutdownTimeoutMs ?? 5000,
      progressIntervalMs: options.progressIntervalMs ?? 10_000,
    };
    this.durability = settings.durability;
    const throttled = new ThrottledLog(logger, options.logIntervalMs ?? 10_000);
    this.metricsRecorder = new PredictionLogMetrics(() => this.gauges());
    this.inputSampler = new InputSampler(
      inputSamplingPolicy(options.inputs ?? { mode: 'full' }, options.maxLoggedInputValues),
      options.random,
    );
    const build = <T extends SpooledRecord>(
      table: PredictionLogTable,
      insert: (rows: T[]) => Promise<void>,
      queue: RecordQueue<T>,
      keyUnits?: (rows: T[], units: readonly number[]) => void,
    ): TableWriter<T> => {
      const spoolOptions = {
        segmentBytes: options.segmentBytes,
        maxFrameRows: settings.flushRows,
        fs: options.fs,
        // Called only after construction, when the spool meets damage or I/O errors.
        onProblem: (problem: SpoolProblem) => writer.onSpoolProblem(problem),
      };
      const writer: TableWriter<T> = new TableWriter<T>({
        table,
        insert,
        queue,
        keyUnits,
        spool: new Spool<T>({ ...spoolOptions, directory: join(options.home, 'spool', table) }),
        rejected: new Spool<T>({
          ...spoolOptions,
          directory: join(options.home, 'spool', 'rejected', table),
        }),
        settings,
        metrics: this.metricsRecorder,
        logger,
        throttled,
        isPermanentStoreError: options.isPermanentStoreError ?? isPermanentStoreError,
      });
      return writer;
    };
    const store = options.store;
    this.predictions = build<PredictionRecord>(
      'predictions',
      async (rows) => store.insertPredictions(await this.enrichPredictions(rows)),
      new EncodedPredictionQueue(
        (row) => PREDICTION_FIXED_WEIGHT + row.inputs.length + row.scores.length,
      ),
      assignBatchKeys,
    );
    this.feedback = build<FeedbackRecord>(
      'feedback',
      (rows) => store.insertFeedback(rows),
      new ArrayRecordQueue(),
    );
    if (options.registry) this.registerMetrics(options.registry);
  }

  static fromConfig(
    config: ArgusConfig,
    store: PredictionLogStore,
    extra: Partial<PredictionWriterOptions> = {},
  ): PredictionWriter {
    const log = config.predictionLog;
    return new PredictionWriter({
      store,
      home: config.home,
      flushRows: log.flushRows,
      maxBatchRows: 10 * log.flushRows,
      flushIntervalMs: log.flushIntervalMs,
      queueRows: log.queueRows,
      durability: log.durability,
      inputs: log.inputs,
      ...extra,
    });
  }

  /** Replays what a previous run spooled. Never throws (spool trouble is logged and counted). */
  async start(): Promise<void> {
    await Promise.all([this.predictions.start(), this.feedback.start()]);
  }

  /** PredictionSink: the inference path's entry point; sync mode returns a promise to await. */
  record(records: PredictionRecord[]): void | Promise<void> {
    return this.predictions.record(records);
  }

  /** PredictionSink: whether to keep one row's input values (full / sample / none, width cap). */
  shouldLogInputs(width: number): boolean {
    return this.inputSampler.shouldLog(width);
  }

  /** Flushes both queues now. */
  async flush(): Promise<void> {
    await Promise.all([this.predictions.flush(), this.feedback.flush()]);
  }

  /**
   * Graceful shutdown of both tables: the store gets `deadlineMs` (default shutdownTimeoutMs) to
   * take what is queued; the rest is spooled. Never rejects.
   */
  async close(deadlineMs?: number): Promise<void> {
    await Promise.all([this.predictions.close(deadlineMs), this.feedback.close(deadlineMs)]);
  }

  async onModuleInit(): Promise<void> {
    await this.start();
  }

  /**
   * Nest runs this before the HTTP server stops and before any module's onApplicationShutdown
   * (where the store closes): push the queue to the store while it is certainly open.
   */
  async beforeApplicationShutdown(): Promise<void> {
    await this.flush();
  }

  /**
   * Runs after the HTTP server stopped, so no record arrives after it: flush what requests added
   * since beforeApplicationShutdown (to the store if still open, else the fsynced spool) and close.
   */
  async onApplicationShutdown(): Promise<void> {
    await this.close();
  }

  /** Current values of every pipeline metric. */
  metrics(): PredictionLogMetricsSnapshot {
    return this.metricsRecorder.snapshot();
  }

  /** Registers the `argus_prediction_log_*` series on a prom-client registry. */
  registerMetrics(registry: Registry): void {
    this.metricsRecorder.register(registry);
  }

  private gauges(): PredictionLogGauges {
    const now = Date.now();
    let queueRows = 0;
    let spoolBytes = 0;
    let spoolSegments = 0;
    let replayLagSeconds = 0;
    for (const table of PREDICTION_LOG_TABLES) {
      const writer = table === 'predictions' ? this.predictions : this.feedback;
      queueRows += writer.queuedRows;
      const stats = writer.spool.stats();
      spoolBytes += stats.bytes;
      spoolSegments += stats.segments;
      const oldest = writer.spool.oldestUnacknowledgedTs();
      if (oldest !== undefined) {
        replayLagSeconds = Math.max(replayLagSeconds, Math.max(0, (now - oldest) / 1000));
      }
    }
    return { queueRows, spoolBytes, spoolSegments, replayLagSeconds };
  }
}
