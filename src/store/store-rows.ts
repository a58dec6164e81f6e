import { FeedbackRecord } from '../predictions/prediction-record';
import { MonitoringResult, StoreEvent, StoredPrediction, StoreWriteError } from './analytics-store';

/**
 * Checks shared by both stores before a write, so a bad row is refused with a message naming it
 * (instead of a parser error deep in ClickHouse), and both stores refuse the same rows.
 */

const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUuid(value: string): boolean {
  return UUID_PATTERN.test(value);
}

const UINT32_MAX = 0xffffffff;

function isIntegerIn(value: number, max: number): boolean {
  return Number.isInteger(value) && value >= 0 && value <= max;
}

function checkInteger(
  problems: string[],
  where: string,
  field: string,
  value: number,
  max: number,
): void {
  if (!isIntegerIn(value, max)) {
    problems.push(`${where}: ${field} must be an integer in [0, ${max}], got ${String(value)}`);
  }
}

/** DateTime on 18.16 is a UInt32 of seconds: 1970 … 2106. */
const MAX_TS_MS = UINT32_MAX * 1000;

function checkTimestamp(problems: string[], where: string, field: string, ms: number): void {
  checkInteger(problems, where, field, ms, MAX_TS_MS);
}

function throwIfProblems(kind: string, problems: string[]): void {
  if (problems.length === 0) return;
  const shown = problems.slice(0, 10).join('; ');
  const more = problems.length > 10 ? ` (and ${problems.length - 10} more)` : '';
  throw new StoreWriteError(`refused ${kind} batch: ${shown}${more}`);
}

function predictionIsValid(row: StoredPrediction): boolean {
  if (typeof row.id !== 'string' || !UUID_PATTERN.test(row.id)) return false;
  if (!isIntegerIn(row.ts, MAX_TS_MS) || !isIntegerIn(row.model_version, UINT32_MAX)) return false;
  if (!isIntegerIn(row.status, 0xffff) || !isIntegerIn(row.batch_size, UINT32_MAX)) return false;
  if (!(Number.isFinite(row.latency_us) && row.latency_us >= 0)) return false;
  for (const bin of row.feature_bins ?? []) if (!isIntegerIn(bin, 255)) return false;
  return true;
}

export function validatePredictions(rows: readonly StoredPrediction[]): void {
  const problems: string[] = [];
  rows.forEach((row, i) => {
    // Fast path first: the messages are only built for rows that are wrong.
    if (predictionIsValid(row)) return;
    const where = `row ${i} (id ${JSON.stringify(row.id)})`;
    if (typeof row.id !== 'string' || !isUuid(row.id)) problems.push(`${where}: id is not a UUID`);
    checkTimestamp(problems, where, 'ts', row.ts);
    checkInteger(problems, where, 'model_version', row.model_version, UINT32_MAX);
    checkInteger(problems, where, 'status', row.status, 0xffff);
    checkInteger(problems, where, 'batch_size', row.batch_size, UINT32_MAX);
    if (!(Number.isFinite(row.latency_us) && row.latency_us >= 0)) {
      problems.push(`${where}: latency_us must be a finite number >= 0`);
    }
    if ((row.feature_bins ?? []).some((bin) => !isIntegerIn(bin, 255))) {
      problems.push(`${where}: feature_bins values must be integers in [0, 255]`);
    }
  });
  throwIfProblems('prediction', problems);
}

export function validateFeedback(rows: readonly FeedbackRecord[]): void {
  const problems: string[] = [];
  rows.forEach((row, i) => {
    const where = `row ${i} (prediction_id ${JSON.stringify(row.prediction_id)})`;
    if (typeof row.prediction_id !== 'string' || !isUuid(row.prediction_id)) {
      problems.push(`${where}: prediction_id is not a UUID`);
    }
    checkTimestamp(problems, where, 'ts', row.ts);
    const p = row.prediction;
    if (p !== undefined) {
      checkTimestamp(problems, where, 'prediction.ts_ms', p.ts_ms);
      checkInteger(problems, where, 'prediction.model_version', p.model_version, UINT32_MAX);
      checkInteger(problems, where, 'prediction.status', p.status, 0xffff);
      if (!Array.isArray(p.scores)) problems.push(`${where}: prediction.scores must be an array`);
    }
  });
  throwIfProblems('feedback', problems);
}

/**
 * The scores of a feedback row's `prediction` as numbers. The row may have been through the spool,
 * whose JSON frames turn NaN and ±Infinity into null: those come back as NaN (non-finite either
 * way; the exact infinity is lost, which the quality sums clamp anyway).
 */
export function labeledScores(scores: readonly (number | null)[]): number[] {
  return scores.map((x) => (typeof x === 'number' ? x : NaN));
}

export function validateMonitoringResults(rows: readonly MonitoringResult[]): void {
  const problems: string[] = [];
  rows.forEach((row, i) => {
    const where = `row ${i}`;
    checkInteger(problems, where, 'model_version', row.model_version, UINT32_MAX);
    checkTimestamp(problems, where, 'window_start', row.window_start);
    checkTimestamp(problems, where, 'window_end', row.window_end);
    checkTimestamp(problems, where, 'ts', row.ts);
  });
  throwIfProblems('monitoring result', problems);
}

export function validateEvents(rows: readonly StoreEvent[]): void {
  const problems: string[] = [];
  rows.forEach((row, i) => {
    const where = `row ${i}`;
    checkInteger(problems, where, 'model_version', row.model_version, UINT32_MAX);
    checkTimestamp(problems, where, 'ts', row.ts);
  });
  throwIfProblems('event', problems);
}

/**
 * Within one batch, keeps one feedback row per prediction id: the latest by `ts`, and on a tie the
 * one that came last. Both stores then resolve "latest wins" across batches the same way.
 */
export function latestFeedbackPerId(rows: readonly FeedbackRecord[]): FeedbackRecord[] {
  const byId = new Map<string, FeedbackRecord>();
  for (const row of rows) {
    const key = row.prediction_id.toLowerCase();
    const previous = byId.get(key);
    if (previous === undefined || row.ts >= previous.ts) byId.set(key, row);
  }
  return [...byId.values()];
}

/** Start of the UTC day `days` whole days before `now`: retention keeps everything from here on. */
export function retentionCutoffMs(days: number, now: number = Date.now()): number {
  if (!Number.isInteger(days) || days < 1) {
    throw new RangeError(`retention days must be a positive integer, got ${String(days)}`);
  }
  const startOfToday = Math.floor(now / 86_400_000) * 86_400_000;
  return startOfToday - days * 86_400_000;
}

/** Splits `items` into chunks of at most `size`. */
export function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
