import { createHash } from 'node:crypto';
import { AdaptiveSlices, forEachInSlices } from '../common/event-loop-slices';
import {
  MonitoringBinAggregate,
  MonitoringQualityAggregates,
  StoredPrediction,
} from './analytics-store';

/**
 * Insert-time monitoring aggregates (docs/monitoring.md "Aggregates at ingest"; table
 * `prediction_aggregates`, migrations 0002). Every insert of predictions also writes, per
 * (model, version, minute, batch key, predicted label, status), the row count and the
 * (position, bin) counts and CBPE score sums of `feature_bins`, so a minute-aligned window sums a
 * few thousand small rows instead of scanning and de-duplicating millions.
 *
 * Exactness under duplicates rests on the batch key: a unit of records (same key) is always
 * delivered whole and its aggregate rows are a pure function of its records, so a unit inserted
 * twice yields identical rows under identical keys, which reads collapse (`LIMIT 1 BY` on
 * ClickHouse, the primary key on DuckDB).
 */

export const AGGREGATE_MINUTE_MS = 60_000;

/** Key layout of `bin_keys` / `score_keys`: width · 2^20 + position · 2^8 + bin. */
const WIDTH_SHIFT = 1 << 20;
const POSITION_SHIFT = 256;
/** Widths and 1-based positions must stay below this to fit the key (layouts are far smaller). */
export const MAX_AGGREGATE_WIDTH = 4095;

/** Whether insert-time aggregates can answer a window exactly: both ends on whole minutes. */
export function isMinuteAligned(window: { from: number; to: number }): boolean {
  return window.from % AGGREGATE_MINUTE_MS === 0 && window.to % AGGREGATE_MINUTE_MS === 0;
}

export interface PredictionAggregateRow {
  model: string;
  model_version: number;
  /** Minute start, ms since the epoch. */
  ts_ms: number;
  batch_key: string;
  label: string;
  status: number;
  rows: number;
  bin_keys: number[];
  bin_counts: number[];
  score_keys: number[];
  score_sums: number[];
}

export function aggregateBinKey(width: number, position: number, bin: number): number {
  return width * WIDTH_SHIFT + position * POSITION_SHIFT + bin;
}

export function decodeAggregateBinKey(key: number): {
  width: number;
  position: number;
  bin: number;
} {
  const width = Math.floor(key / WIDTH_SHIFT);
  const rest = key - width * WIDTH_SHIFT;
  return { width, position: Math.floor(rest / POSITION_SHIFT), bin: rest % POSITION_SHIFT };
}

/**
 * A batch key from the ids of `rows`: the same rows give the same key, so a unit keyed by its
 * content (records that reached the spool without a key, or a direct store insert) stays stable
 * across retries.
 */
export function contentBatchKey(rows: readonly { id: string }[]): string {
  const hash = createHash('sha256');
  for (const row of rows) hash.update(row.id).update('\n');
  return hash.digest('hex').slice(0, 32);
}

/**
 * Gives the records of `rows` that have no `batch_key` one: `units` are consecutive slice sizes of
 * `rows` (the writer's flush chunks, or the spool frames a replay read), and the keyless records of
 * one slice share a key made from their ids. Records that already have a key keep it. Mutates the
 * records (the writer owns them).
 */
export function assignBatchKeys(
  rows: readonly { id: string; batch_key?: string }[],
  units: readonly number[],
): void {
  let start = 0;
  for (const size of units) {
    const chunk = rows.slice(start, start + size).filter((r) => r.batch_key === undefined);
    start += size;
    if (chunk.length === 0) continue;
    const key = contentBatchKey(chunk);
    for (const row of chunk) row.batch_key = key;
  }
  if (start < rows.length) assignBatchKeys(rows.slice(start), [rows.length - start]);
}

/** Slice sizes of `rows` rows in chunks of at most `size` (the last one shorter). */
export function chunkSizes(rows: number, size: number): number[] {
  const out: number[] = [];
  const step = Math.max(1, size);
  for (let start = 0; start < rows; start += step) out.push(Math.min(step, rows - start));
  return out;
}

interface Group {
  row: PredictionAggregateRow;
  bins: Map<number, number>;
  sums: Map<number, number>;
}

/**
 * Accumulates the aggregate rows of one insert, a row at a time, so a caller can spread a big
 * batch over several turns of the event loop (`aggregatePredictionsInSlices`).
 */
class PredictionAggregator {
  private readonly groups = new Map<string, Group>();
  private keyless: string | undefined;

  constructor(private readonly rows: readonly StoredPrediction[]) {}

  add(row: StoredPrediction): void {
    const batchKey = row.batch_key ?? this.keylessKey();
    const minute = Math.floor(row.ts / AGGREGATE_MINUTE_MS) * AGGREGATE_MINUTE_MS;
    // Unambiguous without quoting: model names cannot hold NUL, the key is hex and the numbers
    // are digits, so only the last field (the label) may, and nothing follows it.
    const id = `${batchKey}\u0000${minute}\u0000${row.status}\u0000${row.model_version}\u0000${row.model}\u0000${row.label}`;
    let group = this.groups.get(id);
    if (!group) {
      group = {
        row: {
          model: row.model,
          model_version: row.model_version,
          ts_ms: minute,
          batch_key: batchKey,
          label: row.label,
          status: row.status,
          rows: 0,
          bin_keys: [],
          bin_counts: [],
          score_keys: [],
          score_sums: [],
        },
        bins: new Map(),
        sums: new Map(),
      };
      this.groups.set(id, group);
    }
    group.row.rows++;
    const bins = row.feature_bins;
    const width = bins?.length ?? 0;
    if (!bins || width === 0 || width > MAX_AGGREGATE_WIDTH) return;
    const base = width * WIDTH_SHIFT;
    for (let i = 0; i < width; i++) {
      const key = base + (i + 1) * POSITION_SHIFT + bins[i];
      group.bins.set(key, (group.bins.get(key) ?? 0) + 1);
    }
    // The last length(scores) positions: a classifier layout's CBPE segments, one per class.
    const scores = row.scores;
    const k = scores.length;
    if (k > 0 && k <= width) {
      const offset = width - k;
      for (let c = 0; c < k; c++) {
        const score = Math.fround(scores[c]);
        if (!Number.isFinite(score)) continue;
        const key = base + (offset + c + 1) * POSITION_SHIFT + bins[offset + c];
        group.sums.set(key, (group.sums.get(key) ?? 0) + score);
      }
    }
  }

  result(): PredictionAggregateRow[] {
    const out: PredictionAggregateRow[] = [];
    for (const group of this.groups.values()) {
      const bins = [...group.bins.entries()].sort((a, b) => a[0] - b[0]);
      const sums = [...group.sums.entries()].sort((a, b) => a[0] - b[0]);
      group.row.bin_keys = bins.map((e) => e[0]);
      group.row.bin_counts = bins.map((e) => e[1]);
      group.row.score_keys = sums.map((e) => e[0]);
      group.row.score_sums = sums.map((e) => e[1]);
      out.push(group.row);
    }
    return out;
  }

  /** Records without a `batch_key` share one key from their ids. */
  private keylessKey(): string {
    this.keyless ??= contentBatchKey(this.rows.filter((r) => r.batch_key === undefined));
    return this.keyless;
  }
}

/**
 * The aggregate rows of one insert. Records without a `batch_key` share one key from their ids
 * (a direct insert of the same rows twice then collapses too). Deterministic: the same records in
 * the same order give the same rows, floating-point sums included.
 */
export function aggregatePredictions(rows: readonly StoredPrediction[]): PredictionAggregateRow[] {
  const aggregator = new PredictionAggregator(rows);
  for (const row of rows) aggregator.add(row);
  return aggregator.result();
}

/**
 * `aggregatePredictions` in ~1 ms slices with the event loop handed back in between: a 5000-row
 * batch of wide rows took 5-20 ms in one piece, a pause every request in flight would wait out.
 * The same rows, in the same order, as the one-piece version.
 */
export async function aggregatePredictionsInSlices(
  rows: readonly StoredPrediction[],
  slices: AdaptiveSlices = new AdaptiveSlices({ firstUnits: 256 }),
): Promise<PredictionAggregateRow[]> {
  const aggregator = new PredictionAggregator(rows);
  await forEachInSlices(rows.length, (i) => aggregator.add(rows[i]), slices);
  return aggregator.result();
}

/** Summed aggregate maps of one predicted label, as a store reads them back. */
export interface AggregateLabelSums {
  label: string;
  bin_keys: number[];
  bin_counts: number[];
  score_keys: number[];
  score_sums: number[];
}

/**
 * Turns summed keys back into per-(label, position, bin) aggregates for rows of exactly `width`
 * bins, with Σ score for positions after `scoreOffset` (MonitoringBinAggregate's contract).
 */
export function binAggregatesFromSums(
  sums: readonly AggregateLabelSums[],
  width: number,
  scoreOffset: number,
): MonitoringBinAggregate[] {
  const out: MonitoringBinAggregate[] = [];
  for (const s of sums) {
    const scoreByKey = new Map<number, number>();
    s.score_keys.forEach((key, i) => scoreByKey.set(key, s.score_sums[i]));
    s.bin_keys.forEach((key, i) => {
      const decoded = decodeAggregateBinKey(key);
      if (decoded.width !== width) return;
      out.push({
        label: s.label,
        position: decoded.position,
        bin: decoded.bin,
        count: s.bin_counts[i],
        sum_score: decoded.position > scoreOffset ? (scoreByKey.get(key) ?? 0) : 0,
      });
    });
  }
  return out;
}

/** One row of the one-pass quality query (both stores). */
export interface QualityAggregateRow {
  label: string;
  actual_label: string;
  top_bin: number;
  /** 0-based class index of the score this row's histogram bin is about. */
  class_index: number;
  bin: number;
  count: number;
  sum_score: number;
  /** Per labeled prediction; the rows of class index 0 hold each prediction once. */
  sum_top_score: number;
  sum_log_loss: number;
  log_loss_rows: number;
}

/**
 * Splits the one-pass quality rows into the label aggregates (class index 0 rows: every labeled
 * prediction has at least one score) and the per-class score histogram.
 */
export function qualityFromRows(rows: readonly QualityAggregateRow[]): MonitoringQualityAggregates {
  const labels = new Map<string, MonitoringQualityAggregates['labels'][number]>();
  const histogram = new Map<string, MonitoringQualityAggregates['histogram'][number]>();
  for (const r of rows) {
    if (r.class_index === 0) {
      const key = JSON.stringify([r.label, r.actual_label, r.top_bin]);
      let a = labels.get(key);
      if (!a) {
        a = {
          label: r.label,
          actual_label: r.actual_label,
          top_bin: r.top_bin,
          count: 0,
          sum_top_score: 0,
          sum_log_loss: 0,
          log_loss_rows: 0,
        };
        labels.set(key, a);
      }
      a.count += r.count;
      a.sum_top_score += r.sum_top_score;
      a.sum_log_loss += r.sum_log_loss;
      a.log_loss_rows += r.log_loss_rows;
    }
    const key = JSON.stringify([r.actual_label, r.class_index, r.bin]);
    let h = histogram.get(key);
    if (!h) {
      h = {
        actual_label: r.actual_label,
        class_index: r.class_index,
        bin: r.bin,
        count: 0,
        sum_score: 0,
      };
      histogram.set(key, h);
    }
    h.count += r.count;
    h.sum_score += r.sum_score;
  }
  return { labels: [...labels.values()], histogram: [...histogram.values()] };
}
