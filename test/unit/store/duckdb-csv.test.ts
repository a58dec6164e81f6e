import { StoredPrediction } from '../../../src/store';
import { PREDICTION_COLUMNS } from '../../../src/store/analytics-store';
import {
  csvList,
  csvNullableNumber,
  csvText,
  float32Bytes,
  predictionsCsv,
} from '../../../src/store/duckdb-csv';

/**
 * The CSV lines DuckDB's reader turns back into prediction rows (src/store/duckdb-csv.ts). The
 * round trip through a real DuckDB file is tested in
 * test/integration/logging/duckdb-csv-insert.test.ts; these pin the text itself.
 */

function row(overrides: Partial<StoredPrediction> = {}): StoredPrediction {
  return {
    id: '00000000-0000-4000-8000-000000000001',
    request_id: 'req-1',
    ts: 1_700_000_000_123,
    model: 'credit',
    model_version: 3,
    route: 'champion',
    client_id: '',
    trace_id: 'ab'.repeat(16),
    span_id: 'cd'.repeat(8),
    inputs: new Float32Array([1.5, -2]),
    scores: [0.25, 0.75],
    label: 'yes',
    value: null,
    latency_us: 812.6,
    batch_size: 4,
    status: 200,
    error: '',
    protocol: 'v2',
    ...overrides,
  };
}

describe('DuckDB prediction CSV', () => {
  it('quotes every text value and doubles its quotes; nothing else is escaped', () => {
    expect(csvText('')).toBe('""');
    expect(csvText('plain')).toBe('"plain"');
    expect(csvText('say "hi", then\nleave')).toBe('"say ""hi"", then\nleave"');
    expect(csvText('back\\slash\t')).toBe('"back\\slash\t"');
  });

  it('writes lists as quoted DuckDB list literals, NaN and infinities by name', () => {
    expect(csvList([])).toBe('"[]"');
    expect(csvList(undefined)).toBe('"[]"');
    expect(csvList([0, 255, 7])).toBe('"[0,255,7]"');
    expect(csvList([NaN, Infinity, -Infinity, 0.1])).toBe('"[NaN,Infinity,-Infinity,0.1]"');
    // A float32 value prints the digits of its double, which parse back to the same float32.
    const f = Math.fround(0.1);
    expect(csvList([f])).toBe(`"[${String(f)}]"`);
    expect(Math.fround(Number(String(f)))).toBe(f);
  });

  it('writes a null value as an empty unquoted field (NULL), a number as its text', () => {
    expect(csvNullableNumber(null)).toBe('');
    expect(csvNullableNumber(2.5)).toBe('2.5');
    expect(csvNullableNumber(NaN)).toBe('NaN');
  });

  it('one line per row, the columns in order, inputs as base64 float32 bytes', () => {
    const r = row();
    const { bytes, longestLine } = predictionsCsv([r]);
    const text = bytes.toString('utf8');
    const inputs = Buffer.from(float32Bytes(r.inputs)).toString('base64');
    const fields = [
      '"00000000-0000-4000-8000-000000000001"',
      '"req-1"',
      '1700000000123',
      '"credit"',
      '3',
      '"champion"',
      '""',
      `"${'ab'.repeat(16)}"`,
      `"${'cd'.repeat(8)}"`,
      '"v2"',
      `"${inputs}"`,
      '"[]"',
      '"[0.25,0.75]"',
      '"yes"',
      '',
      '813',
      '4',
      '200',
      '""',
    ];
    expect(fields).toHaveLength(PREDICTION_COLUMNS.length);
    expect(text).toBe(`${fields.join(',')}\n`);
    expect(longestLine).toBe(bytes.length);
  });

  it('number[] inputs are stored as float32 like a Float32Array; empty inputs as ""', () => {
    const fromArray = predictionsCsv([row({ inputs: [1.5, -2] })]).bytes.toString();
    const fromFloats = predictionsCsv([row()]).bytes.toString();
    expect(fromArray).toBe(fromFloats);
    expect(predictionsCsv([row({ inputs: [] })]).bytes.toString()).toContain(',"v2","",');
  });

  it('a range of rows; the longest line counts UTF-8 bytes and its newline', () => {
    const rows = [row(), row({ error: 'é'.repeat(1000) }), row({ label: 'x' })];
    const all = predictionsCsv(rows);
    const lines = all.bytes.toString('utf8').split('\n');
    expect(lines).toHaveLength(4); // three lines and the empty rest after the last newline
    expect(all.longestLine).toBe(Buffer.byteLength(lines[1]) + 1);
    const tail = predictionsCsv(rows, 2, 3);
    expect(tail.bytes.toString('utf8')).toBe(`${lines[2]}\n`);
  });

  it('grows past its first estimate when text is longer than guessed', () => {
    const rows = Array.from({ length: 50 }, (_, i) => row({ error: '€'.repeat(500 + i) }));
    const { bytes } = predictionsCsv(rows);
    const lines = bytes.toString('utf8').trimEnd().split('\n');
    expect(lines).toHaveLength(50);
    lines.forEach((line, i) => expect(line).toContain(`"${'€'.repeat(500 + i)}"`));
  });
});
