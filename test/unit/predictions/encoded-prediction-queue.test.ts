import { EncodedPredictionQueue } from '../../../src/predictions/encoded-prediction-queue';
import { ArrayRecordQueue } from '../../../src/predictions/record-queue';
import type { StoredPrediction } from '../../../src/store/analytics-store';
import { seededRandom as random } from '../../integration/monitoring/support';

const HOSTILE = [
  '',
  'mnist',
  'it\'s "quoted" \\ back\\slash',
  'line\nbreak\ttab\r\0nul',
  "'); DROP TABLE predictions; --",
  'naïve — 数字 🎯',
  'x'.repeat(300),
];

function record(i: number, next: () => number): StoredPrediction {
  const pick = (): string => HOSTILE[Math.floor(next() * HOSTILE.length)];
  const width = [0, 3, 8, 784][i % 4];
  const tensor = new Float32Array(width * 3);
  for (let k = 0; k < tensor.length; k++) tensor[k] = (next() - 0.5) * 1e6;
  // A row of a request tensor: a view at an offset, as the server logs it.
  const inputs =
    i % 5 === 0 ? Array.from({ length: width }, () => next()) : tensor.subarray(width, 2 * width);
  const r: StoredPrediction = {
    id: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
    request_id: pick(),
    ts: 1_700_000_000_000 + i * 1.5,
    model: pick(),
    model_version: i % 7,
    route: i % 2 === 0 ? 'champion' : 'shadow',
    client_id: pick(),
    trace_id: i % 3 === 0 ? '' : '4bf92f3577b34da6a3ce929d0e0e4736',
    span_id: pick(),
    inputs,
    scores: Array.from({ length: i % 11 }, () => next()),
    label: pick(),
    value: i % 4 === 1 ? null : i % 4 === 2 ? -0 : next() * 1e300,
    latency_us: Math.round(next() * 1e6),
    batch_size: 1 + (i % 64),
    status: i % 9 === 0 ? 422 : 200,
    error: i % 9 === 0 ? pick() : '',
    protocol: i % 2 === 0 ? 'v1' : 'v2',
  };
  if (i % 6 === 0) r.batch_key = `key-${i}`;
  if (i % 4 === 3) r.feature_bins = Array.from({ length: 25 }, (_, k) => (i + k) % 256);
  return r;
}

/** What a record must come back as: the same fields, inputs as the Float32 values the stores keep. */
function expected(r: StoredPrediction): StoredPrediction {
  return { ...r, inputs: Float32Array.from(r.inputs) };
}

function records(n: number, seed = 1): StoredPrediction[] {
  const next = random(seed);
  return Array.from({ length: n }, (_, i) => record(i, next));
}

const weigh = (r: StoredPrediction): number => 60 + r.inputs.length + r.scores.length;

describe('EncodedPredictionQueue', () => {
  it('gives back every field of every record exactly, in order', async () => {
    const rows = records(200);
    const queue = new EncodedPredictionQueue(weigh);
    for (const r of rows) queue.push(r);
    expect(queue.length).toBe(200);
    const out = await queue.take(200, 200, Infinity);
    expect(queue.length).toBe(0);
    expect(out).toHaveLength(200);
    for (let i = 0; i < rows.length; i++) {
      expect(out[i]).toEqual(expected(rows[i]));
      expect(out[i].inputs).toBeInstanceOf(Float32Array);
      // -0, NaN-free doubles and absent optional fields survive as such.
      expect(Object.is(out[i].value, rows[i].value)).toBe(true);
      expect('batch_key' in out[i]).toBe('batch_key' in rows[i]);
      expect('feature_bins' in out[i]).toBe('feature_bins' in rows[i]);
    }
  });

  it('keeps NaN and infinite scores and inputs as they were', async () => {
    const r = records(1)[0];
    r.scores = [NaN, Infinity, -Infinity, 0.1];
    r.inputs = new Float32Array([NaN, Infinity, -Infinity, -0]);
    const queue = new EncodedPredictionQueue(weigh);
    queue.push(r);
    const [out] = await queue.take(1, 1, Infinity);
    expect(out.scores).toEqual([NaN, Infinity, -Infinity, 0.1]);
    expect(Array.from(out.inputs)).toEqual([NaN, Infinity, -Infinity, -0]);
  });

  it('takes batches exactly as the array queue does, across slabs and oversized records', async () => {
    const rows = records(600, 7);
    const next = random(99);
    // 4 KB slabs: MNIST rows (3 KB of inputs) fill one each or need one of their own.
    const encoded = new EncodedPredictionQueue(weigh, 4096);
    const plain = new ArrayRecordQueue<StoredPrediction>(weigh);
    let pushed = 0;
    let taken = 0;
    while (taken < rows.length) {
      const pushes = Math.min(rows.length - pushed, Math.floor(next() * 40));
      for (let k = 0; k < pushes; k++, pushed++) {
        encoded.push(rows[pushed]);
        plain.push(rows[pushed]);
      }
      const count = Math.floor(next() * 30);
      const maxCount = count + Math.floor(next() * 60);
      const maxWeight = next() < 0.5 ? Infinity : Math.floor(next() * 5000);
      const fromEncoded = await encoded.take(count, maxCount, maxWeight);
      const fromPlain = await plain.take(count, maxCount, maxWeight);
      expect(fromEncoded).toEqual(fromPlain.map(expected));
      expect(encoded.length).toBe(plain.length);
      taken += fromEncoded.length;
      if (pushed === rows.length && fromEncoded.length === 0) {
        // Everything pushed; drain what is left.
        const rest = await encoded.take(rows.length, rows.length, Infinity);
        expect(rest).toEqual((await plain.take(rows.length, rows.length, Infinity)).map(expected));
        taken += rest.length;
      }
    }
    expect(encoded.length).toBe(0);
    expect(encoded.slabCount).toBeLessThanOrEqual(1);
  });

  it('never overwrites the inputs of records already taken', async () => {
    const rows = records(400, 3);
    const queue = new EncodedPredictionQueue(weigh, 16 * 1024);
    for (const r of rows.slice(0, 100)) queue.push(r);
    const first = await queue.take(100, 100, Infinity);
    const snapshot = first.map((r) => Float32Array.from(r.inputs));
    // More records go into the same slab's free tail, and into new slabs.
    for (const r of rows.slice(100)) queue.push(r);
    const second = await queue.take(300, 300, Infinity);
    first.forEach((r, i) => expect(r.inputs).toEqual(snapshot[i]));
    second.forEach((r, i) => expect(r).toEqual(expected(rows[100 + i])));
  });

  it('lets go of read-out slabs', async () => {
    const queue = new EncodedPredictionQueue(weigh, 8 * 1024);
    for (const r of records(300, 5)) queue.push(r);
    expect(queue.slabCount).toBeGreaterThan(10);
    await queue.take(300, 300, Infinity);
    expect(queue.slabCount).toBe(1);
  });

  it('decodes a large batch in slices, and records pushed meanwhile queue behind it', async () => {
    const rows = records(3000, 11);
    const queue = new EncodedPredictionQueue(weigh, 64 * 1024);
    for (const r of rows.slice(0, 2000)) queue.push(r);
    let pushed = 2000;
    // Between the take's slices, requests keep appending: 20 records every turn of the loop.
    let taking = true;
    const push = (): void => {
      // The immediate already scheduled when the take resolves must not push any more.
      if (!taking) return;
      for (let k = 0; k < 20 && pushed < rows.length; k++) queue.push(rows[pushed++]);
      setImmediate(push);
    };
    setImmediate(push);
    const batch = await queue.take(2000, 2000, Infinity).finally(() => (taking = false));
    expect(pushed).toBeGreaterThan(2000);
    expect(batch).toEqual(rows.slice(0, 2000).map(expected));
    expect(queue.length).toBe(pushed - 2000);
    const rest = await queue.take(rows.length, rows.length, Infinity);
    expect(rest).toEqual(rows.slice(2000, pushed).map(expected));
    batch.forEach((r, i) => expect(r).toEqual(expected(rows[i])));
  });
});
