import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { MigrationFailedError } from '../../../src/store';
import {
  MigrationFile,
  MIGRATIONS_ROOT,
  progressLine,
  readMigrations,
  runStatements,
  splitStatements,
  StatementProgress,
} from '../../../src/store/migrations';

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

describe('runStatements progress', () => {
  const migration: MigrationFile = {
    name: '0009_copy.sql',
    checksum: 'x',
    statements: ['CREATE TABLE a', 'INSERT INTO a SELECT …', 'DROP TABLE b'],
  };
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  it('reports a long statement while it runs, and nothing for quick ones', async () => {
    const lines: string[] = [];
    let rowsRead = 0;
    const ran: string[] = [];
    await runStatements(
      migration,
      async (statement) => {
        ran.push(statement);
        // Only the second statement is long; its scan advances while it runs.
        if (statement.startsWith('INSERT')) {
          for (let i = 0; i < 12; i++) {
            rowsRead += 250_000;
            await sleep(10);
          }
        }
      },
      {
        reporting: { report: (line) => lines.push(line), intervalMs: 25 },
        read: async () => ({ rowsRead, totalRows: 3_000_000 }),
      },
    );
    expect(ran).toEqual(migration.statements);
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) {
      expect(line).toMatch(
        /^migration 0009_copy\.sql: statement 2\/3, [\d,]+ of 3,000,000 rows read \(\d+ %\), \d+ s$/,
      );
    }
    // Progress only moves forward.
    const read = lines.map((l) => Number(/, ([\d,]+) of/.exec(l)![1].replace(/,/g, '')));
    expect([...read].sort((a, b) => a - b)).toEqual(read);
    const linesAfter = lines.length;
    await sleep(80);
    expect(lines.length).toBe(linesAfter);
  });

  it('a failing or silent progress reader leaves elapsed-time lines and never fails the migration', async () => {
    const lines: string[] = [];
    let reads = 0;
    await runStatements({ ...migration, statements: ['SLOW'] }, () => sleep(120), {
      reporting: { report: (line) => lines.push(line), intervalMs: 20 },
      read: async () => {
        reads++;
        if (reads % 2 === 1) throw new Error('system.processes is busy');
        return null;
      },
    });
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) {
      expect(line).toMatch(/^migration 0009_copy\.sql: statement 1\/1, running, \d+ s$/);
    }
  });

  it('stops reporting when a statement fails, and names the statement', async () => {
    const lines: string[] = [];
    const failure = runStatements(
      migration,
      async (statement) => {
        if (statement.startsWith('INSERT')) {
          await sleep(60);
          throw new Error('Table a does not exist');
        }
      },
      {
        reporting: { report: (line) => lines.push(line), intervalMs: 20 },
        read: async () => ({ rowsRead: 10, totalRows: 0 }),
      },
    );
    await expect(failure).rejects.toThrow(MigrationFailedError);
    await expect(failure).rejects.toThrow(
      /migration 0009_copy\.sql failed at statement 2: Table a/,
    );
    const count = lines.length;
    await sleep(60);
    expect(lines.length).toBe(count);
  });

  it('formats rows, an estimate that falls short and an unknown total', () => {
    const p = (rowsRead: number, totalRows: number): StatementProgress => ({ rowsRead, totalRows });
    expect(progressLine('m: statement 1/1', p(1_474_560, 3_000_003), 2400)).toBe(
      'm: statement 1/1, 1,474,560 of 3,000,003 rows read (49 %), 2 s',
    );
    expect(progressLine('m: statement 1/1', p(3_100_000, 3_000_000), 1000)).toBe(
      'm: statement 1/1, 3,100,000 of 3,000,000 rows read (100 %), 1 s',
    );
    expect(progressLine('m: statement 1/1', p(42, 0), 0)).toBe(
      'm: statement 1/1, 42 rows read, 0 s',
    );
    expect(progressLine('m: statement 1/1', null, 61_000)).toBe('m: statement 1/1, running, 61 s');
  });
});
