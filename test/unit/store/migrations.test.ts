import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { MIGRATIONS_ROOT, readMigrations, splitStatements } from '../../../src/store/migrations';

describe('splitStatements', () => {
  it('splits on ; at the end of a line and drops comment lines', () => {
    const sql = [
      '-- header; with a semicolon',
      "CREATE TABLE a (x String DEFAULT 'a;b');",
      '',
      'CREATE TABLE b',
      '(',
      '    y UInt8',
      ')  ;  ',
      '-- trailing comment',
      '',
    ].join('\n');
    expect(splitStatements(sql)).toEqual([
      "CREATE TABLE a (x String DEFAULT 'a;b')",
      'CREATE TABLE b\n(\n    y UInt8\n)',
    ]);
  });

  it('accepts a last statement without a semicolon and CRLF line ends', () => {
    expect(splitStatements('SELECT 1;\r\nSELECT 2')).toEqual(['SELECT 1', 'SELECT 2']);
  });
});

describe('readMigrations', () => {
  const dirs: string[] = [];
  const tempDir = () => {
    const dir = mkdtempSync(join(tmpdir(), 'argus-migrations-'));
    dirs.push(dir);
    return dir;
  };
  afterAll(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it('reads NNNN_name.sql files in order with sha256 checksums, ignoring other files', () => {
    const dir = tempDir();
    writeFileSync(join(dir, '0002_second.sql'), 'SELECT 2;\n');
    writeFileSync(join(dir, '0001_first.sql'), 'SELECT 1;\n');
    writeFileSync(join(dir, 'README.md'), 'not a migration');
    const files = readMigrations(dir);
    expect(files.map((f) => f.name)).toEqual(['0001_first.sql', '0002_second.sql']);
    // sha256("SELECT 1;\n")
    expect(files[0].checksum).toBe(
      'b4e0497804e46e0a0b0b8c31975b062152d551bac49c3c2e80932567b4085dcd',
    );
    expect(files[0].statements).toEqual(['SELECT 1']);
  });

  it('refuses two migrations with the same number', () => {
    const dir = tempDir();
    writeFileSync(join(dir, '0001_a.sql'), 'SELECT 1;\n');
    writeFileSync(join(dir, '0001_b.sql'), 'SELECT 1;\n');
    expect(() => readMigrations(dir)).toThrow(/0001_a.sql and 0001_b.sql/);
  });

  it('finds the package migrations from the source tree (and, by the same path, from dist/)', () => {
    expect(MIGRATIONS_ROOT).toBe(resolve(__dirname, '../../../migrations'));
    expect(readMigrations(join(MIGRATIONS_ROOT, 'clickhouse')).length).toBeGreaterThan(0);
    expect(readMigrations(join(MIGRATIONS_ROOT, 'duckdb')).length).toBeGreaterThan(0);
  });
});
