import { isJsonArray, parsePredictJson } from '../../../src/inference/codecs/predict-json';
import { SeededRandom } from '../../../src/training/trainers/random';

/**
 * The predict-body JSON reader (src/inference/codecs/predict-json.ts) against JSON.parse: the same
 * value for every document in its subset (numbers bit for bit), Float64Arrays exactly where
 * numbers of tensors are, and `undefined` — the standard parser's turn — for everything else.
 */

/** JSON.parse's value, with every Float64Array of `value` turned back into a plain array. */
function plain(value: unknown): unknown {
  if (value instanceof Float64Array) return Array.from(value);
  if (Array.isArray(value)) return value.map(plain);
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
  }
  return value;
}

/** Deep equality with numbers compared by Object.is (so -0 ≠ 0, NaN = NaN). */
function expectSame(actual: unknown, expected: unknown, path = '$'): void {
  if (typeof expected === 'number') {
    if (!Object.is(actual, expected)) throw new Error(`${path}: ${String(actual)} ≠ ${expected}`);
    return;
  }
  if (Array.isArray(expected)) {
    expect(Array.isArray(actual)).toBe(true);
    const list = actual as unknown[];
    expect(list).toHaveLength(expected.length);
    expected.forEach((e, i) => expectSame(list[i], e, `${path}[${i}]`));
    return;
  }
  if (typeof expected === 'object' && expected !== null) {
    expect(Object.keys(actual as object)).toEqual(Object.keys(expected));
    for (const [k, e] of Object.entries(expected))
      expectSame((actual as Record<string, unknown>)[k], e, `${path}.${k}`);
    return;
  }
  expect(actual).toBe(expected);
}

function agrees(text: string): void {
  const parsed = parsePredictJson(text);
  expect(parsed).not.toBeUndefined();
  expectSame(plain(parsed), JSON.parse(text));
}

/** Decimal text of every shape the grammar allows: digits, fraction, exponent, sign. */
function decimalText(next: () => number): string {
  const digits = (n: number) =>
    Array.from({ length: n }, () => String(Math.floor(next() * 10))).join('');
  const sign = next() < 0.3 ? '-' : '';
  const whole =
    next() < 0.3 ? '0' : String(1 + Math.floor(next() * 9)) + digits(Math.floor(next() * 12));
  const fraction = next() < 0.6 ? `.${digits(1 + Math.floor(next() * 20))}` : '';
  const exponent =
    next() < 0.3
      ? `${next() < 0.5 ? 'e' : 'E'}${['', '+', '-'][Math.floor(next() * 3)]}${Math.floor(next() * 40)}`
      : '';
  return `${sign}${whole}${fraction}${exponent}`;
}

describe('parsePredictJson', () => {
  it('reads numbers bit for bit as JSON.parse does, fast path and slow', () => {
    const fixed = [
      '0',
      '-0',
      '-0.0',
      '0.1',
      '0.3294117748737335',
      '1e22',
      '1e23',
      '-1e-22',
      '1e-23',
      '123456789012345',
      '1234567890123456',
      '12345678901234567890',
      '9007199254740993',
      '1.7976931348623157e308',
      '1e309',
      '-1e309',
      '4.9e-324',
      '1e-400',
      '2.2250738585072014e-308',
      '0.000001',
      '100.5',
      '1.50000000000000000000',
      '5e-1',
      '0.001',
      '255',
    ];
    for (const n of fixed) agrees(`{"instances": [[${n}]]}`);
    // Seeded, so a failure names a reproducible case.
    const seeded = new SeededRandom(42);
    const next = () => seeded.nextFloat();
    const many = Array.from({ length: 20_000 }, () => decimalText(next));
    agrees(`{"data": [${many.join(',')}]}`);
    // What clients send most: doubles and float32 values as JavaScript prints them.
    const doubles = Array.from(
      { length: 5000 },
      () => (next() - 0.5) * 10 ** Math.floor(next() * 20 - 10),
    );
    agrees(JSON.stringify({ instances: [doubles, doubles.map(Math.fround)] }));
  });

  it('returns numbers of tensors as Float64Arrays, and nothing else', () => {
    const body = parsePredictJson(
      '{"inputs": [{"name": "x", "shape": [2, 2], "datatype": "FP32", "data": [[1, 2], [3.5, -4]]}],' +
        ' "parameters": {"ids": [1, 2]}, "id": "r1"}',
    ) as {
      inputs: Array<{ shape: unknown; data: unknown[] }>;
      parameters: { ids: unknown };
    };
    expect(Array.isArray(body.inputs[0].shape)).toBe(true);
    expect(Array.isArray(body.inputs[0].data)).toBe(true);
    expect(body.inputs[0].data[0]).toBeInstanceOf(Float64Array);
    expect(Array.from(body.inputs[0].data[1] as Float64Array)).toEqual([3.5, -4]);
    expect(Array.isArray(body.parameters.ids)).toBe(true);

    const v1 = parsePredictJson('{"instances": [[1, 2, 3]]}') as { instances: unknown[] };
    expect(v1.instances[0]).toBeInstanceOf(Float64Array);
    // Empty, mixed or non-numeric arrays stay plain arrays.
    const mixed = parsePredictJson(
      '{"instances": [[], [1, "a"], [true], [{"x": 1}], [null, 2]], "data": ["s"]}',
    ) as { instances: unknown[][]; data: unknown[] };
    for (const row of mixed.instances) expect(Array.isArray(row)).toBe(true);
    expect(mixed.instances[3][0]).toEqual({ x: 1 });
    expect(mixed.data).toEqual(['s']);
    // A flat list of numbers is one Float64Array.
    expect((parsePredictJson('{"data": [1,2]}') as { data: unknown }).data).toBeInstanceOf(
      Float64Array,
    );
    expect(isJsonArray(new Float64Array(1))).toBe(true);
    expect(isJsonArray([1])).toBe(true);
    expect(isJsonArray({ length: 1 })).toBe(false);
  });

  it('agrees with JSON.parse on documents of every kind of value', () => {
    for (const text of [
      '{}',
      '[]',
      '"plain"',
      '3',
      'true',
      'false',
      'null',
      ' \t\r\n{ "a" : [ 1 , 2 ] } \n',
      '{"a": {"b": {"c": [1, [2, [3, []]]]}}, "d": [true, false, null, "x", -1.5e3]}',
      '{"instances": [{"age": 41, "income": 5.2e4, "city": "Zürich ✓"}]}',
      '{"a": 1, "a": 2}', // the last of a repeated key, as JSON.parse
      '{"inputs": [{"name": "b", "datatype": "BYTES", "shape": [2], "data": ["x", "y"]}]}',
    ]) {
      agrees(text);
    }
  });

  it('leaves everything outside its subset to the standard parser', () => {
    for (const text of [
      '',
      ' ',
      '{',
      '}',
      '[1,]',
      '[,1]',
      '{"a":1,}',
      '{"a" 1}',
      '{a: 1}',
      "{'a': 1}",
      '01',
      '1.',
      '.5',
      '+1',
      '-',
      '1e',
      '1e+',
      '0x10',
      'NaN',
      'Infinity',
      '[1 2]',
      'tru',
      'nul',
      '{"instances": [[1, 2]]} x',
      '\uFEFF{}',
      '"a\\"b"',
      '"tab\\t"',
      '"\\u0041"',
      '"line\nbreak"',
      '"unterminated',
      '{"__proto__": {"polluted": true}}',
      '{"constructor": {"prototype": {}}}',
      '{"instances": [[1, 2], [3, 01]]}',
      '{"data": [1, 2',
      '{"data": [1, -]}',
      `${'['.repeat(100)}${']'.repeat(100)}`,
    ]) {
      expect(parsePredictJson(text)).toBeUndefined();
    }
    // Deep but within the limit is read.
    agrees(`${'['.repeat(60)}1${']'.repeat(60)}`);
  });
});
