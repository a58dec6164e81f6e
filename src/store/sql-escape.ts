/**
 * The one place values become SQL text.
 *
 * ClickHouse 18.16 has no server-side query parameters (DESIGN.md §4), so every value that goes
 * into a query is rendered here as a literal: strings, numbers, booleans, null, arrays, and
 * identifiers (which are quoted differently). Query text lives in named templates with `{name}`
 * placeholders; `bindSql` replaces each placeholder with the literal of its parameter in one pass,
 * so a value can never be re-read as a placeholder or as SQL.
 *
 * The two dialects differ in string literals: ClickHouse reads backslash escapes inside '…',
 * DuckDB (standard SQL) does not and doubles the quote instead.
 */

export type SqlDialect = 'clickhouse' | 'duckdb';

/** A name (database, table, column) to be quoted as an identifier, not as a string. */
export class SqlIdentifier {
  constructor(readonly name: string) {}
}

export function identifier(name: string): SqlIdentifier {
  return new SqlIdentifier(name);
}

/**
 * SQL text produced by `bindSql`: already safe, inserted verbatim when passed as a parameter
 * (for optional WHERE conditions composed from smaller bound templates). The constructor is not
 * exported on purpose: raw strings cannot become `BoundSql` except through `bindSql` / `joinSql`.
 */
export class BoundSql {
  private constructor(readonly text: string) {}

  /** @internal used by bindSql and joinSql only. */
  static fromSafeText(text: string): BoundSql {
    return new BoundSql(text);
  }

  toString(): string {
    return this.text;
  }
}

export type SqlScalar = string | number | bigint | boolean | null;
export type SqlValue = SqlScalar | readonly SqlValue[] | SqlIdentifier | BoundSql;
export type SqlParams = Readonly<Record<string, SqlValue>>;

export class SqlEscapeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SqlEscapeError';
  }
}

const CLICKHOUSE_STRING_ESCAPES: Record<string, string> = {
  '\\': '\\\\',
  "'": "\\'",
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
  '\0': '\\0',
  '\b': '\\b',
  '\f': '\\f',
};

/** A string literal, quotes included. Refuses strings that are not well-formed UTF-16. */
export function quoteString(value: string, dialect: SqlDialect): string {
  if (!isWellFormed(value)) {
    throw new SqlEscapeError('string contains an unpaired UTF-16 surrogate');
  }
  if (dialect === 'clickhouse') {
    return `'${value.replace(/[\\'\n\r\t\0\b\f]/g, (c) => CLICKHOUSE_STRING_ESCAPES[c] ?? c)}'`;
  }
  // DuckDB: standard SQL literal, quote doubled, backslash literal. A NUL byte would end the SQL
  // text at the C boundary of the driver, so it is spliced in with chr(0) instead.
  const parts = value.split('\0').map((part) => `'${part.replace(/'/g, "''")}'`);
  return parts.length === 1 ? parts[0] : `(${parts.join(' || chr(0) || ')})`;
}

/** A quoted identifier. Empty names and NUL are refused. */
export function quoteIdentifier(name: string, dialect: SqlDialect): string {
  if (name.length === 0) throw new SqlEscapeError('empty identifier');
  if (name.includes('\0')) throw new SqlEscapeError('identifier contains NUL');
  if (!isWellFormed(name)) {
    throw new SqlEscapeError('identifier contains an unpaired UTF-16 surrogate');
  }
  if (dialect === 'clickhouse') {
    return `\`${name.replace(/[\\`]/g, (c) => `\\${c}`)}\``;
  }
  return `"${name.replace(/"/g, '""')}"`;
}

/** A numeric literal. NaN and ±Infinity are refused: they have no portable literal. */
export function formatNumber(value: number | bigint): string {
  if (typeof value === 'bigint') return value.toString();
  if (!Number.isFinite(value)) {
    throw new SqlEscapeError(`number ${String(value)} cannot be used in SQL`);
  }
  // String() is the shortest round-trip form (e.g. 1e-7, 0.1); both dialects parse it. -0 → "0".
  return String(value);
}

/** Any supported value as SQL text. */
export function sqlLiteral(value: SqlValue, dialect: SqlDialect): string {
  if (value === null) return 'NULL';
  if (value instanceof BoundSql) return value.text;
  if (value instanceof SqlIdentifier) return quoteIdentifier(value.name, dialect);
  if (Array.isArray(value)) {
    return `[${(value as readonly SqlValue[]).map((v) => sqlLiteral(v, dialect)).join(', ')}]`;
  }
  switch (typeof value) {
    case 'string':
      return quoteString(value, dialect);
    case 'number':
    case 'bigint':
      return formatNumber(value);
    case 'boolean':
      // ClickHouse 18.16 has no boolean literals; 1/0 is what its UInt8 "booleans" are.
      return dialect === 'clickhouse' ? (value ? '1' : '0') : value ? 'TRUE' : 'FALSE';
    default:
      throw new SqlEscapeError(`unsupported SQL value of type ${typeof value}`);
  }
}

const PLACEHOLDER = /\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

/**
 * Renders a template: every `{name}` becomes the literal of `params[name]`. Missing or unused
 * parameters are errors, so a typo cannot silently produce different SQL.
 */
export function bindSql(dialect: SqlDialect, template: string, params: SqlParams = {}): BoundSql {
  const used = new Set<string>();
  const text = template.replace(PLACEHOLDER, (_match, name: string) => {
    if (!Object.prototype.hasOwnProperty.call(params, name)) {
      throw new SqlEscapeError(`SQL template parameter {${name}} has no value`);
    }
    used.add(name);
    return sqlLiteral(params[name], dialect);
  });
  for (const name of Object.keys(params)) {
    if (!used.has(name)) throw new SqlEscapeError(`SQL parameter '${name}' is not in the template`);
  }
  return BoundSql.fromSafeText(text);
}

/** A parenthesised list for `IN (…)`. Empty lists are refused: `IN ()` is not SQL. */
export function sqlList(values: readonly SqlScalar[], dialect: SqlDialect): BoundSql {
  if (values.length === 0) throw new SqlEscapeError('empty IN list');
  return BoundSql.fromSafeText(`(${values.map((v) => sqlLiteral(v, dialect)).join(', ')})`);
}

/** Joins bound fragments with a separator chosen from a fixed set (no free text). */
export function joinSql(parts: readonly BoundSql[], separator: ' AND ' | ', ' | '\n'): BoundSql {
  return BoundSql.fromSafeText(parts.map((p) => p.text).join(separator));
}

function isWellFormed(value: string): boolean {
  // String.prototype.isWellFormed exists from Node 20; the regex is the fallback definition.
  const native = (value as { isWellFormed?: () => boolean }).isWellFormed;
  if (typeof native === 'function') return native.call(value);
  return !/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(value);
}
