import { createClient } from '@clickhouse/client';
import { DuckDBInstance } from '@duckdb/node-api';
import { bindSql, identifier } from '../../../src/store/sql-escape';
import { sharedClickHouse } from '../../harness/clickhouse';
import { HOSTILE_STRINGS } from './support';

/**
 * The escaping helper against the real parsers: every hostile string, rendered as a literal,
 * comes back from the engine exactly as it went in.
 */
const STRINGS = [
  ...HOSTILE_STRINGS,
  '',
  "''",
  '\\\\',
  '\\n (backslash n, not a newline)',
  '\b\f\v\x01',
];

describe('sql-escape against the real engines', () => {
  it('ClickHouse reads every string literal back verbatim', async () => {
    const endpoint = sharedClickHouse();
    const client = createClient({
      url: endpoint.url,
      username: endpoint.user,
      password: endpoint.password,
    });
    try {
      for (const value of STRINGS) {
        const sql = bindSql('clickhouse', 'SELECT {value} AS {column}', {
          value,
          column: identifier('we`ird "column'),
        });
        const result = await client.query({ query: sql.text, format: 'JSONEachRow' });
        expect(await result.json()).toEqual([{ 'we`ird "column': value }]);
      }
      const arrays = bindSql('clickhouse', 'SELECT {list} AS list, {n} AS n', {
        list: STRINGS,
        n: -1.5e-7,
      });
      const result = await client.query({ query: arrays.text, format: 'JSONEachRow' });
      expect(await result.json()).toEqual([{ list: STRINGS, n: -1.5e-7 }]);
    } finally {
      await client.close();
    }
  });

  it('DuckDB reads every string literal back verbatim', async () => {
    const instance = await DuckDBInstance.create(':memory:');
    const connection = await instance.connect();
    try {
      for (const value of STRINGS) {
        const sql = bindSql('duckdb', 'SELECT {value} AS {column}', {
          value,
          column: identifier('we`ird "column'),
        });
        const reader = await connection.runAndReadAll(sql.text);
        expect(reader.getRowObjectsJS()).toEqual([{ 'we`ird "column': value }]);
      }
      const arrays = bindSql('duckdb', 'SELECT {list} AS list, {n} AS n', {
        list: STRINGS,
        n: -1.5e-7,
      });
      const reader = await connection.runAndReadAll(arrays.text);
      expect(reader.getRowObjectsJS()).toEqual([{ list: STRINGS, n: -1.5e-7 }]);
    } finally {
      connection.closeSync();
      instance.closeSync();
    }
  });
});
