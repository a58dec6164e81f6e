import { randomUUID } from 'node:crypto';
import { StoredPrediction } from '../../../src/store';
import {
  aggregateBinKey,
  aggregatePredictions,
  assignBatchKeys,
  binAggregatesFromSums,
  chunkSizes,
  contentBatchKey,
  decodeAggregateBinKey,
  isMinuteAligned,
  qualityFromRows,
} from '../../../src/store/prediction-aggregates';

const T0 = Date.UTC(2024, 0, 1, 0, 0, 0);

function row(overrides: Partial<StoredPrediction> = {}): StoredPrediction {
  return {
    id: randomUUID(),
    request_id: '',
    ts: T0,
    model: 'm',
    model_version: 1,
    route: 'champion',
    client_id: '',
    trace_id: '',
    span_id: '',
    inputs: [],
    scores: [0.25, 0.75],
    label: 'b',
    value: null,
    latency_us: 1,
    batch_size: 1,
    status: 200,
    error: '',
    protocol: 'v2',
    // 2 features, then 2 CBPE segments (the last length(scores) positions)
    feature_bins: [1, 3, 2, 5],
    ...overrides,
  };
}

describe('insert-time aggregate rows', () => {
  it('encodes width, position and bin in one key and back', () => {
    const key = aggregateBinKey(24, 17, 255);
    expect(decodeAggregateBinKey(key)).toEqual({ width: 24, position: 17, bin: 255 });
    expect(decodeAggregateBinKey(aggregateBinKey(4095, 4095, 0))).toEqual({
      width: 4095,
      position: 4095,
      bin: 0,
    });
  });

  it('groups by unit, minute, label and status with counts and CBPE score sums', () => {
    const rows = [
      row({ batch_key: 'u1' }),
      row({ batch_key: 'u1', feature_bins: [1, 4, 2, 6], scores: [0.5, 0.5] }),
      row({ batch_key: 'u1', ts: T0 + 60_000 }),
      row({ batch_key: 'u1', status: 500, feature_bins: [], scores: [] }),
      row({ batch_key: 'u2', label: 'a' }),
    ];
    const out = aggregatePredictions(rows);
    expect(out.map((r) => [r.batch_key, r.ts_ms - T0, r.label, r.status, r.rows])).toEqual([
      ['u1', 0, 'b', 200, 2],
      ['u1', 60_000, 'b', 200, 1],
      ['u1', 0, 'b', 500, 1],
      ['u2', 0, 'a', 200, 1],
    ]);
    const first = out[0];
    const decoded = first.bin_keys.map((k, i) => [
      ...Object.values(decodeAggregateBinKey(k)),
      first.bin_counts[i],
    ]);
    expect(decoded).toEqual([
      [4, 1, 1, 2],
      [4, 2, 3, 1],
      [4, 2, 4, 1],
      [4, 3, 2, 2],
      [4, 4, 5, 1],
      [4, 4, 6, 1],
    ]);
    // Score sums at the segment positions 3 and 4: scores[0] and scores[1].
    const sums = new Map(first.score_keys.map((k, i) => [k, first.score_sums[i]]));
    expect(sums.get(aggregateBinKey(4, 3, 2))).toBeCloseTo(0.75, 12);
    expect(sums.get(aggregateBinKey(4, 4, 5))).toBeCloseTo(0.75, 12);
    expect(sums.get(aggregateBinKey(4, 4, 6))).toBeCloseTo(0.5, 12);
    expect(out[2].bin_keys).toEqual([]);
  });

  it('keys rows without a batch key by their ids: the same insert twice gives the same rows', () => {
    const rows = [row(), row({ ts: T0 + 61_000 })];
    const a = aggregatePredictions(rows);
    const b = aggregatePredictions(rows.map((r) => ({ ...r })));
    expect(a).toEqual(b);
    expect(a[0].batch_key).toBe(contentBatchKey(rows));
    expect(aggregatePredictions([rows[0]])[0].batch_key).not.toBe(a[0].batch_key);
  });

  it('assigns keys per unit and keeps existing ones', () => {
    const rows = Array.from({ length: 7 }, () => row());
    rows[1].batch_key = 'kept';
    assignBatchKeys(rows, chunkSizes(rows.length, 3));
    expect(chunkSizes(7, 3)).toEqual([3, 3, 1]);
    expect(rows[1].batch_key).toBe('kept');
    expect(rows[0].batch_key).toBe(contentBatchKey([rows[0], rows[2]]));
    expect(rows[2].batch_key).toBe(rows[0].batch_key);
    expect(new Set(rows.slice(3, 6).map((r) => r.batch_key)).size).toBe(1);
    expect(rows[6].batch_key).toBe(contentBatchKey([rows[6]]));
    expect(rows[6].batch_key).not.toBe(rows[3].batch_key);
  });

  it('reads back only the requested width, with scores after the offset', () => {
    const out = binAggregatesFromSums(
      [
        {
          label: 'b',
          bin_keys: [aggregateBinKey(4, 1, 1), aggregateBinKey(4, 3, 2), aggregateBinKey(3, 1, 1)],
          bin_counts: [5, 5, 9],
          score_keys: [aggregateBinKey(4, 3, 2)],
          score_sums: [1.5],
        },
      ],
      4,
      2,
    );
    expect(out).toEqual([
      { label: 'b', position: 1, bin: 1, count: 5, sum_score: 0 },
      { label: 'b', position: 3, bin: 2, count: 5, sum_score: 1.5 },
    ]);
  });

  it('splits one-pass quality rows into label aggregates and the score histogram', () => {
    const base = { sum_top_score: 0, sum_log_loss: 0, log_loss_rows: 0, sum_score: 0 };
    const quality = qualityFromRows([
      {
        ...base,
        label: 'a',
        actual_label: 'a',
        top_bin: 9,
        class_index: 0,
        bin: 95,
        count: 3,
        sum_top_score: 2.8,
        sum_log_loss: 0.2,
        log_loss_rows: 3,
        sum_score: 2.8,
      },
      {
        ...base,
        label: 'a',
        actual_label: 'a',
        top_bin: 9,
        class_index: 1,
        bin: 4,
        count: 3,
        sum_top_score: 2.8,
        sum_log_loss: 0.2,
        log_loss_rows: 3,
        sum_score: 0.2,
      },
      {
        ...base,
        label: 'a',
        actual_label: 'a',
        top_bin: 8,
        class_index: 0,
        bin: 85,
        count: 1,
        sum_top_score: 0.85,
        sum_log_loss: 0.1,
        log_loss_rows: 1,
        sum_score: 0.85,
      },
    ]);
    expect(quality.labels).toEqual([
      {
        label: 'a',
        actual_label: 'a',
        top_bin: 9,
        count: 3,
        sum_top_score: 2.8,
        sum_log_loss: 0.2,
        log_loss_rows: 3,
      },
      {
        label: 'a',
        actual_label: 'a',
        top_bin: 8,
        count: 1,
        sum_top_score: 0.85,
        sum_log_loss: 0.1,
        log_loss_rows: 1,
      },
    ]);
    expect(quality.histogram).toEqual([
      { actual_label: 'a', class_index: 0, bin: 95, count: 3, sum_score: 2.8 },
      { actual_label: 'a', class_index: 1, bin: 4, count: 3, sum_score: 0.2 },
      { actual_label: 'a', class_index: 0, bin: 85, count: 1, sum_score: 0.85 },
    ]);
  });

  it('knows which windows the aggregates can answer', () => {
    expect(isMinuteAligned({ from: T0, to: T0 + 3_600_000 })).toBe(true);
    expect(isMinuteAligned({ from: T0 + 1, to: T0 + 3_600_000 })).toBe(false);
    expect(isMinuteAligned({ from: T0, to: T0 + 59_999 })).toBe(false);
  });
});
