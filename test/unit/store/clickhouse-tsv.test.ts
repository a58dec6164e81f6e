import {
  tsvDateTime,
  tsvFloat,
  tsvFloat32Array,
  tsvIntArray,
  tsvNullableFloat,
  tsvString,
} from '../../../src/store/clickhouse-tsv';

describe('TabSeparated encoding', () => {
  it('escapes the characters that would break a field or a row', () => {
    expect(tsvString('a\tb\nc\\d\re\0f')).toBe('a\\tb\\nc\\\\d\\re\\0f');
    expect(tsvString("quote ' stays")).toBe("quote ' stays");
    expect(tsvString('模型 🚀')).toBe('模型 🚀');
  });

  it('never leaves a raw tab or newline in a field', () => {
    const field = tsvString('x\ty\nz\r\n');
    expect(field).not.toMatch(/[\t\n\r]/);
  });

  it('spells non-finite floats the way ClickHouse reads them', () => {
    expect(tsvFloat(NaN)).toBe('nan');
    expect(tsvFloat(Infinity)).toBe('inf');
    expect(tsvFloat(-Infinity)).toBe('-inf');
    expect(tsvFloat(0.25)).toBe('0.25');
    expect(tsvFloat32Array([1, NaN, -Infinity, Infinity])).toBe('[1.00000000,nan,-inf,inf]');
    expect(tsvFloat32Array([])).toBe('[]');
  });

  it('writes Float32 array values with the 9 digits that identify them exactly', () => {
    const values = [0.1, -2.5, 1e-7, 3.4028234663852886e38, 1.401298464324817e-45, 123456789];
    const text = tsvFloat32Array(values);
    expect(text).toBe(
      '[0.100000001,-2.50000000,1.00000001e-7,3.40282347e+38,1.40129846e-45,123456792]',
    );
    const parsed = text.slice(1, -1).split(',').map(Number);
    expect(parsed.map((v) => Math.fround(v))).toEqual(values.map((v) => Math.fround(v)));
  });

  it('writes NULL as \\N', () => {
    expect(tsvNullableFloat(null)).toBe('\\N');
    expect(tsvNullableFloat(1.5)).toBe('1.5');
  });

  it('writes integer arrays and UTC date-times', () => {
    expect(tsvIntArray([0, 3, 255])).toBe('[0,3,255]');
    expect(tsvDateTime(Date.UTC(2024, 0, 2, 3, 4, 5, 999))).toBe('2024-01-02 03:04:05');
  });
});
