import { randomUUID } from 'node:crypto';
import { AdaptiveSlices } from '../../../src/common/event-loop-slices';
import { crc32, CRC32_INITIAL, crc32Final, crc32Update } from '../../../src/predictions/crc32';
import { PredictionRecord } from '../../../src/predictions/prediction-record';
import { countingLoopTurns } from '../../harness/event-loop';
import {
  crc32Sliced,
  decodeFramePayload,
  decodeFramePayloadSliced,
  encodeSpoolFrame,
  encodeSpoolFrameSliced,
  FRAME_HEADER_BYTES,
} from '../../../src/predictions/spool';

/**
 * Spool frames are encoded a slice at a time (encodeSpoolFrameSliced) so a large batch going to
 * the spool does not hold the event loop for hundreds of milliseconds. The bytes must be exactly
 * those of the one-piece encoder: frames written by either are read by the same reader.
 */

function record(i: number, inputs: PredictionRecord['inputs']): PredictionRecord {
  return {
    id: randomUUID(),
    request_id: `r${i}`,
    ts: 1_700_000_000_000 + ((i * 7919) % 1000),
    model: 'm',
    model_version: 1,
    route: 'champion',
    client_id: '',
    trace_id: '',
    span_id: '',
    inputs,
    scores: [0.1, 0.9, Math.fround(1 / 3)],
    label: i % 2 === 0 ? 'é' : '猫',
    value: null,
    latency_us: i,
    batch_size: 1,
    status: i % 50 === 0 ? 503 : 200,
    error: i % 50 === 0 ? 'queue "full"\n\\' : '',
    protocol: 'v2',
  };
}

describe('encodeSpoolFrameSliced', () => {
  it('writes the same bytes as encodeSpoolFrame (v2 frames with Float32Array inputs)', async () => {
    const rows = Array.from({ length: 700 }, (_, i) =>
      record(
        i,
        Float32Array.from({ length: i % 3 === 0 ? 784 : 8 }, (_, k) => k / (i + 1)),
      ),
    );
    const slices = new AdaptiveSlices({ budgetMs: 1e9, firstUnits: 13, maxUnits: 13 });
    const sliced = await encodeSpoolFrameSliced(rows, slices);
    expect(sliced.equals(encodeSpoolFrame(rows))).toBe(true);
  });

  it('writes the same bytes for v1 frames (plain number inputs), one row and no rows', async () => {
    const rows = Array.from({ length: 40 }, (_, i) => record(i, [i, i / 3]));
    expect((await encodeSpoolFrameSliced(rows)).equals(encodeSpoolFrame(rows))).toBe(true);
    expect(
      (await encodeSpoolFrameSliced(rows.slice(0, 1))).equals(encodeSpoolFrame(rows.slice(0, 1))),
    ).toBe(true);
    expect((await encodeSpoolFrameSliced([])).equals(encodeSpoolFrame([]))).toBe(true);
  });

  it('hands the event loop back while encoding a large frame', async () => {
    const rows = Array.from({ length: 2000 }, (_, i) => record(i, new Float32Array(784).fill(i)));
    // 2000 × ~4.2 KB of JSON: dozens of 256 KB payload slices, each followed by a yield.
    const { turns } = await countingLoopTurns(() => encodeSpoolFrameSliced(rows));
    expect(turns).toBeGreaterThan(20);
  });
});

describe('incremental crc32', () => {
  it('equals crc32 of the whole buffer, whatever the cut', () => {
    const bytes = Buffer.from(Array.from({ length: 1000 }, (_, i) => (i * 31) & 0xff));
    for (const cut of [0, 1, 500, 999, 1000]) {
      const crc = crc32Update(crc32Update(CRC32_INITIAL, bytes, 0, cut), bytes, cut);
      expect(crc32Final(crc)).toBe(crc32(bytes));
    }
  });
});

/** The payload of an encoded frame (after its length + CRC header). */
function payloadOf(frame: Buffer): Buffer {
  return frame.subarray(FRAME_HEADER_BYTES);
}

describe('decodeFramePayloadSliced', () => {
  const tricky = (i: number, inputs: PredictionRecord['inputs']): PredictionRecord => ({
    ...record(i, inputs),
    // Structural characters inside strings must not cut a row.
    error: ['', '],{"x":[1,2]}', 'a,b', '\\"}]', '"{', 'tab\there ✓ 🐈'][i % 6],
    label: i % 4 === 0 ? '[]{},"' : '猫',
  });
  const oneTurnPerRow = () => new AdaptiveSlices({ budgetMs: 1e-9, firstUnits: 1, maxUnits: 1 });

  it('gives exactly what the one-piece decoder gives, v1 and v2, any slice size', async () => {
    const frames = [
      encodeSpoolFrame(Array.from({ length: 60 }, (_, i) => tricky(i, [i, -i / 7, 1e-30]))),
      encodeSpoolFrame(
        Array.from({ length: 60 }, (_, i) =>
          tricky(
            i,
            Float32Array.from({ length: 1 + (i % 5) * 40 }, (_, k) => k / (i + 1)),
          ),
        ),
      ),
      encodeSpoolFrame([tricky(3, [1])]),
      encodeSpoolFrame([]),
    ];
    for (const frame of frames) {
      const payload = payloadOf(frame);
      const reference = decodeFramePayload(payload);
      expect(reference).toBeDefined();
      expect(await decodeFramePayloadSliced(payload)).toEqual(reference);
      expect(await decodeFramePayloadSliced(payload, oneTurnPerRow())).toEqual(reference);
    }
  });

  it('agrees with the one-piece decoder on payloads the encoders never write', async () => {
    const good = payloadOf(encodeSpoolFrame([tricky(1, [1, 2]), tricky(2, [3])])).toString();
    const cases = [
      good.slice(0, -1), // truncated
      good.replace('"rows":[{', '"rows":[ {'), // whitespace: not the encoders' layout
      good.replace('},{', '}{'), // missing comma
      good.replace('},{', '},,{'),
      '{"v":3,"ts":1,"rows":[]}',
      '{"v":1,"ts":1,"rows":[1,2,[3]]}',
      '{"v":1,"ts":"x","rows":[]}',
      'not json',
      '',
    ];
    for (const text of cases) {
      const payload = Buffer.from(text);
      expect(await decodeFramePayloadSliced(payload)).toEqual(decodeFramePayload(payload));
    }
  });

  it('hands the event loop back while decoding a large frame', async () => {
    const payload = payloadOf(
      encodeSpoolFrame(
        Array.from({ length: 2000 }, (_, i) => record(i, new Float32Array(784).fill(i))),
      ),
    );
    const { result: frame, turns } = await countingLoopTurns(() =>
      decodeFramePayloadSliced(payload),
    );
    expect(frame?.rows).toHaveLength(2000);
    expect(turns).toBeGreaterThan(20);
  });

  it('checksums in slices to the same CRC', async () => {
    const bytes = Buffer.from(Array.from({ length: 3_000_000 }, (_, i) => (i * 131) & 0xff));
    expect(await crc32Sliced(bytes)).toBe(crc32(bytes));
    expect(await crc32Sliced(Buffer.alloc(0))).toBe(crc32(Buffer.alloc(0)));
  });
});
