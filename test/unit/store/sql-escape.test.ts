import {
  bindSql,
  formatNumber,
  identifier,
  joinSql,
  quoteIdentifier,
  quoteString,
  SqlEscapeError,
  sqlList,
  sqlLiteral,
} from '../../../src/store/sql-escape';

describe('quoteString (ClickHouse: backslash escapes)', () => {
  const q = (s: string) => quoteString(s, 'clickhouse');

  it('escapes quotes and backslashes', () => {
    expect(q("it's")).toBe("'it\\'s'");
    expect(q('a\\b')).toBe("'a\\\\b'");
    expect(q("\\'")).toBe("'\\\\\\''");
  });

  it('escapes newline, carriage return, tab, NUL, backspace and form feed', () => {
    expect(q('a\nb\rc\td\0e\bf\fg')).toBe("'a\\nb\\rc\\td\\0e\\bf\\fg'");
  });

  it('passes unicode through unchanged', () => {
    expect(q('Ünïcødé ✓ 模型 🚀')).toBe("'Ünïcødé ✓ 模型 🚀'");
  });

  it('keeps SQL fragments inside the literal', () => {
    expect(q("'; DROP TABLE x; --")).toBe("'\\'; DROP TABLE x; --'");
    // The only unescaped quotes are the delimiters.
    const inner = q("x' OR '1'='1").slice(1, -1);
    expect(inner.replace(/\\\\/g, '').replace(/\\'/g, '')).not.toContain("'");
  });

  it('refuses unpaired surrogates', () => {
    expect(() => q('bad \uD800 half')).toThrow(SqlEscapeError);
  });
});

describe('quoteString (DuckDB: standard SQL)', () => {
  const q = (s: string) => quoteString(s, 'duckdb');

  it('doubles quotes and leaves backslashes literal', () => {
    expect(q("it's")).toBe("'it''s'");
    expect(q('a\\b')).toBe("'a\\b'");
    expect(q("'; DROP TABLE x; --")).toBe("'''; DROP TABLE x; --'");
  });

  it('keeps newlines and tabs verbatim inside the literal', () => {
    expect(q('a\nb\tc')).toBe("'a\nb\tc'");
  });

  it('splices NUL in with chr(0), never as a raw byte', () => {
    const sql = q('a\0b');
    expect(sql).toBe("('a' || chr(0) || 'b')");
    expect(sql).not.toContain('\0');
  });
});

describe('quoteIdentifier', () => {
  it('quotes for ClickHouse with backticks', () => {
    expect(quoteIdentifier('predictions', 'clickhouse')).toBe('`predictions`');
    expect(quoteIdentifier('we`ird\\name', 'clickhouse')).toBe('`we\\`ird\\\\name`');
  });

  it('quotes for DuckDB with double quotes', () => {
    expect(quoteIdentifier('we"ird', 'duckdb')).toBe('"we""ird"');
  });

  it('refuses empty names and NUL', () => {
    expect(() => quoteIdentifier('', 'clickhouse')).toThrow(SqlEscapeError);
    expect(() => quoteIdentifier('a\0b', 'duckdb')).toThrow(SqlEscapeError);
  });
});

describe('formatNumber', () => {
  it('formats integers, floats, negatives and bigints', () => {
    expect(formatNumber(42)).toBe('42');
    expect(formatNumber(-3.5)).toBe('-3.5');
    expect(formatNumber(0.1)).toBe('0.1');
    expect(formatNumber(1e-7)).toBe('1e-7');
    expect(formatNumber(-0)).toBe('0');
    expect(formatNumber(18446744073709551615n)).toBe('18446744073709551615');
  });

  it.each([NaN, Infinity, -Infinity])('refuses %p', (value) => {
    expect(() => formatNumber(value)).toThrow(SqlEscapeError);
  });
});

describe('sqlLiteral', () => {
  it('renders null and booleans per dialect', () => {
    expect(sqlLiteral(null, 'clickhouse')).toBe('NULL');
    expect(sqlLiteral(true, 'clickhouse')).toBe('1');
    expect(sqlLiteral(false, 'duckdb')).toBe('FALSE');
  });

  it('renders nested arrays with every element escaped', () => {
    expect(sqlLiteral(['a', "b'c", 'd\\e'], 'clickhouse')).toBe("['a', 'b\\'c', 'd\\\\e']");
    expect(sqlLiteral(['a', "b'c"], 'duckdb')).toBe("['a', 'b''c']");
    expect(sqlLiteral([1, 2.5, [3]], 'clickhouse')).toBe('[1, 2.5, [3]]');
    expect(sqlLiteral([], 'clickhouse')).toBe('[]');
  });

  it('refuses non-finite numbers inside arrays', () => {
    expect(() => sqlLiteral([1, NaN], 'clickhouse')).toThrow(SqlEscapeError);
  });

  it('refuses unsupported types', () => {
    // An object sneaking past the type system (e.g. from parsed JSON) must not become SQL.
    expect(() => sqlLiteral({} as unknown as string, 'clickhouse')).toThrow(SqlEscapeError);
    expect(() => sqlLiteral(undefined as unknown as string, 'clickhouse')).toThrow(SqlEscapeError);
  });
});

describe('sqlList', () => {
  it('renders a parenthesised IN list', () => {
    expect(sqlList(['a', "b'"], 'clickhouse').text).toBe("('a', 'b\\'')");
    expect(sqlList([1, 2], 'duckdb').text).toBe('(1, 2)');
  });

  it('refuses an empty list', () => {
    expect(() => sqlList([], 'clickhouse')).toThrow(SqlEscapeError);
  });
});

describe('bindSql', () => {
  it('replaces placeholders with literals and identifiers', () => {
    const sql = bindSql('clickhouse', 'SELECT * FROM {table} WHERE model = {model} AND v = {v}', {
      table: identifier('predictions'),
      model: "m'x",
      v: 3,
    });
    expect(sql.text).toBe("SELECT * FROM `predictions` WHERE model = 'm\\'x' AND v = 3");
  });

  it('does not re-scan substituted values for placeholders', () => {
    const sql = bindSql('clickhouse', 'SELECT {a}, {b}', { a: '{b}', b: 'x' });
    expect(sql.text).toBe("SELECT '{b}', 'x'");
  });

  it('fills a placeholder used twice', () => {
    expect(bindSql('duckdb', '{n} * {n}', { n: 7 }).text).toBe('7 * 7');
  });

  it('refuses missing and unused parameters', () => {
    expect(() => bindSql('clickhouse', 'SELECT {a}', {})).toThrow(/\{a\} has no value/);
    expect(() => bindSql('clickhouse', 'SELECT 1', { a: 1 })).toThrow(/'a' is not in the template/);
  });

  it('inserts bound fragments verbatim and joins them', () => {
    const conditions = joinSql(
      [
        bindSql('clickhouse', 'model = {m}', { m: 'a' }),
        bindSql('clickhouse', 'v = {v}', { v: 1 }),
      ],
      ' AND ',
    );
    expect(bindSql('clickhouse', 'WHERE {where}', { where: conditions }).text).toBe(
      "WHERE model = 'a' AND v = 1",
    );
  });
});
